"""Benchmark: the day page (event list and timeline) with 500 events, at the server.

Goal (issue 11): a day of 500 events renders its list and timeline in under 100 ms at the
server. A device is made in a temporary directory with 500 events of three 10-second segments
yesterday and one event the day before (the baseline, measured in the same run), written
through the real encrypted store (the files hold filler bytes: the page never decodes them).
The Flask app answers in-process (no TLS, no network), logged in as a beheerder with a stated
reason, so the page carries its thumbnails and player. Printed: median and 90th percentile of
the page and of /api/.../events/<day> for both days, and the ratio to the baseline.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import bench_device            # bench/bench_device.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EVENTS, SEGMENTS, SEGMENT_SECONDS, ROUNDS = 500, 3, 10.0, 40
PASSWORD = bench_device.PASSWORD
CONFIG = bench_device.config("""
name = "Bench"
location = "Gemeentehuis Soest, bench"
source = "synthetic"
width = 320
height = 240
fps = 25
staff_in_view = false
""")


def write_events(store, starts: list[float]) -> None:
    from firmware.ids import time_ordered_id
    from firmware.storage.sink import SegmentMeta
    filler = b"\0" * 2000
    for start in starts:
        event = time_ordered_id(start)
        for k in range(SEGMENTS):
            t = start + k * SEGMENT_SECONDS
            begun = datetime.fromtimestamp(t, timezone.utc)
            meta = SegmentMeta(time_ordered_id(t), event, "bench", "cam", "Bench", "bench",
                               begun, True)
            target = store.begin(meta)
            target.write(filler)
            target.commit(begun + timedelta(seconds=SEGMENT_SECONDS), 250)
    store.drain()


def accounts(config: Path) -> None:
    """The staff, and b.beheerder made by the technisch beheerder and approved (R-11)."""
    from firmware.governance.roles import Role
    bench_device.staff(config, {"b.beheerder": Role.BEHEERDER})


def timed(get, url: str) -> list[float]:
    out = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        r = get(url)
        out.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, (url, r.status_code)
    return out


def main() -> None:
    from firmware.config import load
    from firmware.storage.keys import FileKeyProvider
    from firmware.storage.store import EncryptedStore
    from firmware.web import create_app
    tz = ZoneInfo("Europe/Amsterdam")
    today = datetime.now(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    busy, quiet = today - timedelta(days=1), today - timedelta(days=2)
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        (d / "data").mkdir()
        (d / "keys").mkdir()
        config = d / "nvr.toml"
        config.write_text(CONFIG)
        accounts(config)
        store = EncryptedStore(d / "data", "bench", FileKeyProvider(d / "keys"),
                               retention_days=28, owner=True)
        spacing = (86400 - 600) / EVENTS
        write_events(store, [busy.timestamp() + 300 + i * spacing for i in range(EVENTS)])
        write_events(store, [quiet.timestamp() + 12 * 3600])
        store.close()
        app = create_app(load(config))
        app.config["TESTING"] = True
        c = app.test_client()
        c.get("/login", base_url="https://localhost")
        with c.session_transaction() as s:
            token = s["csrf"]
        kw = {"base_url": "https://localhost"}
        assert c.post("/login", data={"name": "b.beheerder", "password": PASSWORD,
                                      "csrf": token}, **kw).status_code == 302
        assert c.post("/cameras/cam/access", data={"purpose": "incident", "csrf": token,
                                                   "reason": "benchmark of the day page"},
                      **kw).status_code == 302

        def get(url):
            return c.get(url, **kw)

        results = {}
        for label, day in (("1 event", quiet), (f"{EVENTS} events", busy)):
            iso = day.date().isoformat()
            page = get(f"/cameras/cam/day/{iso}").get_data(True)
            assert page.count('data-event="') >= (1 if day is quiet else EVENTS), label
            timed(get, f"/cameras/cam/day/{iso}")              # warm up
            results[label] = {"page": timed(get, f"/cameras/cam/day/{iso}"),
                              "api": timed(get, f"/api/cameras/cam/events/{iso}")}
    base = results["1 event"]
    print(f"day page at the server, {ROUNDS} requests each (in-process, no TLS):")
    for label, r in results.items():
        for kind in ("page", "api"):
            med = statistics.median(r[kind])
            p90 = sorted(r[kind])[int(0.9 * len(r[kind])) - 1]
            ratio = med / statistics.median(base[kind])
            print(f"  {label:>10} {kind:>4}: median {med:6.1f} ms, p90 {p90:6.1f} ms, "
                  f"{ratio:4.1f}x the 1-event day")
    busy_page = statistics.median(results[f"{EVENTS} events"]["page"])
    print(f"goal: {EVENTS} events under 100 ms at the server: "
          f"{'met' if busy_page < 100 else 'NOT met'} ({busy_page:.1f} ms)")


if __name__ == "__main__":
    main()
