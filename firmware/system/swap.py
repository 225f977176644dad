"""Whether this process's memory can reach swap (issue 9, item 14).

The recorder and the web process hold decrypted video and keys in memory. Swap would write
those pages to a disk that outlives the 28 days (R-40) and is readable without the master key
(R-82). The system units set `MemorySwapMax=0` (systemd/); a process started another way is
warned at start when swap is active and its cgroup does not forbid swap.

Read from /proc/swaps, /proc/self/cgroup and the cgroup v2 file `memory.swap.max` of this
process's cgroup and every ancestor (the smallest limit on the path applies). On cgroup v1
nothing says swap is off for the process, so it counts as allowed.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

PROC_SWAPS = Path("/proc/swaps")
PROC_CGROUP = Path("/proc/self/cgroup")
CGROUP_ROOTS = (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified"))


def active_swap(swaps: Path = PROC_SWAPS) -> list[str]:
    """The swap areas in use (files or devices), from /proc/swaps; [] when none or unreadable."""
    try:
        lines = swaps.read_text().splitlines()[1:]            # a header line first
    except OSError:
        return []
    return [line.split()[0] for line in lines if line.strip()]


def cgroup_v2_path(cgroup: Path = PROC_CGROUP) -> str | None:
    """This process's cgroup v2 path ('0::/system.slice/nvr-web.service'), or None."""
    try:
        for line in cgroup.read_text().splitlines():
            if line.startswith("0::"):
                return line[3:] or "/"
    except OSError:
        pass
    return None


def swap_forbidden(path: str, roots: tuple[Path, ...] = CGROUP_ROOTS) -> bool:
    """Whether memory.swap.max is 0 for cgroup `path` or one of its ancestors."""
    for root in roots:
        node = PurePosixPath(path)
        for group in (node, *node.parents):
            limit = root / str(group).lstrip("/") / "memory.swap.max"
            try:
                if limit.read_text().strip() == "0":
                    return True
            except OSError:
                continue
    return False


def swap_warning(swaps: Path = PROC_SWAPS, cgroup: Path = PROC_CGROUP,
                 roots: tuple[Path, ...] = CGROUP_ROOTS) -> str | None:
    """A warning when this process may be swapped out, else None."""
    areas = active_swap(swaps)
    if not areas:
        return None
    path = cgroup_v2_path(cgroup)
    if path is not None and swap_forbidden(path, roots):
        return None
    where = f"cgroup {path}" if path is not None else "a cgroup v1 hierarchy"
    return (f"swap is active ({', '.join(areas)}) and this process ({where}) may be swapped "
            "out: decrypted video and keys could reach that disk and outlive the 28 days. "
            "Run it under the systemd units (MemorySwapMax=0, see systemd/) or turn swap off "
            "(docs/storage.md, Swap)")
