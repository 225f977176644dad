"""Red team of issue 14 item 4 (image/fleet/): can a playbook get a technisch beheerder past the
logbook? The real `ansible-playbook` runs site.yml's update tasks on this machine (`-c local`),
as tests/test_fleet.py does, against a device directory made by the real `nvr init`."""

from __future__ import annotations

import json
import subprocess
import sys

from test_fleet import BIN, INVENTORY, initialised, needs_ansible, recorders, run, wheel

from firmware.config import load
from firmware.governance.service import Governance


@needs_ansible
def test_a_firmware_update_from_a_wheel_is_in_the_usage_logbook_R50(tmp_path):
    """The same change of firmware has two ways in image/fleet/: update-bundle.yml (a signed
    bundle, `nvr update install --user YOU`: the role checked, R-11, and `update-install` in
    the usage logbook with version and sha256, R-50) and site.yml with `nvr_wheel` (any wheel,
    unsigned, installed with pip into /opt/nvr as root): no account is asked, no role checked,
    and nothing reaches the logbook. The firmware decides who sees footage; replacing it with
    code of one's own choosing is the largest change a technisch beheerder can make, and the
    wheel path leaves no trace on the device.
    Expected once fixed: the wheel update is logged in the usage logbook under a personal
    account with the version installed (as update-install is), or refused."""
    venv = tmp_path / "opt-nvr"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    config = initialised(tmp_path)
    host = sorted(recorders())[0]
    whl = wheel(tmp_path / "control", "7.7.7")
    done = run([str(BIN / "ansible-playbook"), "-i", str(INVENTORY), "site.yml",
                "--limit", host, "--tags", "update", "-c", "local",
                "-e", json.dumps({"ansible_become": False, "nvr_config_file": str(config),
                                  "nvr_bin": str(BIN / "nvr"), "nvr_units": [],
                                  "nvr_venv": str(venv), "nvr_wheel": str(whl),
                                  "nvr_wheelhouse": str(tmp_path / "device-wheelhouse"),
                                  "ansible_python_interpreter": sys.executable})], tmp_path)
    installed = subprocess.run([str(venv / "bin" / "python"), "-c",
                                "import nvr_fleet_probe; print(nvr_fleet_probe.VERSION)"],
                               capture_output=True, text=True).stdout.strip()
    gov = Governance.open(load(config))
    try:
        usage = [dict(r) for r in gov.logbook.db.execute(
            "SELECT actor, action, subject, details FROM logbook WHERE book = 'usage' "
            "ORDER BY n")]
    finally:
        gov.close()
    if installed == "7.7.7":
        assert done.returncode == 0, done.stdout + done.stderr
        logged = [e for e in usage if "7.7.7" in f"{e['subject']} {e['details']}"]
        assert logged, ("the firmware was replaced by a wheel (7.7.7) and the usage logbook "
                        f"does not say so: {[(e['actor'], e['action']) for e in usage]}")
    else:                                          # refused: fine, if it says why
        assert done.returncode != 0 and "update-bundle.yml" in done.stdout + done.stderr
