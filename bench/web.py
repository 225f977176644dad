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

A third phase, memory (issue 11: the web process grew from 54 MB to 266 MB in nine minutes of one
person's use): MEMORY_PAGES page loads over the page set, then MEMORY_PLAYBACKS playbacks of
every kind (segment video, blurred inzage, decision letter and declaration PDFs, logbooks as
CSV and PDF, the report, a 7z export with its declaration, live MJPEG), the web process's RSS
read from /proc after each kind. Printed: its RSS at start (before the first request), at the
end, the difference against the goal of MEMORY_GOAL_MB, and its peak (VmHWM).
`--memory-only` runs only this phase; `--rounds N` repeats its playbacks N times (a cost that
comes once, such as an import, shows in round 1 only; a leak grows every round).
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

import bench_device            # bench/bench_device.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT.parent / "shared" / "data" / "video" / "video03.avi"
BASE_SECONDS, LOAD_SECONDS, VIEWERS = 20, 60, 4
GREEDY = "--greedy" in sys.argv          # the playback client downloads without pause
MEMORY_ONLY = "--memory-only" in sys.argv
ROUNDS = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 1
MEMORY_PAGES, MEMORY_PLAYBACKS, MEMORY_GOAL_MB = 1000, 100, 20
PASSWORD = bench_device.PASSWORD
ARCHIVE_PASSWORD = "benchmark export password 2026"
# The page set, timed in every phase and loaded in the memory phase: one line per page.
# {day}: today in the device's zone; {event}: an event of the recorded footage (the "event" of
# a row of /api/cameras/cam/segments/{day}), {first}: that event's first segment. The page
# client has a playback grant, so a footage URL such as an event's thumbnail is one more
# line here.
PAGES = (
    "/",
    "/cameras/cam/day/{day}",             # the day: timeline and list (events, issue 11)
    "/api/cameras/cam/events/{day}",      # the day's events as JSON, each with its thumbnail
    "/segments/{first}/thumbnail",        # an event's thumbnail (made once, then from memory)
    "/system",
    "/requests",
    "/holds",
    "/logbooks",
    "/api/cameras",
    "/api/system",
)

CONFIG = bench_device.config(f"""
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
""", extra="""[export]
directory = "usb-stand-in"
""")


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
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                ssl.SSLEOFError):
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


def page_client(host: str, port: int) -> Client:
    """The client that loads the page set, with a playback grant for footage URLs (R-01)."""
    client = Client(host, port, "b.viewer0")
    client.call("POST", "/api/cameras/cam/access", {"action": "playback", "purpose": "safety",
                                                     "reason": "benchmark page set"})
    return client


def time_pages(client: Client, values: dict, until: float, out: dict[str, list[float]]) -> None:
    while time.monotonic() < until:
        for page in PAGES:
            path = page.format(**values)
            t0 = time.perf_counter()
            response = client.request("GET", path)
            body = response.read()
            out.setdefault(page, []).append(time.perf_counter() - t0)
            if response.status != 200:      # said here: SystemExit ends a thread silently
                print(f"time_pages: GET {path}: {response.status} "
                      f"{re.sub(r'<[^>]+>', ' ', body.decode(errors='replace'))[-600:]!r}",
                      file=sys.stderr, flush=True)
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
        from firmware.governance.roles import Role
        bench_device.staff(config, {"p.officer": Role.PRIVACY_OFFICER,
                                    **{f"b.viewer{i}": Role.BEHEERDER for i in range(VIEWERS + 2)}})
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
            start_kb = rss_kb(web_pid(proc.pid))          # before its first request
            time.sleep(5)                                   # let the recorder settle
            report = run_phases(url, d, config, proc.pid, fps)
            report["memory"]["start"] = start_kb
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(30)
    print_report(report, fps)


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    """The process's resident memory (VmRSS) or its peak (VmHWM) from /proc, in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, ZoneInfo("Europe/Amsterdam")).isoformat(timespec="seconds")


def casework(host: str, port: int, segments: list[dict]) -> dict:
    """An art. 10 request ready for its inzage (approved, identity, declaration) and an art. 9
    request ready for exports, both over one short segment of the recorded footage."""
    seg = segments[len(segments) // 2]
    start, end = iso(seg["start"] + 1.5), iso(seg["end"] - 0.5)
    officer, manager = Client(host, port, "p.officer"), Client(host, port, "m.manager")
    beheerder = Client(host, port, "b.viewer0")
    art10 = officer.call("POST", "/api/requests/art10", {
        "requester": "J. de Vries", "requester_kind": "citizen",
        "motivation": "mijn fiets is gestolen bij de ingang", "camera": "cam",
        "start": start, "end": end})["id"]
    manager.call("POST", f"/api/requests/{art10}/decision", {
        "approve": True, "reason": "belang aangetoond: aangifte fietsdiefstal",
        "weighing": "voorbijgangers in beeld; het belang van de aanvrager weegt zwaarder, "
                    "anderen worden vervaagd getoond"})
    beheerder.call("POST", f"/api/requests/{art10}/identity",
                   {"document_type": "paspoort", "last_digits": "4567"})
    beheerder.call("POST", f"/api/requests/{art10}/declaration", {"signed_by": "J. de Vries"})
    art9 = beheerder.call("POST", "/api/requests/art9", {
        "reference": "PL0900-2026-4411", "requester": "brigadier K. Bakker",
        "legal_basis": "126nd", "camera": "cam", "start": start, "end": end})["id"]
    beheerder.call("POST", f"/api/requests/{art9}/identity", {
        "officer": "brigadier K. Bakker", "document_type": "dienstpas", "last_digits": "4411"})
    beheerder.call("POST", f"/api/requests/{art9}/declaration",
                   {"signed_by": "brigadier K. Bakker"})
    for c in (officer, manager, beheerder):
        c.conn.close()
    return {"art10": art10, "art9": art9, "segment": seg["id"]}


def fetch(client: Client, path: str) -> int:
    response = client.request("GET", path)
    size = len(response.read())
    if response.status != 200:
        raise SystemExit(f"GET {path}: {response.status}")
    return size


def watch_live(client: Client, seconds: float) -> int:
    """Watch the live MJPEG stream for `seconds`, then close it as a browser tab does."""
    response = client.request("GET", "/cameras/cam/live.mjpeg")
    if response.status != 200:
        raise SystemExit(f"live.mjpeg: {response.status} {response.read()[:200]!r}")
    n, until = 0, time.monotonic() + seconds
    while time.monotonic() < until:
        line = response.readline()
        if line.startswith(b"Content-Length:"):
            response.readline()
            response.read(int(line.split(b":", 1)[1]))
            n += 1
    client.conn.close()
    return n


def playback_kinds(host: str, port: int, case: dict, segments: list[dict], day: str) -> dict:
    """One callable per kind of playback or document; each call plays or fetches one."""
    viewer = Client(host, port, "b.viewer1")
    viewer.call("POST", "/api/cameras/cam/access", {"action": "playback", "purpose": "safety",
                                                     "reason": "benchmark memory playback"})
    beheerder = Client(host, port, "b.viewer0")
    officer = Client(host, port, "p.officer")
    counter = iter(range(10 ** 6))
    art10, art9 = case["art10"], case["art9"]

    def segment_video():
        return fetch(viewer, f"/segments/{segments[next(counter) % len(segments)]['id']}/video")

    def new_thumbnail():                # a segment not yet in the web's memory: the worker
        return fetch(viewer, f"/segments/{segments[next(counter) % len(segments)]['id']}"
                             "/thumbnail")

    def export_7z():
        made = beheerder.call("POST", "/api/exports", {"request": art9,
                                                       "password": ARCHIVE_PASSWORD})
        return fetch(beheerder, f"/exports/{made['id']}/declaration.pdf")

    def live():
        client = Client(host, port, "b.viewer2")
        client.call("POST", "/api/cameras/cam/access", {
            "action": "live", "purpose": "safety", "reason": "benchmark memory live"})
        return watch_live(client, 2.0)

    first = (datetime.now(ZoneInfo("Europe/Amsterdam")).date() - timedelta(days=7)).isoformat()
    return {
        "segment video": segment_video,
        "segment video (again)": segment_video,
        "thumbnail (made by the worker)": new_thumbnail,
        "inzage blurred": lambda: fetch(beheerder, f"/requests/{art10}/inzage/segments/"
                                                   f"{case['segment']}/video?regions=0,0,0.5,1"),
        "decision letter PDF": lambda: fetch(officer, f"/requests/{art10}/besluit.pdf"),
        "declaration PDF": lambda: fetch(beheerder, f"/requests/{art10}/declaration.pdf"),
        "logbook PDF": lambda: fetch(officer, "/logbooks/inzien/pdf"),
        "logbook CSV": lambda: fetch(officer, "/logbooks/usage/csv"),
        "report PDF": lambda: fetch(officer, f"/report?from={first}&to={day}"),
        "7z export + declaration": export_7z,
        "live MJPEG 2 s": live,
    }


def memory_phase(host: str, port: int, wpid: int, values: dict, segments: list[dict],
                 case: dict) -> dict:
    """MEMORY_PAGES page loads, then MEMORY_PLAYBACKS playbacks of every kind per round; the
    web process's RSS after each step."""
    kinds = playback_kinds(host, port, case, segments, values["day"])
    steps: list[tuple[str, int, int]] = []           # (what, RSS after it in kB, count)
    client = page_client(host, port)
    steps.append(("logins, casework, timed phases", rss_kb(wpid), 0))
    loads = 0
    while loads < MEMORY_PAGES:
        for page in PAGES:
            if loads < MEMORY_PAGES:
                fetch(client, page.format(**values))
                loads += 1
    steps.append((f"{MEMORY_PAGES} page loads", rss_kb(wpid), MEMORY_PAGES))
    per_kind = -(-MEMORY_PLAYBACKS // len(kinds))      # at least MEMORY_PLAYBACKS in all
    for round_ in range(1, ROUNDS + 1):
        for name, play in kinds.items():
            t0 = time.monotonic()
            for _ in range(per_kind):
                play()
            steps.append((f"round {round_}: {per_kind} x {name}", rss_kb(wpid), per_kind))
            print(f"  {steps[-1][0]}: RSS {steps[-1][1] / 1024:.1f} MB "
                  f"({time.monotonic() - t0:.1f} s)", file=sys.stderr, flush=True)
    return {"steps": steps, "end": rss_kb(wpid), "peak": rss_kb(wpid, "VmHWM")}


def run_phases(url, d: Path, config: Path, pid: int, fps: float) -> dict:
    host, port = url
    day = datetime.now(ZoneInfo("Europe/Amsterdam")).date().isoformat()
    wpid = web_pid(pid)
    report: dict = {}
    segments = Client(host, port, "b.viewer0").call("GET", f"/api/cameras/cam/segments/{day}")
    events = [s["event"] for s in segments if s["event"]]
    event = events[len(events) // 2] if events else ""
    first = next((s["id"] for s in segments if s["event"] == event), segments[-1]["id"])
    values = {"day": day, "event": event, "first": first}
    # Casework first: the pages are timed on a device with requests, as in use (and the home
    # page of a fresh device without one is a 503 on main, "no such table: requests").
    case = casework(host, port, segments)
    phases = (("baseline", BASE_SECONDS, False), ("load", LOAD_SECONDS, True))
    for phase, seconds, load in () if MEMORY_ONLY else phases:
        pages: dict[str, list[float]] = {}
        delays: list[float] = []
        counts: list[int] = []
        played: dict = {}
        frames0, t0 = recorder_frames(d / "data")
        wall0 = time.time()
        cpu0 = (cpu_seconds(pid), cpu_seconds(wpid))
        until = time.monotonic() + seconds
        threads = [threading.Thread(target=time_pages, args=(
            page_client(host, port), values, until, pages))]
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
    report["memory"] = memory_phase(host, port, wpid, values, segments, case)
    return report


def print_memory(m: dict) -> None:
    print(f"memory of the web process: {MEMORY_PAGES} page loads, then {MEMORY_PLAYBACKS} "
          f"playbacks of {len(m['steps']) - 2} kinds per round, {ROUNDS} round(s)")
    print(f"{'step':44} {'RSS after MB':>12} {'change MB':>10}")
    before = m["start"]
    print(f"{'start (before the first request)':44} {before / 1024:12.1f}")
    for name, kb, _ in m["steps"]:
        print(f"{name:44} {kb / 1024:12.1f} {(kb - before) / 1024:+10.1f}")
        before = kb
    grown = (m["end"] - m["start"]) / 1024
    print(f"web process RSS: start {m['start'] / 1024:.1f} MB, end {m['end'] / 1024:.1f} MB, "
          f"end - start {grown:+.1f} MB (goal within {MEMORY_GOAL_MB} MB: "
          f"{'met' if grown <= MEMORY_GOAL_MB else 'NOT met'}); peak (VmHWM) "
          f"{m['peak'] / 1024:.1f} MB")


def print_report(report: dict, fps: float) -> None:
    print_memory(report["memory"])
    if MEMORY_ONLY:
        return
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
