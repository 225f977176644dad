"""The system test's fixtures: one image, one booted guest for the whole run, and a clock per
step (`step`), whose figures are printed as the steps end and once more at the end."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path

import pytest

from systemtest.vm import VirtualDevice, cache_dir, image_dir

REPO = Path(__file__).resolve().parent.parent
TIMES: list[tuple[str, float]] = []


@contextlib.contextmanager
def _step(name: str):
    start = time.monotonic()
    print(f"\n[system-test] {name} ...", flush=True)
    try:
        yield
    finally:
        took = time.monotonic() - start
        TIMES.append((name, took))
        print(f"[system-test] {name}: {took:.1f} s", flush=True)


@pytest.fixture(scope="session")
def step():
    return _step


@pytest.fixture(scope="session")
def device(tmp_path_factory) -> VirtualDevice:
    if os.environ.get("NVR_VM_ATTACH"):          # development: a guest kept running (vm.py)
        vm = VirtualDevice.attach(Path(os.environ["NVR_VM_ATTACH"]))
        yield vm
        vm.stop()
        return
    for tool in ("mmdebstrap", "qemu-system-x86_64", "qemu-img", "mkfs.ext4", "ssh",
                 "cryptsetup", "debugfs", "openssl"):
        if shutil.which(tool) is None:           # a failure, not a skip: setup installs them
            pytest.fail(f"{tool} is missing: run `sh tools/vm/host-setup.sh` as root "
                        f"(make system-test does)")
    with _step("image (build or cached)"):
        image = image_dir(REPO, cache_dir())
    work = tmp_path_factory.mktemp("vm")
    vm = VirtualDevice(image, work)
    with _step("boot (QEMU TCG, until ssh answers)"):
        vm.boot()
    yield vm
    vm.stop()
    keep = REPO / "test-artifacts" / "system-test"
    keep.mkdir(parents=True, exist_ok=True)
    for log in work.glob("*.log"):
        shutil.copy(log, keep / log.name)


def pytest_collection_modifyitems(items):
    """test_provisioning.py first, on the first boot: its enrollment codes make the first
    accounts (stick.first_accounts then finds them); the rest keeps file order."""
    items.sort(key=lambda item: item.path.name != "test_provisioning.py")


def pytest_terminal_summary(terminalreporter):
    if TIMES:
        terminalreporter.section("system test: how long each step took")
        for name, took in TIMES:
            terminalreporter.write_line(f"{took:7.1f} s  {name}")
