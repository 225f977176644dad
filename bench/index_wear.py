"""What the index writes to the card per day (docs/storage.md, "The index on the card").

With storage.index_dir on the card, every segment the recorder keeps is a write to the card:
its row, its hash, the event it belongs to, the WAL and its checkpoints. This runs the real
recorder (`nvr run --no-web`, synthetic cameras) with index_dir on a file system of its own
(an ext4 loop device made here, as root) and reads the bytes that block device wrote from
/sys/block/loopN/stat, file system journal included, per segment and per day. The index's
writes per segment do not depend on the picture, so the cameras are small (the CPU is shared).

    sudo .venv/bin/python bench/index_wear.py [--cameras 4] [--seconds 180]

Needs root (mount -o loop). Nothing else runs on the loop device, so its counter is the index's.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEGMENT_SECONDS = 10            # the default of storage.segment_seconds
CAMERA = """
[[cameras]]
id = "cam{n}"
name = "Camera {n}"
location = "bench"
source = "synthetic"
width = 320
height = 240
fps = 5
lores_width = 160
lores_height = 120
bitrate_kbps = 250
staff_in_view = false
"""


def sectors_written(device: str) -> int:
    """Field 7 of /sys/block/DEV/stat: 512-byte sectors written since the device appeared."""
    return int(Path(f"/sys/block/{device}/stat").read_text().split()[6])


def segment_files(data: Path) -> int:
    """Segments on the footage side (not on the measured device, so counting writes nothing)."""
    return sum(1 for _ in (data / "segments").rglob("*.seg")) if data.exists() else 0


def config_text(index_dir: Path, cameras: int) -> str:
    return (f'[device]\nid = "bench"\n[storage]\ndata_dir = "data"\nkey_dir = "keys"\n'
            f'index_dir = "{index_dir}"\nsegment_seconds = {SEGMENT_SECONDS}\n'
            + "".join(CAMERA.format(n=n) for n in range(cameras))
            + '[introduction]\ndpia_reference = "DPIA bench"\ndpia_date = "2026-03-02"\n'
              'signage = ["bench"]\n')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=180, help="measured after the warm-up")
    parser.add_argument("--warmup", type=int, default=60)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="nvr-index-wear-"))
    image, mnt = work / "card.img", work / "card"
    mnt.mkdir()
    subprocess.run(["truncate", "-s", "256M", str(image)], check=True)
    subprocess.run(["mkfs.ext4", "-q", str(image)], check=True)
    subprocess.run(["mount", "-o", "loop", str(image), str(mnt)], check=True)
    recorder = None
    try:
        source = subprocess.run(["findmnt", "-n", "-o", "SOURCE", str(mnt)], check=True,
                                capture_output=True, text=True).stdout.strip()
        device = Path(source).name
        config = work / "nvr.toml"
        config.write_text(config_text(mnt / "index", args.cameras))
        log = work / "recorder.log"
        recorder = subprocess.Popen([sys.executable, "-m", "firmware.cli", "--config",
                                     str(config), "run", "--no-web"], cwd=ROOT,
                                    stdout=subprocess.DEVNULL, stderr=log.open("w"))
        # The first start writes the schema, the governance tables and the configuration log:
        # once in a device's life. Measured is what follows, segment after segment.
        time.sleep(args.warmup)
        subprocess.run(["sync"], check=True)
        before, first = sectors_written(device), segment_files(work / "data")
        time.sleep(args.seconds)
        subprocess.run(["sync"], check=True)
        written = (sectors_written(device) - before) * 512
        segments = segment_files(work / "data") - first
        recorder.send_signal(signal.SIGTERM)
        recorder.wait(60)
        if not segments:
            sys.exit(f"the recorder kept no segment:\n{log.read_text()[-2000:]}")
        per_segment = written / max(segments, 1)
        per_day = per_segment * args.cameras * 86400 / SEGMENT_SECONDS
        print(json.dumps({"cameras": args.cameras, "seconds": args.seconds,
                          "segment_seconds": SEGMENT_SECONDS,
                          "segments": segments, "bytes_written": written,
                          "bytes_per_segment": round(per_segment),
                          "mb_per_day": round(per_day / 1e6, 1),
                          "gb_per_year": round(per_day * 365 / 1e9, 1)}, indent=2))
    finally:
        if recorder is not None and recorder.poll() is None:
            recorder.kill()
            recorder.wait()
        subprocess.run(["umount", str(mnt)], check=False)
        subprocess.run(["rm", "-rf", str(work)], check=False)


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("index_wear.py needs root: it mounts a loop device for the index")
    main()
