"""Is the system clock synchronised? (R-30: evidence needs trustworthy time.)

The kernel knows: adjtimex(2) returns TIME_ERROR while the clock is unsynchronised, which is
what timedatectl's "System clock synchronized" reports too. No daemon needs to be asked.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

_TIME_ERROR = 5


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """libc, loaded once per process: find_library runs `ldconfig -p` in a subprocess, which
    made every /api/system call 1.5x slower under load (issue 11, docs/benchmarks.md)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


def clock_synchronised() -> bool:
    libc = _libc()
    if libc is None:
        return False
    buf = ctypes.create_string_buffer(512)   # struct timex, modes = 0: read only
    state = libc.adjtimex(buf)
    return state not in (-1, _TIME_ERROR)


# --- the clock state for monitoring (/readyz, issue 11 item 7) ----------------------------------

TIMEDATECTL = "timedatectl"
# The seam: the command asked instead of `timedatectl` (a test points it at a script that
# answers "yes" or "no"; a device could point it at a wrapper around chronyc).
TIMEDATECTL_ENV = "NVR_TIMEDATECTL"
TIMESYNCD_FLAG = Path("/run/systemd/timesync/synchronized")   # touched by systemd-timesyncd


@dataclass(frozen=True)
class ClockState:
    synchronised: bool
    source: str          # "timedatectl", "systemd-timesyncd" or "kernel": who said so


_last: tuple[float, str, ClockState] | None = None     # (monotonic time, command, state)


def clock_state(timeout: float = 2.0, max_age: float = 0.0) -> ClockState:
    """Whether the clock is synchronised, and who says so. `max_age` > 0 accepts an answer
    that old (a page that shows the state need not start `timedatectl` at every load;
    /readyz asks afresh). Asked in this order:

    1. `timedatectl show --property=NTPSynchronized --value` (systemd's own view), or the
       command named by $NVR_TIMEDATECTL; only a "yes" or "no" counts;
    2. systemd-timesyncd's flag file /run/systemd/timesync/synchronized: it exists once
       timesyncd has synchronised the clock since boot;
    3. neither (no systemd, as in a container): the kernel's adjtimex state, which reads
       unsynchronised until some NTP daemon disciplines the clock (`clock_synchronised`)."""
    global _last
    command = os.environ.get(TIMEDATECTL_ENV) or TIMEDATECTL
    if max_age > 0 and _last is not None and _last[1] == command \
            and time.monotonic() - _last[0] <= max_age:
        return _last[2]
    state = _ask(command, timeout)
    _last = (time.monotonic(), command, state)
    return state


def _ask(command: str, timeout: float) -> ClockState:
    found = shutil.which(command)
    if found:
        try:
            out = subprocess.run([found, "show", "--property=NTPSynchronized", "--value"],
                                 capture_output=True, text=True, timeout=timeout)
            answer = out.stdout.strip() if out.returncode == 0 else ""
        except (OSError, subprocess.TimeoutExpired):
            answer = ""
        if answer in ("yes", "no"):
            return ClockState(answer == "yes", "timedatectl")
    if TIMESYNCD_FLAG.exists():
        return ClockState(True, "systemd-timesyncd")
    return ClockState(clock_synchronised(), "kernel")


# --- the kernel's own estimate of the clock's error, for /metrics (issue 12 item 3) ----------

_STA_NANO = 0x2000


class _Timex(ctypes.Structure):
    """The head of struct timex (adjtimex(2)); the rest is padding the kernel may fill."""
    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long),
                ("status", ctypes.c_int), ("rest", ctypes.c_char * 256)]


@dataclass(frozen=True)
class KernelClock:
    offset: float        # seconds the kernel still has to correct (the last NTP offset)
    max_error: float     # seconds: the kernel's bound on the clock's error
    est_error: float     # seconds: its estimate of it


def kernel_clock() -> KernelClock | None:
    """adjtimex(2), read only: the offset being corrected and the error bounds NTP gave the
    kernel (chrony and systemd-timesyncd both set them); None when libc cannot be asked."""
    libc = _libc()
    if libc is None:
        return None
    tx = _Timex()                      # modes = 0: read only
    if libc.adjtimex(ctypes.byref(tx)) == -1:
        return None
    unit = 1e-9 if tx.status & _STA_NANO else 1e-6
    return KernelClock(tx.offset * unit, tx.maxerror * 1e-6, tx.esterror * 1e-6)


# --- the boot's own clock, which no setting of the time moves (enrollment codes, R-10) -------

BOOT_ID = "proc/sys/kernel/random/boot_id"
UPTIME = "proc/uptime"
SYSTEM_ROOT_ENV = "NVR_SYSTEM_ROOT"      # tests: a root whose proc/uptime stands in for the kernel's


@dataclass(frozen=True)
class BootClock:
    boot: str            # the kernel's id of this boot: another boot, another clock
    seconds: float       # since this boot, suspend included (CLOCK_BOOTTIME)


def boot_clock() -> BootClock | None:
    """This boot's id and the seconds since it began, from /proc: NTP, an RTC or `date`
    setting the wall clock do not move them, so a duration within one boot measured here is
    true however wrong the wall clock was at its start (a Pi 4 starts at the image's time, a
    new Pi 5 in 1970). Read from /proc rather than clock_gettime(CLOCK_BOOTTIME), which
    libfaketime fakes along with the wall clock. A test points $NVR_SYSTEM_ROOT at a root
    whose proc/uptime (or boot_id) stands in; a file missing there is the kernel's. None when
    /proc cannot be read."""
    root = os.environ.get(SYSTEM_ROOT_ENV)
    found = []
    for name in (BOOT_ID, UPTIME):
        for base in ([Path(root)] if root else []) + [Path("/")]:
            try:
                found.append((base / name).read_text().split()[0])
                break
            except (OSError, IndexError):
                continue
        else:
            return None
    try:
        return BootClock(found[0], float(found[1]))
    except ValueError:
        return None
