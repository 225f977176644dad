"""The central room's workflows in real headless Chromium (Debian's, driven by Playwright)
against a running recorder (`nvr run`, web over TLS): log in, watch live, play back a
recording, place a hold, and take an art. 10 request from intake to approval and viewing.

Screenshots land in test-artifacts/screenshots (or $NVR_SCREENSHOTS; `make screenshots`
refreshes the ones in docs/screenshots).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import PASSWORD, recorded_site
from deviceday import footage_day

from firmware.config import load
from firmware.governance.roles import Role
from firmware.governance.service import Governance

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--lang=nl"]
ROOT = Path(__file__).resolve().parent.parent
SHOTS = Path(os.environ.get("NVR_SCREENSHOTS", ROOT / "test-artifacts" / "screenshots"))
AMSTERDAM = ZoneInfo("Europe/Amsterdam")

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency: "
                                                               "make test installs it")
if not Path(CHROMIUM).exists():
    pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run installs it)",
                pytrace=False)


@contextlib.contextmanager
def serving(config: Path, command: str = "run") -> Iterator[str]:
    """`nvr run` (recorder and web) or `nvr web` on `config`; yields the https URL it prints,
    and stops the process afterwards (killed if it does not stop within 60 s)."""
    proc = subprocess.Popen([sys.executable, "-m", "firmware.cli", "--config", str(config),
                             command], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    url = None
    try:
        while url is None:
            found = re.search(r"web interface: (https://\S+)", lines.get(timeout=60))
            url = found.group(1) if found else None
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def device(tmp_path_factory):
    """A recorder with a synthetic camera and 10 s of footage from 20 minutes ago, running with
    its web interface; yields the https URL and the configuration path."""
    config = recorded_site(tmp_path_factory.mktemp("browser"),
                           {"m.manager": Role.MANAGER, "d.dpo": Role.DPO})
    with serving(config) as url:
        yield url, config


@pytest.fixture(scope="module")
def browser():
    SHOTS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def log_in(browser, url: str, name: str, viewport: dict | None = None):
    """A fresh browser context logged in as `name` through the login page; (context, page)."""
    context = browser.new_context(ignore_https_errors=True, locale="nl-NL",
                                  viewport=viewport or {"width": 1280, "height": 860})
    page = context.new_page()
    page.goto(f"{url}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Aanmelden')")
    page.wait_for_url(f"{url}/")
    return context, page


@pytest.fixture
def as_user(browser, device):
    """Open a fresh browser context logged in as `name`."""
    url, _ = device
    contexts = []

    def open_as(name: str):
        context, page = log_in(browser, url, name)
        contexts.append(context)
        return page

    yield open_as
    for context in contexts:
        context.close()


def shot(page, name: str) -> None:
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def local(minutes_ago: int) -> str:
    t = datetime.now(AMSTERDAM) - timedelta(minutes=minutes_ago)
    return t.strftime("%Y-%m-%dT%H:%M")


def state_reason(page, reason: str) -> None:
    """State a purpose and reason; return once the page that follows has loaded (a click only
    starts the form's navigation: on a loaded machine the next look found the old page)."""
    page.select_option("select[name=purpose]", "incident")
    page.fill("input[name=reason]", reason)
    with page.expect_navigation():
        page.click("main form:has(input[name=reason]) button")


def test_login_shows_only_the_menu_of_the_role(as_user, device):
    page = as_user("b.beheerder")
    menu = page.inner_text("header nav")
    assert "Live" in menu and "Bewaren" in menu and "Gebruikers" not in menu
    shot(page, "01-overzicht")
    admin = as_user("t.admin")
    menu = admin.inner_text("header nav")
    assert "Gebruikers" in menu and "Live" not in menu


def test_watch_live_after_stating_a_reason_R01(as_user, device):
    url, config = device
    page = as_user("b.beheerder")
    page.goto(f"{url}/live")
    assert page.locator("img.live").count() == 0              # no picture before a reason
    state_reason(page, "controle ingang na melding")
    page.wait_for_function("() => { const i = document.querySelector('img.live');"
                           " return i && i.naturalWidth > 0; }", timeout=20000)
    assert page.evaluate("document.querySelector('img.live').naturalWidth") == 320
    shot(page, "02-live")
    inzien = Governance.open(load(config)).logbook.entries("inzien")
    assert any(e["action"] == "live" and e["reason"] == "controle ingang na melding"
               for e in inzien)


def test_play_back_a_recording(as_user, device):
    url, config = device
    page = as_user("b.beheerder")
    day = footage_day(config)
    page.goto(f"{url}/cameras/cam/day/{day}")
    assert page.locator("#tl-track button.event").count() >= 1
    state_reason(page, "terugkijken fietsendiefstal")
    links = page.locator("button[data-jump]")               # one per event
    assert links.count() >= 1
    links.first.click()                                     # the window plays as one
    page.wait_for_function("() => document.getElementById('player-video').currentTime > 0.5",
                           timeout=20000)
    video = page.locator("#player-video")
    assert video.evaluate("v => v.videoWidth") == 320
    first = page.get_attribute("#player", "data-current")
    second = json.loads(page.get_attribute("#player", "data-segments"))[1]["start"]
    page.eval_on_selector("#player-seek", "(s, t) => { s.value = t; "
                          "s.dispatchEvent(new Event('change')); }", float(second) + 1)
    page.wait_for_function(f"() => document.getElementById('player').dataset.current !== "
                           f"'{first}' && document.getElementById('player-video').currentTime"
                           " > 0.5", timeout=20000)
    shot(page, "03-terugkijken")


def test_place_a_hold_R41(as_user, device):
    url, _ = device
    page = as_user("b.beheerder")
    page.goto(f"{url}/holds")
    page.fill("input[name=start]", local(30))
    page.fill("input[name=end]", local(10))
    page.fill("input[name=reason]", "vernieling fietsenstalling")
    page.fill("input[name=reference]", "incident 2026-118")
    page.click("button:has-text('Bewaren')")
    assert "geplaatst op" in page.inner_text("p.flash")
    assert "incident 2026-118" in page.inner_text("table")
    shot(page, "04-bewaren")


def test_article10_request_from_intake_to_approval_and_viewing_R70_R73(as_user, device):
    """Art. 10: intake by the privacy officer, approval with the weighing of others in view by
    the manager, identity and declaration at the beheerder, and the inzage inside the request
    with the others blurred in the player path (lid 3-6, toelichting)."""
    url, config = device
    officer = as_user("p.officer")
    officer.goto(f"{url}/requests")
    form = officer.locator("fieldset:has-text('artikel 10')")
    form.locator("input[name=requester]").fill("J. de Vries")
    form.locator("select[name=requester_kind]").select_option("citizen")
    form.locator("input[name=motivation]").fill("mijn fiets is gestolen bij de ingang")
    form.locator("input[name=start]").fill(local(30))
    form.locator("input[name=end]").fill(local(10))
    form.locator("button").click()
    heading = officer.inner_text("h2")
    assert "(artikel 10): in behandeling" in heading
    request_url = officer.url
    shot(officer, "05-verzoek-ingenomen")

    manager = as_user("m.manager")
    manager.goto(request_url)
    manager.check("input[name=approve][value=yes]")
    manager.fill("fieldset:has-text('Besluit') input[name=reason]", "belang aangetoond")
    manager.fill("textarea[name=weighing]", "voorbijgangers in beeld; het belang van de "
                                            "aanvrager weegt zwaarder, zij worden vervaagd")
    manager.select_option("select[name=blur]", "detect")     # binding (toelichting art. 10)
    manager.click("button:has-text('Besluiten')")
    assert "toegewezen" in manager.inner_text("h2")
    assert "voorbijgangers in beeld" in manager.inner_text("table")
    assert manager.locator("a:has-text('Besluitbrief')").count() == 1
    shot(manager, "06-verzoek-besluit")

    beheerder = as_user("b.beheerder")
    beheerder.goto(request_url)
    beheerder.select_option("select[name=document_type]", "paspoort")
    beheerder.fill("input[name=last_digits]", "4567")
    beheerder.click("button:has-text('Vastleggen')")
    beheerder.click("button:has-text('Vastleggen')")         # the signed declaration
    assert "mogelijk" in beheerder.inner_text("table")
    assert beheerder.locator("a:has-text('beelden tonen')").count() == 0   # not the whole day
    shot(beheerder, "07-verzoek-inzage")
    beheerder.click("a:has-text('Inzage openen')")
    assert "Inzage verzoek" in beheerder.inner_text("h2")
    beheerder.wait_for_function("() => document.getElementById('player-video').videoHeight > 0",
                                timeout=30000)          # the picture has its size
    beheerder.click("#draw-region")                 # draw where passers-by walk
    beheerder.locator("#draw-layer").scroll_into_view_if_needed()   # the page grew a row
    box = beheerder.locator("#draw-layer").bounding_box()
    beheerder.mouse.move(box["x"] + 0.05 * box["width"], box["y"] + 0.20 * box["height"])
    beheerder.mouse.down()
    beheerder.mouse.move(box["x"] + 0.95 * box["width"], box["y"] + 0.65 * box["height"],
                         steps=5)
    beheerder.mouse.up()
    drawn = [float(v) for v in beheerder.input_value("input[name=regions]").split(",")]
    assert all(abs(a - b) < 0.02 for a, b in zip(drawn, (0.05, 0.20, 0.90, 0.45), strict=True))
    beheerder.click("button:has-text('Toepassen')")
    assert "regions=0.05" in beheerder.url
    links = beheerder.locator("a[data-jump]")
    assert links.count() >= 1
    links.first.click()
    beheerder.wait_for_function(
        "() => document.getElementById('player-video').currentTime > 0.5", timeout=30000)
    assert beheerder.locator("#player-video").evaluate("v => v.videoWidth") == 320
    shot(beheerder, "10-inzage-vervaagd")
    entries = Governance.open(load(config)).logbook.entries("inzien")
    shown = [json.loads(e["details"]) for e in entries if e["action"] == "viewing-segment-shown"]
    assert shown and all(s["purpose"] == "art10" for s in shown)
    blurs = [s["blur"] for s in shown if s["blur"]["regions"]]
    assert shown and all(s["blur"]["detect"] for s in shown)    # as the decision requires
    assert blurs and all(len(b["regions"]) == 1 and all(
        abs(a - e) < 0.02 for a, e in zip(b["regions"][0], (0.05, 0.20, 0.90, 0.45),
                                          strict=True)) for b in blurs)


# Art. 9 from request to verified package, handover and declaration: test_browser_export.py


def test_system_and_logbook_pages(as_user, device):
    url, _ = device
    admin = as_user("t.admin")
    admin.goto(f"{url}/system")
    admin.wait_for_selector("text=draait")
    assert "neemt op" in admin.inner_text("table >> nth=1")
    shot(admin, "08-systeem")
    dpo = as_user("d.dpo")
    dpo.goto(f"{url}/logbooks")
    assert "Logboek Inzien Beeldmateriaal" in dpo.inner_text("h2")
    dpo.click("text=Keten controleren")
    assert "intact" in dpo.inner_text("p.ok")
    dpo.goto(f"{url}/logbooks")
    shot(dpo, "09-logboek")
