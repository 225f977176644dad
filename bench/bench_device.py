"""What the benchmarks set up alike: a device's configuration and its staff accounts.

`config(camera)` wraps one camera's settings (the lines after `[[cameras]]`, as each benchmark
needs them) in the device, storage and web settings and the regulation's introduction (the DPIA
before recording); `staff(config, accounts)` makes the technisch beheerder and the manager with
their enrollment codes, then each named account made by the one and approved by the other (R-11),
with the benchmark password.
"""

from __future__ import annotations

from pathlib import Path

PASSWORD = "a long pass phrase 42"

HEAD = """
[device]
id = "bench"
[storage]
data_dir = "data"
key_dir = "keys"
[web]
port = 0
"""

INTRODUCTION = """
[introduction]                 # the regulation's introduction: the DPIA before recording
dpia_reference = "DPIA bench"
dpia_date = "2026-03-02"
signage = ["bench"]
"""


def config(camera: str, extra: str = "") -> str:
    """A device configuration with `extra` sections (e.g. `[export]`) and one camera 'cam'."""
    return f'{HEAD}{extra}[[cameras]]\nid = "cam"\n{camera.strip()}\n{INTRODUCTION}'


def staff(path: Path, accounts: dict | None = None) -> None:
    """t.admin and m.manager, then every account of `accounts` ({name: Role}), approved."""
    from firmware.config import load
    from firmware.governance.roles import Role
    from firmware.governance.service import Governance
    gov = Governance.open(load(path))
    try:
        gov.accounts.add("t.admin", Role.TECHNICAL, PASSWORD,
                         enrollment_code=gov.accounts.issue_enrollment_code())
        gov.accounts.add("m.manager", Role.MANAGER, PASSWORD,
                         enrollment_code=gov.accounts.issue_enrollment_code(Role.MANAGER))
        admin = gov.accounts.authenticate("t.admin", PASSWORD).actor()
        manager = gov.accounts.authenticate("m.manager", PASSWORD).actor()
        for name, role in (accounts or {}).items():
            code = gov.accounts.create(name, role, by=admin)
            gov.accounts.reset_password(name, code, PASSWORD)      # the owner sets it
            gov.accounts.approve(name, role=role, by=manager)      # four eyes
    finally:
        gov.close()
