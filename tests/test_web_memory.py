"""The web process gives large blocks back (issue 11: it grew from 104 MB to 240 MB with a few
logins, each Argon2 hash 19 MiB, and to 343 MB with playbacks; bench/web.py measures it).

glibc raises its mmap threshold to the size of every mapped block freed, so after the first
login a 19 MiB block is taken from a server thread's heap and that heap keeps it. Proven here
on the allocator itself in a fresh process (mallinfo2's count of mapped blocks), the way the
real `nvr web` sets it up: by constructing its WebServer.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from conftest import PASSWORD, ROOT, ffprobe, load, write_config

PROBE = textwrap.dedent("""
    import ctypes, sys
    from pathlib import Path

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost")]

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    if sys.argv[1] == "web":                 # as `nvr web` starts its server
        from firmware.config import load
        from firmware.web import create_app
        from firmware.web.server import WebServer
        cfg = load(Path(sys.argv[2]))
        WebServer(create_app(cfg), "127.0.0.1", 0, cfg.storage.key_dir, cfg.device.id)
    size = 19 * 1024 * 1024                  # one Argon2 hash (accounts.HASHER)
    libc.free(libc.malloc(size))             # the first login's hash, freed
    before = libc.mallinfo2().hblks
    block = libc.malloc(size)                # the next login's
    print(libc.mallinfo2().hblks - before)   # 1 if it got a mapping of its own
    libc.free(block)
""")


def _mapped_blocks(*args: str) -> int:
    result = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True,
                            text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    return int(result.stdout.split()[-1])


def test_web_process_maps_each_large_block_and_unmaps_it_when_freed(tmp_path):
    config = write_config(tmp_path)
    # Without the web's setting, glibc keeps the second 19 MiB block in its heap (the cause).
    assert _mapped_blocks("plain") == 0
    # The web server's process maps it on its own, so freeing it returns it to the system.
    assert _mapped_blocks("web", str(config)) == 1


SERVE_BLURRED = textwrap.dedent("""
    import sys
    from pathlib import Path
    from firmware.config import load
    from firmware.web import create_app
    app = create_app(load(Path(sys.argv[1])))
    app.config["TESTING"] = True
    c = app.test_client()
    https = {"base_url": "https://localhost"}      # the Secure cookie, as a browser sends it
    token = c.get("/api/session", **https).get_json()["csrf"]
    r = c.post("/api/login", json={"name": "b.beheerder", "password": sys.argv[4]},
               headers={"X-CSRF-Token": token}, **https)
    assert r.status_code == 200, r.get_data()
    shown = c.get(sys.argv[2], **https)
    assert shown.status_code == 200, shown.get_data()
    Path(sys.argv[3]).write_bytes(shown.data)
    print(sorted(m for m in ("av", "cv2") if m in sys.modules))
""")


def test_blurred_inzage_is_made_in_a_child_the_web_loads_no_pyav_or_opencv_R73(site, tmp_path):
    """Issue 11: PyAV and OpenCV cost a process 44 MB for good; the web's blurred inzage
    (art. 10 lid 4-5, R-73) runs them in a child that ends with the segment."""
    from test_viewing import ready, take_in, video_url

    from firmware.storage.store import EncryptedStore
    app, config = site
    store = EncryptedStore.from_config(load(config))
    footage = store.list_segments("cam")
    store.close()
    req = take_in(app, footage)
    ready(app, req["id"])
    out = tmp_path / "blurred.mp4"
    result = subprocess.run([sys.executable, "-c", SERVE_BLURRED, str(config),
                             video_url(req["id"], footage[1]["id"], "?regions=0,0,0.5,1"),
                             str(out), PASSWORD], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[-2] == "[]"              # the web process loaded neither
    probe = ffprobe(out)                                      # a real, playable MP4
    assert [s["codec_type"] for s in probe["streams"]] == ["video"]
    assert int(probe["streams"][0]["width"]) == 320


def test_blur_child_refusal_reaches_the_page_in_dutch():
    from firmware.playback.blur_process import BlurRefused, blur_in_child
    try:
        blur_in_child(b"not an mp4 at all", regions=[(0, 0, 0.5, 1)], detect=False)
    except BlurRefused as exc:
        assert exc.message and "Traceback" not in exc.message
    else:
        raise AssertionError("garbage was blurred")
