"""Red team 14c: hardware.md's acceptance checklist asks the technisch beheerder for commands
the image does not let them run.

Issue 14's "done when": hardware.md lets a technisch beheerder buy, assemble and deploy a
recorder without asking anyone, with a checklist run on a real device. The image makes that
person the OS account `beheer`: no password, no group, sudo for /usr/local/sbin/nvr-admin and
nothing else (nvr-first-user; R-11). The checklist ("Hardware acceptance checklist") says
`nvr` is `nvr-admin` on an installed device, and then asks for:
- step 9 (status LED): `sudo systemctl stop nvr-recorder` and `sudo systemctl start
  nvr-recorder`: sudo refuses both to beheer, and nvr-admin has `restart` only (no stop);
- step 2: `rpicam-hello --list-cameras` "before the recorder holds the camera" (the recorder
  cannot be stopped, and the camera device belongs to the group video, which beheer is not in);
- steps 1 and 12: `vcgencmd get_throttled` / `measure_temp` (/dev/vcio, group video too).
The last two need a Pi to show; step 9 is shown here with real sudo. Either the checklist names
what beheer can do (e.g. a `nvr-admin` action for the LED test and the board's state), or the
steps say who else (root on the console: the image has none) does them.

Real sudo, visudo and nvr-first-user in the mount namespace of tests/test_fleetrole.py."""

from __future__ import annotations

import re
from pathlib import Path

from test_fleetrole import _as_beheer, device, needs_root, piroot  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]


def _step(number: int) -> str:
    text = (ROOT / "hardware.md").read_text()
    checklist = text[text.index("## Hardware acceptance checklist"):]
    return re.search(rf"^{number}\. .*?(?=^\d+\. |\Z)", checklist, re.M | re.S).group(0)


@needs_root
def test_the_checklists_led_step_can_be_run_by_the_technisch_beheerders_account(device):  # noqa: F811
    """LOW-MEDIUM (a documented step nobody on the device can perform; the checklist is the
    acceptance of the hardware)."""
    step = _step(9)
    commands = re.findall(r"`(sudo [^`]+)`", step)
    assert commands, step                        # the step as hardware.md writes it today
    refused = []
    for command in commands:
        done = _as_beheer(device, command.replace("sudo ", "sudo -n ", 1))
        if done.returncode != 0:
            refused.append(f"{command}: {done.stderr.strip()}")
    assert not refused, ("hardware.md's checklist step 9 asks beheer for what sudo refuses "
                         "it on the image:\n" + "\n".join(refused))
