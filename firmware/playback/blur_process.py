"""Blurring in a child process, so the web process never loads PyAV, OpenCV and libx264.

Importing firmware.playback.blur costs a process about 44 MB (PyAV 17 MB, OpenCV 26 MB) that
it keeps for good, and a blurred segment decodes and encodes whole frames. The web serves an
inzage with `blur_in_child`: the decrypted segment goes to a child (`python -m
firmware.playback.blur_process`) through a pipe and the blurred MP4 comes back through a pipe,
in memory only as before (never a file). The child ends after one segment, and its memory
with it. Measured with bench/web.py: 10 blurred inzage segments left the web process 50 MB
larger before, nothing now.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence

from firmware.i18n import _

Region = tuple[float, float, float, float]
REFUSED = 3                    # the child's exit status for a BlurError (message on stderr)
TIMEOUT_SECONDS = 600


class BlurRefused(Exception):
    """The footage could not be blurred; the message is for the page that asked."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def blur_in_child(data: bytes, *, regions: Sequence[Region] = (), detect: bool = True) -> bytes:
    """`firmware.playback.blur.blur_mp4(data, regions=..., detect=...)`, run in a child."""
    settings = json.dumps({"regions": [list(r) for r in regions], "detect": bool(detect)})
    try:
        done = subprocess.run([sys.executable, "-m", __name__, settings], input=data,
                              capture_output=True, timeout=TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        raise BlurRefused(_("blurring this segment took longer than %(seconds)s seconds; "
                            "try again, or ask the technisch beheerder to check the device's "
                            "load", seconds=TIMEOUT_SECONDS)) from None
    if done.returncode == REFUSED:
        raise BlurRefused(done.stderr.decode("utf-8", "replace").strip())
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["-"]
        raise BlurRefused(_("blurring this segment failed (%(detail)s); nothing was shown. "
                            "Try again, or ask the technisch beheerder to check the device",
                            detail=detail[0]))
    return done.stdout


def main(argv: list[str]) -> int:
    """The child: settings as JSON in argv[0], the segment on stdin, the blurred MP4 out."""
    from firmware.playback.blur import BlurError, blur_mp4
    settings = json.loads(argv[0])
    regions = [tuple(float(v) for v in r) for r in settings["regions"]]
    data = sys.stdin.buffer.read()
    try:
        out = blur_mp4(data, regions=regions, detect=bool(settings["detect"]))
    except BlurError as exc:
        sys.stderr.write(exc.message)
        return REFUSED
    sys.stdout.buffer.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
