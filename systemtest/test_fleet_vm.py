"""The fleet's playbooks run for real against the virtual device (issue 14 item 4, "the fleet
playbook runs against the virtual device"): the venv's `ansible-playbook` on the host drives the
guest over its ssh port forward as root (no sudo in the guest: `ansible_become: false`,
image/fleet/README.md), the central room being this host (`ansible_connection: local`, its
Prometheus directory in the test's tmp dir). The file sorts after test_device.py, so these checks
run on the same guest after the device's own checks, and leave it recording."""

from __future__ import annotations

import grp
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from systemtest.stick import STAFF_PASSWORD, first_accounts
from systemtest.test_device import RECORDER, main_pid, readyz, segments, wait_for
from systemtest.vm import VirtualDevice

REPO = Path(__file__).resolve().parent.parent
FLEET = REPO / "image" / "fleet"
BIN = Path(sys.executable).parent
CONFIG = "/etc/nvr/nvr.toml"
SCRAPER = "prometheus-centrale-ruimte"

# The device's settings as the image has them (tools/vm/provision.sh): the synthetic camera,
# small enough for an emulated CPU, and the watchdog's stalled-camera seam.
CAMERA = {"id": "entree", "name": "Hoofdingang", "location": "Gemeentehuis Soest, hoofdingang",
          "source": "synthetic", "width": 320, "height": 240, "fps": 5, "bitrate_kbps": 250,
          "staff_in_view": False, "freeze_file": "/run/nvr-systemtest-freeze",
          "privacy_masks": [[[0.70, 0.15], [0.95, 0.15], [0.95, 0.45], [0.70, 0.45]]]}


class Fleet:
    """Inventory and `ansible-playbook` runs for one guest; everything Ansible keeps under
    `tmp` (its temp dirs, ssh control sockets, the central room's Prometheus directory)."""

    def __init__(self, device: VirtualDevice, tmp: Path):
        self.device, self.tmp = device, tmp
        self.prometheus_dir = tmp / "prometheus"
        self.inventory = tmp / "vm.yml"
        vm = {"ansible_host": "127.0.0.1", "ansible_port": device.port, "ansible_user": "root",
              "ansible_ssh_private_key_file": str(device.key),
              # the VM's host key is new with every image: not checked, for the VM only
              "ansible_ssh_common_args": "-o StrictHostKeyChecking=no "
                                         "-o UserKnownHostsFile=/dev/null",
              "ansible_become": False, "ansible_python_interpreter": "/usr/bin/python3",
              "nvr_device_id": "vm", "nvr_device_name": "Gemeentehuis Soest",
              "nvr_dpia_reference": "DPIA virtueel apparaat (systeemtest)",
              "nvr_dpia_date": (date.today() - timedelta(days=1)).isoformat(),
              "nvr_signage": ["hoofdingang (virtueel apparaat)"], "nvr_cameras": [CAMERA]}
        central = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                   "ansible_become": False}
        self.inventory.write_text(yaml.safe_dump({"all": {"children": {
            "recorders": {"hosts": {"vm": vm}},
            "centrale_ruimte": {"hosts": {"centrale": central}}}}}))

    def env(self) -> dict:
        return {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}",
                "ANSIBLE_LOCAL_TEMP": str(self.tmp / "ansible-local"),
                "ANSIBLE_SSH_CONTROL_PATH_DIR": str(self.tmp / "cp"),
                "ANSIBLE_PIPELINING": "1",          # one ssh round trip per task (root, no sudo)
                "ANSIBLE_HOST_KEY_CHECKING": "0", "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_RETRY_FILES_ENABLED": "0"}

    def play(self, playbook: str, *extra: str, **variables) -> subprocess.CompletedProcess:
        """`ansible-playbook -i vm.yml PLAYBOOK` from image/fleet, variables as -e JSON; its
        output printed for the run's log (the secrets' absence is asserted by the callers)."""
        cmd = [str(BIN / "ansible-playbook"), "-i", str(self.inventory), playbook, *extra]
        if variables:
            cmd += ["-e", json.dumps(variables)]
        done = subprocess.run(cmd, cwd=FLEET, env=self.env(), capture_output=True, text=True,
                              timeout=1800)
        print(f"[system-test] ansible-playbook {playbook} {' '.join(extra)}: exit "
              f"{done.returncode}\n{recap(done.stdout)}", flush=True)
        return done


def recap(out: str) -> str:
    return "\n".join(line for line in out.splitlines() if re.match(r"^\S+\s+: ok=", line))


def counts(out: str, host: str = "vm") -> dict[str, int]:
    line = re.search(rf"^{host}\s+:(.*)$", out, re.M)
    assert line, out
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line.group(1))}


def task_result(out: str, task: str, host: str = "vm") -> str:
    """What Ansible printed for `task` on `host`: ok, changed, skipping, failed, fatal."""
    block = out.split(f"TASK [{task}]", 1)
    assert len(block) == 2, f"no task {task!r} in:\n{out}"
    found = re.search(rf"^(ok|changed|skipping|failed|fatal): \[{host}\]", block[1], re.M)
    return found.group(1) if found else "(not run)"


def guest_sha256(device: VirtualDevice, path: str) -> str:
    return device.run(f"sha256sum {path}").stdout.split()[0]


def recording_after(device: VirtualDevice, since: datetime, timeout: float = 300) -> list:
    """Wait for a segment of camera entree that started after `since`: the recorder records."""
    return wait_for(f"a segment recorded after {since:%H:%M:%S}", lambda: [
        s for s in segments(device) if s["camera"] == "entree"
        and datetime.fromisoformat(s["start"]) > since], timeout, every=10)


@pytest.fixture(scope="module")
def fleet(device, tmp_path_factory) -> Fleet:
    if shutil.which("ansible-playbook", path=str(BIN)) is None:   # a failure, not a skip
        pytest.fail(f"ansible-playbook is missing in {BIN}: make .venv/.installed-stamp "
                    "(ansible-core is in the dev extra)")
    return Fleet(device, tmp_path_factory.mktemp("fleet"))


def now() -> datetime:
    return datetime.now(timezone.utc)


# --- 1. site.yml: the configuration, checked, units restarted only on a change ----------------

@pytest.mark.timeout(2400)
def test_site_yml_pushes_the_configuration_restarts_once_and_the_device_records(
        device, step, fleet):
    """The device's settings from the inventory: /etc/nvr/nvr.toml written from the template
    (root:nvr 0640) after the device's own `nvr config check` accepted it, the units restarted
    because it changed, the device ready and recording again, `nvr selftest` passing in the
    play. A second run changes nothing and restarts nothing (idempotence)."""
    pid = main_pid(device, RECORDER)
    started = now()
    with step("fleet: site.yml (configuration changed, units restarted, selftest)"):
        first = fleet.play("site.yml")
    assert first.returncode == 0, first.stdout + first.stderr
    assert task_result(first.stdout, "nvr : Write the configuration, checked by nvr config "
                                     "check before it goes live") == "changed"
    assert "RUNNING HANDLER [nvr : Restart the recorder's units]" in first.stdout
    assert task_result(first.stdout, "nvr : Run nvr selftest") == "ok"
    assert task_result(first.stdout, "nvr : Fail when the self-test fails") == "skipping"
    assert counts(first.stdout)["failed"] == 0
    written = device.run(f"stat -c '%U:%G %a' {CONFIG}; cat {CONFIG}").stdout
    assert written.startswith("root:nvr 640\n"), written
    assert "edit the inventory, not this file" in written and 'location = "Gemeentehuis Soest' \
        in written, written
    assert device.run(f"nvr --config {CONFIG} config check", check=False).returncode == 0
    restarted = main_pid(device, RECORDER)
    assert restarted not in (0, pid), (pid, restarted)
    code, body = readyz(device)
    assert code == 200 and body["ready"] is True, body       # the play waited for it
    with step("fleet: recording after the push"):
        recording_after(device, started)

    before = guest_sha256(device, CONFIG)
    # the configuration's part again (the self-test changes nothing either, and costs minutes
    # on the emulated CPU)
    with step("fleet: site.yml --tags config again (nothing changes)"):
        again = fleet.play("site.yml", "--tags", "config")
    assert again.returncode == 0, again.stdout + again.stderr
    assert counts(again.stdout)["changed"] == 0, recap(again.stdout)
    assert task_result(again.stdout, "nvr : Write the configuration, checked by nvr config "
                                     "check before it goes live") == "ok"
    assert "RUNNING HANDLER" not in again.stdout
    assert main_pid(device, RECORDER) == restarted            # not restarted for nothing
    assert guest_sha256(device, CONFIG) == before


@pytest.mark.timeout(2400)
def test_a_wrong_setting_fails_at_validation_and_leaves_the_device_untouched(
        device, step, fleet):
    """An unknown camera key and a retention above 28 days (R-40) in the inventory: the
    device's `nvr config check` refuses the new file, the play fails naming both, and the
    running configuration keeps its bytes; the recorder is not restarted and records on."""
    before, pid, started = guest_sha256(device, CONFIG), main_pid(device, RECORDER), now()
    wrong = dict(CAMERA)
    wrong["locatoin"] = wrong.pop("location")
    with step("fleet: site.yml with a wrong setting (refused)"):
        done = fleet.play("site.yml", nvr_cameras=[wrong], nvr_retention_days=35)
    out = done.stdout + done.stderr
    assert done.returncode != 0, out
    assert task_result(done.stdout, "nvr : Write the configuration, checked by nvr config "
                                    "check before it goes live") in ("failed", "fatal")
    assert "locatoin: unknown key" in out, out
    assert "retention_days" in out, out
    assert "RUNNING HANDLER" not in done.stdout
    assert guest_sha256(device, CONFIG) == before
    assert main_pid(device, RECORDER) == pid
    with step("fleet: recording on after the refused push"):
        recording_after(device, started)


# --- 4. accounts.yml: names, roles and states, no secret --------------------------------------

@pytest.mark.timeout(2400)
def test_accounts_yml_lists_the_accounts_without_a_secret(device, step, fleet):
    with step("fleet: the first accounts (if test_device has not made them)"):
        first_accounts(device)
    with step("fleet: accounts.yml"):
        done = fleet.play("accounts.yml", "-v")
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    for name in ("t.admin", "m.manager", "b.beheerder"):
        assert name in out, out
    assert STAFF_PASSWORD not in out
    assert not re.search(r"\$argon2|nvrscrape_|otpauth:|BEGIN .*KEY", out), out


# --- 3. scrape-token.yml and central-room.yml: the central room is this host --------------------

@pytest.mark.timeout(2400)
def test_scrape_token_and_central_room_then_metrics_with_the_token(device, step, fleet):
    """scrape-token.yml makes the token on the device with t.admin's password (given as the
    prompt's variable) and writes it into this host's Prometheus credentials file, unseen;
    central-room.yml fetches the device's certificate and host name and writes the Prometheus
    configuration, checked by promtool. With that token the device's /metrics answers 200 with
    nvr_ metrics over its TLS checked against the fetched certificate; a wrong token is
    refused."""
    if shutil.which("promtool") is None:
        pytest.fail("promtool is missing: apt-get install prometheus (tools/vm/host-packages.txt)")
    first_accounts(device)
    prom = fleet.prometheus_dir
    group = grp.getgrgid(os.getgid()).gr_name
    with step("fleet: scrape-token.yml"):
        issued = fleet.play("scrape-token.yml", "-v", prometheus_dir=str(prom),
                            prometheus_group=group, nvr_admin_user="t.admin",
                            nvr_admin_password=STAFF_PASSWORD, nvr_admin_totp="")
    out = issued.stdout + issued.stderr
    assert issued.returncode == 0, out
    token_file = prom / "nvr" / "vm.token"
    token = token_file.read_text().strip()
    assert token.startswith("nvrscrape_") and oct(token_file.stat().st_mode & 0o777) == "0o640"
    assert token not in out and STAFF_PASSWORD not in out

    with step("fleet: central-room.yml (promtool check rules and config)"):
        central = fleet.play("central-room.yml", prometheus_dir=str(prom),
                             prometheus_service="")
    assert central.returncode == 0, central.stdout + central.stderr
    assert token not in central.stdout + central.stderr
    config = prom / "prometheus.yml"
    check = subprocess.run(["promtool", "check", "config", str(config)], capture_output=True,
                           text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    [job] = yaml.safe_load(config.read_text())["scrape_configs"]
    hostname = device.run("hostname").stdout.strip()
    assert job["tls_config"]["server_name"] == hostname
    assert job["authorization"]["credentials_file"] == str(token_file)
    certificate = (prom / "nvr" / "vm.crt").read_text()
    assert certificate == device.run("cat /var/lib/nvr/keys/web-cert.pem").stdout

    # The scrape as the central room makes it, from inside the guest (its web listens on the
    # loopback): the fetched certificate as the only CA, the host name it was made for.
    scrape = (f"curl -s -o /tmp/fleet-metrics -w '%{{http_code}}' --cacert /tmp/fleet-ca.pem "
              f"--resolve {hostname}:8443:127.0.0.1 -H \"Authorization: Bearer $T\" "
              f"https://{hostname}:8443/metrics")
    device.run(f"printf '%s' {shlex.quote(certificate)} > /tmp/fleet-ca.pem")
    with step("fleet: /metrics with the token (curl in the guest)"):
        ok = device.run(scrape, env={"T": token}).stdout
        body = device.run("cat /tmp/fleet-metrics").stdout
        refused = device.run(scrape, env={"T": "nvrscrape_" + "0" * 40}).stdout
    assert ok == "200", (ok, body[:500])
    assert re.search(r"^nvr_\w+", body, re.M), body[:500]
    assert refused in ("401", "403"), refused


# --- 5. update-bundle.yml: a bundle signed by the development CA, refused on the VM ------------

@pytest.mark.timeout(2400)
def test_update_bundle_yml_stops_at_the_check_and_installs_nothing(device, step, fleet, tmp_path):
    """A real RAUC bundle (image/updates/dev-ca.sh, make-bundle.sh) pushed by update-bundle.yml:
    the device's `nvr update check` refuses it (signed under a CA the virtual device's keyring
    does not hold), the play stops saying why,
    runs no install and leaves neither the bundle nor a new firmware on the device."""
    if shutil.which("rauc") is None or shutil.which("mksquashfs") is None:
        pytest.fail("rauc and mksquashfs are missing: apt-get install rauc squashfs-tools "
                    "(tools/vm/host-packages.txt)")
    updates = REPO / "image" / "updates"
    ca = tmp_path / "dev-ca"
    subprocess.run(["sh", str(updates / "dev-ca.sh"), str(ca)], check=True, capture_output=True)
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "noise").write_bytes(os.urandom(1 << 20))   # squashfs > one block
    subprocess.run(["mkfs.ext4", "-q", "-d", str(tmp_path / "root"), str(tmp_path / "rootfs.ext4"),
                    "4M"], check=True, capture_output=True)
    bundle = tmp_path / "nvr-9.0.0.raucb"
    made = subprocess.run(["sh", str(updates / "make-bundle.sh"), str(tmp_path / "rootfs.ext4"),
                           "9.0.0", str(bundle)], capture_output=True, text=True,
                          env={**os.environ, "NVR_UPDATE_CERT": str(ca / "signing.cert.pem"),
                               "NVR_UPDATE_KEY": str(ca / "signing.key.pem")})
    assert made.returncode == 0, made.stdout + made.stderr
    version = device.run("nvr --version").stdout.strip()
    with step("fleet: update-bundle.yml (refused at nvr update check)"):
        done = fleet.play("update-bundle.yml", nvr_bundle=str(bundle),
                          nvr_admin_user="t.admin", nvr_admin_password=STAFF_PASSWORD,
                          nvr_admin_totp="")
    out = done.stdout + done.stderr
    assert done.returncode != 0, out
    assert task_result(done.stdout, "Copy the bundle to the device") == "changed"
    assert task_result(done.stdout, "Stop when the device refuses the bundle") in ("failed",
                                                                                   "fatal")
    # The image's keyring is the virtual device's own development CA (tools/vm/build-image.sh);
    # this bundle is signed under a CA made fresh above: refused for its signer, either wording.
    assert "vm refuses nvr-9.0.0.raucb" in out, out
    assert ("does not trust" in out or "niet vertrouwt" in out), out
    assert "Nothing was installed" in out
    assert "Install it into the other slot" not in out
    assert STAFF_PASSWORD not in out
    assert device.run("ls -A /var/lib/nvr/updates").stdout.strip() == ""
    assert device.run("nvr --version").stdout.strip() == version
