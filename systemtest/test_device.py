"""The whole device on a virtual machine (issue 12 item 6): the image of tools/vm/ booted under
QEMU, checked from outside as an operator would. The tests run in file order on one guest: each
leaves the device recording for the next."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from systemtest.vm import GuestError, VirtualDevice

REPO = Path(__file__).resolve().parent.parent
RECORDER = "nvr-recorder.service"


def wait_for(what: str, check, timeout: float, every: float = 2.0, done=bool):
    """Poll `check` until `done(answer)`; return that answer, or fail naming `what` and the
    last answer."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if done(answer):
            return answer
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not so after {timeout:.0f} s (last: {answer!r})")
        time.sleep(every)


# The product's units that run on every device (systemd/ and the image's nvr-storage): each
# enabled and active; the oneshots (firstboot, storage) active means done (RemainAfterExit=).
# exportd also starts at boot (WantedBy=multi-user.target), besides udev's pull for a stick.
REQUIRED = ("nvr-storage.service", "nvr-firstboot.service", RECORDER, "nvr-web.service",
            "nvr-exportd.service")


def enabled_units(device: VirtualDevice) -> list[str]:
    """The nvr units enabled in the image."""
    return sorted(device.run("systemctl list-unit-files --state=enabled --no-legend "
                             "--plain 'nvr-*' | cut -d' ' -f1").stdout.split())


def segments(device: VirtualDevice) -> list[dict]:
    return json.loads(device.nvr("recordings list --json").stdout)


def verify(device: VirtualDevice) -> dict:
    done = device.nvr("recordings verify --json", check=False, timeout=600)
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


def main_pid(device: VirtualDevice, unit: str) -> int:
    return int(device.run(f"systemctl show -p MainPID --value {unit}").stdout.strip() or 0)


def restarts(device: VirtualDevice, unit: str) -> int:
    return int(device.run(f"systemctl show -p NRestarts --value {unit}").stdout.strip() or 0)


_TOKEN: dict[str, str] = {}


def metrics(device: VirtualDevice) -> str:
    """The device's /metrics as the central room scrapes it: with a scrape token (made once per
    run by t.admin, `nvr scrape-token issue`), over its TLS on the loopback."""
    from systemtest.stick import STAFF, first_accounts
    if "token" not in _TOKEN:
        first_accounts(device)
        issued = device.nvr(f"scrape-token issue systeemtest-{int(time.time())} --user t.admin",
                            env=STAFF).stdout
        _TOKEN["token"] = next(w for w in issued.split() if w.startswith("nvrscrape_"))
    done = device.run("curl -sk -o /tmp/metrics -w '%{http_code}' -H \"Authorization: Bearer "
                      "$T\" https://127.0.0.1:8443/metrics", env={"T": _TOKEN["token"]})
    assert done.stdout == "200", done.stdout
    return device.run("cat /tmp/metrics").stdout


def metric(text: str, name: str) -> float | None:
    """The value of an unlabelled sample `name` in a scrape, None when absent."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def index_path(device: VirtualDevice) -> str:
    """Where the device keeps its index (the data directory, or storage.index_dir's)."""
    found = device.run("find /var/lib/nvr /etc/nvr -name index.sqlite3 -size +0 2>/dev/null | head -1",
                       check=False).stdout.strip()
    assert found, "no index.sqlite3 under /var/lib/nvr or /etc/nvr"
    return found


def readyz(device: VirtualDevice) -> tuple[int, dict]:
    done = device.run("curl -sk -o /tmp/readyz -w '%{http_code}' "
                      "https://127.0.0.1:8443/readyz; echo; cat /tmp/readyz", check=False)
    code, _, body = done.stdout.partition("\n")
    try:
        return int(code or 0), json.loads(body or "{}")
    except ValueError:
        return int(code or 0), {"unparsed": body}


def test_every_nvr_service_active(device, step):
    """Every unit of the product that should run is enabled and active (firstboot and storage:
    done); install.sh fails the image rather than leave one of systemd/ not enabled."""
    units = enabled_units(device)
    installed = sorted(p.name for p in (REPO / "systemd").glob("*.service"))
    print(f"[system-test] installed: {installed}; enabled: {units}", flush=True)
    assert set(REQUIRED) <= set(units), (REQUIRED, units)
    assert set(installed) <= set(units), (installed, units)
    with step("every nvr service active"):
        wait_for("every required nvr unit active", lambda: device.run(
            "systemctl is-active " + " ".join(REQUIRED), check=False).stdout.split(), 180,
            done=lambda states: states == ["active"] * len(REQUIRED))
    for oneshot in ("nvr-storage.service", "nvr-firstboot.service"):
        result = device.run(f"systemctl show -p Result --value {oneshot}").stdout.strip()
        assert result == "success", (oneshot, result)
    assert device.run("systemctl is-system-running --wait", check=False,
                      timeout=200).stdout.strip() in ("running", "degraded")
    failed = device.run("systemctl --failed --no-legend --plain", check=False).stdout
    assert "nvr" not in failed, failed


def test_readyz_ready(device, step):
    with step("/readyz ready"):
        code, body = wait_for("/readyz answers 200 ready", lambda: readyz(device), 240,
                              every=5, done=lambda a: a[0] == 200)
    assert body["ready"] is True and all(
        ok for check, ok in body["checks"].items() if check != "storage_alarm"), body
    assert body["checks"]["storage_alarm"] is False, body


def test_segments_recorded_from_the_synthetic_camera(device, step):
    with step("segments recorded (synthetic camera)"):
        got = wait_for("a segment from camera entree in the index",
                       lambda: [s for s in segments(device) if s["camera"] == "entree"],
                       300, every=10)
    assert all(s["bytes"] > 0 and s["frames"] > 0 for s in got), got
    with step("recordings verify beside the recorder"):
        result = verify(device)
    assert result["checked"] >= 1 and result["problems"] == [], result


def test_metrics_show_the_clock_and_the_segments_record_it_R30(device, step):
    """Issue 12 item 3 under the real units: the recorder and web read the kernel clock with
    adjtimex(2) through their SystemCallFilter= (docs/units.md, "Reading the clock"), so the
    scrape has nvr_clock_offset_seconds and the newest segment has its clock record (offset,
    estimated error) beside its sync flag; the live scrape is valid for `promtool check
    metrics` with the recorder running."""
    import shutil
    if shutil.which("promtool") is None:
        pytest.fail("promtool is missing: apt-get install prometheus (tools/vm/host-packages.txt)")
    with step("/metrics with a scrape token (the clock, promtool check metrics)"):
        text = metrics(device)
    assert metric(text, "nvr_clock_offset_seconds") is not None, text
    assert metric(text, "nvr_recorder_up") == 1, text
    check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                           text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    newest = max((s for s in segments(device) if s["camera"] == "entree"),
                 key=lambda s: s["start"])
    assert isinstance(newest["clock_synced"], bool), newest
    row = device.run(
        "python3 -c \"import sqlite3, sys; print(sqlite3.connect('file:' + sys.argv[1] + "
        "'?mode=ro', uri=True).execute('select offset, est_error from segment_clock where "
        "segment_id = ?', (sys.argv[2],)).fetchone())\" " + f"{index_path(device)} {newest['id']}"
    ).stdout.strip()
    print(f"[system-test] newest segment {newest['id']}: clock_synced "
          f"{newest['clock_synced']}, (offset, est_error) {row}", flush=True)
    assert row.startswith("(") and row != "None", row


def test_selftest_passes_on_the_virtual_device(device, step):
    """Issue 14 item 6: `nvr selftest` as the technisch beheerder runs it (root, the device's
    configuration) while the device records: nothing fails. The clock is asked through the
    virtual device's chrony seam, as its units ask it (tools/vm/provision.sh); GPIO is off."""
    with step("nvr selftest"):
        done = device.run("NVR_TIMEDATECTL=/usr/local/bin/nvr-chrony-synchronised "
                          "nvr --config /etc/nvr/nvr.toml selftest --json", check=False,
                          timeout=600)
    rows = {r["name"]: r for r in json.loads(done.stdout or "[]")}
    print(f"[system-test] selftest: {[(n, r['status']) for n, r in rows.items()]}", flush=True)
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert set(rows) == {"camera", "encoder", "disk", "keys", "clock", "gpio", "exportd",
                         "units"}, rows
    for name in ("camera", "encoder", "disk", "keys", "clock", "exportd", "units"):
        assert rows[name]["status"] == "ok", rows[name]
    assert rows["gpio"]["status"] == "skip" and rows["gpio"]["finding"], rows["gpio"]


def test_sigkill_recorder_restarted_by_systemd_then_verify_clean(device, step):
    before_pid, before_restarts = main_pid(device, RECORDER), restarts(device, RECORDER)
    assert before_pid > 0
    with step("SIGKILL recorder -> systemd restarts it"):
        device.run(f"kill -KILL {before_pid}")
        def restarted():
            pid = main_pid(device, RECORDER)
            active = device.run(f"systemctl is-active {RECORDER}", check=False).stdout.strip()
            return active == "active" and pid not in (0, before_pid) and pid
        wait_for("the recorder running again under a new pid", restarted, 240)
    assert restarts(device, RECORDER) == before_restarts + 1
    with step("recordings verify after the restart"):
        result = verify(device)
    assert result["problems"] == [] and result["checked"] >= 1, result
    with step("/readyz ready after the restart"):
        wait_for("/readyz ready again", lambda: readyz(device), 240, every=5,
                 done=lambda a: a[0] == 200)


def test_power_cut_then_boot_loses_nothing_but_the_segment_in_flight(device, step):
    """QEMU quit without shutdown while recording: after the boot every segment listed before
    the cut is still listed, ok and whole; the one in flight was never listed."""
    with step("recording before the power cut"):
        n = len(segments(device))
        wait_for("one more segment before the cut", lambda: len(segments(device)) > n, 300,
                 every=10)
    before = {s["id"]: s for s in segments(device)}
    with step("power cut (QMP quit, no shutdown)"):
        device.power_cut()
    with step("boot again after the power cut"):
        device.boot()
    with step("services active after the power cut"):
        wait_for("the recorder active after the power cut", lambda: device.run(
            f"systemctl is-active {RECORDER}", check=False).stdout.strip() == "active", 180)
    with step("recordings verify after the power cut"):
        result = verify(device)
    assert result["problems"] == [], result
    # The segment in flight: a .part file (removed at boot), or, when the cut came between its
    # rename into place and its row's commit (now on another disk: the index is on the card),
    # a finished file the index does not explain, kept in quarantine for the operator and
    # never deleted (storage/store.py reconcile). At most that one, and never a listed one.
    assert len(result["in_quarantine"]) <= 1, result
    assert not [q for q in result["in_quarantine"] if any(sid in q for sid in before)], result
    after = {s["id"]: s for s in segments(device)}
    lost = [sid for sid in before if sid not in after]
    print(f"[system-test] segments listed before the cut: {len(before)}, after the boot: "
          f"{len(after)}, listed before and gone after: {lost}", flush=True)
    # A listed segment is committed: its file fsynced and renamed into place, its folder
    # fsynced, then its row inserted in a transaction with synchronous=FULL
    # (storage/store.py _finish, storage/index.py). The segment in flight has no row, so it is
    # never listed (above: removed or quarantined at boot). So nothing listed may go, and no
    # ok segment may turn missing.
    assert lost == [], (lost, sorted(before), sorted(after))
    went_missing = [sid for sid, s in before.items()
                    if s["status"] == "ok" and after[sid]["status"] != "ok"]
    assert went_missing == [], went_missing
    assert all(after[sid]["bytes"] == s["bytes"] for sid, s in before.items()), (before, after)
    integrity = device.run(
        "python3 -c \"import sqlite3, sys; print(sqlite3.connect('file:' + "
        "sys.argv[1] + '?mode=ro', uri=True).execute('pragma integrity_check').fetchone()[0])"
        "\" " + index_path(device)).stdout
    assert integrity.strip() == "ok", integrity
    with step("/readyz ready after the power cut"):
        wait_for("/readyz ready after the power cut", lambda: readyz(device), 300,
                 every=5, done=lambda a: a[0] == 200)


def test_usb_disk_hot_plugged_through_qmp_is_seen_as_usb(device, step, tmp_path):
    """The plug itself and what udev sees (the export stick's check builds on it)."""
    stick = tmp_path / "stick.raw"
    with open(stick, "wb") as f:
        f.truncate(64 * 1024 * 1024)
    with step("USB disk hot-plug (QMP device_add usb-storage)"):
        device.qmp.execute("blockdev-add", **{"node-name": "stick", "driver": "raw",
                                              "file": {"driver": "file",
                                                       "filename": str(stick)}})
        device.qmp.execute("device_add", driver="usb-storage", id="stick0", drive="stick",
                           serial="NVRTEST0001", bus="xhci.0")
        def seen():
            out = device.run("for d in /sys/block/sd*; do [ -e $d ] && udevadm info "
                             "--query=property --name=/dev/${d##*/}; done", check=False).stdout
            return "ID_BUS=usb" in out and "NVRTEST0001" in out and out
        props = wait_for("the stick as a USB block device in the guest", seen, 60)
    assert "DEVTYPE=disk" in props
    with step("USB disk unplug (QMP device_del)"):
        device.qmp.execute("device_del", id="stick0")
        wait_for("the stick gone from the guest", lambda: "NVRTEST0001" not in device.run(
            "cat /sys/block/sd*/device/../../../serial 2>/dev/null; "
            "udevadm info --export-db | grep ID_SERIAL_SHORT= || true").stdout, 60)
        device.qmp.execute("blockdev-del", **{"node-name": "stick"})


FREEZE = "/run/nvr-systemtest-freeze"


def test_frozen_camera_makes_the_watchdog_restart_the_recorder(device, step):
    """A camera that delivers no frames (the synthetic camera's freeze_file) stops the
    recorder's watchdog pings; systemd kills it and starts it again (issue 12 items 2 and 6)."""
    raw = device.run(f"systemctl show -p WatchdogUSec --value {RECORDER}").stdout.strip()
    assert raw not in ("0", "infinity", ""), f"{RECORDER} has no WatchdogSec= ({raw!r})"
    assert device.run("grep -q '^freeze_file = ' /etc/nvr/nvr.toml", check=False
                      ).returncode == 0, "the device's nvr.toml has no freeze_file (provision.sh)"
    pid, n = main_pid(device, RECORDER), restarts(device, RECORDER)
    # absent until the first restart is counted (its table is made then)
    counted = metric(metrics(device), "nvr_recorder_restarts_total") or 0.0
    since = device.run("date +%s").stdout.strip()
    with step(f"frozen camera -> watchdog restart (WatchdogSec {raw})"):
        device.run(f"touch {FREEZE}")
        try:
            wait_for("the watchdog restarting the recorder with the frozen camera", lambda:
                     main_pid(device, RECORDER) not in (0, pid), 400, every=5)
        finally:
            device.run(f"rm -f {FREEZE}")
    assert restarts(device, RECORDER) == n + 1
    # systemd's own verdict, not the firmware's word "watchdog" in its log
    log = device.run(f"journalctl -u {RECORDER} --no-pager --since @{since} -o cat",
                     check=False).stdout
    assert "Watchdog timeout" in log and "Failed with result 'watchdog'" in log, log
    with step("recorder active and recording after the watchdog restart"):
        wait_for("the recorder active again", lambda: device.run(
            f"systemctl is-active {RECORDER}", check=False).stdout.strip() == "active", 300)
        count = len(segments(device))
        wait_for("a new segment after the watchdog restart",
                 lambda: len(segments(device)) > count, 300, every=10)
    # the firmware counted the restart itself (storage/restarts.py: the run that never stopped)
    assert metric(metrics(device), "nvr_recorder_restarts_total") == counted + 1


STICK_SERIAL = "NVRLUKS0001"


def usb_list(device: VirtualDevice, check: bool = True) -> list[dict]:
    """The sticks exportd offers; with check=False, [] while it is not listening yet (its
    unit is active as soon as the process starts: Type=simple)."""
    done = device.nvr("usb list --json", check=check)
    return json.loads(done.stdout) if done.returncode == 0 else []


def exportd_active(device: VirtualDevice) -> str:
    return device.run("systemctl is-active nvr-exportd.service", check=False).stdout.strip()


def test_export_to_a_luks2_stick_verified_on_the_host_R61_R62(device, step, tmp_path):
    """Issue 13 "Tests must prove" and issue 12 item 6: a blank USB disk hot-plugged through
    QMP starts exportd (udev's SYSTEMD_WANTS), is formatted as LUKS2 and unlocked with the real
    cryptsetup (a wrong password refused), receives an art. 9 package from `nvr export create`,
    is ejected (no mapping left), unplugged, and the package verifies ON THE HOST, which has no
    device-mapper: the volume key from `cryptsetup luksDump`, the data decrypted by
    systemtest/luks.py, the ext4 read by debugfs, then `sha256sum -c` and `openssl pkeyutl`."""
    from systemtest import luks
    from systemtest.stick import (STAFF, art9_request, blank_image, export_to_stick,
                                  first_accounts, plug, unplug)
    with step("export stick: exportd stopped, a blank 64 MB disk hot-plugged"):
        device.run("systemctl stop nvr-exportd.service")
        assert exportd_active(device) == "inactive"
        image = blank_image(tmp_path / "luks-stick.raw")
        plug(device, image, "luks", STICK_SERIAL)
        # udev's rule (90-nvr-usb.rules) tags it and pulls in exportd; nobody else starts it
        wait_for("nvr-exportd started by udev for the USB disk", lambda: exportd_active(device),
                 120, done=lambda state: state == "active")
        sticks = wait_for("the stick in nvr usb list", lambda: usb_list(device, False), 180,
                          done=lambda found: any(d["serial"] == STICK_SERIAL for d in found))
    [stick] = sticks                    # the only USB disk: the VM's own disk is never offered
    dev = stick["device"]
    assert dev.startswith("/dev/sd") and stick["kind"] == "blank", stick
    props = device.run(f"udevadm info --query=property --name={dev}").stdout
    assert "ID_BUS=usb" in props and "NVR_USB=1" in props, props
    assert "SYSTEMD_WANTS=nvr-exportd.service" in props, props
    assert not any(d["device"].startswith("/dev/vd") for d in sticks), sticks

    with step("accounts (the stick's steps are logged by the person, art. 7 lid 2)"):
        first_accounts(device)
    as_beheerder = "--user b.beheerder"
    with step("nvr usb format (LUKS2, real cryptsetup, the device's password)"):
        formatted = json.loads(device.nvr(f"usb format {dev} --confirm '{stick['confirm']}' "
                                          f"{as_beheerder} --json", env=STAFF,
                                          timeout=900).stdout)
    password = formatted["password"]            # generated, shown once (issue 13 item 2)
    dump = device.run(f"cryptsetup luksDump {dev}").stdout
    assert "Version:       \t2" in dump and "aes-xts-plain64" in dump, dump
    with step("nvr usb unlock with a wrong password: refused"):
        wrong = device.nvr(f"usb unlock {dev} {as_beheerder}",
                           env={**STAFF, "NVR_USB_PASSWORD": password[::-1]},
                           check=False, timeout=900)
    assert wrong.returncode != 0 and "wrong passphrase" in wrong.stderr, wrong
    assert "nvr-export" not in device.run("dmsetup ls").stdout
    with step("nvr usb unlock"):
        device.nvr(f"usb unlock {dev} {as_beheerder}",
                   env={**STAFF, "NVR_USB_PASSWORD": password}, timeout=900)
    assert [d["state"] for d in usb_list(device)] == ["unlocked"]
    assert f"nvr-export-{dev.rsplit('/', 1)[-1]}" in device.run("dmsetup ls").stdout

    with step("art. 9 request: identity, declaration"):
        recorded = [s for s in segments(device) if s["camera"] == "entree"
                    and s["status"] == "ok"][:2]
        request = art9_request(device, "entree", recorded)
    with step("nvr export create onto the stick"):
        package = export_to_stick(device, request)
    with step("nvr usb eject (sync, umount, luksClose)"):
        ejected = device.nvr(f"usb eject {dev} {as_beheerder}", env=STAFF, timeout=300)
    assert "locked" in ejected.stdout, ejected.stdout
    assert device.run("dmsetup ls").stdout.strip() in ("", "No devices found")
    assert device.run(f"lsblk -rno TYPE {dev}").stdout.split() == ["disk"]   # no crypt child
    with step("USB disk unplugged (QMP device_del)"):
        unplug(device, "luks", lambda: STICK_SERIAL not in device.run(
            "udevadm info --export-db | grep ID_SERIAL_SHORT= || true").stdout)
    assert usb_list(device) == []

    with step("on the host: volume key (luksDump), decrypt, debugfs"):
        plain = tmp_path / "stick.ext4"
        segment = luks.decrypt(image, password, plain)
        names = luks.listing(plain)
        copied = luks.extract(plain, "/" + package["name"], tmp_path / "from-stick")
    print(f"[system-test] stick: data segment {segment}; root folder {names}", flush=True)
    assert sorted(names) == sorted(["lost+found", package["name"]])      # no .part left
    assert sorted(p.name for p in copied.iterdir()) == sorted(package["files"])
    with step("on the host: sha256sum -c, openssl pkeyutl -verify, nvr export verify"):
        sums = subprocess.run(["sha256sum", "-c", "manifest.sha256"], cwd=copied,
                              capture_output=True, text=True)
        sig = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey",
                              "device-pubkey.pem", "-rawin", "-in", "manifest.json",
                              "-sigfile", "manifest.sig"], cwd=copied, capture_output=True,
                             text=True)
        verify_cli = subprocess.run([sys.executable, "-m", "firmware.cli", "export", "verify",
                                     str(copied)], cwd=REPO, capture_output=True, text=True)
    assert sums.returncode == 0 and sums.stdout.count(": OK") == len(package["files"]) - 1, (
        sums.stdout + sums.stderr)
    assert sig.returncode == 0 and "Signature Verified Successfully" in sig.stdout, sig
    assert verify_cli.returncode == 0, verify_cli.stderr
    manifest = (copied / "manifest.json").read_bytes()
    if "manifest_sha256" in package:            # the bytes the device signed, unchanged
        assert hashlib.sha256(manifest).hexdigest() == package["manifest_sha256"]
    meta = json.loads(manifest)
    assert meta["request"] == request["reference"] and meta["camera"]["id"] == "entree"
    # the request's window (a second either side) covers these segments, perhaps a neighbour
    assert {s["id"] for s in recorded} <= {s["id"] for s in meta["videos"][0]["segments"]}
