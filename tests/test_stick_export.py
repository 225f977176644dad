"""One export path (issue 13 items 1, 2 and 4, R-60..R-62): the evidence package written through
the helper seam onto the stick exportd offers, as plain files on a LUKS2 stick and inside a
password-protected 7z on a stick that encrypts in hardware (and the folder stand-in), with the
device's passwords; checked with the real socket, the real 7z, sha256sum and openssl, and the
real `nvr` in a subprocess. exportd is the real Daemon with the Runner twin (tests/test_exportd)."""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from conftest import nvr, staff
from stickutil import (LUKS_PASSWORD, Desk, art9_site, exportd, manifest_of, sevenzip,
                       stick_config, verify_cli)

from firmware.export import passwords
from firmware.export.helpers import DirectoryHelper, ExportdHelper, ExportError


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return art9_site(tmp_path_factory.mktemp("stick"))


@pytest.fixture
def desk(site):
    d = Desk(site)
    yield d
    d.close()


def checks_with_standard_tools(folder: Path) -> None:
    sums = subprocess.run(["sha256sum", "-c", "manifest.sha256"], cwd=folder,
                          capture_output=True, text=True)
    assert sums.returncode == 0, sums.stdout + sums.stderr
    sig = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey",
                          "device-pubkey.pem", "-rawin", "-in", "manifest.json", "-sigfile",
                          "manifest.sig"], cwd=folder, capture_output=True, text=True)
    assert sig.returncode == 0 and "Signature Verified Successfully" in sig.stdout, sig.stderr


# -- item 2: the passwords -------------------------------------------------------------------------

def test_r61_a_generated_password_has_at_least_100_bits_and_reads_aloud():
    made = {passwords.generate() for _ in range(200)}
    assert len(made) == 200
    for p in made:
        groups = p.split("-")
        assert len(groups) == passwords.GROUPS and all(len(g) == passwords.GROUP for g in groups)
        assert set(p.replace("-", "")) <= set(passwords.ALPHABET)
        assert not set(p) & set("il01o")                      # no look-alikes
    bits = passwords.GROUPS * passwords.GROUP * math.log2(len(set(passwords.ALPHABET)))
    assert len(set(passwords.ALPHABET)) == len(passwords.ALPHABET) == 31
    assert bits == passwords.BITS and bits >= 100
    assert passwords.check_typed("zestien tekens!!") == "zestien tekens!!"
    with pytest.raises(passwords.PasswordError, match="at least 16 characters"):
        passwords.check_typed("te kort wachtw.")


# -- item 1: the package on a LUKS2 stick: plain files, no plaintext on the device's disk ---------

def test_r61_r62_package_onto_the_unlocked_luks2_stick_as_files_never_via_the_disk(
        desk, site, tmp_path, monkeypatch):
    scratch = tmp_path / "tmp"                   # the process's temporary directory: stays empty
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setenv("TMPDIR", str(scratch))
    seen: list[tuple[int, int]] = []
    with exportd(tmp_path) as (sock, daemon, runner):
        helper = ExportdHelper(str(sock))
        assert {d["device"]: d["kind"] for d in helper.devices()} == {"/dev/sdb": "luks2",
                                                                      "/dev/sdc": "plain"}
        with pytest.raises(ExportError, match="no unlocked USB stick"):
            desk.export(helper)
        helper.unlock("/dev/sdb", LUKS_PASSWORD)
        export = desk.export(helper, progress=lambda done, total: seen.append((done, total)))
        mount = daemon.sticks["/dev/sdb"].mountpoint
        folder = mount / Path(export["path"].split(":", 1)[1])
        assert export["path"] == f"/dev/sdb:{folder.name}"
        assert sorted(p.name for p in mount.iterdir()) == [folder.name]     # no .part left
        assert sorted(p.name for p in folder.iterdir()) == sorted(export["files"])
        assert "password" not in export                  # the stick's password protects it
        checks_with_standard_tools(folder)
        assert verify_cli(site, folder).returncode == 0
        assert export["bytes"] == sum(p.stat().st_size for p in folder.iterdir())
        assert manifest_of(folder)["request"] == "PL-STICK-1"
    assert list(scratch.iterdir()) == []
    assert seen and seen[-1][0] == seen[-1][1]
    assert all(a[0] <= b[0] for a, b in zip(seen, seen[1:]))
    [row] = [r for r in desk.exports() if r["id"] == export["id"]]
    assert row["archive"]["container"] == "folder" and row["archive"]["path"] == export["path"]


# -- item 2: a stick that encrypts in hardware: the package inside a 7z -------------------------

def test_r61_keypad_stick_gets_the_package_in_a_7z_with_a_generated_password_shown_once(
        desk, site, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    with exportd(tmp_path) as (sock, daemon, runner):
        helper = ExportdHelper(str(sock))
        helper.unlock("/dev/sdc", "")
        export = desk.export(helper)
        mount = daemon.sticks["/dev/sdc"].mountpoint
        password = export["password"]
        name = export["path"].split(":", 1)[1].split("/")[0]
        archive = mount / name / f"{name}.7z"
        assert export["path"] == f"/dev/sdc:{name}/{name}.7z"
        assert sorted(p.name for p in mount.iterdir()) == [name]
        assert [p.name for p in (mount / name).iterdir()] == [archive.name]
        assert sevenzip("l", "-pnot-the-password", str(archive)).returncode != 0
        assert sevenzip("l", str(archive), "-p").returncode != 0      # headers encrypted too
        out = tmp_path / "recipient"
        assert sevenzip("x", f"-p{password}", f"-o{out}", str(archive)).returncode == 0
        folder = out / name
        assert sorted(p.name for p in folder.iterdir()) == sorted(export["files"])
        checks_with_standard_tools(folder)
        assert verify_cli(site, folder).returncode == 0
        stick_bytes = archive.read_bytes()
    assert password.encode() not in stick_bytes
    # Shown once, never stored or logged: in no file of the data directory (the index and
    # governance database, its WAL, the logbooks in it) or the key directory (the logbooks'
    # signed heads), nor in this process's log output.
    scanned = [p for d in (desk.cfg.storage.data_dir, desk.cfg.storage.key_dir)
               for p in d.rglob("*") if p.is_file()]
    assert "index.sqlite3" in {p.name for p in scanned}
    for path in scanned:
        assert password.encode() not in path.read_bytes(), path
    for book in ("usage", "inzien"):
        assert password not in json.dumps(desk.gov.logbook.entries(book))
    assert password not in caplog.text
    assert password not in json.dumps(desk.exports())


def test_r61_a_typed_archive_password_of_16_characters_is_the_alternative(desk, tmp_path):
    helper = DirectoryHelper(tmp_path / "folder")          # the stand-in takes the 7z too
    with pytest.raises(ExportError, match="at least 16 characters"):
        desk.export(helper, password="too short")
    export = desk.export(helper, password="een zelfgekozen wachtzin")
    assert "password" not in export                          # typed: not shown back
    archive = Path(export["path"])
    assert archive.suffix == ".7z" and archive.parent.parent == tmp_path / "folder"
    assert sevenzip("t", "-peen zelfgekozen wachtzin", str(archive)).returncode == 0


# -- item 4: the CLI -----------------------------------------------------------------------------

def test_nvr_export_create_without_to_uses_the_one_unlocked_stick_and_prints_json(
        site, tmp_path):
    with exportd(tmp_path) as (sock, daemon, runner):
        env = {**staff(site), "NVR_EXPORTD_SOCKET": str(sock)}
        args = ("--config", str(stick_config(site)), "export", "create", "--request", "PL-STICK-1",
                "--user", "b.beheerder", "--reason", "art. 9", "--json")
        daemon.unlock("/dev/sdb", LUKS_PASSWORD)
        daemon.unlock("/dev/sdc", "")
        two = nvr(*args, env=env)
        assert two.returncode == 1 and "more than one USB stick is unlocked" in two.stderr
        daemon.eject("/dev/sdb")
        made = nvr(*args, env=env)
        assert made.returncode == 0, made.stderr
        out = json.loads(made.stdout)
        assert set(out) == {"id", "path", "password", "files", "bytes", "manifest_sha256"}
        name = out["path"].split(":", 1)[1].split("/")[0]
        archive = daemon.sticks["/dev/sdc"].mountpoint / name / f"{name}.7z"
        assert archive.stat().st_size == out["bytes"]
        listed = sevenzip("l", f"-p{out['password']}", str(archive))
        assert listed.returncode == 0 and f"{name}/manifest.json" in listed.stdout
        assert out["password"] not in made.stderr


def test_nvr_usb_format_generates_the_password_and_prints_it_once(site, tmp_path):
    with exportd(tmp_path) as (sock, daemon, runner):
        env = {k: v for k, v in staff(site).items() if k != "NVR_USB_PASSWORD"}
        usb = ("--config", str(stick_config(site)), "usb", "format", "/dev/sdb", "--socket",
               str(sock), "--confirm", "/dev/sdb Cruzer Blade 16.0GB", "--user", "b.beheerder")
        made = nvr(*usb, "--json", env=env)
        assert made.returncode == 0, made.stderr
        password = json.loads(made.stdout)["password"]
        assert runner.passwords["/dev/sdb"] == password          # what luksFormat was given
        assert len(password) == 29 and made.stdout.count(password) == 1
        short = nvr(*usb, env={**env, "NVR_USB_PASSWORD": "kort"})
        assert short.returncode == 1 and "at least 16 characters" in short.stderr
        assert runner.passwords["/dev/sdb"] == password


def test_art7_lid2_nvr_usb_format_unlock_and_eject_are_logged_by_the_user_R50(site, tmp_path):
    """`nvr usb format|unlock|eject --user NAME` (exportfix item 2): each in the usage logbook
    by that account, with device, model and size; a wrong password is refused and logged as
    such; no password in any entry; without --user nothing happens."""
    from firmware.config import load
    from firmware.governance.service import Governance
    gov = Governance.open(load(site))
    since = len(gov.logbook.entries("usage"))
    gov.close()
    with exportd(tmp_path) as (sock, daemon, runner):
        env = {k: v for k, v in staff(site).items() if k != "NVR_USB_PASSWORD"}
        base = ("--config", str(stick_config(site)), "usb")
        where = ("--socket", str(sock))
        anonymous = nvr(*base, "format", "/dev/sdc", *where, "--confirm",
                        "/dev/sdc datAshur PRO 8.0GB", env=env)
        assert anonymous.returncode == 1 and "--user" in anonymous.stderr
        assert daemon.sticks["/dev/sdc"].kind == "plain"          # not formatted
        officer = nvr(*base, "format", "/dev/sdc", *where, "--confirm",
                      "/dev/sdc datAshur PRO 8.0GB", "--user", "p.officer", env=env)
        assert officer.returncode == 1 and daemon.sticks["/dev/sdc"].kind == "plain"
        made = nvr(*base, "format", "/dev/sdc", *where, "--confirm",
                   "/dev/sdc datAshur PRO 8.0GB", "--user", "b.beheerder", "--json", env=env)
        assert made.returncode == 0, made.stderr
        generated = json.loads(made.stdout)["password"]
        wrong = nvr(*base, "unlock", "/dev/sdb", *where, "--user", "b.beheerder",
                    env={**env, "NVR_USB_PASSWORD": "niet het wachtwoord!!"})
        assert wrong.returncode == 1 and "wrong passphrase" in wrong.stderr
        right = nvr(*base, "unlock", "/dev/sdb", *where, "--user", "b.beheerder",
                    env={**env, "NVR_USB_PASSWORD": LUKS_PASSWORD})
        assert right.returncode == 0, right.stderr
        ejected = nvr(*base, "eject", "/dev/sdb", *where, "--user", "b.beheerder", env=env)
        assert ejected.returncode == 0 and daemon.sticks["/dev/sdb"].state == "locked"
    gov = Governance.open(load(site))
    entries = [e for e in gov.logbook.entries("usage")[since:] if e["action"].startswith("usb-")]
    gov.close()
    assert [(e["action"], e["actor"], e["subject"]) for e in entries] == [
        ("usb-format", "b.beheerder", "/dev/sdc"),
        ("usb-unlock-refused", "b.beheerder", "/dev/sdb"),
        ("usb-unlock", "b.beheerder", "/dev/sdb"),
        ("usb-eject", "b.beheerder", "/dev/sdb")]
    assert json.loads(entries[2]["details"]) == {"device": "/dev/sdb", "model": "Cruzer Blade",
                                                 "size": 16_008_609_792}
    assert "wrong passphrase" in entries[1]["reason"]
    for secret in (generated, LUKS_PASSWORD, "niet het wachtwoord!!"):
        assert secret not in json.dumps(entries)


def test_r61_a_window_too_large_for_the_7z_in_memory_is_refused_and_logged(desk, tmp_path,
                                                                           monkeypatch):
    """The 7z is built from memory files: more than half the available memory is refused
    before anything is written (the rule; /proc/meminfo's figure is replaced by a small one)."""
    from firmware.export import helpers
    monkeypatch.setattr(helpers, "memory_available", lambda: 1 << 20)
    logged = len(desk.failures())
    with pytest.raises(ExportError, match="too long for a stick that takes a 7z archive"):
        desk.export(DirectoryHelper(tmp_path / "folder"))
    assert len(desk.failures()) == logged + 1
    assert list((tmp_path / "folder").iterdir()) == []


def test_r61_eject_removes_an_unfinished_write(tmp_path):
    with exportd(tmp_path) as (sock, daemon, runner):
        daemon.unlock("/dev/sdb", LUKS_PASSWORD)
        _, fds = daemon.write_open("/dev/sdb", "export-9", ["a.mp4"], 10)
        os.write(fds[0], b"half")
        os.close(fds[0])
        daemon.eject("/dev/sdb")
        assert list(runner.medium("/dev/sdb").iterdir()) == []


def test_nvr_export_create_shows_a_progress_bar_on_a_terminal(site, tmp_path):
    import pty
    import sys

    from conftest import ROOT
    primary, secondary = pty.openpty()
    run = subprocess.run([sys.executable, "-m", "firmware.cli", "--config", str(site), "export",
                          "create", "--request", "PL-STICK-1", "--to", str(tmp_path / "out"),
                          "--user", "b.beheerder", "--reason", "art. 9"],
                         stdout=subprocess.PIPE, stderr=secondary, env=staff(site), cwd=ROOT,
                         timeout=300)
    os.close(secondary)
    shown = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(primary)
    assert run.returncode == 0, shown
    assert b"100% " in shown and b"\r[" in shown and b"#" * 30 in shown
    assert b"password, shown only now" in run.stdout
