"""Red team rtC for issue 11: concurrency, time and monitoring truth. Against a real recorder
process (`nvr run --no-web`) with two cameras, cam (synthetic, keeps giving frames) and door (a
clip of two seconds that does not loop, so it stops giving a picture: a stalled camera)."""

from __future__ import annotations

import threading
import time

from test_live_status import grid_client, recorder, states, wait_for  # noqa: F401 (fixture)

from firmware.web import live as live_module


def _in_thread(fn, timeout: float):
    """fn() in a thread; (finished, result) after at most `timeout` seconds."""
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("r", fn()), daemon=True)
    t.start()
    t.join(timeout)
    return (not t.is_alive()), box.get("r")


def test_a_stream_of_a_stalled_camera_answers_instead_of_hanging_with_a_slot(recorder):
    """A viewer opens the MJPEG of a camera that gives no picture (door's clip has ended; the
    recorder still answers and sends keep-alives). The request must answer (503, 'no live
    picture') within seconds, not hang for ever holding one of the 12 stream slots and a
    server thread: 12 such requests would block live view for everyone, for as long as the
    camera stays away, and a stream that never delivers a frame never rechecks its access."""
    app, _, _ = recorder
    c = grid_client(app)
    assert wait_for(lambda: states(c, "cam", "door")["door"] == "camera-lost")
    free_before = live_module._streams._value
    finished, r = _in_thread(lambda: c.get("/cameras/door/live.mjpeg"), 15)
    assert finished, "the stream of a stalled camera hangs (a slot and a thread held)"
    assert r.status_code == 503
    assert live_module._streams._value == free_before


def test_one_viewer_cannot_take_every_live_stream_from_the_others(recorder):
    """One account opens stream after stream of the same camera (a script, or tabs). It may
    not take all 12 slots: another person stating a reason in the control room must still
    get a picture, and the greedy one gets a clear refusal."""
    app, _, _ = recorder
    greedy = grid_client(app, "controle door een gebruiker")
    assert wait_for(lambda: states(greedy, "cam")["cam"] == "live")
    opened, refused = [], None
    try:
        for _ in range(live_module.MAX_STREAMS):
            r = greedy.get("/cameras/cam/live.mjpeg", buffered=False)
            if r.status_code != 200:
                refused = r
                r.close()
                break
            opened.append(r)
        assert refused is not None and refused.status_code in (429, 503), \
            f"one account holds {len(opened)} of {live_module.MAX_STREAMS} live streams"
        assert "open" in refused.get_json()["error"]
        from webutil import login
        other = login(app, "p.officer")
        with other.session_transaction() as s:
            csrf = s["csrf"]
        assert other.post("/live/access", data={"csrf": csrf, "purpose": "safety",
                                                "reason": "controle door een ander",
                                                "back": "/live"}).status_code == 302
        r = other.get("/cameras/cam/live.mjpeg", buffered=False)
        try:
            assert r.status_code == 200, r.get_data()[:200]
        finally:
            r.close()
    finally:
        for r in opened:
            r.close()


# --- the confirmation flows from two tabs at once (issue 11 item 4) ----------------------------

def _together(calls):
    """Run the callables at the same moment, each in its own thread; their results (or the
    exception each raised)."""
    out = [None] * len(calls)
    gate = threading.Barrier(len(calls))

    def run(i, fn):
        gate.wait()
        try:
            out[i] = fn()
        except Exception as exc:                     # noqa: BLE001 (the result of the call)
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


def test_enabling_an_account_again_from_two_tabs_is_one_proposal_one_logbook_entry_R10(site):
    """The technisch beheerder has the confirmation page open in two tabs (or double-clicks)
    and confirms in both: one proposal, one `user-enable` in the logbook, the other tab told
    the account is no longer disabled. Was: both 302 and two entries."""
    from test_noharm_web import entries, post
    from webutil import login, replay
    app, config = site
    t = login(app, "t.admin")
    t2 = replay(app, t)                     # the same session in a second tab
    m = login(app, "m.manager")
    for _ in range(4):
        assert post(t, "/users/d.dpo/disable", confirm="yes",
                    reason="tijdelijk andere functie").status_code == 302
        before = len(entries(config, "usage", "user-enable"))
        results = _together([lambda c=c: post(c, "/users/d.dpo/enable", confirm="yes",
                                              reason="terug in de oude functie")
                             for c in (t, t2)])
        codes = sorted(r.status_code for r in results)
        assert len(entries(config, "usage", "user-enable")) == before + 1, codes
        assert codes == [302, 400], codes
        assert post(m, "/users/d.dpo/approve",
                    role="functionaris-gegevensbescherming").status_code == 302


def test_two_technisch_beheerders_disabling_each_other_at_once_leave_one_in_force_R10(site):
    """Two technisch beheerders, each at a workstation, disable the other at the same moment.
    Each check 'not the last technisch beheerder' saw two in force; without one transaction
    both are disabled and nobody can manage accounts any more (R-10)."""
    from conftest import PASSWORD, new_account

    from firmware.config import load
    from firmware.governance.roles import Role
    from firmware.governance.service import Governance
    app, config = site
    cfg = load(config)
    setup = Governance.open(cfg)
    admin = setup.accounts.authenticate("t.admin", PASSWORD).actor()
    manager = setup.accounts.authenticate("m.manager", PASSWORD).actor()
    if setup.accounts.get("t.tweede") is None:
        new_account(setup.accounts, "t.tweede", Role.TECHNICAL, admin)
    try:
        for _ in range(6):
            # both in force again before each round
            for name in ("t.admin", "t.tweede"):
                if setup.accounts.get(name).disabled:
                    other = "t.tweede" if name == "t.admin" else "t.admin"
                    by = setup.accounts.authenticate(other, PASSWORD).actor()
                    setup.accounts.enable(name, by=by, reason="terug in functie")
                    if setup.accounts.get(name).pending:
                        setup.accounts.approve(name, role=Role.TECHNICAL, by=manager)
            a, b = Governance.open(cfg), Governance.open(cfg)
            try:
                ta = a.accounts.authenticate("t.admin", PASSWORD).actor()
                tb = b.accounts.authenticate("t.tweede", PASSWORD).actor()
                _together([
                    lambda: a.accounts.disable("t.tweede", by=ta, reason="vertrekt vandaag"),
                    lambda: b.accounts.disable("t.admin", by=tb, reason="vertrekt vandaag")])
            finally:
                a.close()
                b.close()
            in_force = [n for n in ("t.admin", "t.tweede")
                        if not setup.accounts.get(n).disabled]
            assert in_force, "both technisch beheerders disabled: nobody manages accounts"
    finally:
        setup.close()
    del admin


def test_closing_a_request_from_two_tabs_is_one_closing_one_logbook_entry_R74(site):
    """The beheerder confirms 'close request' in two tabs at once: the request is closed once,
    its hold released once, one `request-closed` in the logbook, and the other tab gets the
    page saying it is closed already (no crash, no second entry)."""
    from test_noharm_web import entries, local, page, post
    from webutil import login, replay
    app, config = site
    b = login(app, "b.beheerder")
    b2 = replay(app, b)
    for _ in range(3):
        r = post(b, "/requests/art9", reference="PL0900-2026-77", requester="Politie",
                 legal_basis="126nd", camera="cam", start=local(-30), end=local(-10))
        assert r.status_code == 302, page(r)
        req = max(q["id"] for q in b.get("/api/requests").get_json())
        before = len(entries(config, "inzien", "request-closed"))
        results = _together([lambda c=c: post(c, f"/requests/{req}/close", confirm="yes",
                                              reason="beelden overgedragen")
                             for c in (b, b2)])
        codes = sorted(r.status_code for r in results)
        assert len(entries(config, "inzien", "request-closed")) == before + 1, codes
        assert codes == [302, 400], codes


# --- /readyz: monitoring that tells the truth (issue 11 item 7) --------------------------------

def test_readyz_is_not_ready_while_every_segment_is_lost_R42(tmp_path, monkeypatch):
    """The recorder runs and the camera delivers frames, but storage refuses every segment
    (here the camera's directory cannot be made: a file stands in its place; a disk gone
    read-only or a failing disk look the same to the recorder). It logs 'segment lost' and
    records nothing; /readyz must not answer 200 'ready' meanwhile."""
    import subprocess
    import sys

    from conftest import ROOT, staff, write_config
    from test_home import _fake_timedatectl, _readyz

    from firmware.config import load
    from firmware.web import create_app
    config = write_config(tmp_path, storage="segment_seconds = 2")
    staff(config)
    monkeypatch.setenv("NVR_TIMEDATECTL", str(_fake_timedatectl(tmp_path, "yes")))
    segments = load(config).storage.data_dir / "segments"
    app = create_app(load(config))
    log = tmp_path / "recorder.log"
    with open(log, "w") as out:
        recorder = subprocess.Popen([sys.executable, "-m", "firmware.cli", "--config",
                                     str(config), "run", "--no-web"], cwd=ROOT, stdout=out,
                                    stderr=subprocess.STDOUT)
    try:
        assert wait_for(lambda: (segments / "cam").is_dir(), 60), log.read_text()[-2000:]
        (segments / "cam").rename(segments / "cam.moved")     # what was recorded stays
        (segments / "cam").write_text("not a directory")
        assert wait_for(lambda: " lost: " in log.read_text()            # (before the fix:
                        or "unexpected failure" in log.read_text(), 90)  # not even counted)
        status, body = _readyz(app, 503, seconds=10)
        assert status == 503, body
        assert body["checks"]["recorder_running"] is False, body
        assert any("cam" in why for why in body["reasons"]), body["reasons"]
        assert " lost: " in log.read_text(), "a lost segment is logged and counted as lost"
    finally:
        recorder.terminate()
        recorder.wait(30)
