"""Issue 12 item 3: /metrics for the central room's Prometheus (system/metrics.py), its scrape
token (system/scrape.py, `nvr scrape-token`), and the alert rules (monitoring/)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import PASSWORD, ROOT, make_store, nvr, staff, write_config
from prometheus_client.parser import text_string_to_metric_families
from webutil import login

from firmware.config import load
from firmware.governance.service import Governance
from firmware.storage.holds import add_hold
from firmware.system.scrape import ScrapeTokens
from firmware.web import create_app
from test_recorder import packets  # noqa: F401 (fixture: real H.264 packets)

MONITORING = ROOT / "monitoring"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is missing: apt-get install prometheus "
                             "(debian-packages.txt)")


def samples(text: str) -> dict[tuple, float]:
    """{(name, (label, value), ...): value} of a scrape."""
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, *sorted(s.labels.items()))] = s.value
    return found


def token_for(config: Path, name: str = "prometheus-centrale-ruimte") -> str:
    gov = Governance.open(load(config))
    try:
        return ScrapeTokens(gov.accounts.db, gov.logbook).issue(
            gov.login("t.admin", PASSWORD), name)
    finally:
        gov.close()


def scrape(app, token: str) -> dict:
    r = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.content_type.startswith("text/plain; version=0.0.4")
    return samples(r.get_data(as_text=True))


@pytest.fixture
def site(tmp_path):
    config = write_config(tmp_path, storage="segment_seconds = 2")
    staff(config)
    return config, token_for(config)


# --- the gate: a scrape token, nothing else ------------------------------------------------------

def _get(url: str, token: str | None = None):
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE     # the device's own
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as r:
            assert r.headers.get("Set-Cookie") is None          # no session, not even CSRF
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@needs_promtool
def test_live_scrape_of_nvr_web_passes_promtool_and_only_a_token_opens_it(tmp_path):
    """A real `nvr web` over TLS: 401 without a token, with a wrong one, and after `nvr
    scrape-token revoke`; 200 with the token from `nvr scrape-token issue`, and the scrape is
    valid Prometheus text (`promtool check metrics`)."""
    config = write_config(tmp_path)
    env = staff(config)
    issued = nvr("--config", str(config), "scrape-token", "issue", "prometheus-centrale-ruimte",
                 "--user", "t.admin", env=env)
    assert issued.returncode == 0, issued.stderr
    token = next(line for line in issued.stdout.splitlines() if line.startswith("nvrscrape_"))
    web = subprocess.Popen([sys.executable, "-m", "firmware.cli", "--config", str(config), "web"],
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = web.stdout.readline()
        assert line.startswith("web interface: https://"), line
        base = line.split()[2]
        assert _get(base + "/metrics")[0] == 401
        assert _get(base + "/metrics", token="nvrscrape_" + "x" * 43)[0] == 401
        status, text = _get(base + "/metrics", token=token)
        assert status == 200, text
        check = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                               text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        found = samples(text)
        assert found[("nvr_recorder_up",)] == 0                 # no recorder runs here
        assert ("nvr_camera_recording", ("camera", "cam")) in found
        assert "t.admin" not in text and "Testcamera" not in text    # no names, no places
        revoked = nvr("--config", str(config), "scrape-token", "revoke",
                      "prometheus-centrale-ruimte", "--user", "t.admin", env=env)
        assert revoked.returncode == 0, revoked.stderr
        assert _get(base + "/metrics", token=token)[0] == 401
    finally:
        web.terminate()
        web.wait(30)
    listed = nvr("--config", str(config), "scrape-token", "list", "--json", "--user", "t.admin",
                 env=env)
    assert '"state": "revoked"' in listed.stdout, listed.stdout
    assert token not in listed.stdout                            # kept as its hash only
    gov = Governance.open(load(config))
    actions = [(e["actor"], e["action"], e["subject"]) for e in gov.logbook.entries("usage")]
    gov.close()
    assert ("t.admin", "scrape-token-issue", "prometheus-centrale-ruimte") in actions
    assert ("t.admin", "scrape-token-revoke", "prometheus-centrale-ruimte") in actions


def test_the_401_without_a_token_says_in_dutch_what_to_do(site):
    """Everything a person reads is Dutch: the central room's beheerder who opens /metrics
    without a token reads what is needed, from the catalogue."""
    config, _ = site
    r = create_app(load(config)).test_client().get("/metrics")
    assert r.status_code == 401
    assert r.get_data(as_text=True).startswith("een scrape-token is nodig: Authorization: "
                                               "Bearer <token>"), r.get_data(as_text=True)


def test_a_session_is_no_scrape_token(site):
    """/metrics is for the scraper only: a signed-in technisch beheerder gets 401 too."""
    config, _ = site
    app = create_app(load(config))
    assert login(app, "t.admin").get("/metrics").status_code == 401


def test_scrape_token_names_are_checked(site):
    from firmware.system.scrape import ScrapeTokenError
    config, _ = site
    with pytest.raises(ScrapeTokenError, match="not a usable name"):
        token_for(config, "Prometheus Centrale Ruimte")


# --- values that move --------------------------------------------------------------------------

def test_frames_segments_and_a_hold_show_while_the_recorder_runs(site, monkeypatch, tmp_path):
    """A running recorder: frames counted and growing, segments written show in the index's
    figures, a hold shows, and the recorder's heartbeat is there."""
    config, token = site
    app = create_app(load(config))
    before = scrape(app, token)
    assert before[("nvr_segments_stored", ("camera", "cam"))] == 0
    assert before[("nvr_holds_active",)] == 0
    recorder = subprocess.Popen([sys.executable, "-m", "firmware.cli", "--config", str(config),
                                 "run", "--no-web"], cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            now = scrape(app, token)
            if now[("nvr_segments_stored", ("camera", "cam"))] >= 2 or \
                    time.monotonic() > deadline:
                break
            time.sleep(1)
        assert now[("nvr_recorder_up",)] == 1
        assert now[("nvr_camera_recording", ("camera", "cam"))] == 1
        assert now[("nvr_segments_stored", ("camera", "cam"))] >= 2, now
        written = now[("nvr_camera_segments_written_total", ("camera", "cam"))]
        assert written >= now[("nvr_segments_stored", ("camera", "cam"))] >= 2
        assert now[("nvr_camera_segment_bytes_written_total", ("camera", "cam"))] > 0
        frames = now[("nvr_camera_frames_total", ("camera", "cam"))]
        time.sleep(1.5)
        later = scrape(app, token)
        assert later[("nvr_camera_frames_total", ("camera", "cam"))] > frames
        assert later[("nvr_slot_keys_live",)] >= 1
        assert later[("nvr_camera_segments_lost_total", ("camera", "cam"))] == 0
        assert 0 <= later[("nvr_retention_horizon_seconds",)] < 600
        store = make_store(tmp_path)
        add_hold(store, "cam", time.time() - 600, time.time(), "incident", "ref-1")
        held = scrape(app, token)
        assert held[("nvr_holds_active",)] == 1 and held[("nvr_held_segments",)] >= 1
        if PROMTOOL is None:
            pytest.fail("promtool is missing: apt-get install prometheus (debian-packages.txt)")
        # the scrape with the recorder's families filled in is valid text too (issue 12 item 3)
        text = app.test_client().get("/metrics", headers={
            "Authorization": f"Bearer {token}"}).get_data(as_text=True)
        check = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                               text=True)
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        recorder.terminate()
        recorder.wait(30)


def test_tamper_alarms_login_failures_and_the_logbook_head(site, tmp_path):
    """The alarm kinds other parts raise (case-tamper from the GPIO switch,
    camera-tamper:<camera>:<condition> from the picture) show as nvr_tamper; a failed sign-in
    counts; the usage logbook's head is its last entry."""
    from firmware.governance.accounts import AuthError
    config, token = site
    app = create_app(load(config))
    first = scrape(app, token)
    assert first[("nvr_tamper", ("camera", ""), ("source", "case"))] == 0
    assert first[("nvr_tamper", ("camera", "cam"), ("source", "camera"))] == 0
    store = make_store(tmp_path)
    store.raise_alarm("case-tamper", "test: the case is open")
    store.raise_alarm("camera-tamper:cam:dark", "test: covered")
    store.raise_alarm("camera-tamper:cam:2:turned", "camera 'cam:2', whose id starts alike")
    gov = Governance.open(load(config))
    with pytest.raises(AuthError):
        gov.login("t.admin", "not the password")
    rows = gov.logbook.entries("usage")
    gov.close()
    found = scrape(app, token)
    assert found[("nvr_tamper", ("camera", ""), ("source", "case"))] == 1
    assert found[("nvr_tamper", ("camera", "cam"), ("source", "camera"))] == 1
    assert found[("nvr_alarm", ("kind", "case-tamper"))] == 1
    failures = first[("nvr_login_failures_total",)]
    assert found[("nvr_login_failures_total",)] == failures + 1
    last = rows[-1]
    assert found[("nvr_logbook_entries", ("book", "usage"))] == last["n"]
    assert found[("nvr_logbook_head_info", ("book", "usage"), ("hash", last["hash"]),
                  ("n", str(last["n"])))] == 1
    store.clear_alarm("case-tamper")
    store.clear_alarm("camera-tamper:cam:dark")
    cleared = scrape(app, token)
    assert cleared[("nvr_tamper", ("camera", ""), ("source", "case"))] == 0
    assert cleared[("nvr_tamper", ("camera", "cam"), ("source", "camera"))] == 0


def test_overdue_requests_and_no_names_of_people(tmp_path):
    """A device with an art. 10 request past its decision term (homesite): counted as overdue,
    and the requesters' names appear nowhere in the scrape."""
    from homesite import APPROVED, FRESH, OVERDUE, POLICE, waiting_site
    config, _ = waiting_site(tmp_path)
    app = create_app(load(config))
    r = app.test_client().get("/metrics", headers={
        "Authorization": f"Bearer {token_for(config)}"})
    text = r.get_data(as_text=True)
    found = samples(text)
    assert found[("nvr_requests_overdue",)] == 1, text
    assert found[("nvr_requests_open", ("article", "10"))] >= 2
    for name in (OVERDUE, FRESH, APPROVED, POLICE):
        assert name not in text


def test_board_seams_temperature_and_undervoltage(site, tmp_path, monkeypatch):
    """The SoC's temperature from the thermal zone and `vcgencmd get_throttled` (0x50005:
    undervoltage and throttled now, and since boot), through their seams."""
    config, token = site
    zone = tmp_path / "temp"
    zone.write_text("81234\n")
    vcgencmd = tmp_path / "vcgencmd"
    vcgencmd.write_text("#!/bin/sh\n[ \"$1\" = get_throttled ] && echo throttled=0x50005\n")
    vcgencmd.chmod(0o755)
    monkeypatch.setenv("NVR_THERMAL_ZONE", str(zone))
    monkeypatch.setenv("NVR_VCGENCMD", str(vcgencmd))
    found = scrape(create_app(load(config)), token)
    assert found[("nvr_soc_temperature_celsius",)] == pytest.approx(81.234)
    state = {c: found[("nvr_soc_throttle_state", ("condition", c))]
             for c in ("undervoltage", "frequency_capped", "throttled", "soft_temperature_limit")}
    assert state == {"undervoltage": 1, "frequency_capped": 0, "throttled": 1,
                     "soft_temperature_limit": 0}
    assert found[("nvr_soc_throttle_since_boot", ("condition", "undervoltage"))] == 1
    assert found[("nvr_soc_throttle_since_boot", ("condition", "frequency_capped"))] == 0


def _fake_sysfs(root, get_throttled: str | None = None, lcrit_alarm: str | None = None):
    """A sysfs tree as the Raspberry Pi kernel lays it out: the firmware driver's attribute
    `get_throttled` (hex without 0x, drivers/firmware/raspberrypi.c) under its platform device,
    reached from the driver's folder; the hwmon device named `rpi_volt` with
    `in0_lcrit_alarm` (drivers/hwmon/raspberrypi-hwmon.c)."""
    device = root / "devices" / "platform" / "soc" / "soc:firmware"
    device.mkdir(parents=True)
    driver = root / "bus" / "platform" / "drivers" / "raspberrypi-firmware"
    driver.mkdir(parents=True)
    (driver / "soc:firmware").symlink_to(device)
    if get_throttled is not None:
        (device / "get_throttled").write_text(get_throttled)
    hwmon = root / "class" / "hwmon" / "hwmon2"
    hwmon.mkdir(parents=True)
    (root / "class" / "hwmon" / "hwmon0").mkdir()
    (root / "class" / "hwmon" / "hwmon0" / "name").write_text("cpu_thermal\n")
    if lcrit_alarm is not None:
        (hwmon / "name").write_text("rpi_volt\n")
        (hwmon / "in0_lcrit_alarm").write_text(lcrit_alarm)
    return root


def test_undervoltage_from_the_kernels_sysfs_without_vcgencmd(site, tmp_path, monkeypatch):
    """nvr-web has PrivateDevices=yes: vcgencmd cannot open /dev/vchiq there. The kernel's own
    files say it instead: the firmware driver's get_throttled (0x50005: undervoltage and
    throttled now, and since the last reading), read through the sysfs root seam."""
    config, token = site
    monkeypatch.setenv("NVR_VCGENCMD", str(tmp_path / "no-vcgencmd"))
    monkeypatch.setenv("NVR_SYSFS_ROOT", str(_fake_sysfs(tmp_path / "sys", "50005\n")))
    found = scrape(create_app(load(config)), token)
    assert found[("nvr_soc_throttle_state", ("condition", "undervoltage"))] == 1
    assert found[("nvr_soc_throttle_state", ("condition", "throttled"))] == 1
    assert found[("nvr_soc_throttle_state", ("condition", "frequency_capped"))] == 0
    assert found[("nvr_soc_throttle_since_boot", ("condition", "undervoltage"))] == 1


def test_undervoltage_from_the_hwmon_rpi_volt_alone(site, tmp_path, monkeypatch):
    """A kernel without the (deprecated) get_throttled file: the hwmon device rpi_volt's
    in0_lcrit_alarm says undervoltage, and nothing is claimed about the other conditions."""
    config, token = site
    monkeypatch.setenv("NVR_VCGENCMD", str(tmp_path / "no-vcgencmd"))
    monkeypatch.setenv("NVR_SYSFS_ROOT", str(_fake_sysfs(tmp_path / "sys", None, "1\n")))
    found = scrape(create_app(load(config)), token)
    assert found[("nvr_soc_throttle_state", ("condition", "undervoltage"))] == 1
    assert ("nvr_soc_throttle_state", ("condition", "throttled")) not in found
    _fake_sysfs(tmp_path / "sys2", None, "0\n")
    monkeypatch.setenv("NVR_SYSFS_ROOT", str(tmp_path / "sys2"))
    found = scrape(create_app(load(config)), token)
    assert found[("nvr_soc_throttle_state", ("condition", "undervoltage"))] == 0


def test_board_without_sensors_reports_none(site, tmp_path, monkeypatch):
    config, token = site
    monkeypatch.setenv("NVR_THERMAL_ZONE", str(tmp_path / "no-such-zone"))
    monkeypatch.setenv("NVR_VCGENCMD", str(tmp_path / "no-vcgencmd"))
    found = scrape(create_app(load(config)), token)
    assert not any(k[0].startswith("nvr_soc_") for k in found)


def test_sweep_lateness_erased_keys_and_clock(site, tmp_path, monkeypatch):
    """A slot key past its erase time that still exists is the sweep's lateness (R-40); the
    clock's state comes from its seam (system/clock.py)."""
    from test_home import _fake_timedatectl
    config, token = site
    monkeypatch.setenv("NVR_TIMEDATECTL", str(_fake_timedatectl(tmp_path, "no")))
    store = make_store(tmp_path)
    now = time.time()
    with store.transaction() as db:       # what a sweep that did not run leaves behind
        db.execute("INSERT INTO slot_keys (slot, start, erase_at, wrapped, created) VALUES "
                   "(1, 3600, ?, x'00', 3600)", (now - 900,))
        db.execute("INSERT INTO slot_keys (slot, start, erase_at, wrapped, created, destroyed) "
                   "VALUES (2, 7200, 7200, NULL, 7200, 7300)")
    found = scrape(create_app(load(config)), token)
    assert 890 < found[("nvr_retention_sweep_lateness_seconds",)] < 1000
    assert found[("nvr_slot_keys_erased_total",)] == 1
    assert found[("nvr_recording_first_timestamp_seconds",)] == 3600
    assert found[("nvr_clock_synchronised", ("source", "timedatectl"))] == 0
    assert ("nvr_clock_offset_seconds",) in found


def test_recorder_restarts_are_the_watchdogs_count(site, tmp_path):
    """The watchdog's count (storage/restarts.py): a start that finds the marker of a run
    that never stopped cleanly is a restart, and /metrics counts it."""
    from firmware.storage import restarts
    config, token = site
    app = create_app(load(config))
    assert scrape(app, token)[("nvr_recorder_restarts_total",)] == 0
    store = make_store(tmp_path)
    assert restarts.begin_run(store, {}) is None          # the first start
    assert restarts.begin_run(store, {}) is not None      # again, without a clean stop
    assert scrape(app, token)[("nvr_recorder_restarts_total",)] == 1


def test_frames_the_camera_did_not_deliver_are_counted_as_dropped(packets, tmp_path):
    """A gap in the frames' capture times (the camera or its driver dropped frames, or the
    pipeline fell behind) is counted by the recorder and reported in its status."""
    from test_recorder import FPS, IDENT, ScriptedMotion
    from firmware.recording.recorder import EventRecorder
    rec = EventRecorder(IDENT, ScriptedMotion([]), make_store(tmp_path), fps=FPS, width=160,
                        height=120, preroll=5.0, postroll=10.0, segment_seconds=10.0,
                        clock_synced=lambda: True)
    kept = packets[:100] + packets[110:200]           # 10 frames missing after the 100th
    for p in kept:
        rec.on_packet(p)
    assert rec.frames_dropped == 10
    rec.close()


def test_lost_segments_show_while_storage_fails(site, tmp_path):
    """The recorder runs and the camera delivers, but every segment is lost (the camera's
    directory is replaced by a file, as in test_redteam11_rtC): /metrics says so."""
    config, token = site
    app = create_app(load(config))
    segments = load(config).storage.data_dir / "segments"
    log = tmp_path / "recorder.log"
    with open(log, "w") as out:
        recorder = subprocess.Popen([sys.executable, "-m", "firmware.cli", "--config",
                                     str(config), "run", "--no-web"], cwd=ROOT, stdout=out,
                                    stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not (segments / "cam").is_dir() and time.monotonic() < deadline:
            time.sleep(0.5)
        (segments / "cam").rename(segments / "cam.moved")
        (segments / "cam").write_text("not a directory")
        deadline = time.monotonic() + 90
        while True:
            found = scrape(app, token)
            lost = found.get(("nvr_camera_segments_lost_total", ("camera", "cam")), 0)
            if lost >= 1 or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert lost >= 1, log.read_text()[-2000:]
        assert found[("nvr_camera_segments_failing", ("camera", "cam"))] == 1
        assert ("nvr_camera_frames_dropped_total", ("camera", "cam")) in found
    finally:
        recorder.terminate()
        recorder.wait(30)


# --- the alert rules ---------------------------------------------------------------------------

@needs_promtool
def test_alert_rules_pass_promtool_check_and_their_tests():
    rules = subprocess.run([PROMTOOL, "check", "rules", str(MONITORING / "nvr-alerts.yml")],
                           capture_output=True, text=True)
    assert rules.returncode == 0, rules.stdout + rules.stderr
    tested = subprocess.run([PROMTOOL, "test", "rules", "nvr-alerts.test.yml"],
                            cwd=MONITORING, capture_output=True, text=True)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_and_metric_it_uses_is_documented_and_exported():
    """Each alert has its section in docs/operations.md (the runbook link), and every nvr_
    metric an alert reads is one the collector exports."""
    import re
    rules = (MONITORING / "nvr-alerts.yml").read_text()
    doc = (ROOT / "docs" / "operations.md").read_text()
    alerts = re.findall(r"- alert: (\w+)", rules)
    assert len(alerts) >= 15
    for alert in alerts:
        assert f"### {alert}" in doc, alert
    source = (ROOT / "firmware" / "system" / "metrics.py").read_text()
    for metric in set(re.findall(r"\b(nvr_\w+)", rules)):
        base = metric.removesuffix("_total")
        assert f'"{base}"' in source, metric
