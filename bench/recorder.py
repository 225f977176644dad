"""Benchmark: CPU of `nvr run` recording 1080p30 from a file, against ffmpeg with the same x264.

The recorder side is the real command: `nvr run --no-web` on a file camera reading the shared
clip ../shared/data/video/video03.avi (320x240, 60 fps) once, taken at 30 fps as a camera set
to 30 would deliver it (every second frame), scaled to 1920x1080, paced in real time, with a
motion setting that finds the people in the clip, so events open and encrypted segments are
written. It does everything a recorder does per frame: decode, scale, lores plane and motion,
caption, libx264, pre-roll ring, fragmented MP4, encryption, store and index.

The baseline is `ffmpeg` on the same frames (`select` keeps the same every second frame), the
same bilinear scaling, and libx264 with the recorder's settings (firmware/capture/encoder.py
and sources.py): preset ultrafast, tune zerolatency, no B-frames, a keyframe every 30 frames
(keyint-min 30, no scene cut), SPS/PPS repeated, 4000 kbit/s average, threads auto in slice
mode, frames stamped at 30 fps (as the recorder's encoder is told, so the bitrate means the
same), paced in real time (-re) as the camera is, writing fragmented MP4 to a file.

CPU is the resource usage of each child process (os.wait4: user + system, all threads), over
the same number of frames. The two sides alternate, ROUNDS times; the ratio of each round is
reported with its spread. A third, cheap side (ffmpeg decoding and scaling without encoding)
shows how much of it all is the encoder. Goal: the recorder at most 1.15x ffmpeg.

`--rounds N` changes the number of rounds (default 3, each about a minute of wall time).
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av

import bench_device            # bench/bench_device.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CLIP = ROOT.parent / "shared" / "data" / "video" / "video03.avi"
W, H, FPS, BITRATE_KBPS, KEYFRAME_SECONDS = 1920, 1080, 30, 4000, 1.0
GOAL = 1.15

CONFIG = bench_device.config(f"""
name = "Bench"
location = "Gemeentehuis Soest, bench"
source = "file"
path = "{CLIP}"
loop = false
width = {W}
height = {H}
fps = {FPS}
bitrate_kbps = {BITRATE_KBPS}
keyframe_seconds = {KEYFRAME_SECONDS}
preroll_seconds = 5
postroll_seconds = 10
staff_in_view = false
[cameras.motion]
threshold = 12
min_area = 0.001
""")


def camera_frames(clip: Path, fps: float) -> tuple[int, float]:
    """Frames a camera set to `fps` delivers from `clip` (the rule of AvSource), and the
    clip's own rate. Decodes without scaling: cheap, and not timed."""
    with av.open(str(clip)) as c:
        stream = c.streams.video[0]
        rate = float(stream.average_rate or stream.guessed_rate)
        decoded = sum(1 for _ in c.decode(stream))
    keep = min(1.0, fps / rate)
    return sum(1 for n in range(1, decoded + 1) if int(n * keep) != int((n - 1) * keep)), rate


def ffmpeg_command(clip: Path, rate: float, out: Path, encode: bool = True) -> list[str]:
    step = max(1, round(rate / FPS))          # 60 fps file, 30 fps camera: every second frame
    # AvSource keeps frame n (1-based) when int(n * keep) steps: the 2nd, 4th, ... frame.
    select = f"select='eq(mod(n\\,{step})\\,{step - 1})',setpts=N/{FPS}/TB," if step > 1 else ""
    gop = round(FPS * KEYFRAME_SECONDS)
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-re",
           "-i", str(clip), "-an", "-vf", f"{select}scale={W}:{H}:flags=bilinear,format=yuv420p",
           "-r", str(FPS), "-fps_mode", "passthrough"]
    if not encode:
        return cmd + ["-f", "null", "-"]
    return cmd + [
        "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-bf", "0",
        "-g", str(gop), "-x264-params", f"keyint-min={gop}:scenecut=0:repeat-headers=1",
        "-b:v", f"{BITRATE_KBPS}k", "-threads", "0", "-thread_type", "slice",
        "-movflags", "frag_keyframe+empty_moov+default_base_moof", "-f", "mp4", "-y", str(out)]


def run_child(cmd: list[str], cwd: Path, mark: str | None = None) -> tuple[float, float, str]:
    """Run `cmd` to its end; (CPU seconds of the whole run, CPU seconds when the line starting
    with `mark` appeared on stdout (0 without a mark), output)."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    at_mark, lines = 0.0, []
    for line in proc.stdout:
        lines.append(line)
        if mark and line.startswith(mark) and not at_mark:
            at_mark = proc_cpu(proc.pid)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    output = "".join(lines)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:5]} failed ({proc.returncode}):\n{output[-3000:]}")
    return usage.ru_utime + usage.ru_stime, at_mark, output


def proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def recorder_round(work: Path) -> dict:
    d = Path(tempfile.mkdtemp(dir=work))
    (d / "nvr.toml").write_text(CONFIG)
    start = time.monotonic()
    total, at_start, _ = run_child([sys.executable, "-m", "firmware.cli", "--config",
                                    str(d / "nvr.toml"), "run", "--no-web"], ROOT,
                                   mark="recording ")
    wall = time.monotonic() - start
    from firmware.config import load
    from firmware.storage.store import EncryptedStore
    store = EncryptedStore.from_config(load(d / "nvr.toml"))
    rows = store.list_segments("cam")
    store.close()
    return {"cpu": total, "startup": at_start, "wall": wall, "segments": len(rows),
            "recorded_frames": sum(r["frames"] for r in rows),
            "bytes": sum(r["bytes"] for r in rows)}


def ffmpeg_round(work: Path, rate: float, encode: bool = True) -> dict:
    out = work / "ffmpeg.mp4"
    start = time.monotonic()
    total, _, _ = run_child(ffmpeg_command(CLIP, rate, out, encode), work)
    wall = time.monotonic() - start
    result = {"cpu": total, "wall": wall}
    if encode:
        result["frames"] = int(subprocess.run(
            ["ffprobe", "-v", "error", "-count_packets", "-select_streams", "v:0",
             "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", str(out)],
            capture_output=True, text=True, check=True).stdout.strip())
        result["bytes"] = out.stat().st_size
        out.unlink()
    return result


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} (min {min(values):.3f}, max {max(values):.3f})"


def main() -> None:
    if not CLIP.exists():
        raise SystemExit(f"{CLIP} is missing: the benchmark reads the shared camera footage")
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 3
    frames, rate = camera_frames(CLIP, FPS)
    print(f"{CLIP.name}: {rate:g} fps, taken at {FPS} fps: {frames} frames at {W}x{H} "
          f"({frames / FPS:.1f} s), {rounds} round(s), sides alternate", flush=True)
    rec, ff, dec = [], [], []
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        for i in range(rounds):
            # Alternate which side goes first, so a neighbour's load falls on both.
            order = ("recorder", "ffmpeg") if i % 2 == 0 else ("ffmpeg", "recorder")
            for side in order:
                if side == "recorder":
                    rec.append(recorder_round(work))
                else:
                    ff.append(ffmpeg_round(work, rate))
            dec.append(ffmpeg_round(work, rate, encode=False))
            r, f = rec[-1], ff[-1]
            print(f"round {i + 1}: recorder {r['cpu']:.2f} s CPU ({r['startup']:.2f} s start-up), "
                  f"ffmpeg {f['cpu']:.2f} s, decode+scale only {dec[-1]['cpu']:.2f} s; "
                  f"ratio {r['cpu'] / f['cpu']:.3f}", flush=True)
    if any(f["frames"] != frames for f in ff):
        raise SystemExit(f"ffmpeg encoded {[f['frames'] for f in ff]} frames, not {frames}")
    ms = 1000 / frames
    rows = [
        ("nvr run (all of it)", [r["cpu"] for r in rec]),
        ("nvr run after start-up", [r["cpu"] - r["startup"] for r in rec]),
        ("ffmpeg, same frames, same libx264", [f["cpu"] for f in ff]),
        ("ffmpeg decode + scale, no encoder", [d["cpu"] for d in dec]),
    ]
    print()
    print(f"{'side':36} {'CPU ms/frame (median, min-max)':>34}")
    for name, values in rows:
        v = [x * ms for x in values]
        print(f"{name:36} {statistics.median(v):10.2f} ({min(v):.2f}-{max(v):.2f})")
    ratio_all = [r["cpu"] / f["cpu"] for r, f in zip(rec, ff)]
    ratio_run = [(r["cpu"] - r["startup"]) / f["cpu"] for r, f in zip(rec, ff)]
    encoder = [f["cpu"] - d["cpu"] for f, d in zip(ff, dec)]
    share = [e / r["cpu"] for e, r in zip(encoder, rec)]
    r0 = rec[0]
    print()
    print(f"ratio recorder / ffmpeg, all of it:     {spread(ratio_all)}")
    print(f"ratio recorder / ffmpeg, after start-up: {spread(ratio_run)}")
    print(f"libx264's share of the recorder's CPU (ffmpeg with minus without encoder): "
          f"{spread(share)}")
    print(f"recorder start-up (imports, store, camera open): "
          f"{spread([r['startup'] for r in rec])} s CPU")
    print(f"segments written per run: {r0['segments']} with {r0['recorded_frames']} of "
          f"{frames} frames ({r0['bytes'] / 1e6:.1f} MB encrypted); ffmpeg wrote "
          f"{ff[0]['bytes'] / 1e6:.1f} MB; wall time {spread([r['wall'] for r in rec])} s "
          f"against {spread([f['wall'] for f in ff])} s")
    print(f"goal: at most {GOAL}x")


if __name__ == "__main__":
    main()
