"""Benchmark: encrypt-and-persist throughput against plaintext with the same fsync policy.

Three paths write the same 5 MB segments (10 s of 1080p at 4 Mbit/s) in 32 KiB pieces, as the
muxer hands them over:
- plain files: temporary file, fsync, rename, fsync the directory; nothing else;
- store without cipher: the store's own path (writer thread, the same fsyncs, the SQLite index
  with its WAL fsync) with the cipher replaced by a pass-through: the fair baseline, it differs
  from the real store only by encryption;
- the store with ChaCha20-Poly1305 (the default) and with AES-256-GCM.
Goal: the store at least 0.9 of plaintext.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from firmware.storage.keys import FileKeyProvider  # noqa: E402
from firmware.storage.segcrypt import EncryptingWriter  # noqa: E402
from firmware.storage.sink import SegmentMeta  # noqa: E402
from firmware.storage.store import EncryptedStore, _Target  # noqa: E402

SEGMENT = 5 * 1024 * 1024
SEGMENTS = 40
WRITE = 32 * 1024


class PassThrough(EncryptingWriter):
    """The same chunking and hand-over as the real writer, without the cipher: baseline only."""

    def _emit(self, chunk, final: bool) -> None:
        data = bytes(chunk)
        self.bytes_out += len(data)
        self.raw.write(data)
        self._index += 1


class PlainTarget(_Target):
    stream = PassThrough


class PlainStore(EncryptedStore):
    target_class = PlainTarget


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(fd)
    os.close(fd)


def plain_files(root: Path, payload: bytes) -> float:
    t = time.perf_counter()
    for i in range(SEGMENTS):
        final, tmp = root / f"{i}.mp4", root / f"{i}.mp4.part"
        with open(tmp, "wb") as f:
            for off in range(0, len(payload), WRITE):
                f.write(payload[off:off + WRITE])
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
        fsync_dir(root)
    return SEGMENTS * len(payload) / (time.perf_counter() - t) / 1e6


def through_store(cls, root: Path, payload: bytes, cipher: str) -> float:
    store = cls(root / "data", "bench", FileKeyProvider(root / "keys"), retention_days=28,
                cipher=cipher, high_water_percent=99)
    start = datetime.now(timezone.utc)
    t = time.perf_counter()
    for i in range(SEGMENTS):
        s = start + timedelta(seconds=10 * i)
        meta = SegmentMeta(uuid.uuid4().hex, "ev", "bench", "cam", "Cam", "Hal", s, True)
        target = store.begin(meta)
        for off in range(0, len(payload), WRITE):
            target.write(payload[off:off + WRITE])
        target.commit(s + timedelta(seconds=10), 300)
    store.drain()                   # durable and indexed
    rate = SEGMENTS * len(payload) / (time.perf_counter() - t) / 1e6
    store.close()
    return rate


PATHS = {
    "plain files": lambda d, p: plain_files(d, p),
    "store without cipher": lambda d, p: through_store(PlainStore, d, p, "chacha20-poly1305"),
    "store, chacha20-poly1305": lambda d, p: through_store(EncryptedStore, d, p,
                                                           "chacha20-poly1305"),
    "store, aes-256-gcm": lambda d, p: through_store(EncryptedStore, d, p, "aes-256-gcm"),
}


def main() -> None:
    payload = os.urandom(SEGMENT)
    best = dict.fromkeys(PATHS, 0.0)
    for _ in range(5):                       # alternate, so noise hits every path alike
        for name, run in PATHS.items():
            with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as d:
                best[name] = max(best[name], run(Path(d), payload))
    base = best["store without cipher"]
    print(f"{SEGMENTS} segments of {SEGMENT // 2**20} MiB in {WRITE // 1024} KiB writes, "
          "best of 5")
    print(f"{'path':28} {'MB/s':>8} {'ratio to store without cipher':>30} "
          f"{'ratio to plain files':>21}")
    for name, rate in best.items():
        print(f"{name:28} {rate:8.0f} {rate / base:30.2f} {rate / best['plain files']:21.2f}")
    print("goal: the store at least 0.9 of plaintext")


if __name__ == "__main__":
    main()
