"""Benchmark: the web interface under load while the recorder records 1080p30 from a file.

`nvr run` records the real clip ../shared/data/video/video03.avi (60 fps), scaled to
1920x1080 and taken at 30 fps as a camera set to 30 fps would, looped, with its web interface.
Two phases in the same run:
- baseline (BASE_SECONDS): nobody watches; the main pages are timed;
- load (LOAD_SECONDS): 4 live viewers (MJPEG over TLS) and 1 playback client (segments
  decrypted on the fly, fetched one after the other in real time) run while the same pages are
  timed.
Printed: frames the recorder fell behind (a camera would have dropped them; goal 0), frames
missing from the segments written, live delay (capture to arrival at the viewer), live frame
rate per viewer, playback throughput, page times under load and their ratio to the baseline,
and the CPU of the recorder and web processes in both phases. `--greedy`: the playback client
downloads segments without pause instead of in real time.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT.parent / "shared" / "data" / "video" / "video03.avi"
BASE_SECONDS, LOAD_SECONDS, VIEWERS = 20, 60, 4
GREEDY = "--greedy" in sys.argv          # the playback client downloads without pause
PASSWORD = "a long pass phrase 42"
PAGES = ("/", "/cameras/cam/day/{day}", "/system", "/requests", "/holds", "/logbooks",
         "/api/cameras", "/api/system")

CONFIG = f"""
[device]
id = "bench"
[storage]
data_dir = "data"
key_dir = "keys"
[web]
port = 0
[[cameras]]
id = "cam"
name = "Bench"
location = "Gemeentehuis Soest, bench"
source = "file"
path = "{CLIP}"
loop = true
width = 1920
height = 1080
fps = 30
preroll_seconds = 5
postroll_seconds = 10
staff_in_view = false
[cameras.motion]
threshold = 12
min_area = 0.001
[introduction]                 # the regulation's introduction: the DPIA before recording
dpia_reference = "DPIA bench"
dpia_date = "2026-03-02"
signage = ["bench"]
"""


class Client:
    """A logged-in HTTPS client (session cookie and CSRF token), one connection."""

    def __init__(self, host: str, port: int, user: str):
        self.conn = http.client.HTTPSConnection(host, port, timeout=30,
                                                context=ssl._create_unverified_context())
        self.cookie = ""
        session = self.call("GET", "/api/session")
        self.csrf = session["csrf"]
        self.call("POST", "/api/login", {"name": user, "password": PASSWORD})

    def request(self, method: str, path: str, body: dict | None = None):
        headers = {"Cookie": self.cookie, "X-CSRF-Token": getattr(self, "csrf", "")}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, data, headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            self.conn.close()                          # an idle keep-alive closed by the server
            self.conn.request(method, path, data, headers)
            response = self.conn.getresponse()
        cookie = response.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";")[0]
        return response

    def call(self, method: str, path: str, body: dict | None = None):
        response = self.request(method, path, body)
        data = response.read()
        if response.status >= 400:
            raise SystemExit(f"{method} {path}: {response.status} {data[:300]!r}")
        return json.loads(data) if response.getheader("Content-Type", "").startswith(
            "application/json") else data


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def web_pid(pid: int) -> int:
    kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return int(kids[0])


def recorder_frames(data_dir: Path) -> tuple[int, float]:
    from firmware.live.client import recorder_status
    status = recorder_status(data_dir / "live.sock")["cam"]
    return status["frames"], time.monotonic()


def time_pages(client: Client, day: str, until: float, out: dict[str, list[float]]) -> None:
    while time.monotonic() < until:
        for page in PAGES:
            path = page.format(day=day)
            t0 = time.perf_counter()
            response = client.request("GET", path)
            response.read()
            out.setdefault(page, []).append(time.perf_counter() - t0)
            if response.status != 200:
                raise SystemExit(f"{path}: {response.status}")
        time.sleep(0.5)


def live_viewer(client: Client, until: float, delays: list[float], counts: list[int]) -> None:
    client.call("POST", "/api/cameras/cam/access", {"action": "live", "purpose": "safety",
                                                     "reason": "benchmark live viewer"})
    response = client.request("GET", "/cameras/cam/live.mjpeg")
    n, t0 = 0, time.monotonic()
    while time.monotonic() < until:
        line = response.readline()
        if line.startswith(b"X-Capture-Time:"):
            t = float(line.split(b":", 1)[1])
        elif line.startswith(b"Content-Length:"):
            size = int(line.split(b":", 1)[1])
            response.readline()
            response.read(size)
            delays.append(time.time() - t)
            n += 1
    counts.append(n / (time.monotonic() - t0))
    client.conn.close()


def playback(client: Client, day: str, until: float, result: dict) -> None:
    client.call("POST", "/api/cameras/cam/access", {"action": "playback", "purpose": "safety",
                                                     "reason": "benchmark playback"})
    segments = client.call("GET", f"/api/cameras/cam/segments/{day}")
    total, count, i = 0, 0, 0
    t0 = time.monotonic()
    while time.monotonic() < until:     # in real time, as a viewer plays (GREEDY: flat out)
        seg = segments[i % len(segments)]
        started = time.monotonic()
        response = client.request("GET", f"/segments/{seg['id']}/video")
        total += len(response.read())
        count += 1
        i += 1
        rest = seg["end"] - seg["start"] - (time.monotonic() - started)
        if not GREEDY:
            time.sleep(max(0.0, min(rest, until - time.monotonic())))
    result.update(bytes=total, segments=count, seconds=time.monotonic() - t0)


def segment_deficit(config: Path, since: float, until: float, fps: float) -> tuple[int, int]:
    """Frames missing from segments that lie within [since, until]: duration x fps - frames."""
    from firmware.config import load
    from firmware.storage.store import EncryptedStore
    store = EncryptedStore.from_config(load(config))
    rows = [s for s in store.list_segments("cam") if s["start"] >= since and s["end"] <= until]
    store.close()
    frames = sum(s["frames"] for s in rows)
    expected = sum(round((s["end"] - s["start"]) * fps) for s in rows)
    return frames, expected - frames


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


def main() -> None:
    if not CLIP.exists():
        raise SystemExit(f"{CLIP} is missing: the benchmark reads the shared camera footage")
    rate = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                           "stream=r_frame_rate", "-of", "csv=p=0", str(CLIP)],
                          capture_output=True, text=True, check=True).stdout.strip()
    num, den = rate.split("/")
    fps = min(30.0, int(num) / int(den))       # the camera is set to 30 fps (max_fps)
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        (d / "data").mkdir()
        (d / "keys").mkdir()
        config = d / "nvr.toml"
        config.write_text(CONFIG)
        env = {**os.environ, "NVR_PASSWORD": PASSWORD}
        sys.path.insert(0, str(ROOT))
        from firmware.config import load
        from firmware.governance.roles import Role
        from firmware.governance.service import Governance
        gov = Governance.open(load(config))
        gov.accounts.add("t.admin", Role.TECHNICAL, PASSWORD,
                         enrollment_code=gov.accounts.issue_enrollment_code())
        gov.accounts.add("m.manager", Role.MANAGER, PASSWORD,
                         enrollment_code=gov.accounts.issue_enrollment_code(Role.MANAGER))
        admin = gov.accounts.authenticate("t.admin", PASSWORD).actor()
        manager = gov.accounts.authenticate("m.manager", PASSWORD).actor()
        for i in range(VIEWERS + 2):
            code = gov.accounts.create(f"b.viewer{i}", Role.BEHEERDER, by=admin)
            gov.accounts.reset_password(f"b.viewer{i}", code, PASSWORD)     # the owner
            gov.accounts.approve(f"b.viewer{i}", role=Role.BEHEERDER, by=manager)
        gov.close()
        start = (datetime.now(timezone.utc) - timedelta(minutes=30)).isoformat()
        subprocess.run([sys.executable, "-m", "firmware.cli", "--config", str(config), "ingest",
                        str(CLIP), "--camera", "cam", "--start", start], check=True, env=env,
                       cwd=ROOT, capture_output=True)
        proc = subprocess.Popen([sys.executable, "-m", "firmware.cli", "--config", str(config),
                                 "run"], cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        url = None
        while url is None:
            line = proc.stdout.readline()
            if not line:
                raise SystemExit("nvr run ended before its web interface started")
            found = re.search(r"web interface: https://([\d.]+):(\d+)", line)
            url = (found.group(1), int(found.group(2))) if found else None
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        try:
            time.sleep(5)                                   # let the recorder settle
            report = run_phases(url, d, config, proc.pid, fps)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(30)
    print_report(report, fps)


def run_phases(url, d: Path, config: Path, pid: int, fps: float) -> dict:
    host, port = url
    day = datetime.now(ZoneInfo("Europe/Amsterdam")).date().isoformat()
    wpid = web_pid(pid)
    report: dict = {}
    for phase, seconds, load in (("baseline", BASE_SECONDS, False), ("load", LOAD_SECONDS, True)):
        pages: dict[str, list[float]] = {}
        delays: list[float] = []
        counts: list[int] = []
        played: dict = {}
        frames0, t0 = recorder_frames(d / "data")
        wall0 = time.time()
        cpu0 = (cpu_seconds(pid), cpu_seconds(wpid))
        until = time.monotonic() + seconds
        threads = [threading.Thread(target=time_pages, args=(
            Client(host, port, "b.viewer0"), day, until, pages))]
        if load:
            threads += [threading.Thread(target=live_viewer, args=(
                Client(host, port, f"b.viewer{i + 1}"), until, delays, counts))
                for i in range(VIEWERS)]
            threads.append(threading.Thread(target=playback, args=(
                Client(host, port, f"b.viewer{VIEWERS + 1}"), day, until, played)))
        for t in threads:
            t.start()
        for t in threads:
            t.join(seconds + 60)
        frames1, t1 = recorder_frames(d / "data")
        cpu1 = (cpu_seconds(pid), cpu_seconds(wpid))
        elapsed = t1 - t0
        behind = max(0, round(elapsed * fps) - (frames1 - frames0))
        seg_frames, missing = segment_deficit(config, wall0, time.time(), fps)
        report[phase] = {"seconds": elapsed, "frames": frames1 - frames0, "behind": behind,
                         "segment_frames": seg_frames, "segment_missing": missing,
                         "pages": pages, "delays": delays, "counts": counts, "played": played,
                         "cpu": ((cpu1[0] - cpu0[0]) / elapsed, (cpu1[1] - cpu0[1]) / elapsed)}
    return report


def print_report(report: dict, fps: float) -> None:
    base, load = report["baseline"], report["load"]
    print(f"nvr run recording {CLIP.name} scaled to 1920x1080 at {fps:.0f} fps, "
          f"baseline {base['seconds']:.0f} s, load {load['seconds']:.0f} s with {VIEWERS} live "
          f"viewers and 1 playback{' downloading flat out' if GREEDY else ' in real time'}")
    for name, r in (("baseline", base), ("load", load)):
        print(f"{name:9} frames processed {r['frames']:6}  behind (would drop) {r['behind']:4}  "
              f"segments: {r['segment_frames']} frames, {r['segment_missing']} missing  "
              f"CPU recorder {100 * r['cpu'][0]:5.1f} %  web {100 * r['cpu'][1]:5.1f} %")
    d = load["delays"]
    if d:
        print(f"live delay (capture to viewer): median {1000 * statistics.median(d):.0f} ms, "
              f"p95 {1000 * percentile(d, 0.95):.0f} ms, max {1000 * max(d):.0f} ms; "
              f"frames per viewer per second: "
              + ", ".join(f"{c:.1f}" for c in load["counts"]))
    p = load["played"]
    if p:
        print(f"playback: {p['segments']} segments, {p['bytes'] / 1e6:.1f} MB in "
              f"{p['seconds']:.0f} s ({8 * p['bytes'] / 1e6 / p['seconds']:.1f} Mbit/s)")
    print(f"{'page':28} {'baseline median ms':>19} {'load median ms':>15} {'load p95 ms':>12} "
          f"{'ratio':>6}")
    for page in PAGES:
        b, l = base["pages"].get(page, [0]), load["pages"].get(page, [0])
        mb, ml = statistics.median(b), statistics.median(l)
        print(f"{page:28} {1000 * mb:19.1f} {1000 * ml:15.1f} {1000 * percentile(l, 0.95):12.1f} "
              f"{ml / mb if mb else 0:6.2f}")
    print("goals: 0 frames behind or missing; live delay under 1 s")


if __name__ == "__main__":
    main()
