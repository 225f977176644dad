"""Live for a control room (issue 11 item 2) in real headless Chromium: a grid of two cameras
that fills the screen, both showing frames; one reason for the grid, logged once (R-01, R-51);
one camera on the full screen and back; and a tile that says why it has no picture when access
ends or the recorder stops, instead of a frozen frame. The recorder (`nvr run --no-web`) and
the web interface (`nvr web`) run as their own processes, as on the device."""

from __future__ import annotations

import json
import queue
import re
import subprocess
import sys
import threading

import pytest
from conftest import ROOT, staff, write_config
from test_browser import PASSWORD, browser, shot, state_reason  # noqa: F401

from firmware.config import load
from firmware.governance.service import Governance

HAL = """
[[cameras]]
id = "hal"
name = "Hal"
location = "Gemeentehuis Soest, hal"
source = "synthetic"
width = 320
height = 240
fps = 25
lores_width = 320
lores_height = 240
staff_in_view = false
"""
VIEWPORT = {"width": 1280, "height": 860}
BOTH_PLAY = ("() => { const i = document.querySelectorAll('img.live');"
             " return i.length === 2 && [...i].every(x => x.naturalWidth > 0); }")


class Device:
    """The recorder and the web interface of one device, each its own process."""

    def __init__(self, config):
        self.config = config
        self.recorder: subprocess.Popen | None = None
        self.web: subprocess.Popen | None = None
        self.url = ""

    def _start(self, *args: str) -> tuple[subprocess.Popen, queue.Queue]:
        proc = subprocess.Popen([sys.executable, "-m", "firmware.cli", "--config",
                                 str(self.config), *args], cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout],
                         daemon=True).start()
        return proc, lines

    def start_recorder(self) -> None:
        self.recorder, lines = self._start("run", "--no-web")
        while "recording" not in lines.get(timeout=60):
            pass

    def stop_recorder(self) -> None:
        self.recorder.terminate()
        self.recorder.wait(20)

    def start_web(self) -> None:
        self.web, lines = self._start("web")
        while not self.url:
            found = re.search(r"web interface: (https://\S+)", lines.get(timeout=60))
            self.url = found.group(1) if found else ""

    def stop(self) -> None:
        for proc in (self.web, self.recorder):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(20)


@pytest.fixture(scope="module")
def device(tmp_path_factory):
    config = write_config(tmp_path_factory.mktemp("browser-live"), extra=HAL)
    staff(config)
    from conftest import add_accounts
    from firmware.governance.roles import Role
    from firmware.governance.service import Governance
    gov = Governance.open(load(config))     # more viewers: one account holds only so many
    add_accounts(gov, {name: Role.BEHEERDER for name in VIEWERS[1:] if name != "p.officer"})
    gov.close()
    d = Device(config)
    d.start_recorder()
    d.start_web()
    yield d
    d.stop()


@pytest.fixture
def open_live(browser, device):  # noqa: F811
    """Open a fresh browser context logged in as the beheerder, on /live."""
    contexts = []

    def open_as(viewport=VIEWPORT, script: str | None = None):
        context = browser.new_context(ignore_https_errors=True, locale="nl-NL",
                                      viewport=viewport)
        contexts.append(context)
        if script:
            context.add_init_script(script)
        page = context.new_page()
        page.goto(f"{device.url}/login")
        page.fill("input[name=name]", "b.beheerder")
        page.fill("input[name=password]", PASSWORD)
        page.click("button:has-text('Aanmelden')")
        page.wait_for_url(f"{device.url}/")
        page.goto(f"{device.url}/live")
        return page

    yield open_as
    for context in contexts:
        context.close()


@pytest.fixture
def beheerder(open_live):
    return open_live()


def live_entries(device, reason: str) -> list[dict]:
    gov = Governance.open(load(device.config))
    try:
        return [e for e in gov.logbook.entries("inzien")
                if e["action"] == "live" and e["reason"] == reason]
    finally:
        gov.close()


def tile_shows(page, index: int, state: str, words: str, timeout: float = 20000) -> None:
    """Tile `index` is in `state`, says `words`, and shows no picture: its stream is closed
    (no src) and the image is hidden, so no frozen frame stays on the screen."""
    tile = page.locator("figure.tile").nth(index)
    page.wait_for_function(
        "([i, s]) => document.querySelectorAll('figure.tile')[i].dataset.state === s",
        arg=[index, state], timeout=timeout)
    assert words in tile.locator(".tile-state").inner_text()
    img = tile.locator("img.live")
    assert img.get_attribute("src") is None
    assert img.evaluate("i => getComputedStyle(i).visibility") == "hidden"


def test_a_grid_of_two_cameras_fills_the_screen_both_showing_frames(beheerder, device):
    page = beheerder
    assert page.locator("input[name=reason]").count() == 1          # one form for the grid
    assert page.locator("img.live").count() == 0
    state_reason(page, "controle hal en ingang")
    page.wait_for_function(BOTH_PLAY, timeout=20000)
    boxes = [page.locator("figure.tile").nth(i).bounding_box() for i in range(2)]
    for box in boxes:                                 # side by side, each half the width
        assert box["width"] > VIEWPORT["width"] * 0.4
        assert box["x"] >= 0 and box["x"] + box["width"] <= VIEWPORT["width"]
        assert box["y"] + box["height"] <= VIEWPORT["height"]
        assert box["height"] > VIEWPORT["height"] * 0.5              # fills the screen's height
    assert abs(boxes[0]["y"] - boxes[1]["y"]) < 1 and boxes[0]["x"] < boxes[1]["x"]
    shot(page, "live-grid")
    page.click("nav.live-layouts a:text-is('4')")                   # 2x2: four per screen
    page.wait_for_function(BOTH_PLAY, timeout=20000)
    assert page.locator("input[name=reason]").count() == 0          # no reason asked again
    four = page.locator("figure.tile").nth(0).bounding_box()
    assert four["width"] < boxes[0]["width"] + 1 and four["height"] < boxes[0]["height"] / 1.5
    page.click("nav.live-layouts a:text-is('1')")                   # one per screen: scrolls
    page.wait_for_function(BOTH_PLAY, timeout=20000)
    grid = page.locator("#livegrid").bounding_box()
    one = page.locator("figure.tile").nth(0).bounding_box()
    assert one["width"] == grid["width"] and one["height"] > grid["height"] * 0.9
    assert page.evaluate("(g => g.scrollHeight > g.clientHeight)"
                         "(document.getElementById('livegrid'))")


def test_at_375_px_the_tiles_stack_and_fit_the_width(open_live):
    page = open_live(viewport={"width": 375, "height": 740})
    state_reason(page, "controle op de telefoon")
    page.wait_for_function(BOTH_PLAY, timeout=20000)
    first, second = (page.locator("figure.tile").nth(i).bounding_box() for i in range(2))
    assert first["x"] == second["x"] and second["y"] >= first["y"] + first["height"]
    # the grid and its tiles fit the width (the menu above is base.html's, folded by item 6)
    for part in ("#livegrid", "nav.live-layouts", "figure.tile >> nth=1"):
        box = page.locator(part).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 375, part
    assert page.evaluate("(g => g.scrollWidth <= g.clientWidth)"
                         "(document.getElementById('livegrid'))")


def test_the_reason_is_asked_once_for_two_cameras_one_logbook_entry_R01_R51(beheerder, device):
    page = beheerder
    state_reason(page, "een reden voor beide camera's")
    page.wait_for_function(BOTH_PLAY, timeout=20000)
    page.reload()                                   # a reload asks nothing and logs nothing
    page.wait_for_function(BOTH_PLAY, timeout=20000)
    assert page.locator("input[name=reason]").count() == 0
    page.goto(f"{device.url}/cameras/hal/live")     # nor does one camera of the grid
    assert page.locator("input[name=reason]").count() == 0
    page.wait_for_function("() => document.querySelector('img.live').naturalWidth > 0",
                           timeout=20000)
    entries = live_entries(device, "een reden voor beide camera's")
    assert len(entries) == 1, entries
    details = entries[0]["details"]
    details = details if isinstance(details, dict) else json.loads(details)
    assert details["cameras"] == ["cam", "hal"]


def test_one_camera_on_the_full_screen_and_back_with_escape(beheerder, device):
    page = beheerder
    state_reason(page, "controle hal volledig scherm")
    page.wait_for_function(BOTH_PLAY, timeout=20000)
    is_full = "i => document.fullscreenElement === document.querySelectorAll('figure.tile')[i]"
    button = page.locator("figure.tile").nth(1).locator("button.fullscreen")
    button.focus()                                    # reachable by keyboard
    page.keyboard.press("Enter")
    page.wait_for_function(is_full, arg=1, timeout=5000)
    box = page.locator("figure.tile").nth(1).bounding_box()
    assert box["width"] == VIEWPORT["width"] and box["height"] == VIEWPORT["height"]
    assert page.locator("figure.tile").nth(1).locator("img.live").evaluate(
        "i => i.naturalWidth") > 0                    # still the live picture
    shot(page, "live-fullscreen")
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.fullscreenElement === null", timeout=5000)
    page.wait_for_function("() => document.activeElement === document.querySelectorAll("
                           "'figure.tile')[1].querySelector('button.fullscreen')", timeout=5000)
    page.locator("figure.tile").nth(0).locator("img.live").dblclick()
    page.wait_for_function(is_full, arg=0, timeout=5000)
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.fullscreenElement === null", timeout=5000)


def test_without_the_fullscreen_api_the_tile_fills_the_window_and_escape_returns(open_live):
    """A browser without the Fullscreen API (a phone): the tile fills the window instead."""
    page = open_live(script="delete Element.prototype.requestFullscreen;")
    state_reason(page, "controle zonder volledig scherm")
    page.wait_for_function(BOTH_PLAY, timeout=20000)
    tile = page.locator("figure.tile").nth(0)
    tile.locator("button.fullscreen").click()
    assert "expanded" in tile.get_attribute("class")
    box = tile.bounding_box()
    assert box["width"] == VIEWPORT["width"] and box["height"] == VIEWPORT["height"]
    assert tile.locator("button.fullscreen").inner_text() == "Terug naar het overzicht"
    page.keyboard.press("Escape")
    assert "expanded" not in tile.get_attribute("class")
    assert tile.locator("button.fullscreen").inner_text() == "Volledig scherm"
    tile.locator("img.live").dblclick()                 # a double click, and the button back
    assert "expanded" in tile.get_attribute("class")
    tile.locator("button.fullscreen").click()
    assert "expanded" not in tile.get_attribute("class")


def test_an_ended_access_shows_toegang_verlopen_not_a_frozen_frame_R81(beheerder, device):
    page = beheerder
    state_reason(page, "controle ingang tot sessie eindigt")
    page.wait_for_function(BOTH_PLAY, timeout=20000)
    gov = Governance.open(load(device.config))       # the viewer's session idles out
    gov.accounts.db.execute("UPDATE sessions SET seen = seen - 16 * 60 WHERE ended IS NULL")
    gov.close()
    for i in range(2):
        tile_shows(page, i, "session-ended", "Toegang verlopen")
    shot(page, "live-toegang-verlopen")
    page.click("figure.tile >> nth=0 >> a:text('Opnieuw aanmelden')")
    page.wait_for_url(re.compile(r"/login"))


def test_a_stopped_recorder_shows_its_state_and_the_picture_comes_back(beheerder, device):
    page = beheerder
    state_reason(page, "controle ingang bij storing")
    page.wait_for_function(BOTH_PLAY, timeout=20000)
    device.stop_recorder()
    try:
        for i in range(2):
            tile_shows(page, i, "recorder-down", "Recorder niet bereikbaar")
        shot(page, "live-recorder-niet-bereikbaar")
    finally:
        device.start_recorder()
    page.wait_for_function(
        "() => [...document.querySelectorAll('figure.tile')].every(t => t.dataset.state"
        " === 'live' && t.querySelector('img.live').naturalWidth > 0)", timeout=30000)


VIEWERS = ("b.beheerder", "p.officer", "b.tweede", "b.derde")


def api_session(device, reason: str, user: str = "b.beheerder"):
    """A logged-in API session over real TLS with a live grant on both cameras."""
    import requests
    s = requests.Session()
    s.trust_env = False
    s.verify = str(load(device.config).storage.key_dir / "web-cert.pem")
    token = s.get(device.url + "/api/session", timeout=10).json()["csrf"]
    assert s.post(device.url + "/api/login", json={"name": user, "password": PASSWORD},
                  headers={"X-CSRF-Token": token}, timeout=10).status_code == 200
    s.headers["X-CSRF-Token"] = s.get(device.url + "/api/session", timeout=10).json()["csrf"]
    for camera in ("cam", "hal"):
        assert s.post(f"{device.url}/api/cameras/{camera}/access", json={
            "action": "live", "purpose": "safety", "reason": reason}, timeout=10).status_code == 200
    return s


def open_streams(device, s, count: int, wait: float = 0.0) -> list:
    """`count` streams of session `s`. With `wait`, a refusal (503) is asked again for as many
    seconds: streams that a test or a browser closed just before hold their places until the
    server next writes to them and finds them gone (0.2 s here, seconds under load)."""
    import time
    streams = []
    deadline = time.monotonic() + wait
    try:
        for i in range(count):
            while True:
                r = s.get(f"{device.url}/cameras/{('cam', 'hal')[i % 2]}/live.mjpeg",
                          stream=True, timeout=10)
                if r.status_code != 503 or time.monotonic() >= deadline:
                    break
                r.close()
                time.sleep(0.1)
            assert r.status_code == 200, (i, r.status_code, r.text)
            streams.append(r)
    except BaseException:                 # none left open to hold the places of later tests
        for r in streams:
            r.close()
        raise
    return streams


def fill_streams(device, count: int, reason: str, viewers=VIEWERS[1:]) -> list:
    """`count` streams open, from as many of `viewers` as it takes: one account may hold only
    viewer_limit(cameras) of them (web/live.py). The streams of the test before may still hold
    places for a moment: each refusal is asked again for up to 30 s."""
    from firmware.web.live import viewer_limit
    streams = []
    try:
        for user in viewers:
            take = min(viewer_limit(2), count - len(streams))
            if take <= 0:
                break
            streams += open_streams(device, api_session(device, reason, user), take, wait=30)
        assert len(streams) == count
    except BaseException:
        for r in streams:
            r.close()
        raise
    return streams


def test_a_grid_of_max_streams_leaves_threads_for_pages(device):
    """Every live tile holds a server thread for as long as it plays: with the most streams
    the web allows open (MAX_STREAMS), the status the tiles poll and the pages still answer,
    and one stream more is refused with 503 instead of hanging (real cheroot over TLS)."""
    from firmware.web.live import MAX_STREAMS
    s = api_session(device, "alle plaatsen bezet")
    streams = fill_streams(device, MAX_STREAMS, "alle plaatsen bezet", VIEWERS)
    try:
        assert s.get(device.url + "/live/status", timeout=10).status_code == 200
        assert s.get(device.url + "/live", timeout=10).status_code == 200
        assert s.get(f"{device.url}/cameras/cam/live.mjpeg", timeout=10).status_code == 503
    finally:
        for r in streams:
            r.close()


def test_a_stream_refused_here_says_so_and_plays_once_a_place_is_free(beheerder, device):
    """Every place taken by other viewers: a tile whose stream is refused (503) says "Geen
    beeld ontvangen" instead of a broken image, and plays once the other streams close. (All
    places, not all but one: on a loaded machine one of the other streams may end on its own,
    and one tile must still be seen refused.)"""
    from firmware.web.live import MAX_STREAMS
    streams = fill_streams(device, MAX_STREAMS, "alle plaatsen bezet")
    try:
        state_reason(beheerder, "controle met weinig plaatsen")
        beheerder.wait_for_function(      # one look at the page, while it says so
            "() => [...document.querySelectorAll('figure.tile')].some(t =>"
            " t.dataset.state === 'stream-failed'"
            " && t.querySelector('.tile-state').innerText.includes('Geen beeld ontvangen')"
            " && getComputedStyle(t.querySelector('img.live')).visibility === 'hidden')",
            timeout=20000)
    finally:
        for r in streams:
            r.close()
    beheerder.wait_for_function(BOTH_PLAY, timeout=30000)


def test_a_stream_refused_before_the_script_runs_is_tried_again(open_live, device):
    """The page's images ask for their streams before live.js has run: a 503 then fires its
    error event before anyone listens. Such a tile stayed "live" with a broken image forever
    (seen under load in CI, 2026-11-29); now the script finds the failed image when it starts,
    says so, and plays once a place is free. live.js is held back here by 1.5 s, so the
    refusal surely comes first."""
    from firmware.web.live import MAX_STREAMS
    page = open_live()

    def late(route):        # the real script, run 1.5 s after it arrives
        body = route.fetch().text()
        route.fulfill(body="setTimeout(function () {\n" + body + "\n}, 1500);",
                      content_type="text/javascript")

    page.route("**/static/live.js", late)
    streams = fill_streams(device, MAX_STREAMS, "alle plaatsen bezet")
    try:
        state_reason(page, "controle met weinig plaatsen")
        page.wait_for_function(
            "() => [...document.querySelectorAll('figure.tile')].every(t =>"
            " t.dataset.state === 'stream-failed'"
            " && t.querySelector('.tile-state').innerText.includes('Geen beeld ontvangen'))",
            timeout=20000)
    finally:
        for r in streams:
            r.close()
    page.wait_for_function(BOTH_PLAY, timeout=30000)


def test_the_web_stops_with_streams_open_before_systemd_would_kill_it(device):
    """SIGTERM with every place of one viewer playing: each stream ends at its next frame and
    `nvr web` exits within the unit's TimeoutStopSec (it took 50 s with four streams, and
    systemd kills it after 30). The web starts again for the tests after this one."""
    import configparser
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(ROOT / "systemd" / "nvr-web.service")
    stop_seconds = float(unit["Service"]["TimeoutStopSec"])
    streams = fill_streams(device, 4, "controle tot de web stopt")
    try:
        device.web.terminate()
        device.web.wait(stop_seconds)
        assert device.web.returncode == 0
        for r in streams:                      # each stream was ended, not cut off mid-frame
            body = b"".join(r.iter_content(65536))
            assert body.startswith(b"--frame") and body.endswith(b"\xff\xd9\r\n")  # JPEG's end
    finally:
        for r in streams:
            r.close()
        device.url = ""
        device.start_web()
