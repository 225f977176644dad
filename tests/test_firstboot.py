"""First-boot provisioning, `nvr firstboot` (issue 14 item 2; docs/provisioning.md).

Real subprocesses of `nvr firstboot` as root on a temporary root laid out by the project's own
sysusers.d and tmpfiles.d with the real `systemd-sysusers --root` and `systemd-tmpfiles --root`
(as on a device), in a UTS namespace of their own (`unshare --uts`) so the hostname they set is
real and never the test machine's. The seams: NVR_SYSTEM_ROOT (where /etc, /usr/share/nvr, /sys
and /proc/self/mountinfo are read) and NVR_CONSOLE (a file standing in for /dev/console). The
services' side is the real `nvr run` and `nvr web` as the users nvr-recorder and nvr-web.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import INTRODUCTION, ROOT

SYSTEMD = ROOT / "systemd"
SERIAL = "QEMU-VM-0123456789abcdef"          # as QEMU's -smbios type=1,serial= gives it
HOSTNAME = "nvr-89abcdef"
CODE = re.compile(r"\b[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}\b")


def codes_in(text: str) -> list[str]:
    """The enrollment codes in `text`, each once, in order (technisch-beheerder first)."""
    return list(dict.fromkeys(CODE.findall(text)))
NEW_PASSWORD = "een lange eigen wachtzin 42"
KEYS = ("master.key", "device-signing.key", "logbook-mac.key", "web-cert.pem", "web-key.pem",
        "client-ca.pem")

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root: nvr firstboot is root's (it sets the hostname and "
    "gives keys to the service users made by systemd-sysusers --root); run the suite as root, "
    "as .ci/run does")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Device:
    """A root directory as the image leaves it before the first boot's provisioning."""

    def __init__(self, root: Path, default_config: bool = True):
        self.root = root
        for kind in ("sysusers.d", "tmpfiles.d"):
            target = root / "usr" / "lib" / kind
            target.mkdir(parents=True)
            shutil.copy(SYSTEMD / kind / "nvr.conf", target / "nvr.conf")
        (root / "etc").mkdir()
        (root / "etc" / "hostname").write_text("raspberrypi\n")
        (root / "etc" / "hosts").write_text("127.0.0.1\tlocalhost\n127.0.1.1\traspberrypi\n")
        subprocess.run(["systemd-sysusers", f"--root={root}", "nvr.conf"], check=True,
                       capture_output=True)
        self.ids = {}
        for table in ("passwd", "group"):
            for line in (root / "etc" / table).read_text().splitlines():
                parts = line.split(":")
                self.ids[(table, parts[0])] = int(parts[2])
        self.data = root / "var" / "lib" / "nvr" / "data"
        self.keys = root / "var" / "lib" / "nvr" / "keys"
        self.config = root / "etc" / "nvr" / "nvr.toml"
        self.port = free_port()
        if default_config:                  # the image's /usr/share/nvr/nvr.toml
            share = root / "usr" / "share" / "nvr"
            share.mkdir(parents=True)
            (share / "nvr.toml").write_text(f"""
[device]
id = "from-the-image"
name = "Gemeentehuis Soest"

[storage]
data_dir = "{self.data}"
key_dir = "{self.keys}"

[web]
host = "127.0.0.1"
port = {self.port}

[[cameras]]
id = "entree"
name = "Hoofdingang"
location = "Gemeentehuis Soest, hoofdingang"
source = "synthetic"
width = 320
height = 240
fps = 5
lores_width = 160
lores_height = 120
staff_in_view = false

{INTRODUCTION}
""")
        serial = root / "sys" / "class" / "dmi" / "id" / "product_serial"
        serial.parent.mkdir(parents=True)
        serial.write_text(SERIAL + "\n")
        subprocess.run(["systemd-tmpfiles", f"--root={root}", "--create", "nvr.conf"],
                       check=True, capture_output=True)
        self.console = root / "console.log"
        self.console.touch()

    def uid(self, user: str) -> int:
        return self.ids[("passwd", user)]

    def gid(self, group: str) -> int:
        return self.ids[("group", group)]

    def env(self, **extra: str) -> dict:
        return {"PATH": os.environ["PATH"], "HOME": "/root", "LANG": "C.UTF-8",
                "PYTHONDONTWRITEBYTECODE": "1", "NVR_SYSTEM_ROOT": str(self.root),
                "NVR_CONSOLE": str(self.console), **extra}

    def firstboot(self) -> tuple[subprocess.CompletedProcess, str, str]:
        """One boot's `nvr firstboot` (root, its own UTS namespace): the process, the hostname
        the namespace had afterwards, and what it wrote onto the console this time."""
        before = self.console.stat().st_size
        done = subprocess.run(
            ["unshare", "--uts", "sh", "-c", '"$@" && echo "hostname=$(hostname)"', "sh",
             sys.executable, "-m", "firmware.cli", "firstboot"],
            capture_output=True, text=True, env=self.env(), cwd=ROOT, timeout=300)
        assert done.returncode == 0, (done.stdout, done.stderr)
        host = done.stdout.strip().splitlines()[-1].removeprefix("hostname=")
        with self.console.open("rb") as fh:
            fh.seek(before)
            shown = fh.read().decode()
        return done, host, shown

    def as_user(self, user: str) -> list[str]:
        uid, gid = self.uid(user), self.gid("nvr")
        groups = [gid] + ([self.gid("nvr-export")] if user == "nvr-web" else [])
        return ["setpriv", f"--reuid={uid}", f"--regid={gid}",
                f"--groups={','.join(map(str, groups))}", "--inh-caps=-all"]

    def nvr(self, user: str, *args: str, env: dict | None = None):
        """`nvr` as nvr-admin runs it: as the service user, umask 0027."""
        return subprocess.run([*self.as_user(user), sys.executable, "-m", "firmware.cli",
                               "--config", str(self.config), *args], capture_output=True,
                              text=True, cwd=ROOT, umask=0o027, timeout=300,
                              env={"PATH": os.environ["PATH"], "HOME": "/nonexistent",
                                   "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
                                   **(env or {})})

    def start(self, user: str, *args: str) -> subprocess.Popen:
        return subprocess.Popen([*self.as_user(user), sys.executable, "-m", "firmware.cli",
                                 "--config", str(self.config), *args],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                cwd=ROOT, umask=0o027,
                                env={"PATH": os.environ["PATH"], "HOME": "/nonexistent",
                                     "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"})

    def key_files(self) -> dict[str, bytes]:
        """The keys provisioning makes (the logbooks' signed heads change with every entry)."""
        return {name: (self.keys / name).read_bytes() for name in KEYS}


def _new_root() -> Path:
    # Not under pytest's own temporary directory: that one is 0700, closed to the users.
    root = Path(tempfile.mkdtemp(prefix="nvr-firstboot-"))
    root.chmod(0o755)
    return root


@pytest.fixture(scope="module")
def device():
    probe = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            sys.executable, "-c", "import firmware.cli"],
                           capture_output=True, text=True, cwd="/")
    if probe.returncode != 0:
        pytest.skip(f"the checkout {ROOT} or its Python {sys.executable} is closed to other "
                    f"users, so nvr cannot run as the service users: {probe.stderr[-300:]}")
    root = _new_root()
    try:
        yield Device(root)
    finally:
        shutil.rmtree(root)


@pytest.fixture(scope="module")
def first(device):
    """The first boot: what `nvr firstboot` printed, the hostname, the console's text."""
    return device.firstboot()


def _mode(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_mode & 0o7777, st.st_uid, st.st_gid


def _tls_fingerprint(pem: bytes) -> str:
    der = ssl.PEM_cert_to_DER_cert(pem.decode())
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def _everything_below(*folders: Path) -> bytes:
    data = b""
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file() and not path.is_symlink():
                data += path.read_bytes()
    return data


# --- item 1: the hostname --------------------------------------------------------------------

def test_the_hostname_comes_from_the_serial_number_and_is_set(device, first):
    done, host, _shown = first
    assert host == HOSTNAME, done.stdout
    assert (device.root / "etc" / "hostname").read_text() == HOSTNAME + "\n"
    hosts = (device.root / "etc" / "hosts").read_text().splitlines()
    assert f"127.0.1.1\t{HOSTNAME}" in hosts and "127.0.1.1\traspberrypi" not in hosts
    assert f"hostname: {HOSTNAME}" in done.stdout


def test_hostname_from_serial_numbers_and_placeholders():
    from firmware.system.firstboot import hostname_from_serial
    assert hostname_from_serial("10000000a1b2c3d4\x00") == "nvr-a1b2c3d4"     # a Pi's
    assert hostname_from_serial("4C4C4544-0035-3010-8052-B4C04F4A4B32\n") == "nvr-4f4a4b32"
    for placeholder in ("", "Not Specified", "To Be Filled By O.E.M.", "0",
                        "00000000-0000-0000-0000-000000000000", "Default string"):
        assert hostname_from_serial(placeholder) is None, placeholder


# --- item 2: the configuration ---------------------------------------------------------------

def test_the_configuration_is_made_from_the_images_default_with_the_device_id(device, first):
    from firmware.config import load
    done, _host, _shown = first
    assert _mode(device.config) == (0o640, 0, device.gid("nvr"))
    assert _mode(device.config.parent) == (0o750, 0, device.gid("nvr"))
    cfg = load(device.config)
    assert cfg.device.id == HOSTNAME
    assert cfg.cameras[0].source == "synthetic"        # the image's camera, not the template's
    assert "written from " + str(device.root / "usr/share/nvr/nvr.toml") in done.stdout


def test_without_an_image_default_the_template_for_a_pi_says_what_is_still_to_do():
    from firmware.config import load
    root = _new_root()
    try:
        device = Device(root, default_config=False)
        done, host, shown = device.firstboot()
        cfg = load(device.config)
        assert cfg.device.id == host == HOSTNAME
        assert cfg.cameras[0].source == "picamera2"
        assert (cfg.storage.data_dir, cfg.storage.key_dir) == (device.data, device.keys)
        assert cfg.web.host == "0.0.0.0"               # reachable by the central room
        assert cfg.cameras[0].staff_in_view is True     # until someone answers art. 11
        # No DPIA yet, art. 11 unanswered: the camera does not record, the console says so.
        assert "Nog te doen: camera hoofdingang" not in shown
        assert "Nog te doen: camera entree neemt nog niet op: geen DPIA" in shown, shown
        assert "DPIA" in shown
        assert "Nog te doen: er is geen bord vastgelegd (art. 6 lid 3)" in shown
        assert "camera 'entree' does not record yet" in done.stdout
        assert f"https://{HOSTNAME}:8443" in shown
    finally:
        shutil.rmtree(root)


# --- item 3: the keys ------------------------------------------------------------------------

def test_each_key_is_made_by_its_owner_with_the_modes_of_units_md(device, first):
    done, _host, shown = first
    recorder, web, nvr = device.uid("nvr-recorder"), device.uid("nvr-web"), device.gid("nvr")
    for name in ("master.key", "device-signing.key", "logbook-mac.key"):
        assert _mode(device.keys / name) == (0o640, recorder, nvr), name
    assert _mode(device.keys / "web-key.pem") == (0o600, web, nvr)
    assert _mode(device.keys / "web-cert.pem") == (0o640, web, nvr)
    assert _mode(device.keys / "client-ca.pem") == (0o600, web, nvr)
    fingerprint = _tls_fingerprint((device.keys / "web-cert.pem").read_bytes())
    assert f"SHA-256 {fingerprint}" in done.stdout
    assert fingerprint in shown                       # the console shows it with the address
    from firmware.governance.logbook import DeviceSigner
    assert DeviceSigner(device.keys).fingerprint in done.stdout
    for what in ("master key", "device signing key", "TLS certificate", "client CA"):
        assert re.search(rf"^{what}: \S+ made;", done.stdout, re.M), what


def test_the_recorder_accepts_the_master_key_and_records(device, first):
    recorder = device.start("nvr-recorder", "run", "--no-web")
    lines = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = recorder.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("recording 1 camera"):
                break
    finally:
        recorder.send_signal(signal.SIGTERM)
        rest, _ = recorder.communicate(timeout=60)
    assert any(line.startswith("recording 1 camera") for line in lines), "".join(lines) + rest
    assert recorder.returncode == 0, "".join(lines) + rest


def test_the_web_serves_the_tls_key_firstboot_made(device, first):
    _done, _host, shown = first
    web = device.start("nvr-web", "web")
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with socket.create_connection(("127.0.0.1", device.port), timeout=5) as raw:
                    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                    with context.wrap_socket(raw) as tls:
                        served = tls.getpeercert(binary_form=True)
                break
            except (ConnectionRefusedError, ssl.SSLError, OSError):
                assert web.poll() is None, web.communicate()[0]
                assert time.monotonic() < deadline, "nvr web did not answer in 120 s"
                time.sleep(0.5)
    finally:
        web.terminate()
        web.communicate(timeout=60)
    fingerprint = ":".join(f"{b:02X}" for b in hashlib.sha256(served).digest())
    assert fingerprint == _tls_fingerprint((device.keys / "web-cert.pem").read_bytes())
    assert f"TLS-certificaat SHA-256: {fingerprint}" in shown


# --- item 4: the enrollment codes, on the console only ---------------------------------------

def test_both_codes_are_on_the_console_in_dutch_and_nowhere_else(device, first):
    done, _host, shown = first
    codes = codes_in(shown)
    assert len(codes) == 2, shown
    assert "Eenmalige inschrijfcode voor de eerste technisch-beheerder" in shown
    assert "Eenmalige inschrijfcode voor de eerste manager-bedrijfsvoering" in shown
    assert "Webadres: https://127.0.0.1:" in shown
    everything = _everything_below(device.root / "var", device.root / "etc")
    for code in codes:
        assert code not in done.stdout and code not in done.stderr   # the journal's text
        assert code.encode() not in everything                         # data, keys, /etc
    assert "shown on " + str(device.console) + " only" in done.stdout


def test_later_boots_change_no_key_and_issue_codes_only_while_the_account_is_missing(
        device, first):
    _done, _host, shown = first
    first_codes = codes_in(shown)
    keys = device.key_files()

    done, host, shown = device.firstboot()             # the second boot
    assert host == HOSTNAME
    for name, data in keys.items():
        assert device.key_files()[name] == data, f"{name} changed"
    assert re.search(r"^master key: \S+ existed, unchanged", done.stdout, re.M)
    assert "configuration: " + str(device.config) + " (existed, unchanged)" in done.stdout
    second = codes_in(shown)
    assert len(second) == 2 and not set(second) & set(first_codes), shown

    technical, manager = second
    add = ("user", "add", "t.admin", "--role", "technisch-beheerder", "--enrollment-code")
    pw = {"NVR_NEW_PASSWORD": NEW_PASSWORD}
    old = device.nvr("nvr-web", *add, first_codes[0], env=pw)          # replaced at boot
    assert old.returncode != 0 and "enrollment code" in old.stderr, old.stderr
    made = device.nvr("nvr-web", *add, technical, env=pw)
    assert made.returncode == 0, made.stderr
    again = device.nvr("nvr-web", "user", "add", "t.other", "--role", "technisch-beheerder",
                       "--enrollment-code", technical, env=pw)
    assert again.returncode != 0, again.stdout

    _done, _host, shown = device.firstboot()           # the third: the manager's code only
    third = codes_in(shown)
    assert len(third) == 1 and "eerste manager-bedrijfsvoering" in shown
    assert "eerste technisch-beheerder" not in shown
    made = device.nvr("nvr-web", "user", "add", "m.manager", "--role",
                      "manager-bedrijfsvoering", "--enrollment-code", third[0], env=pw)
    assert made.returncode == 0, made.stderr

    done, _host, shown = device.firstboot()            # both accounts exist: no code
    assert not codes_in(shown) and "inschrijfcode" not in shown
    assert "TLS-certificaat SHA-256" in shown          # the address and fingerprint still
    assert "no enrollment code issued" in done.stdout
    for name, data in keys.items():
        assert device.key_files()[name] == data, f"{name} changed"


def test_without_a_console_no_code_is_issued(tmp_path):
    root = _new_root()
    try:
        device = Device(root)
        env = device.env(NVR_CONSOLE=str(root / "no-such-console"))
        done = subprocess.run(["unshare", "--uts", sys.executable, "-m", "firmware.cli",
                               "firstboot"], capture_output=True, text=True, env=env, cwd=ROOT,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        assert "no console device to show enrollment codes on" in done.stdout
        assert not CODE.findall(done.stdout + done.stderr)
    finally:
        shutil.rmtree(root)


# --- keys beside the footage (R-82) ----------------------------------------------------------

def _fake_disks(root: Path, holds: Path) -> None:
    """sysfs and mountinfo below `root` saying: `holds` is on disk vda, and an SSD sda is
    mounted too."""
    st = os.stat(holds)
    major, minor = os.major(st.st_dev), os.minor(st.st_dev)
    block = root / "sys" / "dev" / "block"
    block.mkdir(parents=True)
    vda = root / "sys" / "devices" / "virtio" / "block" / "vda"
    sda1 = root / "sys" / "devices" / "usb" / "block" / "sda" / "sda1"
    vda.mkdir(parents=True)
    sda1.mkdir(parents=True)
    (sda1 / "partition").write_text("1\n")
    (block / f"{major}:{minor}").symlink_to(vda)
    (block / "8:1").symlink_to(sda1)
    mountinfo = root / "proc" / "self" / "mountinfo"
    mountinfo.parent.mkdir(parents=True)
    mountinfo.write_text(f"27 1 {major}:{minor} / / rw - ext4 /dev/vda rw\n"
                         "90 27 8:1 / /media/ssd rw - ext4 /dev/sda1 rw\n"
                         "22 27 0:21 / /proc rw - proc proc rw\n")


def test_keys_on_the_footage_disk_while_another_disk_is_there_is_a_finding_R82(monkeypatch):
    root = _new_root()
    try:
        device = Device(root)
        _fake_disks(root, device.keys)
        done, _host, shown = device.firstboot()
        assert "finding: the keys (" in done.stdout and "sda is mounted too" in done.stdout
        assert "Nog te doen: de sleutels" in shown, shown
        # nvr selftest's keys check says the same (one rule: system/disks.py).
        from firmware.config import load
        from firmware.system.selftest import WARN, check_keys
        monkeypatch.setenv("NVR_SYSTEM_ROOT", str(root))
        result = check_keys(load(device.config))
        assert result.status == WARN and "sda is mounted too" in result.finding, result
        monkeypatch.setenv("NVR_SYSTEM_ROOT", str(root / "nothing-mounted"))
        assert check_keys(load(device.config)).status == "ok"
    finally:
        shutil.rmtree(root)


# --- the unit --------------------------------------------------------------------------------

def test_the_unit_runs_before_the_services_every_boot_and_verifies(tmp_path):
    unit = (SYSTEMD / "nvr-firstboot.service").read_text()
    settings = {}
    for line in unit.splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    assert settings["Type"] == ["oneshot"] and settings["RemainAfterExit"] == ["yes"]
    assert set(settings["Before"][0].split()) == {"nvr-recorder.service", "nvr-web.service",
                                                  "nvr-exportd.service"}
    assert {"nvr-storage.service", "systemd-tmpfiles-setup.service"} <= set(
        settings["After"][0].split())
    assert "ConditionFirstBoot" not in unit            # every boot: the hostname, new codes
    # Pulled in by each service (exportd may start by udev alone) and ordered before it, but
    # never required: a failed provisioning does not keep the recorder from recording.
    assert set(settings["WantedBy"][0].split()) == {
        "multi-user.target", "nvr-recorder.service", "nvr-web.service", "nvr-exportd.service"}
    assert "RequiredBy" not in settings and not any(
        "nvr-firstboot" in (SYSTEMD / name).read_text()
        for name in ("nvr-recorder.service", "nvr-web.service", "nvr-exportd.service"))
    assert settings["ExecStart"] == ["/usr/local/bin/nvr --config /etc/nvr/nvr.toml firstboot"]
    assert "ProtectHostname" not in settings
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is missing (Debian package systemd)")
    root = tmp_path / "root"
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    target = root / "etc/systemd/system"
    target.mkdir(parents=True)
    for name in ("nvr-firstboot.service", "nvr-recorder.service", "nvr-web.service",
                 "nvr-exportd.service"):
        shutil.copy(SYSTEMD / name, target / name)
    stub = root / "usr/local/bin/nvr"
    stub.parent.mkdir(parents=True)
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", f"--root={root}",
                           "nvr-firstboot.service"], capture_output=True, text=True)
    assert done.returncode == 0 and not done.stdout and not done.stderr, done.stderr
    score = subprocess.run(["systemd-analyze", "security", "--offline=yes",
                            str(SYSTEMD / "nvr-firstboot.service")], capture_output=True,
                           text=True)
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d)", score.stdout)
    assert found and float(found.group(1)) <= 2.8, score.stdout[-500:]
