"""Swap (issue 9, item 14): decrypted video and keys must not reach swap. The system units
forbid it (MemorySwapMax=0); `nvr run` and `nvr web` warn at start when swap is active and their
cgroup does not forbid it. Checked on fixture files, on the real units with systemd-analyze, and
on the real `nvr web` with a /proc/swaps that shows swap (a bind mount in a mount namespace)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, write_config

from firmware.system.swap import active_swap, cgroup_v2_path, swap_forbidden, swap_warning

HEADER = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
SWAPFILE = HEADER + "/swapfile                               file\t\t102396\t\t0\t\t-2\n"
UNITS = ROOT / "systemd"


def fixture(tmp_path: Path, swaps: str, cgroup: str, limits: dict[str, str]):
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "swaps").write_text(swaps)
    (tmp_path / "cgroup").write_text(cgroup)
    root = tmp_path / "sys-fs-cgroup"
    root.mkdir()
    for group, value in limits.items():
        (root / group.lstrip("/")).mkdir(parents=True, exist_ok=True)
        (root / group.lstrip("/") / "memory.swap.max").write_text(value + "\n")
    return {"swaps": tmp_path / "swaps", "cgroup": tmp_path / "cgroup", "roots": (root,)}


SERVICE = "0::/system.slice/nvr-web.service\n"


def test_no_swap_no_warning(tmp_path):
    paths = fixture(tmp_path, HEADER, SERVICE, {})
    assert active_swap(paths["swaps"]) == []
    assert swap_warning(**paths) is None


def test_swap_and_a_cgroup_that_allows_it_warn(tmp_path):
    paths = fixture(tmp_path, SWAPFILE, SERVICE, {"/system.slice/nvr-web.service": "max",
                                                  "/system.slice": "max"})
    assert active_swap(paths["swaps"]) == ["/swapfile"]
    warning = swap_warning(**paths)
    assert warning and "/swapfile" in warning and "MemorySwapMax=0" in warning


def test_swap_max_zero_on_the_cgroup_or_an_ancestor_silences_it(tmp_path):
    leaf = fixture(tmp_path / "a", SWAPFILE, SERVICE, {"/system.slice/nvr-web.service": "0"})
    assert swap_warning(**leaf) is None
    parent = fixture(tmp_path / "b", SWAPFILE, SERVICE,
                     {"/system.slice/nvr-web.service": "max", "/system.slice": "0"})
    assert cgroup_v2_path(parent["cgroup"]) == "/system.slice/nvr-web.service"
    assert swap_forbidden("/system.slice/nvr-web.service", parent["roots"])
    assert swap_warning(**parent) is None


def test_cgroup_v1_cannot_show_swap_is_off_so_it_warns(tmp_path):
    v1 = "4:memory:/user.slice\n1:cpu:/\n"
    paths = fixture(tmp_path, SWAPFILE, v1, {})
    assert cgroup_v2_path(paths["cgroup"]) is None
    assert "cgroup v1" in swap_warning(**paths)


def start_web(config: Path, prefix: list[str]) -> str:
    """Start `nvr web`, return what it printed before its URL, stop it."""
    proc = subprocess.Popen([*prefix, sys.executable, "-m", "firmware.cli", "--config",
                             str(config), "web"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if "web interface:" in line:
                break
    finally:
        proc.terminate()
        proc.wait(10)
    return "".join(lines)


def test_nvr_web_warns_exactly_when_swap_can_take_its_memory(tmp_path):
    config = write_config(tmp_path)
    out = start_web(config, [])
    assert "web interface:" in out, out
    assert ("warning: swap is active" in out) == (swap_warning() is not None), out
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("showing swap to nvr needs unshare and root (a bind mount over /proc/swaps)")
    fake = tmp_path / "swaps"
    fake.write_text(SWAPFILE)
    probe = subprocess.run(["unshare", "-m", "sh", "-c", f"mount --bind {fake} /proc/swaps"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"no mount namespace here: {probe.stderr.strip()}")
    out = start_web(config, ["unshare", "-m", "sh", "-c",
                             f'mount --bind {fake} /proc/swaps && exec "$@"', "sh"])
    assert "web interface:" in out, out
    if swap_forbidden(cgroup_v2_path() or "/nowhere"):
        assert "warning: swap is active" not in out, out
    else:
        assert "warning: swap is active (/swapfile)" in out, out


def unit(name: str) -> dict[str, list[str]]:
    keys: dict[str, list[str]] = {}
    for line in (UNITS / name).read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            keys.setdefault(key.strip(), []).append(value.strip())
    return keys


# Each service its own user (issue 12 item 1, docs/units.md); the recorder notifies systemd.
@pytest.mark.parametrize("name,command,kind,user", [
    ("nvr-recorder.service", "run --no-web", "notify", "nvr-recorder"),
    ("nvr-web.service", "web", "simple", "nvr-web")])
def test_units_forbid_swap_and_run_nvr_unprivileged(name, command, kind, user):
    keys = unit(name)
    assert keys["MemorySwapMax"] == ["0"]
    assert keys["Type"] == [kind]
    assert keys["User"] == [user] and keys["NoNewPrivileges"] == ["yes"]
    assert keys["ProtectSystem"] == ["strict"] and keys["PrivateTmp"] == ["yes"]
    assert keys["ExecStart"] == [f"/usr/local/bin/nvr --config /etc/nvr/nvr.toml {command}"]


def test_units_pass_systemd_analyze_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd, listed in "
                    "debian-packages.txt)")
    # As installed, with the console script of this checkout where the unit expects it.
    nvr_script = Path(sys.executable).parent / "nvr"
    paths = []
    for source in sorted(UNITS.glob("*.service")):
        target = tmp_path / source.name
        target.write_text(source.read_text().replace("/usr/local/bin/nvr", str(nvr_script)))
        paths.append(str(target))
    assert len(paths) == 4      # recorder, web, exportd (issue 12), firstboot (issue 14)
    result = subprocess.run([analyze, "verify", *paths], capture_output=True, text=True)
    ours = [line for line in (result.stdout + result.stderr).splitlines() if "nvr-" in line]
    assert result.returncode == 0 and not ours, result.stdout + result.stderr
