"""Phone, tablet and accessibility (issue 11 item 6): every page of the web interface, as every
role, in real headless Chromium against a running recorder (`nvr run`, web over TLS).

- axe-core (axe-playwright-python) finds no serious or critical violation on any page;
- at 375 px no page scrolls sideways (document.documentElement.scrollWidth <= 375), the menu
  folds behind a button that works without JavaScript, the player and live picture fit.

The pages are the URL map's GET routes that answer HTML, with parameters from the recorded site
(camera 'cam', today, request 1 approved, request 2 under art. 9, a hold). Screenshots at
375 px land beside the desktop ones of tests/test_browser.py (`make screenshots`).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from conftest import PASSWORD, recorded_site
from deviceday import footage_day
from test_browser import AMSTERDAM, SHOTS, browser, log_in, serving  # noqa: F401 (fixture)
from webutil import ROLE_USERS

from firmware.config import load
from firmware.governance.roles import Role
from firmware.governance.service import Governance

PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 860}
BLOCKING = ("serious", "critical")
# Routes that answer a file, a stream or a probe, not a page a person reads.
NOT_PAGES = re.compile(r"^/api/|\.(pdf|mjpeg)$|/video$|/<fmt>$|^/(healthz|readyz|metrics)$|"
                       r"^/static/")

axe_playwright = pytest.importorskip("axe_playwright_python.sync_playwright",
                                     reason="axe-playwright-python is a dev dependency: "
                                            "make test installs it")


def _casework(config: Path) -> None:
    """Request 1 (art. 10) taken in and approved, request 2 (art. 9) registered, a hold: so
    the request, inzage, export and hold pages show real rows."""
    from firmware.storage.store import EncryptedStore
    cfg = load(config)
    gov = Governance.open(cfg)
    store = EncryptedStore.from_config(cfg)
    try:
        now = time.time()
        officer = gov.login("p.officer", PASSWORD)
        reqs = gov.requests(store)
        req = reqs.add_article10(officer, requester="J. de Vries", requester_kind="citizen",
                                 motivation="mijn fiets is gestolen bij de ingang",
                                 received=now - 60, camera="cam", start=now - 25 * 60,
                                 end=now - 15 * 60)
        manager = gov.login("m.manager", PASSWORD)
        reqs.decide(manager, req["id"], approve=True, reason="belang aangetoond",
                    weighing="voorbijgangers in beeld; zij worden vervaagd", blur="none")
        beheerder = gov.login("b.beheerder", PASSWORD)
        reqs.add_article9(beheerder, reference="PL0900-2026-7001",
                          requester="Politie Midden-Nederland", legal_basis="126nd",
                          received=now - 60, camera="cam", start=now - 25 * 60,
                          end=now - 15 * 60)
        gov.place_hold(beheerder, store, "cam", now - 24 * 60, now - 16 * 60,
                       "vernieling fietsenstalling", "incident 2026-118")
    finally:
        gov.close()


@pytest.fixture(scope="module")
def device(tmp_path_factory):
    """A recorder with an account per role (webutil.ROLE_USERS), 10 s of footage from 20
    minutes ago and some casework, running with its web interface; yields the https URL and
    the configuration path."""
    config = recorded_site(tmp_path_factory.mktemp("a11y"),
                           {name: role for role, name in ROLE_USERS.items()})
    _casework(config)
    with serving(config) as url:
        yield url, config


@pytest.fixture
def as_user(browser, device):
    """A fresh browser context logged in as `name` (desktop size; tests resize it)."""
    url, _ = device
    contexts = []

    def open_as(name: str):
        context, page = log_in(browser, url, name, DESKTOP)
        contexts.append(context)
        return page

    yield open_as
    for context in contexts:
        context.close()


def page_paths(config: Path) -> list[str]:
    """Every GET route of the web interface that answers a page, with the recorded site's
    parameters filled in."""
    from firmware.web import create_app
    params = {"camera": "cam", "day": footage_day(config), "req_id": "1", "book": "inzien", "scan_id": "1",
              "hold_id": "1", "visit_id": "1", "delegation_id": "1", "export_id": "1",
              "decision_id": "1", "name": "b.beheerder", "segment_id": "0" * 32}
    app = create_app(load(config))
    paths = set()
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static" or NOT_PAGES.search(rule.rule):
            continue
        paths.add(re.sub(r"<(?:\w+:)?(\w+)>", lambda m: params[m.group(1)], rule.rule))
    return sorted(paths)


def html_pages(page, base: str, paths: list[str]):
    """Open each path; yield those that answer an HTML page (a refusal page counts: a person
    reads it too)."""
    for path in paths:
        response = page.goto(base + path)
        if response is None or "text/html" not in response.headers.get("content-type", ""):
            continue
        yield path, response.status


def blocking_violations(page) -> list[str]:
    results = axe_playwright.Axe().run(page)
    return [f"{v['id']} ({v['impact']}): {len(v['nodes'])}x, e.g. {v['nodes'][0]['html'][:120]}"
            for v in results.response["violations"] if v["impact"] in BLOCKING]


def scroll_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


ROLES = [pytest.param(role, id=role.value) for role in Role]


@pytest.mark.parametrize("role", ROLES)
def test_axe_finds_no_serious_violation_on_any_page(as_user, device, role):
    url, config = device
    page = as_user(ROLE_USERS[role])
    found, seen = {}, []
    for path, status in html_pages(page, url, page_paths(config)):
        seen.append((path, status))
        problems = blocking_violations(page)
        if problems:
            found[path] = problems
    assert any(status == 200 for _, status in seen), seen       # it walked real pages
    assert found == {}, found


def test_axe_on_the_pages_before_login(browser, device):
    url, _ = device
    context = browser.new_context(ignore_https_errors=True, locale="nl-NL", viewport=DESKTOP)
    page = context.new_page()
    found = {}
    for path in ("/login", "/reset"):
        page.goto(url + path)
        problems = blocking_violations(page)
        if problems:
            found[path] = problems
    context.close()
    assert found == {}, found


@pytest.mark.parametrize("role", ROLES)
def test_no_page_scrolls_sideways_at_375_px(as_user, device, role):
    url, config = device
    page = as_user(ROLE_USERS[role])
    page.set_viewport_size(PHONE)
    wide, seen = {}, 0
    for path, _ in html_pages(page, url, page_paths(config)):
        seen += 1
        if scroll_width(page) > PHONE["width"]:
            wide[path] = scroll_width(page)
    assert seen > 3
    assert wide == {}, wide


def test_menu_folds_at_375_px_and_opens_without_javascript(browser, device):
    url, _ = device
    context = browser.new_context(ignore_https_errors=True, locale="nl-NL", viewport=PHONE,
                                  java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{url}/login")
    page.fill("input[name=name]", ROLE_USERS[Role.BEHEERDER])
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Aanmelden')")
    page.wait_for_url(f"{url}/")
    menu = page.locator("header nav")
    button = page.locator("header summary")
    assert button.is_visible() and button.inner_text().strip() == "Menu"
    assert not menu.is_visible()                      # folded: the page starts with its content
    shot(page, "mobiel-01-overzicht")
    button.click()
    assert menu.is_visible()
    links = menu.locator("a")
    assert links.count() >= 4
    assert all(links.nth(i).bounding_box()["width"] <= PHONE["width"]
               for i in range(links.count()))
    assert scroll_width(page) <= PHONE["width"]
    shot(page, "mobiel-02-menu")
    menu.locator("a:has-text('Bewaren')").click()
    assert page.url.endswith("/holds")
    sign_out = page.locator("header button:has-text('Afmelden')")   # in reach on a phone
    assert sign_out.is_visible() and ROLE_USERS[Role.BEHEERDER] in page.inner_text("header")
    sign_out.click()
    page.wait_for_url(re.compile(r"/login"))
    context.close()


def test_menu_is_open_on_a_desktop(as_user, device):
    page = as_user(ROLE_USERS[Role.BEHEERDER])
    assert page.locator("header nav").is_visible()
    assert page.get_attribute("header nav", "aria-label") == "Hoofdmenu"
    page.keyboard.press("Tab")                       # the first stop skips to the content
    assert page.evaluate("document.activeElement.textContent") == "Naar de inhoud"
    assert page.evaluate("document.activeElement.getAttribute('href')") == "#main"
    assert not page.locator("header summary").is_visible()
    page.set_viewport_size({"width": 820, "height": 1180})     # a tablet upright
    assert page.locator("header nav").is_visible()


def state_reason(page, reason: str) -> None:
    page.select_option("select[name=purpose]", "incident")
    page.fill("input[name=reason]", reason)
    page.click("main form:has(input[name=reason]) button")


def test_player_fits_at_375_px(as_user, device):
    """After a stated reason the day's player and its seek bar are no wider than the phone; the
    page passes axe."""
    url, config = device
    page = as_user(ROLE_USERS[Role.BEHEERDER])
    page.set_viewport_size(PHONE)
    day = footage_day(config)
    page.goto(f"{url}/cameras/cam/day/{day}")
    state_reason(page, "terugkijken op de telefoon")
    page.wait_for_selector("#player-video")
    for selector in ("#player-video", "#player-seek"):
        box = page.locator(selector).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (selector, box)
    assert scroll_width(page) <= PHONE["width"]
    shot(page, "mobiel-03-terugkijken")
    assert blocking_violations(page) == []


def test_live_picture_fits_at_375_px(as_user, device):
    """After a stated reason the live picture is no wider than the phone; the page passes axe."""
    url, _ = device
    page = as_user(ROLE_USERS[Role.BEHEERDER])
    page.set_viewport_size(PHONE)
    page.goto(f"{url}/live")
    state_reason(page, "controle ingang op de telefoon")
    page.wait_for_function("() => { const i = document.querySelector('img.live');"
                           " return i && i.naturalWidth > 0; }", timeout=20000)
    box = page.locator("img.live").first.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    assert scroll_width(page) <= PHONE["width"]
    shot(page, "mobiel-04-live")
    assert blocking_violations(page) == []


def test_phone_screenshots_of_the_main_pages(as_user, device):
    """The pages a beheerder and a privacy officer use daily, at 375 px, for docs/screenshots."""
    url, _ = device
    page = as_user(ROLE_USERS[Role.BEHEERDER])
    page.set_viewport_size(PHONE)
    for path, name in (("/holds", "mobiel-05-bewaren"), ("/requests", "mobiel-06-verzoeken"),
                       ("/requests/1", "mobiel-07-verzoek")):
        page.goto(url + path)
        assert scroll_width(page) <= PHONE["width"], path
        shot(page, name)


def shot(page, name: str) -> None:
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def check_here(page) -> None:
    """axe at desktop width, then no sideways scrolling at 375 px."""
    page.set_viewport_size(DESKTOP)
    assert blocking_violations(page) == [], page.url
    page.set_viewport_size(PHONE)
    assert scroll_width(page) <= PHONE["width"], page.url


def test_pages_a_form_answers_pass_axe_and_fit_a_phone(as_user, device):
    """Pages no GET shows: the confirmation with a reason (releasing a hold, disabling an
    account), and the same page refusing a too short reason with the typed text kept."""
    url, _ = device
    page = as_user(ROLE_USERS[Role.BEHEERDER])
    page.goto(f"{url}/holds")
    page.locator("main table form button").first.click()        # release…: asks first
    page.wait_for_selector("input[name=reason]")
    check_here(page)
    shot(page, "mobiel-08-bevestigen")
    page.eval_on_selector("input[name=reason]", "i => { i.removeAttribute('minlength');"
                                                " i.removeAttribute('required'); }")
    page.fill("input[name=reason]", "kort")
    page.click("main form button")
    assert page.input_value("input[name=reason]") == "kort"      # kept, with the error
    assert page.locator("main .error").count() >= 1
    check_here(page)
    admin = as_user(ROLE_USERS[Role.TECHNICAL])
    admin.goto(f"{url}/users")
    admin.locator("tr:has-text('d.dpo') button").first.click()   # disable…: asks first
    admin.wait_for_selector("input[name=reason]")
    check_here(admin)
