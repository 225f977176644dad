"""Red team 14c: `update check --system-conf FILE` prints the lines of any file the web's user
can read, and a binary one ends in a traceback naming a byte of it.

`sudo nvr-admin update check BUNDLE --system-conf FILE` needs no account (docs/units.md: `update
check` is in the list without a password; options after the first words pass) and runs nvr as
nvr-web, in the group nvr. `Device.from_system_conf` (firmware/system/update.py) reads FILE
with configparser and puts configparser's error into its message: "File contains no section
headers ... line: 1 '<the first line>'", and for a file that starts with a `[section]` every
line that is not `key = value`, verbatim. So the technisch beheerder reads, line by line,
files that only the services may read (below /var/lib/nvr, which is 0750 root:nvr); and a
binary file (master.key, logbook-mac.key, web-session.key) is not caught at all: a Python
traceback ends with "'utf-8' codec can't decode byte 0xNN in position K", a byte of the key
and where it is. (Known and separate: nvr-admin opens BUNDLE itself as root, adminopen.)

Real `nvr update check` subprocesses; the files stand for what nvr-web may read on a device."""

from __future__ import annotations

import os

from conftest import nvr, write_config

SECRET = "[werkplekken]\nde sleutel van kast 3 ligt bij J. de Vries\nPIN 4711\n"


def test_update_check_does_not_echo_the_lines_of_the_system_conf_it_cannot_parse(tmp_path):
    """LOW (a read oracle for the service user's files, R-11). Expected once fixed: the
    message names the file and what is missing, never its content; `--system-conf` is for
    the tests and the build machine and is refused under sudo (as for install)."""
    config = write_config(tmp_path)
    secret = tmp_path / "only-the-services-read-this"
    secret.write_text(SECRET)
    secret.chmod(0o600)
    done = nvr("--config", str(config), "update", "check", "/etc/hostname",
               "--system-conf", str(secret))
    assert done.returncode == 1
    shown = done.stdout + done.stderr
    assert "J. de Vries" not in shown and "4711" not in shown, shown


def test_a_binary_system_conf_is_refused_without_a_traceback_or_a_byte_of_it(tmp_path):
    config = write_config(tmp_path)
    key = tmp_path / "master.key"
    key.write_bytes(b"\xf3" + os.urandom(31))
    done = nvr("--config", str(config), "update", "check", "/etc/hostname",
               "--system-conf", str(key))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "0xf3" not in done.stderr, done.stderr[-400:]
