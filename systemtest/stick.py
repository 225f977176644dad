"""The export stick of the system test (issue 13 over issue 12 item 6): a raw image file on the
host, plugged into the guest as a USB disk through QMP, and what the guest needs before an
art. 9 export can be written onto it (the first accounts, a registered request with the
officer's identity and signed declaration), made with the device's own `nvr` commands."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from pathlib import Path

from systemtest.vm import GuestError, VirtualDevice

STAFF_PASSWORD = "Zeer-sterk wachtwoord 2026 systeemtest!"
OFFICER = "brigadier K. Bakker"


def blank_image(path: Path, mib: int = 64) -> Path:
    with open(path, "wb") as f:
        f.truncate(mib << 20)
    return path


def plug(device: VirtualDevice, image: Path, name: str, serial: str) -> None:
    """`image` as a USB disk on the guest's xhci bus (QMP blockdev-add + device_add)."""
    device.qmp.execute("blockdev-add", **{"node-name": name, "driver": "raw",
                                          "file": {"driver": "file", "filename": str(image)}})
    device.qmp.execute("device_add", driver="usb-storage", id=f"{name}0", drive=name,
                       serial=serial, bus="xhci.0")


def unplug(device: VirtualDevice, name: str, gone, timeout: float = 60) -> None:
    """device_del, wait until `gone()` says the guest has let go, then blockdev-del (QEMU
    closes the image file: from then on the host may read it)."""
    device.qmp.execute("device_del", id=f"{name}0")
    deadline = time.monotonic() + timeout
    while not gone():
        if time.monotonic() > deadline:
            raise GuestError(f"the USB disk {name} is still in the guest {timeout:.0f} s after "
                             "device_del")
        time.sleep(1)
    for _ in range(20):                 # device_del completes asynchronously in QEMU
        try:
            device.qmp.execute("blockdev-del", **{"node-name": name})
            return
        except GuestError as exc:
            if "in use" not in str(exc) and "busy" not in str(exc).lower():
                raise
            time.sleep(1)
    raise GuestError(f"QEMU still uses the image of {name} after device_del")


# The staff's password for `nvr` (NVR_PASSWORD to log in, NVR_NEW_PASSWORD for a new one).
STAFF = {"NVR_PASSWORD": STAFF_PASSWORD, "NVR_NEW_PASSWORD": STAFF_PASSWORD}


def first_accounts(device: VirtualDevice) -> None:
    """t.admin (technisch beheerder) and m.manager made as root, the way docs/units.md says a
    device gets its first two accounts; b.beheerder made by t.admin, its password set with the
    one-time setup code, approved by m.manager (art. 2, art. 3.1). Nothing when they exist
    (a guest kept for development)."""
    names = {u["name"] for u in json.loads(device.nvr("user list --json").stdout)}
    if "b.beheerder" in names:
        return
    for name, role in (("t.admin", "technisch-beheerder"),
                       ("m.manager", "manager-bedrijfsvoering")):
        if name in names:               # made with its enrollment code (test_provisioning.py)
            continue
        device.run(f"nvr --config /etc/nvr/nvr.toml user add {name} --role {role}", env=STAFF)
    made = device.nvr("user add b.beheerder --role beheerder --user t.admin", env=STAFF).stdout
    code = made.split("one-time setup code for b.beheerder: ")[1].split()[0]
    device.nvr(f"user reset b.beheerder --code {code}", env=STAFF)
    device.nvr("user approve b.beheerder --role beheerder --user m.manager", env=STAFF)


def art9_request(device: VirtualDevice, camera: str, segments: list[dict]) -> dict:
    """A registered art. 9 request of the police for `segments`' window (a second either
    side), with the officer's identity and signed declaration (art. 9 lid 3-4): what an export
    needs. Its reference is new each time (a kept guest may run this more than once)."""
    start = datetime.fromisoformat(segments[0]["start"]) - timedelta(seconds=1)
    end = datetime.fromisoformat(segments[-1]["end"]) + timedelta(seconds=1)
    reference = f"PL0900-{int(time.time())}"
    window = f"--camera {camera} --start {start.isoformat()} --end {end.isoformat()}"
    req = json.loads(device.nvr(
        f"request add --article 9 --reference {reference} --requester "
        f"'Politie Midden-Nederland' --legal-basis 126nd {window} --user b.beheerder --json",
        env=STAFF).stdout)
    device.nvr(f"request identity {req['id']} --officer '{OFFICER}' --document-type "
               "dienstpas --last-digits 4411 --user b.beheerder", env=STAFF)
    device.nvr(f"request declaration {req['id']} --signed-by '{OFFICER}' --user b.beheerder",
               env=STAFF)
    return {"id": req["id"], "reference": reference, "window": window}


def export_to_stick(device: VirtualDevice, request: dict) -> dict:
    """`nvr export create` for `request` without --to: onto the one unlocked stick exportd
    offers. Its --json answer, and `name`: the package's folder on the stick."""
    out = json.loads(device.nvr(
        f"export create --request {request['reference']} {request['window']} --user "
        "b.beheerder --reason 'art. 9 verzoek politie (systeemtest)' --json",
        timeout=900, env=STAFF).stdout)
    return {**out, "name": out["path"].replace(":", "/").rstrip("/").rsplit("/", 1)[-1]}
