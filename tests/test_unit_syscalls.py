"""The units' system-call filters against the firmware's own calls (issue 12 item 3: the clock
offset and sync state in /metrics and in each segment's clock record; R-30).

systemd is not PID 1 in the test container, so `systemd-run -p SystemCallFilter=` cannot be
used. The same filter is built instead from the unit file's own `SystemCallFilter=` lines, in
systemd's order (the first line sets allow-list or deny-list, each later line adds or removes),
with the groups expanded by the real `systemd-analyze syscall-filter`, and loaded into a child
process with the real seccomp(2) through libseccomp (the library systemd uses for it). The
child then calls the firmware's `kernel_clock()` as the recorder and /metrics do.
"""

from __future__ import annotations

import ctypes.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
from functools import cache

import pytest

from conftest import ROOT

SYSTEMD = ROOT / "systemd"
# What systemd always allows a filtered process, whatever the filter (systemd.exec(5)).
ALWAYS = {"execve", "exit", "exit_group", "getrlimit", "rt_sigreturn", "sigreturn"}
SERVICES = ("nvr-recorder.service", "nvr-web.service")


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian package systemd, in debian-packages.txt)")
    return path


@cache
def group(name: str) -> frozenset[str]:
    """The system calls of a group such as @system-service, nested groups expanded."""
    out = subprocess.run([tool("systemd-analyze"), "syscall-filter", name], check=True,
                         capture_output=True, text=True).stdout
    calls: set[str] = set()
    for line in out.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or line == name:
            continue
        calls |= group(line) if line.startswith("@") else {line}
    return frozenset(calls)


def names(words: list[str]) -> set[str]:
    found: set[str] = set()
    for word in words:
        found |= group(word) if word.startswith("@") else {word}
    return found


def filter_lines(unit: str) -> list[str]:
    return [line.partition("=")[2].strip() for line in (SYSTEMD / unit).read_text().splitlines()
            if line.startswith("SystemCallFilter=")]


def allowed(unit: str) -> set[str]:
    """The allow-list the unit's filter lines make, in systemd's order."""
    lines = filter_lines(unit)
    assert lines and not lines[0].startswith("~"), f"{unit}: expected an allow-list first"
    allow: set[str] = set()
    for line in lines:
        if line.startswith("~"):
            allow -= names(line[1:].split())
        else:
            allow |= names(line.split())
    return allow | ALWAYS


# The child: load the filter (default EPERM, as SystemCallErrorNumber=EPERM), drop to an
# unprivileged user without capabilities (as the units run), then read and try to set the clock.
CHILD = textwrap.dedent("""
    import ctypes, errno, json, os, sys
    allow, libpath = json.loads(sys.argv[1]), sys.argv[2]
    lib = ctypes.CDLL(libpath, use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                     ctypes.c_uint]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    SCMP_ACT_ALLOW, SCMP_ACT_ERRNO = 0x7fff0000, 0x00050000
    ctx = lib.seccomp_init(SCMP_ACT_ERRNO | errno.EPERM)
    assert ctx
    for name in allow:
        nr = lib.seccomp_syscall_resolve_name(name.encode())
        if nr >= 0:                     # a name this architecture lacks: systemd ignores it
            assert lib.seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) == 0, name
    import ctypes.util
    from firmware.system import clock    # imported first: the interpreter is under /root here
    os.setgroups([]); os.setgid(65534); os.setuid(65534)   # before the filter: setuid is gone
    assert lib.seccomp_load(ctx) == 0
    got = clock.kernel_clock()
    tx = clock._Timex(); tx.modes = 0x0001          # ADJ_OFFSET: an attempt to steer the clock
    libc = clock._libc()
    set_rc = libc.adjtimex(ctypes.byref(tx))
    print(json.dumps({"kernel_clock": None if got is None else got.__dict__,
                      "synchronised": clock.clock_synchronised(),
                      "set_rc": set_rc, "set_errno": ctypes.get_errno()}))
""")


def run_filtered(allow: set[str]) -> dict:
    lib = ctypes.util.find_library("seccomp")
    if lib is None:
        pytest.skip("libseccomp is not installed (Debian package libseccomp2, a dependency "
                    "of systemd)")
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(sorted(allow)), lib],
                          cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("unit", SERVICES)
def test_the_units_filter_lets_the_firmware_read_the_kernel_clock_R30(unit):
    """The recorder stamps each segment with the kernel clock's offset and error, /metrics
    shows nvr_clock_offset_seconds; both read adjtimex(2) (glibc calls clock_adjtime), which
    `~@privileged` takes away with @clock unless the unit gives the reading calls back."""
    got = run_filtered(allowed(unit))
    assert got["kernel_clock"] is not None, (unit, filter_lines(unit))
    assert set(got["kernel_clock"]) == {"offset", "max_error", "est_error"}


@pytest.mark.parametrize("unit", SERVICES)
def test_the_unit_still_cannot_set_the_clock(unit):
    """Reading is harmless: setting needs CAP_SYS_TIME, which no service has
    (CapabilityBoundingSet= empty), and settimeofday/clock_settime stay filtered."""
    text = (SYSTEMD / unit).read_text()
    assert "\nCapabilityBoundingSet=\n" in text and "\nAmbientCapabilities=\n" in text
    allow = allowed(unit)
    assert not {"settimeofday", "clock_settime"} & allow, unit
    got = run_filtered(allow)
    assert got["set_rc"] == -1 and got["set_errno"] == 1, got        # EPERM


def test_the_old_filter_took_the_clock_away():
    """The check above can fail: the filter without the lines that give adjtimex back (the
    units before this fix) leaves the firmware blind to the clock."""
    allow = (names(["@system-service"]) - names(["@privileged"])) | ALWAYS
    assert run_filtered(allow)["kernel_clock"] is None
