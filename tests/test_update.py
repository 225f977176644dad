"""Issue 14 item 3: updates that cannot brick the device. Bundles are built here with the real
`rauc bundle` (image/updates/make-bundle.sh, keys from image/updates/dev-ca.sh) from a small
ext4 image, and checked with the real `rauc info` and `veritysetup` through `nvr update`.

What needs a Raspberry Pi is not proven here: `rauc install` writing a slot (no RAUC service and
no slots on this machine: the install is tested up to the call of RAUC, which fails here for
want of its service, and in-process behind the installer seam), and the firmware's tryboot
(the backend script is tested on files standing in for autoboot.txt and the device tree)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PASSWORD, ROOT, nvr, staff, write_config

from firmware import __version__
from firmware.config import load
from firmware.governance.service import Governance

UPDATES = ROOT / "image" / "updates"
COMPATIBLE = "nvr-test-device"

pytestmark = pytest.mark.skipif(
    not (shutil.which("rauc") and shutil.which("mksquashfs") and shutil.which("veritysetup")),
    reason="needs the Debian packages rauc, squashfs-tools and cryptsetup-bin "
           "(debian-packages.txt)")


def _higher(version: str) -> str:
    parts = [int(p) for p in version.split(".")]
    return ".".join(map(str, parts[:-1] + [parts[-1] + 1]))


def _lower(version: str) -> str:
    parts = [int(p) for p in version.split(".")]
    return ".".join(map(str, [parts[0], max(parts[1] - 1, 0), 0])) if parts[1] else "0.0.0"


NEWER, OLDER = _higher(__version__), _lower(__version__)


def make_bundle(ca: Path, rootfs: Path, version: str, out: Path,
                compatible: str | None = COMPATIBLE) -> subprocess.CompletedProcess:
    env = {**os.environ, "NVR_UPDATE_CERT": str(ca / "signing.cert.pem"),
           "NVR_UPDATE_KEY": str(ca / "signing.key.pem")}
    env.pop("NVR_COMPATIBLE", None)
    if compatible:
        env["NVR_COMPATIBLE"] = compatible
    return subprocess.run([str(UPDATES / "make-bundle.sh"), str(rootfs), version, str(out)],
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Two CAs (the device's and another), a small ext4 root filesystem, the device's
    system.conf (keyring relative to it, as RAUC reads it) and a good bundle."""
    tmp = tmp_path_factory.mktemp("update")
    for name in ("ca", "other"):
        made = subprocess.run([str(UPDATES / "dev-ca.sh"), str(tmp / name), name],
                              capture_output=True, text=True, timeout=120)
        assert made.returncode == 0, made.stderr
    tree = tmp / "tree"
    (tree / "etc").mkdir(parents=True)
    (tree / "etc" / "nvr-release").write_text(f"nvr {NEWER}\n")
    (tree / "etc" / "noise").write_bytes(os.urandom(64 * 1024))   # squashfs > 4 KiB
    rootfs = tmp / "rootfs.ext4"
    subprocess.run(["truncate", "-s", "8M", str(rootfs)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(tree), str(rootfs)], check=True)
    conf = tmp / "etc-rauc" / "system.conf"
    conf.parent.mkdir()
    shutil.copy(tmp / "ca" / "ca.cert.pem", conf.parent / "keyring.pem")
    conf.write_text(f"[system]\ncompatible={COMPATIBLE}\nbootloader=custom\n"
                    "bundle-formats=-plain\n\n[keyring]\npath=keyring.pem\n\n[handlers]\n"
                    f"bootloader-custom-backend={UPDATES / 'rauc-tryboot-backend'}\n")
    good = tmp / "good.raucb"
    built = make_bundle(tmp / "ca", rootfs, NEWER, good)
    assert built.returncode == 0, built.stderr
    return tmp, rootfs, conf, good


def check(conf: Path, bundle: Path, *extra: str) -> subprocess.CompletedProcess:
    return nvr("update", "check", str(bundle), "--system-conf", str(conf), *extra)


def changed(src: Path, dst: Path, offset: int) -> Path:
    data = bytearray(src.read_bytes())
    data[offset] ^= 0x01
    dst.write_bytes(bytes(data))
    return dst


def test_check_accepts_a_bundle_signed_under_the_device_keyring(site):
    tmp, rootfs, conf, good = site
    result = check(conf, good, "--json")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["version"] == NEWER and found["compatible"] == COMPATIBLE
    assert found["sha256"] == hashlib.sha256(good.read_bytes()).hexdigest()
    assert found["downgrade"] is False


def test_check_refuses_a_bundle_signed_by_another_ca(site):
    tmp, rootfs, conf, good = site
    foreign = tmp / "foreign.raucb"
    if not foreign.exists():
        assert make_bundle(tmp / "other", rootfs, NEWER, foreign).returncode == 0
    result = check(conf, foreign)
    assert result.returncode == 1
    assert "signed by a key this device does not trust" in result.stderr, result.stderr


@pytest.mark.parametrize("where", ["payload", "signature"])
def test_check_refuses_a_bundle_with_one_byte_changed(site, where):
    """A byte changed in the image passes `rauc info` (it checks the signed manifest only);
    the verity check of the payload refuses it. A byte changed in the signature fails the
    signature."""
    tmp, rootfs, conf, good = site
    size = good.stat().st_size
    offset = 5000 if where == "payload" else size - 200
    bad = changed(good, tmp / f"changed-{where}.raucb", offset)
    result = check(conf, bad)
    assert result.returncode == 1, result.stdout
    assert "changed after it was signed" in result.stderr, result.stderr
    assert "do not install it" in result.stderr


def test_rauc_info_alone_misses_a_changed_payload_which_is_why_the_check_verifies_it(site):
    tmp, rootfs, conf, good = site
    bad = changed(good, tmp / "changed-payload-info.raucb", 5000)
    info = subprocess.run(["rauc", "info", "--keyring", str(conf.parent / "keyring.pem"),
                           str(bad)], capture_output=True, text=True, timeout=60)
    assert info.returncode == 0, info.stderr       # RAUC 1.8 on a verity bundle


def test_check_refuses_a_bundle_for_another_device(site):
    tmp, rootfs, conf, good = site
    other = tmp / "other-device.raucb"
    assert make_bundle(tmp / "ca", rootfs, NEWER, other, "some-other-board").returncode == 0
    result = check(conf, other)
    assert result.returncode == 1
    assert f"is for 'some-other-board', this device is '{COMPATIBLE}'" in result.stderr


def test_check_refuses_an_older_version_unless_allowed_with_a_reason(site):
    tmp, rootfs, conf, good = site
    older = tmp / "older.raucb"
    if not older.exists():
        assert make_bundle(tmp / "ca", rootfs, OLDER, older).returncode == 0
    result = check(conf, older)
    assert result.returncode == 1
    assert f"older than the running {__version__}" in result.stderr
    assert "--allow-downgrade" in result.stderr
    allowed = check(conf, older, "--json", "--allow-downgrade", "0.2 breaks the camera")
    assert allowed.returncode == 0, allowed.stderr
    assert json.loads(allowed.stdout)["downgrade"] is True


def test_check_refuses_files_that_are_no_signed_bundle(site):
    tmp, rootfs, conf, good = site
    image = tmp / "image.raucb"
    shutil.copy(rootfs, image)
    content = tmp / "content"
    content.mkdir(exist_ok=True)
    (content / "manifest.raucm").write_text(f"[update]\ncompatible={COMPATIBLE}\n"
                                            f"version={NEWER}\n")
    unsigned = tmp / "unsigned.raucb"
    if not unsigned.exists():
        subprocess.run(["mksquashfs", str(content), str(unsigned), "-quiet"], check=True,
                       capture_output=True)
    for path in (image, unsigned):
        result = check(conf, path)
        assert result.returncode == 1
        assert "is not a signed update bundle" in result.stderr, result.stderr
    missing = check(conf, tmp / "nothere.raucb")
    assert missing.returncode == 1 and "there is no file" in missing.stderr


def test_make_bundle_takes_the_compatible_of_the_device_system_conf(site):
    """The image's system.conf and make-bundle.sh agree on the device type by construction."""
    tmp, rootfs, conf, good = site
    out = tmp / "default-compatible.raucb"
    assert make_bundle(tmp / "ca", rootfs, NEWER, out, compatible=None).returncode == 0
    info = subprocess.run(["rauc", "info", "--keyring", str(tmp / "ca" / "ca.cert.pem"),
                           "--output-format=json", str(out)], capture_output=True, text=True)
    shipped = next(line.split("=", 1)[1] for line in
                   (UPDATES / "system.conf").read_text().splitlines()
                   if line.startswith("compatible="))
    assert json.loads(info.stdout)["compatible"] == shipped


def test_rauc_1_8_loads_the_device_system_conf_and_it_refuses_other_bundle_formats(site):
    """image/updates/system.conf is valid for the real RAUC (custom backend, data directory,
    bundle formats); with verity forbidden instead of plain, the same bundle is refused."""
    tmp, rootfs, conf, good = site
    keyring = str(tmp / "ca" / "ca.cert.pem")
    # RAUC makes its data directory when it loads the file: here, one in tmp
    text = (UPDATES / "system.conf").read_text()
    assert "data-directory=/var/lib/nvr/rauc\n" in text
    shipped = tmp / "shipped.conf"
    shipped.write_text(text.replace("/var/lib/nvr/rauc", str(tmp / "rauc-data")))
    loaded = subprocess.run(["rauc", "--conf", str(shipped), "--keyring", keyring, "info",
                             str(good)], capture_output=True, text=True, timeout=60)
    assert loaded.returncode == 0, loaded.stderr
    no_verity = tmp / "no-verity.conf"
    no_verity.write_text(shipped.read_text().replace("bundle-formats=-plain",
                                                     "bundle-formats=-verity"))
    refused = subprocess.run(["rauc", "--conf", str(no_verity), "--keyring", keyring, "info",
                              str(good)], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "Bundle format 'verity' not allowed" in refused.stderr


def test_make_bundle_refuses_without_a_key_and_with_a_bad_version(site, tmp_path):
    tmp, rootfs, conf, good = site
    env = {k: v for k, v in os.environ.items() if not k.startswith("NVR_UPDATE")}
    bare = subprocess.run([str(UPDATES / "make-bundle.sh"), str(rootfs), NEWER,
                           str(tmp_path / "x.raucb")], capture_output=True, text=True, env=env)
    assert bare.returncode != 0 and "NVR_UPDATE_CERT" in bare.stderr
    bad = make_bundle(tmp / "ca", rootfs, "1.2-beta", tmp_path / "y.raucb")
    assert bad.returncode != 0 and "is not like 1.2.3" in bad.stderr
    assert not (tmp_path / "x.raucb").exists() and not (tmp_path / "y.raucb").exists()


def _usage(config: Path) -> list[dict]:
    gov = Governance.open(load(config))
    try:
        return [dict(r) for r in gov.logbook.db.execute(
            "SELECT actor, action, subject, reason, details FROM logbook WHERE book = 'usage' "
            "ORDER BY n")]
    finally:
        gov.close()


def test_install_only_by_the_technisch_beheerder_R11_logged_before_rauc_runs(site, tmp_path):
    """`nvr update install`: a beheerder is refused (R-11) and rauc is not reached; the
    technisch beheerder's install is in the usage logbook with version and sha256 before RAUC
    is called; here RAUC's service is absent, so its failure is logged and said."""
    tmp, rootfs, conf, good = site
    # The bundle's private copy goes to data_dir, below its high-water mark: 99 %, as a test
    # machine's disk may be past 90 % already (test_install_refuses_a_copy_that_would_pass...).
    config = write_config(tmp_path, storage="high_water_percent = 99")
    env = {**staff(config), "NVR_RAUC_SYSTEM_CONF": str(conf)}     # the tests' seam
    refused = nvr("--config", str(config), "update", "install", str(good),
                  "--user", "b.beheerder", env=env)
    assert refused.returncode == 1
    assert "rauc install" not in refused.stderr
    result = nvr("--config", str(config), "update", "install", str(good),
                 "--user", "t.admin", env=env)
    assert result.returncode == 1                    # no RAUC service on this machine
    assert "rauc install failed" in result.stderr and "running system is unchanged" in \
        result.stderr, result.stderr
    entries = _usage(config)
    assert any(e["actor"] == "b.beheerder" and e["action"] == "refused" for e in entries)
    started = [e for e in entries if e["action"] == "update-install"]
    assert len(started) == 1 and started[0]["actor"] == "t.admin"
    details = json.loads(started[0]["details"])
    assert details["version"] == NEWER
    assert details["sha256"] == hashlib.sha256(good.read_bytes()).hexdigest()
    failed = [e for e in entries if e["action"] == "update-install-failed"]
    assert len(failed) == 1 and "rauc install failed" in json.loads(failed[0]["details"])["why"]


def test_install_calls_rauc_only_for_a_bundle_that_passed_the_check(site, tmp_path):
    """In-process, RAUC behind the installer seam: a tampered bundle is refused and logged
    as refused, the installer never called; a downgrade goes on only with a reason, which is
    the logbook entry's reason."""
    from firmware.system.update import Device, UpdateRefused, install
    tmp, rootfs, conf, good = site
    config = write_config(tmp_path)
    staff(config)
    gov = Governance.open(load(config))
    try:
        admin = gov.accounts.authenticate("t.admin", PASSWORD).actor()
        device = Device.from_system_conf(conf)
        called = []
        bad = changed(good, tmp_path / "bad.raucb", 5000)
        with pytest.raises(UpdateRefused, match="changed after it was signed"):
            install(bad, device, gov.logbook, admin, installer=called.append)
        older = tmp / "older.raucb"
        if not older.exists():
            assert make_bundle(tmp / "ca", rootfs, OLDER, older).returncode == 0
        with pytest.raises(UpdateRefused, match="older than the running"):
            install(older, device, gov.logbook, admin, installer=called.append)
        assert called == []
        done = install(older, device, gov.logbook, admin,
                       installer=lambda copy: called.append(copy.read_bytes()),
                       allow_downgrade="0.2 breaks the camera")
        assert called == [older.read_bytes()] and done.downgrade    # a private copy of it
        last = gov.logbook.db.execute(
            "SELECT action, reason FROM logbook WHERE book = 'usage' ORDER BY n DESC "
            "LIMIT 1").fetchone()
        assert tuple(last) == ("update-install", "0.2 breaks the camera")
        refusals = gov.logbook.db.execute(
            "SELECT COUNT(*) FROM logbook WHERE book = 'usage' AND action = 'refused' AND "
            "subject = 'update-install'").fetchone()[0]
        assert refusals == 2
    finally:
        gov.close()


BACKEND = UPDATES / "rauc-tryboot-backend"


class Pi:
    """autoboot.txt, the slot states and the firmware's device-tree cells, as files."""

    def __init__(self, root: Path):
        self.root = root
        (root / "dt").mkdir(parents=True)
        self.autoboot = root / "autoboot.txt"
        self.autoboot.write_text("[all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\n"
                                 "boot_partition=2\n")
        self.boot(2, tryboot=False)

    def boot(self, partition: int, tryboot: bool) -> None:
        (self.root / "dt" / "partition").write_bytes(partition.to_bytes(4, "big"))
        (self.root / "dt" / "tryboot").write_bytes(int(tryboot).to_bytes(4, "big"))

    def rauc(self, *args: str) -> str:
        env = {**os.environ, "NVR_AUTOBOOT": str(self.autoboot),
               "NVR_SLOT_STATES": str(self.root / "states"),
               "NVR_BOOTLOADER_DT": str(self.root / "dt")}
        result = subprocess.run(["sh", str(BACKEND), *args], capture_output=True, text=True,
                                env=env, timeout=30)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def sections(self) -> tuple[str, str]:
        text = self.autoboot.read_text()
        default = text.split("[tryboot]")[0].split("boot_partition=")[1].split()[0]
        trial = text.split("[tryboot]")[1].split("boot_partition=")[1].split()[0]
        return default, trial




def test_install_from_an_open_file_as_nvr_admin_gives_it(site, tmp_path):
    """nvr-admin opens the bundle as root and gives it as standard input (`--stdin`): the
    bytes of that file are checked, installed and logged, under the name given."""
    from firmware.system.update import Device, install
    tmp, rootfs, conf, good = site
    config = write_config(tmp_path)
    staff(config)
    gov = Governance.open(load(config))
    try:
        admin = gov.accounts.authenticate("t.admin", PASSWORD).actor()
        handed = []
        with open(good, "rb") as f:
            install(Path("/media/stick/nvr.raucb"), Device.from_system_conf(conf), gov.logbook,
                    admin, installer=lambda copy: handed.append(copy.read_bytes()),
                    source=f.fileno())
        details = json.loads(gov.logbook.db.execute(
            "SELECT details FROM logbook WHERE book = 'usage' AND action = 'update-install'"
        ).fetchone()["details"])
    finally:
        gov.close()
    assert handed == [good.read_bytes()]
    assert details["bundle"] == "/media/stick/nvr.raucb"
    assert details["sha256"] == hashlib.sha256(good.read_bytes()).hexdigest()


def test_nvr_update_install_stdin_takes_the_bundle_from_standard_input(site, tmp_path):
    """`nvr update install NAME --stdin` (what nvr-admin runs): the bytes come from standard
    input, NAME is only their name in the logbook; RAUC's service is absent here."""
    tmp, rootfs, conf, good = site
    config = write_config(tmp_path, storage="high_water_percent = 99")
    env = {**staff(config), "NVR_RAUC_SYSTEM_CONF": str(conf)}
    with open(good, "rb") as f:
        done = subprocess.run([sys.executable, "-m", "firmware.cli", "--config", str(config),
                               "update", "install", "/media/stick/nvr.raucb", "--stdin",
                               "--user", "t.admin"], stdin=f, capture_output=True, text=True,
                              env=env, cwd=ROOT, timeout=300)
    assert "rauc install failed" in done.stderr, done.stderr
    started = [e for e in _usage(config) if e["action"] == "update-install"]
    details = json.loads(started[0]["details"])
    assert details["bundle"] == "/media/stick/nvr.raucb"
    assert details["sha256"] == hashlib.sha256(good.read_bytes()).hexdigest()

def test_nvr_update_check_stdin_checks_the_bytes_given_and_leaves_no_copy(site, tmp_path):
    """`nvr update check NAME --stdin` (what nvr-admin runs for the fleet: the service user
    cannot read the technisch beheerder's folder): the bytes from standard input are checked,
    NAME only names them; a good bundle passes, one under another CA is refused naming NAME,
    and no private copy stays in the data directory."""
    tmp, rootfs, conf, good = site
    foreign = tmp / "foreign.raucb"
    if not foreign.exists():
        assert make_bundle(tmp / "other", rootfs, NEWER, foreign).returncode == 0
    config = write_config(tmp_path, storage="high_water_percent = 99")
    data = load(config).storage.data_dir

    def check_stdin(bundle: Path) -> subprocess.CompletedProcess:
        with open(bundle, "rb") as f:
            return subprocess.run([sys.executable, "-m", "firmware.cli", "--config",
                                   str(config), "update", "check", "~/nvr.raucb", "--stdin",
                                   "--system-conf", str(conf), "--json"], stdin=f,
                                  capture_output=True, text=True, cwd=ROOT, timeout=300)
    passed = check_stdin(good)
    assert passed.returncode == 0, passed.stderr
    assert json.loads(passed.stdout)["path"] == "~/nvr.raucb"
    refused = check_stdin(foreign)
    assert refused.returncode != 0 and "~/nvr.raucb" in refused.stderr, refused.stderr
    assert "does not trust" in refused.stderr
    assert not [p for p in data.iterdir() if p.name.startswith(".nvr-update-")]


def test_a_rauc_install_that_times_out_is_logged_said_and_leaves_no_copy(site, tmp_path,
                                                                          monkeypatch):
    """`rauc install` past its timeout (here a `rauc` that hangs, the timeout 1 s instead of
    INSTALL_TIMEOUT's hour): `update-install-failed` in the usage logbook, a message that says
    RAUC may still be writing, and the private copy of the bundle removed."""
    import functools

    from firmware.system import update
    tmp, rootfs, conf, good = site
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "rauc").write_text(f'#!/bin/sh\n[ "$1" = install ] && exec sleep 60\n'
                                  f'exec {shutil.which("rauc")} "$@"\n')
    (bin_dir / "rauc").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    folder = tmp_path / "disk"
    folder.mkdir()
    config = write_config(tmp_path)
    staff(config)
    gov = Governance.open(load(config))
    try:
        admin = gov.accounts.authenticate("t.admin", PASSWORD).actor()
        with pytest.raises(update.UpdateRefused, match="did not finish within 0 minutes; "
                           "RAUC may still be writing the other slot: do not reboot into it"):
            update.install(good, update.Device.from_system_conf(conf), gov.logbook, admin,
                           installer=functools.partial(update.rauc_install, timeout=1),
                           folder=folder)
        why = json.loads(gov.logbook.db.execute(
            "SELECT details FROM logbook WHERE book = 'usage' AND action = "
            "'update-install-failed'").fetchone()["details"])["why"]
    finally:
        gov.close()
    assert "rauc install did not finish" in why
    assert [p.name for p in folder.iterdir()] == [update.COPY_LOCK]    # the copy is gone


def test_the_install_timeout_covers_a_slot_written_at_2_mb_a_second():
    """4 GiB of root and 512 MiB of boot image on a worn card at 2 MB/s, with room to spare."""
    from firmware.system import update
    assert update.INSTALL_TIMEOUT >= 1.25 * (4 * 2**30 + 512 * 2**20) / (2 * 10**6)


def test_install_refuses_a_copy_that_would_pass_the_high_water_mark_R42(site, tmp_path):
    """The private copy goes to the data disk: when it would take the disk past the store's
    high-water mark (the store would erase footage for it) the install is refused and logged,
    nothing copied."""
    from firmware.system import update
    tmp, rootfs, conf, good = site
    folder = tmp_path / "disk"
    folder.mkdir()
    usage = shutil.disk_usage(folder)
    mark = (usage.total - usage.free) * 100 // usage.total     # the disk is at its mark
    config = write_config(tmp_path)
    staff(config)
    gov = Governance.open(load(config))
    try:
        admin = gov.accounts.authenticate("t.admin", PASSWORD).actor()
        called = []
        with pytest.raises(update.UpdateRefused, match="no room for a copy"):
            update.install(good, update.Device.from_system_conf(conf), gov.logbook, admin,
                           installer=called.append, folder=folder, high_water_percent=mark)
        refused = gov.logbook.db.execute(
            "SELECT COUNT(*) FROM logbook WHERE book = 'usage' AND action = 'refused' AND "
            "subject = 'update-install'").fetchone()[0]
    finally:
        gov.close()
    assert called == [] and refused == 1
    assert [p.name for p in folder.iterdir()] == [update.COPY_LOCK]    # nothing copied

def test_tryboot_backend_commits_a_trial_that_was_marked_good(tmp_path):
    pi = Pi(tmp_path)
    assert pi.rauc("get-primary") == "A"
    pi.rauc("set-primary", "B")                         # after rauc install into B
    assert pi.sections() == ("2", "3") and pi.rauc("get-primary") == "B"
    pi.boot(3, tryboot=True)                            # reboot "0 tryboot"
    pi.rauc("set-state", "B", "good")                   # nvr selftest passed: mark-good
    assert pi.sections() == ("3", "3") and pi.rauc("get-primary") == "B"


def test_tryboot_backend_falls_back_when_the_trial_failed_or_was_marked_bad(tmp_path):
    pi = Pi(tmp_path)
    pi.rauc("set-primary", "B")
    pi.boot(2, tryboot=False)        # the trial hung: the watchdog reset, the firmware chose A
    pi.rauc("set-state", "A", "good")
    assert pi.sections() == ("2", "2")
    assert pi.rauc("get-state", "B") == "bad" and pi.rauc("get-primary") == "A"
    pi.rauc("set-primary", "B")                         # installed again
    pi.boot(3, tryboot=True)
    pi.rauc("set-state", "B", "bad")                    # nvr selftest failed in the trial
    assert pi.sections() == ("2", "2") and pi.rauc("get-primary") == "A"


def _verdict(tmp_path: Path, tryboot: bool, selftest_passes: bool) -> list[str]:
    """update-verdict with the firmware's tryboot cell as a file and rauc/systemctl as
    commands that write down how they were called (the decision is under test, not RAUC)."""
    (tmp_path / "dt").mkdir()
    (tmp_path / "dt" / "tryboot").write_bytes(int(tryboot).to_bytes(4, "big"))
    calls = tmp_path / "calls"
    for name in ("rauc", "systemctl"):
        (tmp_path / name).write_text(f'#!/bin/sh\necho {name} "$@" >> {calls}\n')
        (tmp_path / name).chmod(0o755)
    (tmp_path / "selftest").write_text(f'#!/bin/sh\necho selftest "$@" >> {calls}\n'
                                       f'exit {0 if selftest_passes else 1}\n')
    (tmp_path / "selftest").chmod(0o755)
    env = {**os.environ, "NVR_BOOTLOADER_DT": str(tmp_path / "dt"),
           "NVR_SELFTEST": str(tmp_path / "selftest"),
           "RAUC": str(tmp_path / "rauc"), "SYSTEMCTL": str(tmp_path / "systemctl")}
    result = subprocess.run(["sh", str(UPDATES / "update-verdict")], capture_output=True,
                            text=True, env=env, timeout=30)
    assert result.returncode == 0, result.stderr
    return calls.read_text().splitlines()


# What says "the new system works" (image/updates/update-verdict): not disk room or the clock,
# which a rollback cannot mend (a device sized for 10 % motion, a time server out of reach).
ASKED = "selftest --only units,encoder,camera,keys"


def test_verdict_keeps_a_trial_that_passes_nvr_selftest(tmp_path):
    assert _verdict(tmp_path, tryboot=True, selftest_passes=True) == [
        ASKED, "rauc status mark-good booted"]


def test_verdict_takes_back_a_trial_that_fails_nvr_selftest_and_reboots(tmp_path):
    assert _verdict(tmp_path, tryboot=True, selftest_passes=False) == [
        ASKED, "rauc status mark-bad booted", "systemctl reboot"]


def test_verdict_of_a_normal_boot_is_good_whatever_the_selftest(tmp_path):
    assert _verdict(tmp_path, tryboot=False, selftest_passes=False) == [
        "rauc status mark-good booted"]


def test_verdict_asks_only_what_a_rollback_mends_not_disk_room_or_clock(tmp_path):
    """The checks the verdict names are `nvr selftest --only`'s own (an unknown name would be
    refused there, exit 2, and every trial sent back), and neither disk nor clock is among
    them, so neither sends a working update back."""
    from firmware.cli.selftest import _names
    asked = _names(ASKED.split()[-1])
    assert "disk" not in asked and "clock" not in asked
    assert set(asked) == {"units", "encoder", "camera", "keys"}
