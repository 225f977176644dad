"""Benchmark: export throughput of the evidence package against a plain copy of the same bytes.

The shared clips (../shared/data/video: video02.avi and video03.avi), each played LOOPS times,
scaled to 1920x1080 at 30 fps (ffmpeg, into the temporary directory, not timed), are recorded
through `nvr ingest` into an encrypted store as a camera set to 1080p30 at 4000 kbit/s would
record them:
libx264, fragmented MP4 segments of 10 s, ChaCha20-Poly1305, the recording-time hashes. An art.
9 request for the camera and the window is registered with the officer's identity and signed
declaration (the real `nvr` commands), so the export below is the one the CLI and the web make.

Three paths, alternating ROUNDS times into the same target, best of each:
- export: `export.service.make_package` (the gate, the seal, decryption of every segment, the
  remux into one MP4, the hashes, manifest.json, its signature, manifest.sha256, LEESMIJ/README,
  every file fsynced, the rename, the export recorded and logged), the package as plain files
  (a LUKS2 stick: the medium encrypts);
- export 7z: the same package inside a 7z archive (AES-256, a keypad stick that encrypts in
  hardware): remuxed into memory files, then archived onto the target;
- copy: `shutil.copyfile` of the stored segment files into a folder in the same target, each
  file fsynced and the folder fsynced (what the package does with its files): the same bytes
  moved to the same place with the same durability, and nothing else.
MB/s is the stored footage (the segment files' bytes) per second for all, so the ratio is the
copy's time over the export's. The CPU seconds of each (all threads, best of the rounds) are
printed too: on a loaded machine they move less than the wall time.

Targets, each a race of its own:
- the temporary directory: the page cache of a fast disk. Every path is CPU-bound here; the
  export decrypts, hashes (the recording-time check, the packets, the file) and remuxes where
  the copy only moves bytes, so its ratio here is the price of that work, not the goal;
- a USB stick medium (bench/usb_medium.py: a real block device and ext4 whose writes drain at a
  stick's speed, 25 and 100 MB/s by default, `--stick-mbps 25,100`): where an export is written.
  Goal (issue 13): each export at least 0.8 of the copy on it; one line per path and rate.
`--target DIR` races only in DIR (a mounted export stick on the device). `--rounds N` (default
5). `BENCH_DIR` moves the temporary directory. `--profile` runs one more export of each kind under
cProfile (into the temporary directory) and prints its top functions.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import bench_device            # bench/bench_device.py, beside this script
import usb_medium              # bench/usb_medium.py

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CLIPS = [ROOT.parent / "shared" / "data" / "video" / n for n in ("video02.avi", "video03.avi")]
ROUNDS = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 5
TARGET = sys.argv[sys.argv.index("--target") + 1] if "--target" in sys.argv else None
STICK_MBPS = [float(r) for r in (sys.argv[sys.argv.index("--stick-mbps") + 1].split(",")
                                 if "--stick-mbps" in sys.argv else ("25", "100"))]
GOAL = 0.8
LOOPS = 2               # each clip played twice: 2 minutes, about 60 MB (fixed costs amortised)
PASSWORD = bench_device.PASSWORD
REFERENCE = "PL0900-2026-BENCH"
OFFICER = "brigadier K. Bakker"

CONFIG = bench_device.config("""
name = "Bench"
location = "Gemeentehuis Soest, bench"
source = "synthetic"
width = 1920
height = 1080
fps = 30
bitrate_kbps = 4000
preroll_seconds = 5
postroll_seconds = 10
staff_in_view = false
[cameras.motion]
threshold = 12
min_area = 0.001
""")


def nvr(config: Path, *args: str, env: dict | None = None) -> str:
    out = subprocess.run([sys.executable, "-m", "firmware.cli", "--config", str(config), *args],
                         cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, **(env or {})})
    if out.returncode != 0:
        raise SystemExit(f"nvr {' '.join(args[:2])} failed: {out.stderr[-2000:]}")
    return out.stdout


def record(d: Path, config: Path) -> None:
    """The clips at 1080p30 through `nvr ingest`, one after the other, ending 20 minutes ago."""
    start = datetime.now(timezone.utc) - timedelta(minutes=30)
    for clip in CLIPS:
        scaled = d / f"{clip.stem}-1080p.mkv"
        subprocess.run(["ffmpeg", "-v", "error", "-stream_loop", str(LOOPS - 1), "-i", str(clip),
                        "-vf",
                        "fps=30,scale=1920:1080:flags=bilinear", "-c:v", "libx264", "-preset",
                        "ultrafast", "-crf", "12", "-an", str(scaled)], check=True)
        out = json.loads(nvr(config, "ingest", str(scaled), "--camera", "cam", "--start",
                             start.isoformat(), "--json"))
        start += timedelta(seconds=out["frames"] / 30 + 5)
        scaled.unlink()


def accounts(config: Path) -> None:
    """The staff, and b.beheerder made by the technisch beheerder and approved (R-11)."""
    from firmware.governance.roles import Role
    bench_device.staff(config, {"b.beheerder": Role.BEHEERDER})


def request(config: Path, store) -> tuple[int, float, float]:
    """Accounts, and an art. 9 request covering the recorded window, identified and signed."""
    accounts(config)
    env = {"NVR_PASSWORD": PASSWORD}
    segments = store.list_segments("cam")
    start, end = segments[0]["start"] - 1, segments[-1]["end"] + 1
    iso = [datetime.fromtimestamp(t, timezone.utc).isoformat() for t in (start, end)]
    req = json.loads(nvr(config, "request", "add", "--article", "9", "--reference", REFERENCE,
                         "--requester", "Politie Midden-Nederland", "--legal-basis", "126nd",
                         "--camera", "cam", "--start", iso[0], "--end", iso[1], "--user",
                         "b.beheerder", "--json", env=env))
    nvr(config, "request", "identity", str(req["id"]), "--officer", OFFICER, "--document-type",
        "dienstpas", "--last-digits", "4411", "--user", "b.beheerder", env=env)
    nvr(config, "request", "declaration", str(req["id"]), "--signed-by", OFFICER, "--user",
        "b.beheerder", env=env)
    return req["id"], start, end


def copy(files: list[Path], target: Path) -> None:
    from firmware.storage.durable import fsync_dir     # what the package's files get
    target.mkdir()
    for src in files:
        dst = target / src.name
        shutil.copyfile(src, dst)
        with open(dst, "rb+") as f:
            os.fsync(f.fileno())
    fsync_dir(target)
    fsync_dir(target.parent)


def race(name: str, target: Path, files: list[Path], exports: dict) -> dict:
    """ROUNDS of the copy and each export (name -> function(target, n)), alternating into
    `target`: best wall and CPU seconds of each."""
    paths = {"copy": lambda target, n: copy(files, target / f"copy-{n}"), **exports}
    best = {path: float("inf") for path in paths}
    cpu = dict(best)
    for n in range(ROUNDS):                # alternate, so noise hits all alike
        for path, run in paths.items():
            os.sync()                      # nothing of the last round still draining
            t, c = time.perf_counter(), time.process_time()
            run(target, n)
            best[path] = min(best[path], time.perf_counter() - t)
            cpu[path] = min(cpu[path], time.process_time() - c)
            for p in list(target.iterdir()):
                if p.name != "lost+found":
                    shutil.rmtree(p)
    return {"target": name, "best": best, "cpu": cpu}


def report(results: list[dict], stored: int) -> dict:
    """Print one table row per target and path; return {export path: [(stick target, ratio)]}
    for the stick targets."""
    print(f"{'target':34} {'path':10} {'s':>7} {'MB/s':>8} {'ratio':>6} {'CPU s':>7}")
    on_sticks: dict[str, list] = {}
    for r in results:
        for path, seconds in r["best"].items():
            ratio = r["best"]["copy"] / seconds
            print(f"{r['target']:34} {path:10} {seconds:7.3f} {stored / seconds / 1e6:8.1f} "
                  f"{ratio:6.2f} {r['cpu'][path]:7.3f}")
            if r["target"].startswith("USB") and path != "copy":
                on_sticks.setdefault(path, []).append((r["target"], ratio))
    return on_sticks


def main() -> None:
    from firmware.config import load
    from firmware.export.helpers import DirectoryHelper
    from firmware.export.service import make_package
    from firmware.governance.service import Governance
    from firmware.storage.store import EncryptedStore
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as d:
        d = Path(d)
        (d / "data").mkdir()
        (d / "keys").mkdir()
        config = d / "nvr.toml"
        config.write_text(CONFIG)
        t = time.perf_counter()
        record(d, config)
        cfg = load(config)
        store = EncryptedStore.from_config(cfg)
        request_id, start, end = request(config, store)
        print(f"recorded and registered in {time.perf_counter() - t:.0f} s (not timed below)")
        gov = Governance.open(cfg)
        actor = gov.accounts.authenticate("b.beheerder", PASSWORD).actor()
        segments = store.list_segments("cam")
        files = [store.data_dir / s["path"] for s in segments]
        stored = sum(f.stat().st_size for f in files)
        sizes = {}

        def export(target: Path, n: int, package: str = "files") -> None:
            # The medium: a folder standing in for a LUKS2 stick (the package as plain files,
            # the medium encrypts) or a keypad stick (the package inside a 7z), through the
            # DirectoryHelper seam as exportd's mount is.
            out = target / f"export-{n}"
            out.mkdir()
            made = make_package(gov, store, actor, request_id=request_id, camera="cam",
                                start=start, end=end, device=cfg.device.id, reason="benchmark",
                                helper=DirectoryHelper(out, package=package),
                                password=PASSWORD if package == "7z" else None)
            sizes[package] = made["bytes"] if "bytes" in made else made["package"]["bytes"]

        exports = {"export": export, "export 7z": lambda t, n: export(t, n, "7z")}
        results = []
        if TARGET:
            target = Path(TARGET) / f"nvr-bench-{os.getpid()}"
            target.mkdir()
            results.append(race(f"USB stick at {TARGET}", target, files, exports))
            shutil.rmtree(target)
        else:
            target = d / "disk"
            target.mkdir()
            results.append(race("temporary directory (page cache)", target, files, exports))
            why = usb_medium.unavailable()
            for rate in STICK_MBPS if why is None else ():
                with usb_medium.usb_medium(rate, work=os.environ.get("BENCH_DIR")) as stick:
                    results.append(race(f"USB stick medium, {rate:g} MB/s write", stick, files,
                                        exports))
            if why is not None:
                print(f"USB stick medium not made: {why}; the goal is not measured")
        if "--profile" in sys.argv:
            import cProfile
            import pstats
            profile = cProfile.Profile()
            (d / "profile").mkdir()
            for package in ("files", "7z"):
                (d / "profile" / package).mkdir()
                profile.runcall(export, d / "profile" / package, ROUNDS, package)
                pstats.Stats(profile).sort_stats("tottime").print_stats(15)
                profile = cProfile.Profile()
        store.close()
        gov.close()
    print(f"{len(segments)} segments, {stored / 1e6:.1f} MB stored (1080p30, 4000 kbit/s); "
          f"package {sizes.get('files', 0) / 1e6:.1f} MB, as 7z {sizes.get('7z', 0) / 1e6:.1f} "
          f"MB; best of {ROUNDS}; MB/s of the stored footage")
    on_sticks = report(results, stored)
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for path, kind in (("export", "a LUKS2 stick"), ("export 7z", "a keypad stick (7z)")):
        if path not in on_sticks:
            print(f"goal ({path}, {kind}): not measured")
            continue
        for target, ratio in on_sticks[path]:
            print(f"goal ({path}, {kind}) at least {GOAL} of the copy on the {target}: "
                  f"{'met' if ratio >= GOAL else 'NOT met'} ({ratio:.2f})")


if __name__ == "__main__":
    main()
