"""Red team of issue 12: restarts counted (firmware/cli/device.py cmd_run,
firmware/storage/restarts.py, docs/recording.md "Watchdog").

A recorder whose camera never delivers never says READY=1; systemd's start timeout
(TimeoutStartSec=180) then stops it with SIGTERM and Restart=on-failure starts it again, every
three minutes, for as long as the camera is gone. SIGTERM was taken for a clean stop: the
restart marker was removed, so none of those restarts was counted (nvr_recorder_restarts,
NvrRecorderRestarted) nor logged. Under systemd (NOTIFY_SOCKET) a stop before READY=1 is a
failed start and counts. Written first; it failed on that code."""

from __future__ import annotations

from test_watchdog import _restarts, notify, start, stop  # noqa: F401  (notify: fixture)

from conftest import write_config


def test_a_start_stopped_by_systemd_before_ready_counts_as_a_restart_R82(tmp_path, notify):
    freeze = tmp_path / "freeze"
    freeze.touch()                                       # the camera delivers nothing
    config = write_config(tmp_path, camera_extra=f'freeze_file = "{freeze}"')
    first = start(config, notify)
    try:
        for line in first.stdout:
            if line.startswith("recording "):
                break
        out, err = stop(first)                           # SIGTERM: systemd's start timeout
    finally:
        first.kill()
    assert not any(m.get("READY") == "1" for m in notify.rest()), "it said READY=1"
    freeze.unlink()                                      # the camera is back
    again = start(config, notify, NRESTARTS="1")
    try:
        notify.wait_for(again, lambda m: m.get("READY") == "1", "READY=1 after the restart")
        out, _ = stop(again)
    finally:
        again.kill()
    assert "restarted after an unclean end" in out, out
    counted, last, logged = _restarts(config)
    assert counted == 1 and last["previous_pid"] == first.pid
    assert len(logged) == 1


def test_a_stop_before_ready_without_systemd_is_a_clean_stop(tmp_path):
    """By hand (no NOTIFY_SOCKET), Ctrl-C before the first frame is an ordinary stop."""
    freeze = tmp_path / "freeze"
    freeze.touch()
    config = write_config(tmp_path, camera_extra=f'freeze_file = "{freeze}"')
    first = start(config, None)
    try:
        for line in first.stdout:
            if line.startswith("recording "):
                break
        stop(first)
    finally:
        first.kill()
    assert _restarts(config)[0] == 0
