"""Art. 9 from a registered request to a verified package, in real headless Chromium against
`nvr run` on the directory stand-in (issue 13 items 1-4, the web side; R-60..R-62): the request
registered, the officer's identity (lid 3) and signed declaration (lid 4), the export page of
the request, the export with its progress page, the result (package, manifest SHA-256, device
key fingerprint, a generated password once), the package checked with `sha256sum -c` and
`openssl pkeyutl -verify` only, then the handover and the declaration that names the
fingerprint."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from test_browser import as_user, browser, device, local, shot  # noqa: F401 (fixtures)
from test_browser_a11y import blocking_violations

from firmware.config import load
from firmware.governance.service import Governance

OFFICER, MEDIUM = "brigadier K. Bakker", "USB-stick PL-0042"


def opened_package(path: Path, password: str | None, out: Path) -> Path:
    """The package folder: as written, or (a 7z on the stand-in) opened by the real 7z with
    the password the page showed."""
    if path.is_dir():
        return path
    assert password, "a 7z package needs the password the page shows once"
    done = subprocess.run(["7z", "x", f"-p{password}", f"-o{out}", str(path)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return next(out.rglob("manifest.sha256")).parent


def test_article9_from_request_to_a_verified_package_on_the_stand_in_R60_R61_R62(
        as_user, device, tmp_path):
    url, config = device
    page = as_user("b.beheerder")
    statuses: list[str] = []
    page.on("request", lambda r: statuses.append(r.url) if "/export/status" in r.url
            and "/api/" in r.url else None)

    page.goto(f"{url}/requests")
    form = page.locator("fieldset:has-text('artikel 9')")
    form.locator("input[name=reference]").fill("PL0900-2026-7001")
    form.locator("input[name=requester]").fill("Politie Midden-Nederland")
    form.locator("select[name=legal_basis]").select_option("126nd")
    form.locator("input[name=start]").fill(local(30))
    form.locator("input[name=end]").fill(local(10))
    form.locator("button").click()
    assert "(artikel 9): geregistreerd" in page.inner_text("h2")
    request_url = page.url
    req_id = int(request_url.rstrip("/").rsplit("/", 1)[1])

    page.goto(f"{url}/exports")                     # no export before the identity (lid 3)
    row = page.locator("tr:has-text('PL0900-2026-7001')")
    assert row.locator("a:has-text('Exporteren')").count() == 0
    assert "eerst identiteit en verklaring" in row.inner_text()
    shot(page, "art9-0-export-nog-niet")

    page.goto(request_url)
    page.fill("input[name=officer]", OFFICER)
    page.select_option("select[name=document_type]", "dienstpas")
    page.fill("input[name=last_digits]", "4411")
    shot(page, "art9-1-identiteit")
    page.click("fieldset:has-text('lid 3') button")
    assert "nummer eindigend op 4411 (door b.beheerder)" in page.inner_text("table")
    page.click("fieldset:has-text('lid 4') button")
    assert f"ondertekend door {OFFICER}" in page.inner_text("table")
    page.click("a:has-text('naar de export')")
    page.wait_for_url(f"{url}/requests/{req_id}/export")

    # The export page: the stick (here the development folder), its kind and state.
    stand_in = str(load(config).export_directory)
    sticks = page.locator("#sticks")
    assert stand_in in sticks.inner_text() and "ontgrendeld" in sticks.inner_text()
    page.click("#export-form button")               # no reason: the browser asks for one
    assert page.url.endswith(f"/requests/{req_id}/export")
    page.fill("#export-form input[name=reason]", "aangifte vernieling PL0900-2026-7001")
    shot(page, "art9-2-export")
    assert blocking_violations(page) == []
    page.set_viewport_size({"width": 375, "height": 740})       # a phone: nothing sideways
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.set_viewport_size({"width": 1280, "height": 860})
    # The bar moves with what the server reports. The stand-in writes 10 s of footage faster
    # than the page polls, so the first two answers are those of a long export (as
    # test_web_export's status tests show the server giving); the rest are the server's own.
    staged = [(1_500_000, 6_000_000), (4_500_000, 6_000_000)]

    def status(route):
        if staged:
            done, total = staged.pop(0)
            route.fulfill(json={"state": "running", "done_bytes": done, "total_bytes": total})
        else:
            route.continue_()
    page.route(re.compile(r".*/api/.*/export/status.*"), status)
    page.click("#export-form button:has-text('Exporteren')")
    page.wait_for_url(f"{url}/requests/{req_id}/export/status")
    for done, words in ((1_500_000, "1,5 MB"), (4_500_000, "4,5 MB")):
        page.wait_for_function("([done]) => { const b = document.getElementById('export-bar');"
                               " return b && b.value === done && b.max === 6000000; }", arg=[done])
        assert page.inner_text("#export-bytes").startswith(words)
        assert page.inner_text("#export-bytes").endswith("6,0 MB")
    page.wait_for_selector("#export-result", timeout=120_000)   # the page reloads when done
    shot(page, "art9-2b-export-klaar")
    assert blocking_violations(page) == []
    page.set_viewport_size({"width": 375, "height": 740})
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.set_viewport_size({"width": 1280, "height": 860})

    result = page.locator("#export-result")
    path = Path(page.inner_text("#result-path"))
    manifest_sha = page.inner_text("#result-manifest").strip()
    fingerprint = page.inner_text("#result-fingerprint").strip()
    password = (page.inner_text("#password").strip()
                if page.locator("#password").count() else None)
    assert re.fullmatch(r"[0-9a-f]{64}", manifest_sha)
    assert "Export" in result.inner_text() and path.is_relative_to(stand_in)

    folder = opened_package(path, password, tmp_path / "opened")
    import hashlib
    assert hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest() == manifest_sha
    sums = subprocess.run(["sha256sum", "-c", "manifest.sha256"], cwd=folder,
                          capture_output=True, text=True)
    assert sums.returncode == 0, sums.stdout + sums.stderr
    verify = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey",
                             "device-pubkey.pem", "-rawin", "-in", "manifest.json", "-sigfile",
                             "manifest.sig"], cwd=folder, capture_output=True, text=True)
    assert verify.returncode == 0 and "Signature Verified Successfully" in verify.stdout

    page.reload()                                   # a generated password only once
    assert page.locator("#password").count() == 0
    if password:
        assert password not in page.content()

    # The declaration that the recipient signs names the fingerprint, then the handover.
    href = page.get_attribute("#declaration", "href")
    pdf = page.context.request.get(f"{url}{href}")
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    (tmp_path / "verklaring.pdf").write_bytes(pdf.body())
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "verklaring.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    flat = "".join(text.split())
    for expected in ("PL0900-2026-7001", OFFICER.replace(" ", ""), fingerprint):
        assert expected in flat, expected

    page.goto(f"{url}/exports")
    made = page.locator("tr:has(form input[name=medium])").last
    made.locator("input[name=medium]").fill(MEDIUM)
    made.locator("button:has-text('Overdracht vastleggen')").click()
    assert f"aan {OFFICER}" in page.inner_text("p.flash")
    shot(page, "art9-3-overdracht")
    page.goto(request_url)
    assert f"{MEDIUM} aan {OFFICER} (door b.beheerder)" in page.inner_text("main")
    shot(page, "art9-4-verzoek")

    gov = Governance.open(load(config))
    written = [e for e in gov.logbook.entries("inzien") if e["action"] == "export-written"]
    assert written and "aangifte vernieling" in str(written[-1]["details"])
    for step in ("request-art9-registered", "identity-checked", "declaration-signed",
                 "export-written", "export-handed-over", "declaration-printed"):
        assert step in [e["action"] for e in gov.logbook.entries("inzien")], step
    if password:                                    # never stored, never logged
        for book in ("usage", "inzien"):
            assert password not in str(gov.logbook.entries(book))
    gov.close()


def test_without_javascript_the_status_page_refreshes_itself_to_the_result(browser, device):
    """Item 4 (web): the progress page works without JavaScript: it refreshes itself (meta
    refresh in <noscript>) until the export is done, then shows the result."""
    import time

    from conftest import PASSWORD

    from firmware.governance.handover import record_declaration, record_identity
    from firmware.storage.store import EncryptedStore
    url, config = device
    cfg = load(config)
    gov, store = Governance.open(cfg), EncryptedStore.from_config(cfg)
    try:
        beheerder = gov.login("b.beheerder", PASSWORD)
        reqs = gov.requests(store)
        now = time.time()
        req = reqs.add_article9(beheerder, reference="PL0900-2026-NOJS",
                                requester="Politie Midden-Nederland", legal_basis="126nd",
                                received=now - 60, camera="cam", start=now - 30 * 60,
                                end=now - 10 * 60)
        record_identity(reqs, beheerder, req["id"], officer=OFFICER, document_type="dienstpas",
                        last_digits="4411")
        record_declaration(reqs, beheerder, req["id"], OFFICER)
    finally:
        gov.close()
    context = browser.new_context(ignore_https_errors=True, locale="nl-NL",
                                  java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{url}/login")
        page.fill("input[name=name]", "b.beheerder")
        page.fill("input[name=password]", PASSWORD)
        page.click("button:has-text('Aanmelden')")
        page.goto(f"{url}/requests/{req['id']}/export")
        page.fill("#export-form input[name=reason]", "export zonder javascript")
        page.click("#export-form button:has-text('Exporteren')")
        page.wait_for_selector("#export-result", timeout=120_000)
        assert re.fullmatch(r"[0-9a-f]{64}", page.inner_text("#result-manifest").strip())
    finally:
        context.close()
