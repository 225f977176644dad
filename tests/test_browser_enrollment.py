"""Issue 14 item 2 in real headless Chromium: a new device from `nvr init`, served by `nvr web`
over TLS. The first technisch beheerder follows the login page's link to /eerste-account, types
a wrong code (refused in Dutch), then the right one with a name and a password twice, lands on
the login page and logs in; the manager bedrijfsvoering does the same with their own code; then
the page is gone. The codes appear in none of the server's output lines (R-10, R-81)."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import INIT_FLAGS, ROOT, nvr
from test_browser import browser, shot  # noqa: F401 (fixture)

axe_playwright = pytest.importorskip("axe_playwright_python.sync_playwright",
                                     reason="axe-playwright-python is a dev dependency: "
                                            "make test installs it")

PASSWORD = "walrus ferment zeppelin harpoon 7"


@contextlib.contextmanager
def web_of(config: Path, log: Path) -> Iterator[str]:
    """`nvr web` on `config`, its output into `log`; yields the https URL it prints."""
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "firmware.cli", "--config", str(config),
                                 "web"], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not (found := re.search(r"web interface: (https://\S+)", log.read_text())):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield found.group(1)
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def enrol(page, code: str, name: str) -> None:
    page.fill("input[name=code]", code)
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("button:has-text('Account aanmaken')")


def serious(page) -> list[str]:
    results = axe_playwright.Axe().run(page)
    return [v["id"] for v in results.response["violations"]
            if v["impact"] in ("serious", "critical")]


def test_the_first_accounts_are_made_in_the_browser_and_log_in_R10(browser, tmp_path):  # noqa: F811
    made = nvr("init", str(tmp_path / "dev"), *INIT_FLAGS)
    assert made.returncode == 0, made.stderr
    codes = dict(re.findall(r"one-time enrollment code for the first (\S+): (\S+)", made.stdout))
    config = tmp_path / "dev" / "nvr.toml"
    config.write_text(re.sub(r"(?m)^port = \d+$", "port = 0", config.read_text()))
    log = tmp_path / "web.log"
    with web_of(config, log) as url:
        context = browser.new_context(ignore_https_errors=True, locale="nl-NL",
                                      viewport={"width": 1280, "height": 860})
        page = context.new_page()
        page.goto(f"{url}/login")
        page.click("text=Nieuw apparaat: maak het eerste account")
        page.wait_for_url(f"{url}/eerste-account")
        assert "technisch beheerder" in page.inner_text("main")
        assert serious(page) == []
        enrol(page, "000000" + codes["technisch-beheerder"][6:], "t.eerste")
        assert "De inschrijfcode klopt niet" in page.inner_text("p.error")
        assert page.input_value("input[name=code]") == ""          # never written back
        shot(page, "eerste-account-code-onjuist")
        enrol(page, codes["technisch-beheerder"], "t.eerste")
        page.wait_for_url(f"{url}/login")
        assert "Het account t.eerste is aangemaakt" in page.inner_text("main")
        assert page.locator("a[href='/eerste-account']").count() == 0   # an account exists

        page.goto(f"{url}/eerste-account")                 # the manager opens the address
        assert "manager bedrijfsvoering" in page.inner_text("main strong")
        enrol(page, codes["manager-bedrijfsvoering"], "m.eerste")
        page.wait_for_url(f"{url}/login")

        page.fill("input[name=name]", "t.eerste")
        page.fill("input[name=password]", PASSWORD)
        page.click("button:has-text('Aanmelden')")
        page.wait_for_url(f"{url}/")
        assert "t.eerste" in page.inner_text("header")
        gone = page.goto(f"{url}/eerste-account")
        assert gone.status == 404 and "al ingericht" in page.inner_text("main")
        context.close()
    output = log.read_text()
    assert "web interface: https://" in output                  # the log is the server's
    for code in codes.values():
        assert code not in output and code.replace("-", "") not in output, output
