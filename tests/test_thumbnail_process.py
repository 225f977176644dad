"""Thumbnails are made in a child process, so the web process never loads PyAV and OpenCV
(issue 11: they cost a process about 44 MB for good, docs/benchmarks.md). One worker serves
many thumbnails over a pipe (a day page asks for up to 40), decrypted segment bytes in, JPEG
bytes out, and ends after it has been idle, giving its memory back."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import cv2
import numpy as np

from conftest import PASSWORD, ROOT, load

SERVE_THUMBNAILS = textwrap.dedent("""
    import sys
    from pathlib import Path
    from firmware.config import load
    from firmware.web import create_app
    app = create_app(load(Path(sys.argv[1])))
    app.config["TESTING"] = True
    c = app.test_client()
    https = {"base_url": "https://localhost"}      # the Secure cookie, as a browser sends it
    token = c.get("/api/session", **https).get_json()["csrf"]
    headers = {"X-CSRF-Token": token}
    r = c.post("/api/login", json={"name": "b.beheerder", "password": sys.argv[3]},
               headers=headers, **https)
    assert r.status_code == 200, r.get_data()
    r = c.post("/api/cameras/cam/access", json={"action": "playback", "purpose": "incident",
               "reason": "fietsendiefstal bij de ingang"}, headers=headers, **https)
    assert r.status_code == 200, r.get_data()
    for i, segment in enumerate(sys.argv[4:]):
        shown = c.get(f"/segments/{segment}/thumbnail", **https)
        assert shown.status_code == 200, shown.get_data()
        Path(sys.argv[2], f"{i}.jpg").write_bytes(shown.data)
    print(sorted(m for m in ("av", "cv2") if m in sys.modules))
""")


def _segments(config) -> list[dict]:
    from firmware.storage.store import EncryptedStore
    store = EncryptedStore.from_config(load(config))
    try:
        return store.list_segments("cam")
    finally:
        store.close()


def _plaintext(config, segment_id: str) -> bytes:
    from firmware.storage.store import EncryptedStore
    store = EncryptedStore.from_config(load(config))
    try:
        return b"".join(store.read_segment(segment_id))
    finally:
        store.close()


def _picture(jpeg: bytes):
    return cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)


def test_web_serves_thumbnails_without_loading_pyav_or_opencv(site, tmp_path):
    _app, config = site
    ids = [s["id"] for s in _segments(config)[:3]]
    result = subprocess.run([sys.executable, "-c", SERVE_THUMBNAILS, str(config), str(tmp_path),
                             PASSWORD, *ids], capture_output=True, text=True, cwd=ROOT,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[-2] == "[]"              # the web process loaded neither
    for i in range(len(ids)):
        jpeg = (tmp_path / f"{i}.jpg").read_bytes()
        assert jpeg[:3] == b"\xff\xd8\xff"                     # a real JPEG
        picture = _picture(jpeg)
        assert picture.shape[1] == 160 and picture.std() > 5   # a picture, not a blank


def test_one_worker_serves_many_thumbnails_then_ends_when_idle(site):
    from firmware.playback.thumbnail_process import ThumbnailWorker
    _app, config = site
    segments = [_plaintext(config, s["id"]) for s in _segments(config)[:3]]
    worker = ThumbnailWorker(idle_seconds=1)
    assert worker.pid is None                                  # started on demand
    first = worker.make(segments[0])
    pid = worker.pid
    assert pid is not None
    for data in segments[1:]:
        assert _picture(worker.make(data)).shape[1] == 160
        assert worker.pid == pid                               # the same child served them
    assert _picture(first).shape[1] == 160
    deadline = time.monotonic() + 60                           # a wait, not a speed goal
    while worker.alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not worker.alive()                                  # idle: it ended, memory back
    assert _picture(worker.make(segments[0])).shape[1] == 160  # and a new one starts on demand
    assert worker.pid != pid
    worker.stop()
    assert not worker.alive()


def test_worker_refuses_what_holds_no_picture_and_keeps_serving(site):
    from firmware.playback.thumbnail import NoPicture
    from firmware.playback.thumbnail_process import ThumbnailWorker
    _app, config = site
    worker = ThumbnailWorker(idle_seconds=30)
    try:
        try:
            worker.make(b"not an mp4 at all")
        except NoPicture as exc:
            assert "Traceback" not in str(exc)
        else:
            raise AssertionError("garbage made a thumbnail")
        pid = worker.pid
        data = _plaintext(config, _segments(config)[0]["id"])
        assert _picture(worker.make(data)).shape[1] == 160
        assert worker.pid == pid                               # the refusal did not end it
    finally:
        worker.stop()


def test_worker_killed_between_requests_is_started_again(site):
    """A worker that ended on its own (idle, or killed) just before a request: a new one."""
    import os
    import signal
    from firmware.playback.thumbnail_process import ThumbnailWorker
    _app, config = site
    data = _plaintext(config, _segments(config)[0]["id"])
    worker = ThumbnailWorker(idle_seconds=30)
    try:
        worker.make(data)
        os.kill(worker.pid, signal.SIGKILL)
        killed = worker.pid
        assert _picture(worker.make(data)).shape[1] == 160
        assert worker.pid != killed
    finally:
        worker.stop()


def test_a_failed_thumbnail_is_a_503_in_dutch_with_what_to_do(site, monkeypatch):
    """A worker past its deadline is ended and the page says so in Dutch (not a 500)."""
    from webutil import api, login

    from firmware.playback.thumbnail_process import ThumbnailWorker
    from firmware.web import recordings
    app, config = site
    segment = _segments(config)[-1]["id"]
    recordings.THUMBNAILS.drop(segment)
    monkeypatch.setattr(recordings, "THUMBNAIL_WORKER", ThumbnailWorker(timeout=0.001))
    c = login(app, "b.beheerder")
    assert api(c, "POST", "/api/cameras/cam/access", {
        "action": "playback", "purpose": "incident",
        "reason": "fietsendiefstal bij de ingang"}).status_code == 200
    r = c.get(f"/segments/{segment}/thumbnail")
    assert r.status_code == 503
    assert "kon niet worden gemaakt" in r.get_data(as_text=True)
    assert "technisch beheerder" in r.get_data(as_text=True)
    assert not recordings.THUMBNAIL_WORKER.alive()            # the stuck worker was ended
    assert recordings.THUMBNAILS.get(segment) is None
