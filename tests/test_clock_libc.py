"""/api/system asks the kernel whether the clock is synchronised (R-30) on every call; loading
libc for it each time (ctypes.util.find_library runs `ldconfig -p` in a subprocess) made the
page 1.5x slower under load (issue 11, docs/benchmarks.md). libc is loaded once per process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from conftest import ROOT

COUNT_LOADS = textwrap.dedent("""
    import sys
    from firmware.system.clock import clock_synchronised
    first = clock_synchronised()
    seen = []
    sys.addaudithook(lambda event, args: seen.append(event)
                     if event in ("ctypes.dlopen", "subprocess.Popen") else None)
    for _ in range(5):
        assert clock_synchronised() == first
    print(len(seen))
""")


def test_clock_check_loads_libc_once_per_process_R30():
    done = subprocess.run([sys.executable, "-c", COUNT_LOADS], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == "0"     # no library loaded, no ldconfig run, after the first
