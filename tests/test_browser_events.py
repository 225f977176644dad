"""Issue 11 item 1: the day page lists events, not segments; the timeline zooms and opens at
now; thumbnails are real JPEGs under the playback rules; an event plays as one.

A device with 40 events today (two 4-second segments each, real recorder MP4s made by `nvr
ingest` on a scratch device and written through the encrypted store), a hold over three of
them, and two events yesterday; the web interface runs as `nvr web` (no recorder, so nothing
is added while the tests run) and is driven by headless Chromium.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import PASSWORD, make_store, nvr, render_scene, staff, write_config
from deviceday import device_today
from test_browser import (AMSTERDAM, SHOTS, browser, log_in, serving, shot,  # noqa: F401
                          state_reason)
from webutil import api, client, login

from firmware.config import load
from firmware.governance.service import Governance
from firmware.ids import time_ordered_id
from firmware.storage.sink import SegmentMeta

EVENTS = 40
SPACING = 30                                   # seconds between event starts


def _recorder_segments(scratch: Path) -> list[tuple[bytes, float]]:
    """Two plaintext MP4 segments as the recorder writes them, with their durations."""
    from firmware.capture.synthetic import Mover, Scene
    scratch.mkdir()
    config = write_config(scratch, storage="segment_seconds = 4")
    scene = Scene(320, 240, 25, [Mover(1, 7, 0.1, 0.3, 0.7, 0.3, 0.15, 0.25, 20)], noise=2,
                  clock=False)
    clip = render_scene(scene, 25 * 9, scratch / "clip.mp4")
    start = datetime.now(timezone.utc) - timedelta(hours=1)
    done = nvr("--config", str(config), "ingest", str(clip), "--camera", "cam", "--start",
               start.isoformat())
    assert done.returncode == 0, done.stderr
    store = make_store(scratch)
    rows = store.list_segments("cam")[:2]
    assert len(rows) == 2
    out = [(b"".join(store.read_segment(r["id"])), r["end"] - r["start"]) for r in rows]
    store.close()
    return out


def _write_event(store, start: float, clips) -> list[str]:
    """One event of len(clips) consecutive segments from `start`, through the real store."""
    event_id = time_ordered_id(start)
    ids, t = [], start
    for data, seconds in clips:
        begun = datetime.fromtimestamp(t, timezone.utc)
        meta = SegmentMeta(time_ordered_id(t), event_id, "test-device", "cam", "Testcamera",
                           "Gemeentehuis Soest, testgang", begun, True)
        target = store.begin(meta)
        target.write(data)
        target.commit(begun + timedelta(seconds=seconds), int(seconds * 25))
        ids.append(meta.segment_id)
        t += seconds
    store.drain()
    return ids


@pytest.fixture(scope="module")
def events_site(tmp_path_factory):
    """The device, its web interface (`nvr web`), and what was written: the day of the events
    ("day", today unless local midnight is less than 25 minutes ago: then yesterday evening,
    where the 40 events fit), their starts, that day's events ("today", segment ids), the events
    of the day before ("yesterday", at its noon) and the configuration. Tests take the day from
    here, never from the clock: a run that crosses local midnight still finds the events."""
    now = time.time()
    midnight = datetime.now(AMSTERDAM).replace(hour=0, minute=0, second=0, microsecond=0)
    last = now - 120
    if last - midnight.timestamp() < EVENTS * SPACING + 180:
        last = midnight.timestamp() - 600
        midnight = (midnight - timedelta(hours=12)).replace(hour=0)
    tmp = tmp_path_factory.mktemp("events")
    clips = _recorder_segments(tmp / "scratch")
    root = tmp / "dev"
    root.mkdir()
    config = write_config(root, storage="segment_seconds = 4")
    env = staff(config)
    store = make_store(root)
    starts = [last - (EVENTS - i) * SPACING for i in range(EVENTS)]
    today = [_write_event(store, s, clips) for s in starts]
    yesterday_noon = (midnight - timedelta(hours=12)).timestamp()
    yesterday = [_write_event(store, yesterday_noon, clips),
                 _write_event(store, yesterday_noon + 3600, clips)]
    store.close()
    fmt = "%Y-%m-%dT%H:%M:%S%z"
    held = nvr("--config", str(config), "hold", "add", "--camera", "cam", "--start",
               datetime.fromtimestamp(starts[10] - 2, AMSTERDAM).strftime(fmt), "--end",
               datetime.fromtimestamp(starts[12] + 9, AMSTERDAM).strftime(fmt),
               "--reason", "vernieling fietsenstalling", "--reference", "incident 2026-118",
               "--user", "b.beheerder", env=env)
    assert held.returncode == 0, held.stderr
    with serving(config, "web") as url:
        yield {"url": url, "config": config, "starts": starts, "today": today,
               "yesterday": yesterday, "root": root, "day": midnight.date().isoformat(),
               "day_before": (midnight.date() - timedelta(days=1)).isoformat(),
               "midnight": midnight.timestamp()}


@pytest.fixture
def as_user(browser, events_site):  # noqa: F811
    contexts = []

    def open_as(name: str):
        context, page = log_in(browser, events_site["url"], name)
        contexts.append(context)
        return page

    yield open_as
    for context in contexts:
        context.close()


def _view(page) -> tuple[float, float]:
    page.wait_for_function("() => document.getElementById('timeline').dataset.viewStart")
    return (float(page.get_attribute("#timeline", "data-view-start")),
            float(page.get_attribute("#timeline", "data-view-end")))


def _labels(page) -> list[str]:
    return page.eval_on_selector_all("#tl-axis span", "s => s.map(e => e.textContent)")


def test_day_lists_40_events_and_the_timeline_opens_at_now(as_user, events_site):
    page = as_user("b.beheerder")
    page.goto(f"{events_site['url']}/cameras/cam/day/{events_site['day']}")
    assert page.locator("table.events tbody tr[data-event]").count() == EVENTS
    assert page.locator("#tl-track button.event").count() == EVENTS
    today = device_today()
    if today != events_site["day"]:        # the events lie before local midnight: today's page
        page.goto(f"{events_site['url']}/cameras/cam/day/{today}")       # is the one at now
    start, end = _view(page)
    assert start <= time.time() <= end                        # opens at now
    assert end - start < 24 * 3600
    page.goto(f"{events_site['url']}/cameras/cam/day/{events_site['day']}")
    first = page.locator("table.events tbody tr[data-event]").first.inner_text()
    expected = datetime.fromtimestamp(events_site["starts"][0], AMSTERDAM).strftime("%H:%M:%S")
    assert expected in first and "8 s" in first and "Testcamera" in first
    held = page.locator("table.events tbody tr[data-event]:has-text('ja')")
    assert held.count() == 3                                   # the hold over events 10-12
    assert page.locator("#tl-track .band.hold").count() == 1
    assert page.locator("#tl-track .band.hold").is_visible()
    assert "bewaard (bevriezing)" in page.inner_text(".legend")


def test_zoom_from_the_day_to_an_hour_shows_10_minute_labels(as_user, events_site):
    page = as_user("b.beheerder")
    page.goto(f"{events_site['url']}/cameras/cam/day/{events_site['day']}")
    _view(page)
    page.click("#tl-day")
    page.wait_for_function("() => { const d = document.getElementById('timeline').dataset;"
                           " return d.viewEnd - d.viewStart > 86000; }")
    hours = _labels(page)
    assert len(hours) >= 20 and all(label.endswith(":00") for label in hours)
    for _ in range(20):                                        # + until an hour or less
        start, end = _view(page)
        if end - start <= 3600:
            break
        page.click("#tl-zoom-in")
        page.wait_for_function(f"() => document.getElementById('timeline').dataset.viewEnd "
                               f"- document.getElementById('timeline').dataset.viewStart "
                               f"< {end - start - 1}")
    start, end = _view(page)
    assert 1800 < end - start <= 3600
    labels = _labels(page)
    minutes = [int(label.split(":")[1]) for label in labels]
    assert len(labels) >= 3 and all(m % 10 == 0 for m in minutes)
    assert any(m != 0 for m in minutes)                       # 10-minute labels, not hours
    box = page.locator("#tl-track").bounding_box()             # the mouse wheel zooms further
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(6):
        page.mouse.wheel(0, -200)
    page.wait_for_function("() => { const d = document.getElementById('timeline').dataset;"
                           " return d.viewEnd - d.viewStart < 600; }")
    assert page.get_attribute("#timeline", "data-step") in ("60", "120")
    shot(page, "12-tijdlijn-ingezoomd")


def test_timeline_by_keyboard_and_by_pinch(browser, events_site):  # noqa: F811
    """Keys move and zoom it, Enter on a block plays the event; two fingers pinch it (real touch
    input through the DevTools protocol, a touch screen context)."""
    context = browser.new_context(ignore_https_errors=True, locale="nl-NL", has_touch=True,
                                  viewport={"width": 1280, "height": 860})
    try:
        page = context.new_page()
        url = events_site["url"]
        page.goto(f"{url}/login")
        page.fill("input[name=name]", "b.beheerder")
        page.fill("input[name=password]", PASSWORD)
        page.click("button:has-text('Aanmelden')")
        page.goto(f"{url}/cameras/cam/day/{events_site['day']}")
        state_reason(page, "terugkijken fietsendiefstal")
        start, end = _view(page)
        block = page.locator("#tl-track button.event >> nth=-1")
        block.focus()
        page.keyboard.press("Enter")
        last = events_site["today"][-1][0]
        page.wait_for_function(f"() => document.getElementById('player').dataset.current === "
                               f"'{last}'", timeout=20000)
        assert "current" in block.get_attribute("class")
        block.focus()
        page.keyboard.press("ArrowLeft")
        page.wait_for_function(f"() => document.getElementById('timeline').dataset.viewStart"
                               f" < {start - 1}")
        start, end = _view(page)
        page.keyboard.press("+")
        page.wait_for_function(f"() => {{ const d = document.getElementById('timeline')"
                               f".dataset; return d.viewEnd - d.viewStart < {end - start - 1}; }}")
        start, end = _view(page)
        page.locator("#tl-track").scroll_into_view_if_needed()
        box = page.locator("#tl-track").bounding_box()
        cdp = context.new_cdp_session(page)
        y = box["y"] + 6                                     # above the blocks
        mid = box["x"] + box["width"] / 2

        def touch(kind, spread):
            points = [] if kind == "touchEnd" else [
                {"x": mid - spread, "y": y, "id": 0}, {"x": mid + spread, "y": y, "id": 1}]
            cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [
            {"x": mid - 40, "y": y, "id": 0}]})               # one finger, then the second
        touch("touchStart", 40)
        for spread in range(60, 320, 20):                    # fingers apart: zoom in
            touch("touchMove", spread)
        touch("touchEnd", 0)
        page.wait_for_function(f"() => {{ const d = document.getElementById('timeline')"
                               f".dataset; return d.viewEnd - d.viewStart < "
                               f"{(end - start) / 3}; }}")
    finally:
        context.close()


def test_another_day_opens_at_its_first_event(as_user, events_site):
    page = as_user("b.beheerder")
    page.goto(f"{events_site['url']}/cameras/cam/day/{events_site['day_before']}")
    start, end = _view(page)
    noon = events_site["midnight"] - 12 * 3600
    assert start <= noon <= end
    assert page.locator("table.events tbody tr[data-event]").count() >= 1


def test_playing_an_event_crosses_its_segment_boundary(as_user, events_site):
    page = as_user("b.beheerder")
    page.goto(f"{events_site['url']}/cameras/cam/day/{events_site['day']}")
    state_reason(page, "terugkijken fietsendiefstal")
    first, second = events_site["today"][5]
    row = page.locator("table.events tr:has(button[data-jump]) >> nth=5")
    row.locator("button[data-jump]").click()
    page.wait_for_function(f"() => document.getElementById('player').dataset.current === "
                           f"'{first}'", timeout=60000)
    page.wait_for_function(f"() => document.getElementById('player').dataset.current === "
                           f"'{second}' && Number(document.getElementById('player').dataset"
                           f".position) > {events_site['starts'][5] + 4.5}", timeout=60000)
    assert page.locator("#player-video").evaluate("v => v.videoWidth") == 320
    assert page.locator("#player-video").evaluate("v => !v.paused")
    shot(page, "13-gebeurtenis-afspelen")


def test_thumbnails_are_jpegs_shown_after_a_reason(as_user, events_site):
    page = as_user("b.beheerder")
    page.goto(f"{events_site['url']}/cameras/cam/day/{events_site['day']}")
    assert page.locator("table.events img").count() == 0       # no footage before R-01
    state_reason(page, "terugkijken fietsendiefstal")
    page.wait_for_function("() => { const i = document.querySelector('table.events img');"
                           " return i && i.complete && i.naturalWidth > 0; }", timeout=20000)
    assert page.evaluate("document.querySelector('table.events img').naturalWidth") == 160
    page.locator("h3:has-text('Gebeurtenissen')").scroll_into_view_if_needed()
    page.wait_for_function("() => [...document.querySelectorAll('table.events img')].slice(0, 4)"
                           ".every(i => i.complete && i.naturalWidth > 0)", timeout=20000)
    page.evaluate("window.scrollTo(0, 0)")
    path = SHOTS / "11-dag-gebeurtenissen.png"             # the README's picture: one screen
    page.screenshot(path=str(path), clip={"x": 0, "y": 0, "width": 1280, "height": 1400},
                    full_page=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_day_page_has_no_serious_axe_violations(as_user, events_site):
    axe = pytest.importorskip("axe_playwright_python.sync_playwright",
                              reason="axe-playwright-python is a dev dependency")
    page = as_user("b.beheerder")
    page.goto(f"{events_site['url']}/cameras/cam/day/{events_site['day']}")
    state_reason(page, "terugkijken fietsendiefstal")
    _view(page)
    found = axe.Axe().run(page).response["violations"]
    serious = [(v["id"], v["impact"]) for v in found if v["impact"] in ("serious", "critical")]
    assert serious == []


# --- the thumbnail route's rules, through the app itself (real store, governance, logbook) ---

@pytest.fixture(scope="module")
def app(events_site):
    from firmware.web import create_app
    made = create_app(load(events_site["config"]))
    made.config["TESTING"] = True
    return made


def _granted(app, name: str = "b.beheerder"):
    c = login(app, name)
    assert api(c, "POST", "/api/cameras/cam/access", {
        "action": "playback", "purpose": "incident",
        "reason": "fietsendiefstal bij de ingang"}).status_code == 200
    return c


def test_thumbnail_is_a_real_jpeg_of_the_event_and_its_showing_is_logged(app, events_site):
    c = _granted(app, "p.officer")           # a first showing for this person: logged
    events = c.get(f"/api/cameras/cam/events/{events_site['day']}").get_json()
    assert len(events) == EVENTS and events[0]["segments"][0]["id"] == events_site["today"][0][0]
    assert [e["held"] for e in events].count(True) == 3
    r = c.get(events[7]["thumbnail"])
    assert r.status_code == 200 and r.mimetype == "image/jpeg"
    picture = cv2.imdecode(np.frombuffer(r.data, np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape == (120, 160, 3) and picture.std() > 5   # a picture, not a blank
    inzien = Governance.open(load(events_site["config"])).logbook.entries("inzien")
    assert inzien[-1]["action"] == "playback-segment-shown"
    assert inzien[-1]["actor"] == "p.officer"
    assert events_site["today"][7][0] in inzien[-1]["details"]
    assert c.get(f"/api/cameras/cam/segments/{events_site['day']}").status_code == 200   # still there


def test_thumbnails_being_made_leave_the_player_its_threads(app, events_site):
    """While the worker is busy with other thumbnails (both making slots taken), a new one is
    answered at once with 503 and Retry-After instead of holding a server thread, and the
    segment's video still plays; a thumbnail already made is served from memory."""
    from firmware.web import recordings
    c = _granted(app)
    made, other = events_site["today"][2][0], events_site["today"][3][0]
    assert c.get(f"/segments/{made}/thumbnail").status_code == 200
    taken = [recordings.MAKING.acquire(blocking=False) for _ in range(2)]
    try:
        assert all(taken)
        busy = c.get(f"/segments/{other}/thumbnail")
        assert busy.status_code == 503 and busy.headers["Retry-After"] == "2"
        assert "ogenblik" in busy.get_data(as_text=True)                    # Dutch
        assert c.get(f"/segments/{made}/thumbnail").status_code == 200     # from memory
        assert c.get(f"/segments/{other}/video").status_code == 200
    finally:
        for _ in taken:
            recordings.MAKING.release()
    assert c.get(f"/segments/{other}/thumbnail").status_code == 200


def test_thumbnail_refused_without_playback_rights_or_a_reason_R01_R11(app, events_site):
    segment = events_site["today"][1][0]
    url = f"/segments/{segment}/thumbnail"
    assert login(app, "t.admin").get(url).status_code == 403      # no playback
    assert login(app, "b.beheerder").get(url).status_code == 428  # no reason yet
    assert client(app).get(f"/api/segments/{segment}/thumbnail").status_code == 401


def test_thumbnail_refused_outside_a_visits_window_R11(app, events_site):
    c = login(app, "b.beheerder")
    starts = events_site["starts"]
    fmt = "%Y-%m-%dT%H:%M"
    opened = api(c, "POST", "/api/visits", {
        "visitor": "rechercheur P. Smit", "organisation": "politie",
        "identity": "dienstpas 55123", "legal_basis": "126nd", "reason": "onderzoek inbraak",
        "cameras": ["cam"], "minutes": 30,
        "start": datetime.fromtimestamp(starts[-3] - 60, AMSTERDAM).strftime(fmt),
        "end": datetime.fromtimestamp(time.time(), AMSTERDAM).strftime(fmt)})
    assert opened.status_code == 201, opened.get_json()
    visit = opened.get_json()["id"]
    assert api(c, "POST", f"/api/visits/{visit}/start").status_code == 200
    assert api(c, "POST", "/api/cameras/cam/access", {
        "action": "playback", "purpose": "incident",
        "reason": "inbraak onderzoek politie"}).status_code == 200
    inside = events_site["today"][-1][0]
    outside = events_site["today"][0][0]
    assert c.get(f"/api/segments/{inside}/thumbnail").status_code == 200
    assert c.get(f"/api/segments/{outside}/thumbnail").status_code == 403
    listed = c.get(f"/api/cameras/cam/events/{events_site['day']}").get_json()
    assert outside not in {s["id"] for e in listed for s in e["segments"]}
    api(c, "POST", "/api/logout")
    assert api(login(app, "b.beheerder"), "POST",
               f"/api/visits/{visit}/close",
               {"reason": "bezoek van de politie afgerond"}).status_code == 200


def test_thumbnail_gone_with_its_segment_R40(app, events_site):
    """Served (and cached in memory) first; after the segment is erased it is never served."""
    from firmware.web.recordings import THUMBNAILS
    segment = events_site["yesterday"][1][0]
    c = _granted(app)
    assert c.get(f"/segments/{segment}/thumbnail").status_code == 200
    assert THUMBNAILS.get(segment) is not None
    store = make_store(events_site["root"], owner=True)
    try:
        with store.transaction() as db:                 # the store's own erase of a segment
            path = db.execute("SELECT path FROM segments WHERE id = ?", (segment,)).fetchone()
            store._delete_segment(db, segment, path["path"])
    finally:
        store.close()
    assert c.get(f"/segments/{segment}/thumbnail").status_code in (404, 410)
    assert THUMBNAILS.get(segment) is None


@pytest.mark.parametrize("clock", ["12:00:02", "11:59:58"])
def test_axis_labels_at_the_edges_stay_inside_on_a_phone(browser, events_site, clock):  # noqa: F811
    """The day opens three hours wide around now, so at 12:00:02 the 13:30 label falls on the
    right edge and at 11:59:58 the 10:30 label on the left one. Centred, half of it reached
    past the track and a 375 px page scrolled sideways (CI, 2026-11-29); now it is aligned to
    the edge it sits on."""
    context, page = log_in(browser, events_site["url"], "b.beheerder",
                           viewport={"width": 375, "height": 740})
    try:
        at = datetime.fromisoformat(f"{events_site['day']}T{clock}").replace(tzinfo=AMSTERDAM)
        page.clock.install(time=at.timestamp())
        page.goto(f"{events_site['url']}/cameras/cam/day/{events_site['day']}")
        page.wait_for_function("() => document.querySelectorAll('#tl-axis span').length > 1")
        outside = page.evaluate("""() => { const a = document.getElementById('tl-axis')
            .getBoundingClientRect();
            return [...document.querySelectorAll('#tl-axis span')].filter(s => {
                const r = s.getBoundingClientRect();
                return r.left < a.left - 0.5 || r.right > a.right + 0.5; })
              .map(s => s.textContent); }""")
        assert outside == []
        edge = "13:30" if clock == "12:00:02" else "10:30"
        assert edge in _labels(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
    finally:
        context.close()


def test_the_keys_keep_working_when_the_focused_event_leaves_the_view(as_user, events_site):
    """A keyboard user on an event zooms (or pans) it out of view: the timeline takes the
    focus, so the next key still moves the timeline (before, the hidden button dropped the
    focus to the page and every key after it did nothing; found when the events lay on
    yesterday evening, in a run just after local midnight)."""
    page = as_user("b.beheerder")
    page.goto(f"{events_site['url']}/cameras/cam/day/{events_site['day']}")
    _view(page)
    first = page.locator("#tl-track button.event >> nth=0")  # 20 minutes before the others
    first.focus()
    for _ in range(8):                                       # 3 hours down to 2 minutes
        page.keyboard.press("+")
    first.wait_for(state="hidden")
    assert page.evaluate("document.activeElement.id") == "timeline"
    start, end = _view(page)
    page.keyboard.press("-")
    page.wait_for_function(f"() => {{ const d = document.getElementById('timeline').dataset;"
                           f" return d.viewEnd - d.viewStart > {end - start + 1}; }}")
