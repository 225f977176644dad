"""`nvr run` records from the synthetic camera and stops cleanly on Ctrl-C (SIGINT)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

import av

from conftest import ROOT, decrypt_all, ffprobe, recordings, write_config


def test_run_records_and_ctrl_c_closes_the_open_segment(tmp_path):
    # The demo scene sends a passer-by at 3 s; with a 60 s segment length the event is still
    # open when we press Ctrl-C, so the only segment is the one closed on the way out.
    config = write_config(tmp_path, storage="segment_seconds = 60",
                          camera_extra="postroll_seconds = 30")
    proc = subprocess.Popen([sys.executable, "-m", "firmware.cli", "--config", str(config),
                             "run"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 60
        while not list((tmp_path / "data").rglob("*.part")):     # a segment is being written
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "no event opened within 60 s"
            time.sleep(0.3)
        time.sleep(1.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "recording 1 camera(s)" in out and "stopped; open segments closed" in out
    assert re.search(r"web interface: https://127\.0\.0\.1:\d+ ", out)
    assert "no accounts yet" in out and "user add NAME --role technisch-beheerder" in out
    assert "event" in err and "closes at" in err
    rows = recordings(config)
    assert len(rows) == 1 and len(list((tmp_path / "data").rglob("*.seg"))) == 1
    assert not list((tmp_path / "data").rglob("*.part"))
    segments = decrypt_all(config, rows, tmp_path / "plain")
    info = ffprobe(segments[0])
    assert [s["codec_type"] for s in info["streams"]] == ["video"]
    assert float(info["format"]["duration"]) > 2.0
    with av.open(str(segments[0])) as c:
        assert sum(1 for _ in c.decode(video=0)) > 50
