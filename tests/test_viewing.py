"""Issue 10, procedures item 2 and item 7: the viewing of an art. 10 request happens inside the
request (art. 10 lid 4-5, R-73), and every segment shown is in the Logboek Inzien
Beeldmateriaal (art. 7 lid 2, art. 10 lid 6, R-51), through the real web app, real SQLite, the
real encrypted store and the real `nvr` CLI."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import datetime

import pytest
from conftest import PASSWORD, ROOT, staff
from webutil import api, client, login

from firmware.config import load
from firmware.governance.service import Governance
from firmware.storage.store import EncryptedStore

AMSTERDAM_FMT = "%Y-%m-%dT%H:%M:%S%z"
WEIGHING = ("op de beelden staan ook voorbijgangers; het belang van de aanvrager (aangifte "
            "fietsdiefstal) weegt zwaarder, anderen worden vervaagd getoond")


def api_login(app, name):
    c = client(app)
    token = c.get("/api/session").get_json()["csrf"]
    r = c.post("/api/login", json={"name": name, "password": PASSWORD},
               headers={"X-CSRF-Token": token})
    assert r.status_code == 200, r.get_json()
    return c


def iso(t: float) -> str:
    return datetime.fromtimestamp(t).astimezone().strftime(AMSTERDAM_FMT)


def inzien(config) -> list[dict]:
    gov = Governance.open(load(config))
    try:
        return [{**e, "details": json.loads(e["details"])} for e in gov.logbook.entries("inzien")]
    finally:
        gov.close()


@pytest.fixture(scope="module")
def footage(site):
    """The recorded segments of camera 'cam', oldest first (10 s in segments of 4 s)."""
    _, config = site
    store = EncryptedStore.from_config(load(config))
    rows = store.list_segments("cam")
    store.close()
    assert len(rows) >= 3, rows
    return rows


def take_in(app, footage, *, first: int = 1, last: int = 1) -> dict:
    """An art. 10 request whose window lies inside segments first..last."""
    officer = api_login(app, "p.officer")
    start, end = footage[first]["start"] + 1.5, footage[last]["end"] - 0.5   # whole seconds
    r = api(officer, "POST", "/api/requests/art10", {
        "requester": "J. de Vries", "requester_kind": "citizen",
        "motivation": "mijn fiets is gestolen bij de ingang", "camera": "cam",
        "start": iso(start), "end": iso(end)})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def approve(app, req_id: int) -> None:
    manager = api_login(app, "m.manager")
    r = api(manager, "POST", f"/api/requests/{req_id}/decision",
            {"approve": True, "reason": "belang aangetoond: aangifte fietsdiefstal",
             "weighing": WEIGHING})
    assert r.status_code == 200, r.get_json()


def ready(app, req_id: int):
    """Approved, identity checked in person and declaration signed (art. 10 lid 3-5)."""
    approve(app, req_id)
    beheerder = api_login(app, "b.beheerder")
    assert api(beheerder, "POST", f"/api/requests/{req_id}/identity",
               {"document_type": "paspoort", "last_digits": "4567"}).status_code == 200
    assert api(beheerder, "POST", f"/api/requests/{req_id}/declaration",
               {"signed_by": "J. de Vries"}).status_code == 200
    return beheerder


def video_url(req_id: int, segment: str, query: str = "") -> str:
    return f"/requests/{req_id}/inzage/segments/{segment}/video{query}"


def test_art10_lid4_lid5_inzage_only_inside_the_approved_request_R73(site, footage):
    app, _ = site
    req = take_in(app, footage)
    beheerder = api_login(app, "b.beheerder")
    early = beheerder.get(f"/api/requests/{req['id']}/inzage")
    assert early.status_code == 400 and "toegewezen" in early.get_json()["error"]
    assert beheerder.get(video_url(req["id"], footage[1]["id"])).status_code == 400
    approve(app, req["id"])
    no_identity = beheerder.get(f"/api/requests/{req['id']}/inzage")
    assert no_identity.status_code == 400 and "identiteit" in no_identity.get_json()["error"]
    beheerder = ready_after_approval(app, req["id"])
    opened = beheerder.get(f"/api/requests/{req['id']}/inzage")
    assert opened.status_code == 200, opened.get_json()
    assert [s["id"] for s in opened.get_json()["segments"]] == [footage[1]["id"]]
    page = beheerder.get(f"/requests/{req['id']}/inzage")
    assert page.status_code == 200 and "Inzage" in page.get_data(as_text=True)
    shown = beheerder.get(video_url(req["id"], footage[1]["id"]))
    assert shown.status_code == 200 and shown.mimetype == "video/mp4"
    assert shown.data[4:8] == b"ftyp"
    outside = beheerder.get(video_url(req["id"], footage[0]["id"]))
    assert outside.status_code == 403 and "tijdvak" in outside.get_json()["error"]
    # The manager decides but does not show footage: the beheerder does (art. 10 lid 4).
    manager = api_login(app, "m.manager")
    assert manager.get(f"/api/requests/{req['id']}/inzage").status_code == 403
    officer = api_login(app, "p.officer")
    assert api(officer, "POST", f"/api/requests/{req['id']}/close",
               {"reason": "inzage gehad"}).status_code == 200
    closed = beheerder.get(video_url(req["id"], footage[1]["id"]))
    assert closed.status_code == 400 and "gesloten" in closed.get_json()["error"]


def ready_after_approval(app, req_id: int):
    beheerder = api_login(app, "b.beheerder")
    assert api(beheerder, "POST", f"/api/requests/{req_id}/identity",
               {"document_type": "paspoort", "last_digits": "4567"}).status_code == 200
    assert api(beheerder, "POST", f"/api/requests/{req_id}/declaration",
               {"signed_by": "J. de Vries"}).status_code == 200
    return beheerder


def test_art10_lid6_the_logbook_has_request_window_and_each_segment_shown_R51(site, footage):
    app, config = site
    req = take_in(app, footage, first=1, last=2)
    beheerder = ready(app, req["id"])
    before = len(inzien(config))
    assert beheerder.get(f"/requests/{req['id']}/inzage").status_code == 200
    opened = inzien(config)[before:]
    assert [e["action"] for e in opened] == ["viewing-opened"]
    assert opened[0]["subject"] == f"request {req['id']}"
    assert opened[0]["details"]["start"] == req["start"]
    assert opened[0]["details"]["end"] == req["end"]
    # The page alone shows nothing: a segment is on the record when it is served ...
    for _ in range(2):                      # ... once, however many range requests it takes
        r = beheerder.get(video_url(req["id"], footage[1]["id"]), headers={"Range": "bytes=0-"})
        assert r.status_code in (200, 206)
    assert beheerder.get(video_url(req["id"], footage[2]["id"])).status_code == 200
    shown = [e for e in inzien(config)[before:] if e["action"] == "viewing-segment-shown"]
    assert [e["details"]["segment"] for e in shown] == [footage[1]["id"], footage[2]["id"]]
    for e in shown:
        assert e["subject"] == f"request {req['id']}"
        assert e["details"]["purpose"] == "art10"
        assert (e["details"]["window_start"], e["details"]["window_end"]) == (req["start"],
                                                                              req["end"])
        assert e["details"]["camera"] == "cam" and e["details"]["blur"] == {
            "detect": False, "regions": []}


def test_art10_inzage_purpose_is_refused_outside_the_request(site, footage):
    app, config = site
    from firmware.governance.access import PURPOSES
    assert "art10" in PURPOSES                      # the purpose exists ...
    beheerder = api_login(app, "b.beheerder")
    r = api(beheerder, "POST", "/api/cameras/cam/access",
            {"purpose": "art10", "reason": "inzage voor J. de Vries"})
    assert r.status_code == 403 and "binnen het verzoek" in r.get_json()["error"]
    assert beheerder.get(f"/api/segments/{footage[1]['id']}/video").status_code == 428
    played = subprocess.run(
        [sys.executable, "-m", "firmware.cli", "--config", str(config), "segment", "play",
         footage[1]["id"], "--user", "b.beheerder", "--purpose", "art10", "--reason",
         "inzage voor J. de Vries"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=staff(config), cwd=ROOT, timeout=120)
    assert played.returncode == 1 and "inside the request" in played.stderr.decode()
    assert played.stdout == b""
    # ... and the reason form of ordinary playback does not offer it.
    page = login(app, "b.beheerder").get(f"/cameras/cam/day/{iso(footage[1]['start'])[:10]}")
    assert 'value="art10"' not in page.get_data(as_text=True)


def test_art7_lid2_every_segment_served_by_playback_is_logged_R50_R51(site, footage):
    app, config = site
    beheerder = api_login(app, "b.beheerder")
    assert api(beheerder, "POST", "/api/cameras/cam/access",
               {"purpose": "incident", "reason": "terugkijken fietsendiefstal"}
               ).status_code == 200
    before = len(inzien(config))
    for headers in ({}, {"Range": "bytes=0-99"}, {"Range": "bytes=100-"}):
        assert beheerder.get(f"/api/segments/{footage[0]['id']}/video",
                             headers=headers).status_code in (200, 206)
    assert beheerder.get(f"/segments/{footage[2]['id']}/video").status_code == 200
    shown = [e for e in inzien(config)[before:] if e["action"] == "playback-segment-shown"]
    assert [e["subject"] for e in shown] == [f"segment {footage[0]['id']}",
                                            f"segment {footage[2]['id']}"]
    for e, row in zip(shown, (footage[0], footage[2]), strict=True):
        assert e["actor"] == "b.beheerder" and e["reason"] == "terugkijken fietsendiefstal"
        assert e["details"]["camera"] == "cam" and e["details"]["purpose"] == "incident"
        assert (e["details"]["start"], e["details"]["end"]) == (row["start"], row["end"])


def test_art10_toelichting_approval_records_the_weighing_of_others_in_view_R74(site, footage):
    app, config = site
    req = take_in(app, footage)
    manager = api_login(app, "m.manager")
    bare = api(manager, "POST", f"/api/requests/{req['id']}/decision",
               {"approve": True, "reason": "belang aangetoond"})
    assert bare.status_code == 400 and "afweging" in bare.get_json()["error"]
    assert manager.get(f"/api/requests/{req['id']}").get_json()["status"] == "open"
    approve(app, req["id"])
    shown = manager.get(f"/api/requests/{req['id']}").get_json()
    assert shown["status"] == "approved" and shown["weighing"] == WEIGHING
    page = login(app, "m.manager").get(f"/requests/{req['id']}").get_data(as_text=True)
    assert "Afweging anderen in beeld" in page and "voorbijgangers" in page
    entry = [e for e in inzien(config) if e["subject"] == f"request {req['id']}"
             and e["action"] == "request-weighing"]
    assert len(entry) == 1 and entry[0]["reason"] == WEIGHING


def test_weighing_on_a_database_from_before_the_weighing_table(site, footage):
    """An existing device has no request_weighings table: requests read and decide as before
    (the table is made when first needed)."""
    app, config = site
    req = take_in(app, footage)
    db = sqlite3.connect(load(config).storage.data_dir / "index.sqlite3")
    db.execute("DROP TABLE IF EXISTS request_weighings")
    db.commit()
    db.close()
    manager = api_login(app, "m.manager")
    assert manager.get(f"/api/requests/{req['id']}").get_json()["weighing"] is None
    approve(app, req["id"])
    assert manager.get(f"/api/requests/{req['id']}").get_json()["weighing"] == WEIGHING


def _laplacian_variance(mp4: bytes, part: slice) -> float:
    """Mean over the frames of the variance of the Laplacian of the luma columns `part`."""
    import io

    import av
    import cv2
    values = []
    with av.open(io.BytesIO(mp4)) as container:
        assert not container.streams.audio
        for frame in container.decode(video=0):
            luma = frame.to_ndarray(format="gray")
            values.append(cv2.Laplacian(luma[:, part], cv2.CV_64F).var())
    assert values
    return sum(values) / len(values)


def test_art10_toelichting_inzage_shows_others_blurred_in_the_player_path_R73(site, footage):
    app, config = site
    req = take_in(app, footage)
    beheerder = ready(app, req["id"])
    segment = footage[1]["id"]
    plain = beheerder.get(video_url(req["id"], segment))
    assert plain.status_code == 200
    page = beheerder.get(f"/requests/{req['id']}/inzage?regions=0,0,0.5,1").get_data(
        as_text=True)
    assert "regions=0%2C0%2C0.5%2C1" in page         # the player's urls carry the blurring
    blurred = beheerder.get(video_url(req["id"], segment, "?regions=0,0,0.5,1"))
    assert blurred.status_code == 200 and blurred.mimetype == "video/mp4"
    assert blurred.data != plain.data
    width = 320
    left, right = slice(4, width // 2 - 8), slice(width // 2 + 8, width - 4)
    assert _laplacian_variance(blurred.data, left) < 0.2 * _laplacian_variance(plain.data, left)
    assert _laplacian_variance(blurred.data, right) > 0.5 * _laplacian_variance(plain.data,
                                                                                right)
    detected = beheerder.get(video_url(req["id"], segment, "?detect=1"))
    assert detected.status_code == 200 and detected.data[4:8] == b"ftyp"
    bad = beheerder.get(video_url(req["id"], segment, "?regions=0.8,0,0.5,1"))
    assert bad.status_code == 400 and "buiten het beeld" in bad.get_json()["error"]
    page = beheerder.get(f"/requests/{req['id']}/inzage?regions=links")
    assert page.status_code == 400 and "x,y,breedte,hoogte" in page.get_data(as_text=True)
    shown = [e["details"]["blur"] for e in inzien(config)
             if e["action"] == "viewing-segment-shown" and e["subject"] == f"request {req['id']}"]
    assert shown == [{"detect": False, "regions": []},
                     {"detect": False, "regions": [[0.0, 0.0, 0.5, 1.0]]},
                     {"detect": True, "regions": []}]
    # Nothing blurred or decrypted is left on disk: the data directory holds segments only.
    data = load(config).storage.data_dir
    assert not [p for p in data.rglob("*") if p.suffix.lower() in (".mp4", ".mov", ".tmp")]


def test_art10_lid4_lid5_the_cli_shows_the_same_window_under_the_same_rules_R73(site, footage):
    app, config = site
    req = take_in(app, footage)
    env = staff(config)

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "firmware.cli", "--config", str(config),
                               "request", *args, "--user", "b.beheerder"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT,
                              timeout=120)

    early = cli("play", str(req["id"]), footage[1]["id"])
    assert early.returncode == 1 and "approved" in early.stderr.decode()
    assert early.stdout == b""
    ready(app, req["id"])
    listed = cli("inzage", str(req["id"]), "--json")
    assert listed.returncode == 0, listed.stderr
    assert [s["id"] for s in json.loads(listed.stdout)] == [footage[1]["id"]]
    outside = cli("play", str(req["id"]), footage[0]["id"])
    assert outside.returncode == 1 and "window" in outside.stderr.decode()
    before = len(inzien(config))
    played = cli("play", str(req["id"]), footage[1]["id"], "--regions", "0,0,0.5,1")
    assert played.returncode == 0, played.stderr
    assert played.stdout[4:8] == b"ftyp"                  # an MP4, into the pipe only
    shown = [e for e in inzien(config)[before:] if e["action"] == "viewing-segment-shown"]
    assert [(e["details"]["segment"], e["details"]["blur"]) for e in shown] == [
        (footage[1]["id"], {"detect": False, "regions": [[0.0, 0.0, 0.5, 1.0]]})]


def test_art10_toelichting_the_decision_fixes_the_blurring_for_web_and_cli_R73(site, footage):
    """Toelichting art. 10: the decision records the blurring of others in view it requires,
    stored with the weighing; the request page, the inzage page and the logbook show it, and
    a segment asked with less blurring is refused on the web and by `nvr request play`."""
    app, config = site
    req = take_in(app, footage)
    manager = api_login(app, "m.manager")
    wrong = api(manager, "POST", f"/api/requests/{req['id']}/decision",
                {"approve": True, "reason": "belang aangetoond", "weighing": WEIGHING,
                 "blur": "alles"})
    assert wrong.status_code == 400 and "vervaging" in wrong.get_json()["error"]
    r = api(manager, "POST", f"/api/requests/{req['id']}/decision",
            {"approve": True, "reason": "belang aangetoond: aangifte fietsdiefstal",
             "weighing": WEIGHING, "blur": "regions"})
    assert r.status_code == 200 and r.get_json()["blur"] == "regions", r.get_json()
    page = login(app, "m.manager").get(f"/requests/{req['id']}").get_data(as_text=True)
    assert "Vervaging bij de inzage" in page and "getekende gebieden vervagen" in page
    entry = [e for e in inzien(config) if e["subject"] == f"request {req['id']}"
             and e["action"] == "request-weighing"]
    assert entry[-1]["details"] == {"required_blur": "regions"}
    beheerder = ready_after_approval(app, req["id"])
    opened = beheerder.get(f"/api/requests/{req['id']}/inzage").get_json()
    assert opened["required_blur"] == "regions"
    inzage = beheerder.get(f"/requests/{req['id']}/inzage").get_data(as_text=True)
    assert "teken ten minste één gebied" in inzage
    segment = footage[1]["id"]
    for query in ("", "?detect=1"):
        refused = beheerder.get(video_url(req["id"], segment, query))
        assert refused.status_code == 403, query
        assert "minder vervaging" in refused.get_json()["error"]
    assert beheerder.get(video_url(req["id"], segment, "?regions=0,0,0.5,1")).status_code == 200
    gov = Governance.open(load(config))
    try:
        refusals = [json.loads(e["details"]) for e in gov.logbook.entries("usage")
                    if e["action"] == "refused" and e["subject"] == f"request {req['id']}"]
    finally:
        gov.close()
    assert [r["required_blur"] for r in refusals] == ["regions"] * 2
    env = staff(config)

    def play(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "firmware.cli", "--config", str(config),
                               "request", "play", str(req["id"]), segment, *extra,
                               "--user", "b.beheerder"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env, cwd=ROOT, timeout=120)

    bare = play()
    assert bare.returncode == 1 and "less blurring" in bare.stderr.decode()
    assert bare.stdout == b""
    played = play("--regions", "0,0,0.5,1")
    assert played.returncode == 0 and played.stdout[4:8] == b"ftyp", played.stderr


def test_art10_toelichting_the_inzage_page_preselects_detection_the_decision_requires(
        site, footage):
    app, _ = site
    req = take_in(app, footage)
    r = api(api_login(app, "m.manager"), "POST", f"/api/requests/{req['id']}/decision",
            {"approve": True, "reason": "belang aangetoond: aangifte fietsdiefstal",
             "weighing": WEIGHING, "blur": "detect"})
    assert r.status_code == 200, r.get_json()
    beheerder = ready_after_approval(app, req["id"])
    opened = beheerder.get(f"/api/requests/{req['id']}/inzage").get_json()
    assert opened["blur"]["detect"] is True
    book = api_login(app, "d.dpo").get("/logbooks/inzien/csv").get_data(as_text=True)
    assert "vervaging volgens besluit: personen vervagen (automatische detectie)" in book
    assert all("detect=1" in s["url"] for s in opened["segments"])
    page = beheerder.get(f"/requests/{req['id']}/inzage").get_data(as_text=True)
    assert 'name="detect" value="1" checked' in page


def test_blur_on_a_weighing_table_from_before_the_blur_column(site, footage):
    """A device whose request_weighings table predates the blurring: its decisions read as
    'none' (as they were taken), and a new decision adds the column (idempotent migration)."""
    app, config = site
    old = take_in(app, footage)
    new = take_in(app, footage)
    db = sqlite3.connect(load(config).storage.data_dir / "index.sqlite3")
    db.execute("DROP TABLE IF EXISTS request_weighings")
    db.execute("CREATE TABLE request_weighings (request_id INTEGER PRIMARY KEY REFERENCES "
               "requests(id), weighing TEXT NOT NULL, recorded_by TEXT NOT NULL, "
               "recorded_at REAL NOT NULL)")
    db.execute("INSERT INTO request_weighings VALUES (?, ?, 'm.manager', 0)",
               (old["id"], WEIGHING))
    db.commit()
    db.close()
    manager = api_login(app, "m.manager")
    shown = manager.get(f"/api/requests/{old['id']}").get_json()
    assert shown["weighing"] == WEIGHING and shown["blur"] == "none"
    r = api(manager, "POST", f"/api/requests/{new['id']}/decision",
            {"approve": True, "reason": "belang aangetoond", "weighing": WEIGHING,
             "blur": "detect"})
    assert r.status_code == 200 and r.get_json()["blur"] == "detect", r.get_json()
    assert manager.get(f"/api/requests/{old['id']}").get_json()["blur"] == "none"


@pytest.mark.parametrize("body", [
    {"method": "paspoort NX1234567"},
    {"document_type": "paspoort", "last_digits": "NX1234567"},
    {"document_type": "paspoort", "last_digits": "123456782"},
    {"document_type": "bsn", "last_digits": "6782"},
    {"document_type": "paspoort", "last_digits": "4567", "method": "BSN 123456782"}])
def test_art10_lid4_identity_keeps_only_document_type_and_last_characters(site, footage, body):
    """Art. 10 lid 4 (like art. 9 lid 3): the document type from a list and only its last 2-4
    characters; a free text or a full number is refused and nothing reaches the logbook."""
    app, config = site
    req = take_in(app, footage)
    approve(app, req["id"])
    r = api(api_login(app, "b.beheerder"), "POST", f"/api/requests/{req['id']}/identity", body)
    assert r.status_code == 400, r.get_json()
    logged = json.dumps(inzien(config), ensure_ascii=False)
    assert "NX1234567" not in logged and "123456782" not in logged


def test_art10_lid4_identity_by_cli_and_web_form_records_type_and_last_digits(site, footage):
    app, config = site
    req = take_in(app, footage)
    approve(app, req["id"])
    env = staff(config)

    def identity(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "firmware.cli", "--config", str(config),
                               "request", "identity", str(req["id"]), *args,
                               "--user", "b.beheerder"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env, cwd=ROOT, timeout=120)

    full = identity("--document-type", "paspoort", "--last-digits", "NX1234567")
    assert full.returncode == 1 and "never the whole number" in full.stderr.decode()
    assert identity("--method", "paspoort gezien").returncode == 2        # the option is gone
    done = identity("--document-type", "identiteitskaart", "--last-digits", "78", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["identity_method"] == "identiteitskaart, nummer eindigend op 78"
    entry = [e for e in inzien(config) if e["subject"] == f"request {req['id']}"
             and e["action"] == "identity-checked"][-1]
    assert entry["actor"] == "b.beheerder" and entry["details"] == {
        "article": "10 lid 4", "document_type": "identiteitskaart", "last_digits": "78"}
    other = take_in(app, footage)
    approve(app, other["id"])
    page = login(app, "b.beheerder").get(f"/requests/{other['id']}").get_data(as_text=True)
    assert 'name="last_digits"' in page and 'name="method"' not in page
