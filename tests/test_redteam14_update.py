"""Red team of issue 14 item 3 (`nvr update check|install`, firmware/system/update.py).

Bundles are built with the real `rauc bundle` (image/updates/make-bundle.sh, keys from
image/updates/dev-ca.sh) and checked with the real `rauc info` and `veritysetup`. RAUC's
service is absent here, so `rauc install` stands behind the installer seam of `install`: what
the tests look at is WHICH BYTES would be handed to RAUC, compared with the bytes that were
checked and logged."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import PASSWORD, staff, write_config
from test_update import COMPATIBLE, NEWER, OLDER, make_bundle

from firmware.config import load
from firmware.governance.service import Governance

UPDATES = Path(__file__).resolve().parents[1] / "image" / "updates"

pytestmark = pytest.mark.skipif(
    not (shutil.which("rauc") and shutil.which("mksquashfs") and shutil.which("veritysetup")),
    reason="needs the Debian packages rauc, squashfs-tools and cryptsetup-bin "
           "(debian-packages.txt)")


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    """The device's CA and system.conf, a newer and an older bundle, both signed by the
    device's own CA (a real older release: anyone who ever received it still has it)."""
    tmp = tmp_path_factory.mktemp("rt14-update")
    made = subprocess.run([str(UPDATES / "dev-ca.sh"), str(tmp / "ca"), "ca"],
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    tree = tmp / "tree" / "etc"
    tree.mkdir(parents=True)
    (tree / "noise").write_bytes(os.urandom(64 * 1024))
    rootfs = tmp / "rootfs.ext4"
    subprocess.run(["truncate", "-s", "8M", str(rootfs)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(tmp / "tree"), str(rootfs)], check=True)
    conf = tmp / "etc-rauc" / "system.conf"
    conf.parent.mkdir()
    shutil.copy(tmp / "ca" / "ca.cert.pem", conf.parent / "keyring.pem")
    conf.write_text(f"[system]\ncompatible={COMPATIBLE}\nbootloader=custom\n"
                    "bundle-formats=-plain\n\n[keyring]\npath=keyring.pem\n\n[handlers]\n"
                    f"bootloader-custom-backend={UPDATES / 'rauc-tryboot-backend'}\n")
    newer, older = tmp / "newer.raucb", tmp / "older.raucb"
    for version, out in ((NEWER, newer), (OLDER, older)):
        built = make_bundle(tmp / "ca", rootfs, version, out)
        assert built.returncode == 0, built.stderr
    return conf, newer, older


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.mark.parametrize("swap", ["replace", "symlink"])
def test_the_bytes_handed_to_rauc_are_the_bytes_checked_and_logged_R50(bundles, tmp_path, swap):
    """TOCTOU between the check and `rauc install`. The technisch beheerder installs a bundle
    from a folder someone else can write (a USB stick, /tmp, a share). `check` reads the file
    at that path (rauc info, veritysetup, sha256) and `rauc install` opens the PATH again: a
    file swapped in between, here for an OLDER bundle signed by the same CA, is what RAUC
    installs (RAUC checks signature and compatible, not the version): a downgrade without
    --allow-downgrade, while the usage logbook says the newer version was installed.

    Expected once fixed: the install hands RAUC exactly the bytes it checked (copy the bundle
    once into a private root-only file, check and install that copy), and the logbook's
    version and sha256 are those bytes'."""
    from firmware.system import update
    conf, newer, older = bundles
    folder = tmp_path / "stick"
    folder.mkdir()
    given = folder / "update.raucb"
    if swap == "replace":
        shutil.copy(newer, given)
    else:
        shutil.copy(newer, folder / "a.raucb")
        given.symlink_to("a.raucb")
    config = write_config(tmp_path)
    staff(config)
    gov = Governance.open(load(config))
    try:
        admin = gov.accounts.authenticate("t.admin", PASSWORD).actor()
        device = update.Device.from_system_conf(conf)

        def run(argv):                      # the real commands; then the other user swaps
            result = update._run(argv)
            if argv[0] == "veritysetup":
                if swap == "replace":
                    shutil.copy(older, folder / "swap.tmp")
                    os.replace(folder / "swap.tmp", given)
                else:
                    shutil.copy(older, folder / "b.raucb")
                    (folder / "link.tmp").symlink_to("b.raucb")
                    os.replace(folder / "link.tmp", given)
            return result

        handed = []
        checked = update.install(given, device, gov.logbook, admin, run=run,
                                 installer=lambda path: handed.append(_sha(path)))
        entry = gov.logbook.db.execute(
            "SELECT details FROM logbook WHERE book = 'usage' AND action = 'update-install' "
            "ORDER BY n DESC LIMIT 1").fetchone()
    finally:
        gov.close()
    logged = json.loads(entry["details"])
    assert checked.version == NEWER and logged["version"] == NEWER
    assert handed == [_sha(newer)], "RAUC would install other bytes than those checked " \
        f"(the older bundle {OLDER}: {handed == [_sha(older)]})"
    assert logged["sha256"] == _sha(newer), "the logbook names the sha256 of other bytes " \
        "than those whose version it records"


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_a_bundle_path_that_is_no_regular_file_is_named_as_such(bundles, tmp_path, kind):
    """`nvr update check DIR` says "there is no file DIR": but there is, it is a directory
    (or a FIFO). The message must say what is wrong ("not a regular file: a directory"), so
    the technisch beheerder does not go looking for a missing file."""
    conf, newer, older = bundles
    path = tmp_path / "update.raucb"
    if kind == "directory":
        path.mkdir()
    else:
        os.mkfifo(path)
    from conftest import nvr
    done = nvr("update", "check", str(path), "--system-conf", str(conf), timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "there is no file" not in done.stderr, done.stderr
    assert kind in done.stderr, done.stderr


@pytest.mark.parametrize("reason", ["\u200b\u200b\u200b", "\u2060", ".", "x"])
def test_a_downgrade_reason_must_be_a_reason_in_words_R01(bundles, tmp_path, reason):
    """An older firmware goes on only with `--allow-downgrade REASON`, "and the reason is the
    logbook entry's reason" (image/updates/README.md). `check` accepts any reason whose
    str.strip() is not empty: zero-width spaces, a word joiner, a dot. The project's rule for a
    reason in the logbook (governance/access.py visible_length, R-01: "a reason of invisible
    characters is no reason", at least 8 visible characters) is not applied, so a downgrade is
    logged with a reason nobody can read. Expected once fixed: the same rule as every other
    reason (access.check_reason's visible_length), refused with what to write."""
    from firmware.system import update
    conf, newer, older = bundles
    config = write_config(tmp_path)
    staff(config)
    gov = Governance.open(load(config))
    try:
        admin = gov.accounts.authenticate("t.admin", PASSWORD).actor()
        device = update.Device.from_system_conf(conf)
        handed = []
        with pytest.raises(update.UpdateRefused):
            update.install(older, device, gov.logbook, admin, allow_downgrade=reason,
                           installer=handed.append)
        assert handed == []
    finally:
        gov.close()


@pytest.mark.skipif(shutil.which("faketime") is None, reason="needs faketime (debian-packages.txt)")
@pytest.mark.parametrize("moved, said", [("-1y", "not yet valid"), ("+11y", "has expired")])
def test_a_bundle_outside_its_certificate_validity_names_the_clock(bundles, moved, said):
    """image/updates/README.md: "A bundle RAUC refuses for its certificate's validity period is
    said so, with the clock to check", which no test proved. `nvr update check` with the
    device's clock a year early (a Pi 4 without RTC before NTP answers) and 11 years late
    (past the development signing certificate's 825 days and the CA's 10 years): refused,
    naming the certificate and the clock (nvr selftest)."""
    from conftest import nvr
    conf, newer, older = bundles
    env = {**os.environ, "LD_PRELOAD": "", "FAKETIME": moved}
    lib = next((str(p) for p in Path("/usr/lib").rglob("libfaketime.so.1")), None)
    if lib is None:
        pytest.skip("libfaketime.so.1 not found under /usr/lib")
    env["LD_PRELOAD"] = lib
    done = nvr("update", "check", str(newer), "--system-conf", str(conf), env=env, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert said in done.stderr and "check the device's clock (nvr selftest)" in done.stderr, \
        done.stderr


def test_install_does_not_take_a_keyring_of_the_callers_choosing_R50(bundles, tmp_path):
    """`nvr update install --system-conf FILE` checks the bundle against the compatible and the
    keyring of FILE, while `rauc install` (RAUC's service) uses /etc/rauc/system.conf. A
    technisch beheerder who makes a CA of their own and a system.conf naming it gets a bundle
    signed by that CA through the check and into the usage logbook as `update-install`
    ("signed and intact"), and only RAUC stands between it and the slot. The check before
    install is then no check, and the logbook records as checked what the device never
    trusted. Expected once fixed: `install` checks against the system configuration RAUC's
    service uses and takes no other (or refuses, logged, when given one)."""
    from conftest import nvr
    conf, newer, older = bundles
    mine = tmp_path / "mine"
    made = subprocess.run([str(UPDATES / "dev-ca.sh"), str(mine), "mine"], capture_output=True,
                          text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    my_conf = mine / "system.conf"
    shutil.copy(mine / "ca.cert.pem", mine / "keyring.pem")
    my_conf.write_text(conf.read_text())
    rootfs = tmp_path / "rootfs.ext4"
    subprocess.run(["truncate", "-s", "8M", str(rootfs)], check=True)
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "noise").write_bytes(os.urandom(64 * 1024))   # squashfs > 4 KiB
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(tmp_path / "tree"), str(rootfs)],
                   check=True)
    own = tmp_path / "own.raucb"
    assert make_bundle(mine, rootfs, NEWER, own).returncode == 0
    config = write_config(tmp_path)
    env = staff(config)
    done = nvr("--config", str(config), "update", "install", str(own), "--system-conf",
               str(my_conf), "--user", "t.admin", env=env, timeout=120)
    gov = Governance.open(load(config))
    try:
        started = gov.logbook.db.execute(
            "SELECT COUNT(*) FROM logbook WHERE book = 'usage' AND action = 'update-install'"
        ).fetchone()[0]
    finally:
        gov.close()
    assert done.returncode != 0
    assert started == 0, ("a bundle signed by the caller's own CA passed the check and was "
                          "logged as an install: " + done.stderr)
