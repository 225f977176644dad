"""Red team 14c: the technisch beheerder reads every hold's reason and request without an
account, against R-11's column (holds: no).

REQUIREMENTS.md R-11: technisch beheerder | live view no | playback no | export no | **holds
no** | requests no | logbook no | system config, users. The image gives that person `sudo
nvr-admin`, which runs `hold list` without a password (docs/units.md, "What sudo nvr-admin
runs": "`hold list` | nvr-web | holds: window, reason, request"), and `nvr hold list` asks no
account at all: `--json` prints each hold's camera, window, reference and the **reason** a
beheerder typed, which names the incident and often the people in it (a theft, an assault,
who reported it). That is the content of the beheerder's and the privacy officer's work
(art. 9, art. 10 requests), not system configuration. The web disagrees with the CLI: its
page Holds needs Action.HOLD (web/routes.py), which the technisch beheerder's role lacks.

Real `nvr` subprocesses: a hold made by the beheerder with their account, then `hold list` as
nvr-admin runs it for the technisch beheerder (no --user)."""

from __future__ import annotations

import json
from datetime import timedelta

from conftest import nvr, staff, write_config
from test_store import now_utc

REASON = "aangifte fietsdiefstal door J. de Vries, gemeld door buurman P. Bakker"


def test_hold_list_without_an_account_shows_no_reason_or_request_R11(tmp_path):
    """MEDIUM-LOW (personal data in a hold's reason, R-11's holds column). Expected once
    fixed: `hold list` needs an account whose role may see holds (beheerder, privacy
    officer; nvr-admin's with_account list), or shows the technisch beheerder only what
    capacity planning needs (that footage is held, and until when), never reason or
    reference."""
    config = write_config(tmp_path)
    env = staff(config)
    start = now_utc() - timedelta(hours=2)
    made = nvr("--config", str(config), "hold", "add", "--camera", "cam",
               "--start", start.isoformat(), "--end", (start + timedelta(hours=1)).isoformat(),
               "--reason", REASON, "--reference", "PV-2026-1188", "--user", "b.beheerder",
               env=env)
    assert made.returncode == 0, made.stderr
    env.pop("NVR_PASSWORD")
    listed = nvr("--config", str(config), "hold", "list", "--json", env=env)
    assert listed.returncode != 0 or not any(
        REASON in json.dumps(h) or "PV-2026-1188" in json.dumps(h)
        for h in json.loads(listed.stdout)), (
        "`hold list` without any account (as sudo nvr-admin runs it for the technisch "
        f"beheerder) shows the hold's reason and request: {listed.stdout.strip()[:300]}")
