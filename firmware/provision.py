"""`nvr init DIR`: a ready-to-run device directory.

DIR/nvr.toml      the configuration (every key present, with comments)
DIR/data/         footage and index (mode 0700)
DIR/keys/         device keys, deliberately not inside data/ (R-82; mode 0700), with the
                  master key master.key (mode 0600)
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from firmware.config import CONFIG_NAME, ConfigError, parse
from firmware.storage.keys import FileKeyProvider
from firmware.i18n import _


class InitError(Exception):
    pass


class NoAnswer(Exception):
    """`nvr init` asked and stdin gave no answer; the message names the flag."""


_TEMPLATE = """\
# Recorder configuration, written by `nvr init` on {today}.
# Every key is explained in docs/configuration.md. Relative paths are relative to this file.

[device]
id = "{device_id}"
name = "Gemeentehuis Soest"
timezone = "Europe/Amsterdam"

[storage]
data_dir = "data"            # footage (and the index, unless index_dir is set)
key_dir = "keys"             # device keys: never inside data_dir (R-82)
retention_days = 28          # at most 28 (R-40)
segment_seconds = 10
high_water_percent = 90      # above this disk use the oldest unheld footage goes (R-42)
cipher = "chacha20-poly1305" # or "aes-256-gcm" (faster only on CPUs with AES instructions)

[web]
host = "127.0.0.1"
port = 8443
live_fps = 10                # live view frames per second (made only while someone watches)
live_width = 960             # live view picture width

[export]
# Development only: a directory that stands in for the encrypted USB stick. Leave it empty on
# a device: exports then go to the export helper (exportd), which mounts the USB stick (R-61).
directory = "{export_dir}"

[[cameras]]
id = "entree"
name = "Hoofdingang"
location = "Gemeentehuis Soest, hoofdingang"
source = "{source}"          # picamera2 | synthetic | file | v4l2
path = ""                    # file: a video file; v4l2: a device such as /dev/video0
width = {width}
height = {height}
fps = {fps}
lores_width = 320
lores_height = 240
bitrate_kbps = 4000
keyframe_seconds = 1.0
preroll_seconds = 5
postroll_seconds = 10
# Polygons of [x, y] points as fractions of the image (0.0 top/left, 1.0 bottom/right),
# blacked out before anything is stored or shown (R-02). The example hides an office window.
privacy_masks = [[[0.70, 0.15], [0.95, 0.15], [0.95, 0.45], [0.70, 0.45]]]
# Art. 11: does the camera see staff at work? Then it is a personnel tracking system and
# records only after the works council's (OR) approval, by reference and date.
staff_in_view = {staff_in_view}
works_council_reference = {works_council_reference}
works_council_date = {works_council_date}      # e.g. 2026-03-31

[cameras.motion]
threshold = 25               # luma difference that counts as change (lower: more sensitive)
min_area = 0.004             # fraction of the watched area that must change
trigger_frames = 2           # frames in a row before an event opens
zones = []                   # polygons where motion counts; empty: the whole image
ignore = []                  # polygons where motion never counts (trees, flags)

[introduction]
# "De DPIA ... wordt uitgevoerd voordat de camera's worden ingeschakeld" (the regulation's
# introduction): no camera records until the DPIA is named here, dated today or earlier.
dpia_reference = {dpia_reference}
dpia_date = {dpia_date}               # e.g. 2026-03-02
# Art. 6 lid 3: where the signs announcing camera surveillance hang (at the entrances).
signage = {signage}
"""


@dataclass(frozen=True)
class Introduction:
    """What `nvr init` asks: staff in view (art. 11) and the works council's approval, the
    DPIA (the regulation's introduction) and where the signs hang (art. 6 lid 3)."""
    staff_in_view: bool
    dpia_reference: str = ""
    dpia_date: str = ""
    signage: tuple[str, ...] = ()
    works_council_reference: str = ""
    works_council_date: str = ""

    def template_values(self) -> dict:
        """TOML values for the template (a JSON string is a valid TOML basic string)."""
        def toml(value) -> str:
            return json.dumps(value, ensure_ascii=False)
        return {"staff_in_view": "true" if self.staff_in_view else "false",
                "works_council_reference": toml(self.works_council_reference),
                "works_council_date": toml(self.works_council_date),
                "dpia_reference": toml(self.dpia_reference),
                "dpia_date": toml(self.dpia_date), "signage": toml(list(self.signage))}


_SIZES = {"picamera2": (1920, 1080, 25), "synthetic": (1280, 720, 25),
          "file": (1280, 720, 25), "v4l2": (1280, 720, 25)}


def config_text(source: str, introduction: Introduction, device_id: str) -> str:
    """The configuration `nvr init` writes (also `nvr firstboot`'s when the image has none)."""
    width, height, fps = _SIZES[source]
    return _TEMPLATE.format(today=date.today().isoformat(), device_id=device_id, source=source,
                            width=width, height=height, fps=fps,
                            export_dir="" if source == "picamera2" else "usb-stand-in",
                            **introduction.template_values())


def init_device(directory: Path, source: str = "synthetic", *,
                introduction: Introduction) -> Path:
    """Write a new device directory; refuse to touch an existing configuration or data."""
    directory = Path(directory)
    if source not in _SIZES:
        raise InitError(_("unknown source %(source)s; choose one of %(choices)s",
                          source=repr(source), choices=", ".join(_SIZES)))
    if (directory / CONFIG_NAME).exists():
        raise InitError(_("%(path)s exists already; nvr init never overwrites. Edit it, or "
                          "choose a new directory.", path=directory / CONFIG_NAME))
    if directory.exists() and any(directory.iterdir()):
        raise InitError(_("%(directory)s is not empty; nvr init writes only into a new or empty "
                          "directory", directory=directory))
    host = re.sub(r"[^a-z0-9_-]", "-", socket.gethostname().lower())[:32].strip("-") or "nvr"
    text = config_text(source, introduction, host)
    path = directory / CONFIG_NAME
    # Validate before writing, so `init` never leaves a configuration that does not load.
    try:
        parse(text, str(path), directory.resolve())
    except ConfigError as exc:
        raise InitError("; ".join(exc.problems)) from None
    directory.mkdir(parents=True, exist_ok=True)
    for sub in ("data", "keys"):
        (directory / sub).mkdir(mode=0o700)
        os.chmod(directory / sub, 0o700)
    path.write_text(text, encoding="utf-8")
    FileKeyProvider(directory / "keys").create()       # back it up: without it, no footage
    return path


# --- what `nvr init` asks (the answers may also come as flags) --------------------------------

def _ask(question: str, flag: str, check=None, empty: bool = True) -> str:
    """One answer from stdin, asked again while `check` (returns a problem or None) objects."""
    while True:
        print(question, end=" ", flush=True)
        line = sys.stdin.readline()
        if not line:
            raise NoAnswer(_("no answer to \"%(question)s\": answer it, or pass %(flag)s",
                             question=question, flag=flag))
        answer = line.strip()
        problem = (None if not answer and empty else "an answer is needed" if not answer
                   else check(answer) if check else None)
        if problem is None:
            return answer
        print(f"  {problem}", flush=True)


def _date_problem(text: str) -> str | None:
    try:
        date.fromisoformat(text)
    except ValueError:
        return f"{text!r} is not a date like 2026-03-31"
    return None


def yes(text: str) -> bool | None:
    """yes/no (or ja/nee) as a bool; None for anything else."""
    return {"yes": True, "y": True, "ja": True, "j": True,
            "no": False, "n": False, "nee": False}.get(text.strip().lower())


def ask_introduction(*, staff_in_view: str | None, dpia_reference: str | None,
                     dpia_date: str | None, signage: list[str] | None,
                     works_council_reference: str | None,
                     works_council_date: str | None) -> Introduction:
    """What `nvr init` must know before a camera may record (the DPIA of the introduction,
    art. 11, art. 6 lid 3): each value given (a flag), else asked on stdin. An empty DPIA or
    works-council answer is allowed (recording then waits); staff in view needs yes or no."""
    dpia = dpia_reference
    if dpia is None:
        dpia = _ask("DPIA reference (kenmerk)? Empty if the DPIA is not done yet: no camera "
                    "records before it.", "--dpia-reference")
    if dpia_date is None and dpia:
        dpia_date = _ask("Date the DPIA was completed (YYYY-MM-DD)?", "--dpia-date",
                         _date_problem, empty=False)
    if signage is None:
        signage = _ask("Where do the signs announcing camera surveillance hang (art. 6 lid 3; "
                       "places, separated by commas)?", "--signage").split(",")
    staff = yes(staff_in_view) if staff_in_view is not None else None
    if staff is None:
        staff = yes(_ask("Are staff at work in view of the camera 'entree' (yes/no; art. 11: "
                         "then it records only after the works council's approval)?",
                         "--staff-in-view yes|no",
                         lambda a: None if yes(a) is not None else "answer yes or no",
                         empty=False))
    council, council_date = works_council_reference, works_council_date
    if staff and council is None:
        council = _ask("Reference of the works council's (OR) approval? Empty if not given "
                       "yet: the camera records only after it.", "--works-council-reference")
    if staff and council and council_date is None:
        council_date = _ask("Date of the works council's approval (YYYY-MM-DD)?",
                            "--works-council-date", _date_problem, empty=False)
    return Introduction(staff_in_view=staff, dpia_reference=dpia or "",
                        dpia_date=dpia_date or "",
                        signage=tuple(s.strip() for s in signage if s.strip()),
                        works_council_reference=council or "",
                        works_council_date=council_date or "")
