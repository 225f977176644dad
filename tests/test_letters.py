"""Issue 10, documents: the decision letter for every art. 10 decision and the art. 10
declaration, made by the real `nvr` CLI and the web, read back with the real pdftotext and
checked for their Dutch content (art. 10 lid 3-5, toelichting art. 10, R-72..R-74)."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import nvr, recorded_site
from webutil import login

from firmware.config import load
from firmware.governance.roles import Role
from firmware.storage.store import EncryptedStore

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
WEIGHING = ("Op de beelden staan ook twee voorbijgangers. Het belang van de aanvrager bij het "
            "zien van de diefstal weegt zwaarder; de voorbijgangers worden vervaagd getoond.")


def pdf_text(path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("letters")
    config = recorded_site(tmp, {"d.dpo": Role.DPO})
    from conftest import staff
    env = staff(config)
    store = EncryptedStore.from_config(load(config))
    start = min(s["start"] for s in store.list_segments("cam"))
    store.close()
    return tmp, config, env, start


def run(desk, *args, ok: bool = True):
    _, config, env, _ = desk
    result = nvr("--config", str(config), *args, env=env)
    if ok:
        assert result.returncode == 0, result.stderr
    return result


def take_in(desk) -> dict:
    _, _, _, start = desk
    first = int(start) + 1
    first += first % 60 == 0           # not on a whole minute: the window shows its seconds
    t = datetime.fromtimestamp(first, AMSTERDAM)
    add = run(desk, "request", "add", "--article", "10", "--requester", "J. de Vries",
              "--motivation", "mijn fiets is gestolen bij de ingang", "--received",
              (t + timedelta(minutes=1)).isoformat(), "--reference", "brief 2026-0117",
              "--camera", "cam", "--start", t.isoformat(),
              "--end", (t + timedelta(seconds=8)).isoformat(), "--user", "p.officer", "--json")
    return json.loads(add.stdout)


def no_internals(text: str, req: dict) -> None:
    """No epoch numbers, no internal ids, nothing in English from the code."""
    assert not re.search(r"\b1\d{9}\b", text), "an epoch number"
    assert not re.search(r"\bcam\b", text), "the camera's internal id"
    assert f"request {req['id']}" not in text and "approved" not in text
    assert "refused" not in text and "None" not in text


def test_art10_decision_letter_for_an_approval_with_grounds_weighing_and_remedy(desk):
    tmp, config, _, start = desk
    req = take_in(desk)
    early = run(desk, "request", "letter", str(req["id"]), "--out", str(tmp / "x.pdf"),
                "--user", "m.manager", ok=False)
    assert early.returncode == 1 and "no besluit has been taken" in early.stderr
    assert not (tmp / "x.pdf").exists()
    run(desk, "request", "decide", str(req["id"]), "--approve", "--reason",
        "Het belang van de aanvrager is aangetoond met de aangifte.", "--weighing", WEIGHING,
        "--blur", "regions", "--user", "m.manager")
    out = tmp / "besluit-toegewezen.pdf"
    run(desk, "request", "letter", str(req["id"]), "--out", str(out), "--user", "m.manager")
    text = pdf_text(out)
    words = flat(text)
    for expected in ("Besluit op uw verzoek om camerabeelden in te zien", "J. de Vries",
                     "brief 2026-0117", "toegewezen", "Testcamera",
                     "Gemeentehuis Soest, testgang",
                     "Het belang van de aanvrager is aangetoond met de aangifte.",
                     flat(WEIGHING), "mijn fiets is gestolen bij de ingang",
                     "artikel 10 lid 4", "identiteitsbewijs", "verklaring",
                     "geen besluit in de zin van de Algemene wet bestuursrecht",
                     "burgerlijke rechter", "Autoriteit Persoonsgegevens",
                     "manager bedrijfsvoering", "Handtekening",
                     # toelichting art. 10: the blurring the decision requires
                     "Vervaging bij de inzage, bindend voor de beheerder: getekende gebieden "
                     "vervagen (ten minste één gebied)."):
        assert expected in words, expected
    window = datetime.fromtimestamp(req_start(req), AMSTERDAM)
    assert window.strftime("%d-%m-%Y %H:%M:%S") + f" ({window.tzname()})" in words
    no_internals(text, req)
    from firmware.governance.service import Governance
    gov = Governance.open(load(config))
    printed = [e for e in gov.logbook.entries("inzien") if e["action"] == "decision-letter"]
    gov.close()
    assert printed[-1]["subject"] == f"request {req['id']}" and printed[-1]["actor"] == "m.manager"


def req_start(req: dict) -> float:
    return datetime.fromisoformat(req["start"]).timestamp()


def test_art10_decision_letter_for_a_refusal(desk):
    tmp, config, _, _ = desk
    req = take_in(desk)
    run(desk, "request", "decide", str(req["id"]), "--refuse", "--reason",
        "Het belang weegt niet op tegen de privacy van de anderen in beeld.",
        "--user", "m.manager")
    out = tmp / "besluit-afgewezen.pdf"
    run(desk, "request", "letter", str(req["id"]), "--out", str(out), "--user", "p.officer")
    words = flat(pdf_text(out))
    for expected in ("afgewezen", "Het belang weegt niet op tegen de privacy van de anderen",
                     "bewaartermijn van 28 dagen", "burgerlijke rechter",
                     "Autoriteit Persoonsgegevens", "Testcamera"):
        assert expected in words, expected
    assert "identiteitsbewijs" not in words
    no_internals(pdf_text(out), req)
    refused = run(desk, "request", "letter", str(req["id"]), "--out", str(tmp / "y.pdf"),
                  "--user", "t.admin", ok=False)
    assert refused.returncode == 1 and "request-read)" in refused.stderr
    assert not (tmp / "y.pdf").exists()


def test_art10_lid5_declaration_only_once_approved_with_window_grounds_place_signatures(desk):
    tmp, config, _, _ = desk
    req = take_in(desk)
    out = tmp / "verklaring.pdf"
    early = run(desk, "request", "declaration-pdf", str(req["id"]), "--out", str(out),
                "--user", "b.beheerder", ok=False)
    assert early.returncode == 1 and "can be printed only once the request is approved" in early.stderr
    assert not out.exists()
    page = login(_app(config), "b.beheerder").get(f"/requests/{req['id']}/declaration.pdf")
    assert page.status_code == 400 and "pas worden afgedrukt" in page.get_data(as_text=True)
    run(desk, "request", "decide", str(req["id"]), "--approve", "--reason",
        "Aangifte gedaan; het belang is aangetoond.", "--weighing", WEIGHING,
        "--blur", "detect", "--user", "m.manager")
    run(desk, "request", "identity", str(req["id"]), "--document-type", "paspoort",
        "--last-digits", "4567", "--user", "b.beheerder")
    run(desk, "request", "declaration-pdf", str(req["id"]), "--out", str(out),
        "--user", "b.beheerder")
    text = pdf_text(out)
    words = flat(text)
    for expected in ("Verklaring inzage camerabeelden", "artikel 10 lid 5", "J. de Vries",
                     "mijn fiets is gestolen bij de ingang", "Aangifte gedaan; het belang is "
                     "aangetoond.", flat(WEIGHING), "Testcamera", "Gemeentehuis Soest, testgang",
                     "Plaats", "paspoort, nummer eindigend op 4567",
                     "Vervaging anderen in beeld", "personen vervagen (automatische detectie)",
                     "Handtekening verzoeker",
                     "Handtekening beheerder", "geen opnamen", "kopieën"):
        assert expected in words, expected
    start = datetime.fromtimestamp(req_start(req), AMSTERDAM)
    assert start.strftime("%d-%m-%Y %H:%M:%S") + f" ({start.tzname()})" in words
    no_internals(text, req)
    web = login(_app(config), "b.beheerder").get(f"/requests/{req['id']}/declaration.pdf")
    assert web.status_code == 200 and web.data[:5] == b"%PDF-"


def test_decision_letter_from_the_web_request_page(desk):
    _, config, _, _ = desk
    req = take_in(desk)
    run(desk, "request", "decide", str(req["id"]), "--refuse", "--reason",
        "Geen belang aangetoond bij deze beelden.", "--user", "m.manager")
    manager = login(_app(config), "m.manager")
    page = manager.get(f"/requests/{req['id']}").get_data(as_text=True)
    link = f"/requests/{req['id']}/besluit.pdf"
    assert link in page
    pdf = manager.get(link)
    assert pdf.status_code == 200 and pdf.data[:5] == b"%PDF-"


_APPS: dict = {}


def _app(config):
    if config not in _APPS:
        from firmware.web import create_app
        app = create_app(load(config))
        app.config["TESTING"] = True
        _APPS[config] = app
    return _APPS[config]


def test_art10_lid3_a_letter_decided_after_the_two_working_days_says_so(desk):
    tmp, _, _, start = desk
    t = datetime.fromtimestamp(int(start) + 2, AMSTERDAM)
    received = datetime.now(AMSTERDAM).replace(microsecond=0) - timedelta(days=10)
    add = run(desk, "request", "add", "--article", "10", "--requester", "A. Jansen",
              "--motivation", "mijn auto is beschadigd bij de ingang", "--received",
              received.isoformat(), "--camera", "cam", "--start", t.isoformat(),
              "--end", (t + timedelta(seconds=6)).isoformat(), "--user", "p.officer", "--json")
    req = json.loads(add.stdout)
    run(desk, "request", "decide", str(req["id"]), "--refuse", "--reason",
        "Geen belang aangetoond bij deze beelden.", "--user", "m.manager")
    out = tmp / "besluit-te-laat.pdf"
    run(desk, "request", "letter", str(req["id"]), "--out", str(out), "--user", "m.manager")
    words = flat(pdf_text(out))
    assert "na afloop van die termijn" in words and "binnen die termijn" not in words
    assert received.strftime("%d-%m-%Y %H:%M") in words
