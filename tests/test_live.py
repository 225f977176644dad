"""Live view: JPEGs of the masked, captioned picture, made only while someone watches, served
on the recorder's local socket (R-01, R-02, R-20)."""

from __future__ import annotations

import threading
import time
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import pytest
from conftest import write_config

from firmware.capture.camera import SoftwareCamera
from firmware.capture.sources import SyntheticSource
from firmware.capture.synthetic import demo_scene
from firmware.config import load
from firmware.live.client import LiveUnavailable, live_frames, recorder_status
from firmware.live.hub import LiveHub
from firmware.live.tap import LiveTap, live_size


class Discard:
    def on_lores(self, luma, t):
        pass

    def on_packet(self, packet):
        pass


def wait_for(predicate, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def running(tmp_path):
    """A synthetic camera with a privacy mask over the left quarter, its tap and hub."""
    config = write_config(tmp_path, camera_extra="privacy_masks = [[[0.0, 0.0], [0.25, 0.0], "
                                                 "[0.25, 1.0], [0.0, 1.0]]]")
    cfg = load(config)
    cam = cfg.cameras[0]
    camera = SoftwareCamera(SyntheticSource(demo_scene(320, 240, 25), realtime=True), cam,
                            ZoneInfo("Europe/Amsterdam"))
    tap = LiveTap(cam.id, camera.width, camera.height, fps=10, live_width=160)
    camera.live = tap
    hub = LiveHub(cfg.live_socket, {cam.id: tap}, lambda: {"cam": {"state": "recording"}})
    hub.start()
    stop = threading.Event()
    thread = threading.Thread(target=camera.run, args=(Discard(), stop), daemon=True)
    thread.start()
    yield cfg, tap
    stop.set()
    thread.join(5)
    hub.stop()


def test_live_size_keeps_aspect_and_even_sides():
    assert live_size(1920, 1080, 960) == (960, 540)
    assert live_size(320, 240, 960) == (320, 240)
    assert live_size(1280, 720, 250) == (250, 140)


def test_nothing_is_encoded_until_someone_watches_and_after_they_leave(running):
    cfg, tap = running
    time.sleep(1.0)
    assert tap.encoded == 0 and tap.viewers == 0            # nobody watches: no JPEG work
    frames = live_frames(cfg.live_socket, "cam")
    got = [next(frames) for _ in range(5)]
    assert tap.viewers == 1 and tap.encoded >= 5
    frames.close()
    assert wait_for(lambda: tap.viewers == 0)
    settled = tap.encoded
    time.sleep(1.0)
    assert tap.encoded == settled                           # stopped with the last viewer
    times = [t for t, _ in got]
    assert times == sorted(times) and len(set(times)) == 5   # newer frames, none repeated


def test_live_frames_are_jpegs_with_the_privacy_mask_applied_R02(running):
    cfg, tap = running
    frames = live_frames(cfg.live_socket, "cam")
    t, jpeg = next(frames)
    frames.close()
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert image.shape == (120, 160)
    masked, rest = image[30:, 2:36], image[30:, 44:]           # below the caption
    assert masked.max() < 40                                  # black, JPEG ringing aside
    assert rest.std() > 10                                    # the scene itself is there
    assert abs(t - time.time()) < 60                          # a capture time, not a counter


def test_two_viewers_share_one_encoding(running):
    cfg, tap = running
    a, b = live_frames(cfg.live_socket, "cam"), live_frames(cfg.live_socket, "cam")
    next(a), next(b)
    assert wait_for(lambda: tap.viewers == 2)
    before, t0 = tap.encoded, time.monotonic()
    for _ in range(5):
        next(a), next(b)
    elapsed = time.monotonic() - t0
    a.close(), b.close()
    assert tap.encoded - before <= round(elapsed * 10) + 2   # 10 fps, not 20


def test_unknown_camera_and_absent_recorder_get_clear_errors(running, tmp_path):
    cfg, _ = running
    with pytest.raises(LiveUnavailable, match="no live picture of camera 'nope'"):
        next(live_frames(cfg.live_socket, "nope"))
    with pytest.raises(LiveUnavailable, match="is the recorder running"):
        next(live_frames(tmp_path / "absent.sock", "cam"))
    assert recorder_status(cfg.live_socket) == {"cam": {"state": "recording"}}
    assert recorder_status(tmp_path / "absent.sock") is None


def test_the_socket_is_not_open_to_other_users(running):
    cfg, _ = running
    assert cfg.live_socket.stat().st_mode & 0o007 == 0


def test_a_live_stream_ends_when_its_delegation_is_revoked_R12(running, monkeypatch):
    """The web re-checks the viewer during the stream: revoking the delegation (or disabling
    the account) stops the picture within RECHECK_SECONDS, not at the end of the grant."""
    from firmware.governance.roles import Action, Role
    from firmware.governance.service import Governance
    from firmware.web import create_app, live

    from conftest import PASSWORD, add_accounts, staff
    from webutil import api, login
    cfg, tap = running
    monkeypatch.setattr(live, "RECHECK_SECONDS", 0.2)
    staff(cfg.source)
    gov = Governance.open(cfg)
    admin = gov.accounts.authenticate("t.admin", PASSWORD).actor()
    add_accounts(gov, {"a.designee": Role.DESIGNEE})     # approved by m.manager
    beheerder = gov.login("b.beheerder", PASSWORD)
    delegation = gov.grants.delegate(beheerder, "a.designee", Role.DESIGNEE, {Action.LIVE},
                                     {"cam"}, "nachtdienst", time.time() + 3600)
    app = create_app(cfg)
    c = login(app, "a.designee")
    assert api(c, "POST", "/api/cameras/cam/access", {
        "action": "live", "purpose": "safety", "reason": "ronde nachtdienst"}).status_code == 200
    response = c.get("/cameras/cam/live.mjpeg", buffered=False)
    assert response.status_code == 200
    parts = iter(response.response)
    for _ in range(3):
        assert next(parts).startswith(b"--frame")
    gov.grants.revoke(beheerder, delegation, reason="vakantie voorbij")
    rest = 0
    for _ in parts:                                  # ends by itself once the check sees it
        rest += 1
        if rest == 100:
            break
    assert rest < 50                                 # 10 fps: a few seconds at most, not 30 min
    response.close()                                 # as the server does when a response ends
    assert wait_for(lambda: tap.viewers == 0)
    again = c.get("/cameras/cam/live.mjpeg")            # the revocation ended the session too
    assert again.status_code == 302 and "/login" in again.headers["Location"]


def test_streams_closed_before_their_first_frame_give_their_place_back(running):
    """A viewer who leaves before the first part is sent (the server closes the response
    without iterating it) must not keep one of the MAX_STREAMS places."""
    from firmware.web import create_app, live

    from conftest import staff
    from webutil import api, login
    cfg, tap = running
    staff(cfg.source)
    app = create_app(cfg)
    c = login(app, "b.beheerder")
    assert api(c, "POST", "/api/cameras/cam/access", {
        "action": "live", "purpose": "safety", "reason": "controle ingang"}).status_code == 200
    from werkzeug.test import EnvironBuilder
    environ = EnvironBuilder(path="/cameras/cam/live.mjpeg", base_url="https://localhost",
                             environ_base={"REMOTE_ADDR": "127.0.0.1"},   # as a server sets
                             headers={"Cookie": "nvr_session="
                                      + c.get_cookie("nvr_session").value}).get_environ()
    for _ in range(live.MAX_STREAMS + 2):
        status = []
        body = app(dict(environ), lambda s, h, e=None: status.append(s))
        assert status == ["200 OK"]
        body.close()                                  # gone before the first part
    assert wait_for(lambda: tap.viewers == 0)
    assert live._streams._value == live.MAX_STREAMS      # every place is free again


@pytest.mark.parametrize("event", ["logout", "idle"])
def test_a_live_stream_ends_when_its_session_ends_or_idles_out_R81(running, monkeypatch, event):
    """A stream runs no longer than its session: logging out (from a copy of the cookie) or
    letting the session idle out stops the picture within RECHECK_SECONDS."""
    from firmware.governance.service import Governance
    from firmware.web import create_app, live

    from conftest import staff
    from webutil import api, login, replay
    cfg, tap = running
    monkeypatch.setattr(live, "RECHECK_SECONDS", 0.2)
    staff(cfg.source)
    app = create_app(cfg)
    c = login(app, "b.beheerder")
    assert api(c, "POST", "/api/cameras/cam/access", {
        "action": "live", "purpose": "safety", "reason": "controle ingang"}).status_code == 200
    response = c.get("/cameras/cam/live.mjpeg", buffered=False)
    assert response.status_code == 200
    parts = iter(response.response)
    for _ in range(3):
        assert next(parts).startswith(b"--frame")
    if event == "logout":
        assert api(replay(app, c), "POST", "/api/logout").status_code == 200
    else:
        gov = Governance.open(cfg)
        gov.accounts.db.execute("UPDATE sessions SET seen = seen - 16 * 60")
        gov.close()
    rest = 0
    for _ in parts:
        rest += 1
        if rest == 100:
            break
    assert rest < 50
    response.close()
    assert wait_for(lambda: tap.viewers == 0)
