"""Issue 14 item 4: the fleet of recorders, managed with Ansible from one machine (image/fleet/).

The real tools check the real files: `ansible-playbook --syntax-check`, `ansible-lint` with the
production profile, the real `template` module rendering each example device's configuration
(checked by the real `nvr config check`, which also stops a wrong key before it goes live), and
`promtool check config` on the central room's Prometheus configuration rendered from the
inventory. A run against a device is the virtual device's (systemtest/, image/fleet/README.md).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
FLEET = ROOT / "image" / "fleet"
INVENTORY = FLEET / "inventory.example.yml"
BIN = Path(sys.executable).parent
PLAYBOOKS = ["site.yml", "scrape-token.yml", "central-room.yml", "update-bundle.yml",
             "accounts.yml", "dev-wheel-update.yml"]

needs_ansible = pytest.mark.skipif(
    not (BIN / "ansible-playbook").exists(),
    reason="ansible-core is missing: .venv/bin/pip install -e '.[dev]'")
needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None,
    reason="promtool is missing: apt-get install prometheus (debian-packages.txt)")


def ansible_env(tmp_path: Path) -> dict:
    """Ansible and ansible-lint from the venv, with their state under tmp_path."""
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}",
           "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-local"),
           "ANSIBLE_REMOTE_TEMP": str(tmp_path / "ansible-remote"),
           "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0", "NO_COLOR": "1",
           "ANSIBLE_RETRY_FILES_ENABLED": "0"}
    return env


def run(cmd: list[str], tmp_path: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=FLEET, env=ansible_env(tmp_path), capture_output=True,
                          text=True, timeout=timeout)


def inventory() -> dict:
    return yaml.safe_load(INVENTORY.read_text())


def recorders() -> dict:
    return inventory()["all"]["children"]["recorders"]["hosts"]


# --- syntax and lint ----------------------------------------------------------------------------

@needs_ansible
@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_every_playbook_passes_ansible_syntax_check(playbook, tmp_path):
    done = run([str(BIN / "ansible-playbook"), "--syntax-check", "-i", str(INVENTORY),
                playbook], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


@needs_ansible
def test_ansible_lint_production_profile_passes(tmp_path):
    done = run([str(BIN / "ansible-lint", ), "--offline", "-c", str(FLEET / ".ansible-lint"),
                "--profile", "production", *PLAYBOOKS, "roles/"], tmp_path, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "production" in done.stdout + done.stderr


def test_the_example_inventory_has_two_devices_with_their_settings():
    hosts = recorders()
    assert len(hosts) >= 2
    ids = [h["nvr_device_id"] for h in hosts.values()]
    assert len(set(ids)) == len(ids)
    for host in hosts.values():
        assert host["nvr_cameras"] and all(c["location"] for c in host["nvr_cameras"])


# --- the configuration: rendered by the real template task, checked before it goes live -------

def play_config(tmp_path: Path, host: str, target: Path, *extra: str) -> subprocess.CompletedProcess:
    """site.yml's configuration tasks for one example device, run on this machine: the file is
    rendered into `fleet` beside `target`, `nvr config check` of this venv validates it, and
    `nvr config install` (what `sudo nvr-admin config install` runs as root) puts it at
    `target`; no unit is waited for."""
    return run([str(BIN / "ansible-playbook"), "-i", str(INVENTORY), "site.yml",
                "--limit", host, "--tags", "config", "-c", "local",
                "-e", json.dumps({"ansible_become": False,
                                  "nvr_admin": [str(BIN / "nvr"), "--config", str(target)],
                                  "nvr_fleet_dir": str(target.parent / "fleet"),
                                  "nvr_bin": str(BIN / "nvr"), "nvr_units": [],
                                  "ansible_python_interpreter": sys.executable}),
                *extra], tmp_path)


@needs_ansible
@pytest.mark.parametrize("host", sorted(recorders()) if INVENTORY.exists() else ["missing"])
def test_each_example_device_gets_a_configuration_nvr_accepts(host, tmp_path):
    target = tmp_path / "nvr.toml"
    done = play_config(tmp_path, host, target)
    assert done.returncode == 0, done.stdout + done.stderr
    assert oct(target.stat().st_mode & 0o777) == "0o640"
    check = subprocess.run([str(BIN / "nvr"), "--config", str(target), "config", "check"],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    from firmware.config import load
    cfg = load(target)
    device = recorders()[host]
    assert cfg.device.id == device["nvr_device_id"]
    assert [c.location for c in cfg.cameras] == [c["location"] for c in device["nvr_cameras"]]
    assert str(cfg.storage.key_dir) == "/var/lib/nvr/keys"        # never the data disk
    assert cfg.storage.retention_days <= 28
    # a second run changes nothing, so the units are not restarted for nothing
    again = play_config(tmp_path, host, target)
    assert again.returncode == 0 and re.search(r"changed=0\b", again.stdout), again.stdout


@needs_ansible
def test_a_wrong_key_never_reaches_the_device(tmp_path):
    """validate: runs `nvr config check` on the new file before it replaces the old one."""
    host = sorted(recorders())[0]
    target = tmp_path / "nvr.toml"
    assert play_config(tmp_path, host, target).returncode == 0
    before = target.read_bytes()
    cameras = json.loads(json.dumps(recorders()[host]["nvr_cameras"]))
    cameras[0]["locatoin"] = cameras[0].pop("location")
    done = play_config(tmp_path, host, target, "-e", json.dumps({"nvr_cameras": cameras}))
    assert done.returncode != 0
    assert "locatoin: unknown key" in done.stdout + done.stderr
    assert target.read_bytes() == before


@needs_ansible
def test_check_mode_with_diff_shows_a_change_and_writes_nothing(tmp_path):
    host = sorted(recorders())[0]
    target = tmp_path / "nvr.toml"
    done = play_config(tmp_path, host, target, "--check", "--diff")
    assert done.returncode == 0, done.stdout + done.stderr
    assert not target.exists()
    assert "[device]" in done.stdout and re.search(r"changed=[1-9]", done.stdout)


# --- the central room's Prometheus ------------------------------------------------------------

def render_prometheus(tmp_path: Path, inventory: Path = INVENTORY) -> Path:
    """central-room.yml's template for an inventory, rendered by the real template module on
    this machine, its files under tmp_path instead of /etc/prometheus."""
    out = tmp_path / "prometheus.yml"
    done = run([str(BIN / "ansible"), "centrale_ruimte", "-i", str(inventory), "-c", "local",
                "-m", "ansible.builtin.template",
                "-a", f"src={FLEET / 'prometheus.yml.j2'} dest={out} mode=0644",
                "-e", json.dumps({"prometheus_dir": str(tmp_path),
                                  "ansible_python_interpreter": sys.executable})], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


@needs_ansible
@needs_promtool
def test_rendered_prometheus_config_passes_promtool_and_lists_every_device(tmp_path):
    from firmware.web.server import ensure_certificate
    hosts = recorders()
    (tmp_path / "nvr").mkdir()
    for name in hosts:                      # what central-room.yml puts there
        (tmp_path / "keys" / name).mkdir(parents=True)
        cert, _ = ensure_certificate(tmp_path / "keys" / name, name)
        shutil.copy(cert, tmp_path / "nvr" / f"{name}.crt")
        (tmp_path / "nvr" / f"{name}.token").write_text("nvrscrape_test\n")
    shutil.copy(ROOT / "monitoring" / "nvr-alerts.yml", tmp_path / "nvr-alerts.yml")
    config = render_prometheus(tmp_path)
    check = subprocess.run(["promtool", "check", "config", str(config)], capture_output=True,
                           text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS" in check.stdout + check.stderr
    rendered = yaml.safe_load(config.read_text())
    assert rendered["rule_files"] == [str(tmp_path / "nvr-alerts.yml")]
    jobs = rendered["scrape_configs"]
    targets = {}
    for job in jobs:
        assert job["scheme"] == "https"
        assert job["tls_config"]["ca_file"].endswith(".crt")
        assert job["authorization"]["credentials_file"].endswith(".token")
        # the alert rules ask for job="nvr": every device's job is relabelled to it
        assert {"target_label": "job", "replacement": "nvr"}.items() <= \
            job["relabel_configs"][0].items()
        for static in job["static_configs"]:
            for target in static["targets"]:
                targets[target] = job
    for name, host in hosts.items():
        address = f"{host.get('ansible_host', name)}:{host.get('nvr_web_port', 8443)}"
        assert address in targets, (address, list(targets))
        job = targets[address]
        assert job["authorization"]["credentials_file"] == str(tmp_path / "nvr" / f"{name}.token")
        assert job["tls_config"]["ca_file"] == str(tmp_path / "nvr" / f"{name}.crt")
    assert len(targets) == len(hosts)


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prometheus_query(base: str, query: str) -> list:
    import urllib.parse
    import urllib.request
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())["data"]["result"]


@needs_ansible
@pytest.mark.skipif(shutil.which("prometheus") is None,
                    reason="prometheus is missing: apt-get install prometheus (debian-packages.txt)")
def test_central_room_yml_makes_a_real_prometheus_scrape_a_real_nvr_web_as_job_nvr(tmp_path):
    """central-room.yml run here (device and central room both this machine): it reads the
    device's certificate and host name, stops while the device has no token, then writes the
    certificate, the rules and the configuration (checked by promtool). A real Prometheus with
    that configuration scrapes a real `nvr web` over TLS, verified against the certificate and
    its name, opened with the token `nvr scrape-token issue` printed (the line scrape-token.yml
    takes): `up{job="nvr"}` is 1, the series the alert rules (NvrUnreachable) ask for."""
    import time
    from conftest import nvr, staff, write_config
    config = write_config(tmp_path)
    env = staff(config)
    issued = nvr("--config", str(config), "scrape-token", "issue", "prometheus-centrale-ruimte",
                 "--user", "t.admin", env=env)
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.splitlines()[1].strip()              # scrape-token.yml's stdout_lines[1]
    assert token.startswith("nvrscrape_")
    web = subprocess.Popen([str(BIN / "nvr"), "--config", str(config), "web"], cwd=ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    prometheus = None
    try:
        line = web.stdout.readline()
        assert line.startswith("web interface: https://"), line
        port = int(line.split()[2].rstrip("/").rsplit(":", 1)[1])
        inventory = tmp_path / "inventory.yml"
        inventory.write_text(yaml.safe_dump({"all": {"children": {
            "recorders": {"hosts": {"testdevice": {
                "ansible_host": "127.0.0.1", "nvr_web_port": port, "nvr_device_id": "cam-test",
                # what `sudo nvr-admin web-cert` prints: the certificate in the key directory
                "nvr_admin": ["sh", "-c", f'cat "{load_key_dir(config)}/web-cert.pem"',
                              "nvr-admin"]}}},
            "centrale_ruimte": {"hosts": {"prometheus-test": {}}}}}}))
        prom = tmp_path / "prometheus"
        (prom / "nvr").mkdir(parents=True)
        play = [str(BIN / "ansible-playbook"), "-i", str(inventory), "central-room.yml",
                "-c", "local",
                "-e", json.dumps({"ansible_become": False, "prometheus_dir": str(prom),
                                  "prometheus_service": "", "prometheus_scrape_interval": "1s",
                                  "ansible_python_interpreter": sys.executable})]
        early = run(play, tmp_path)
        assert early.returncode != 0
        assert "no scrape token yet for testdevice" in early.stdout, early.stdout
        assert not (prom / "prometheus.yml").exists()
        (prom / "nvr" / "testdevice.token").write_text(token + "\n")   # what scrape-token.yml does
        done = run(play, tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        assert token not in done.stdout
        rendered = prom / "prometheus.yml"
        assert (prom / "nvr-alerts.yml").read_text() == \
            (ROOT / "monitoring" / "nvr-alerts.yml").read_text()
        listen = f"127.0.0.1:{free_port()}"
        prometheus = subprocess.Popen(
            ["prometheus", f"--config.file={rendered}", f"--web.listen-address={listen}",
             f"--storage.tsdb.path={tmp_path / 'tsdb'}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        result, deadline = [], time.monotonic() + 90           # a wait, not a speed claim
        while time.monotonic() < deadline and prometheus.poll() is None:
            try:
                result = prometheus_query(f"http://{listen}", 'up{job="nvr"}')
            except OSError:
                result = []
            if result and result[0]["value"][1] == "1":
                break
            time.sleep(0.5)
        assert result, prometheus.stderr.read() if prometheus.poll() is not None else "no result"
        assert result[0]["value"][1] == "1", result
        assert result[0]["metric"]["device"] == "cam-test"
        assert prometheus_query(f"http://{listen}", 'nvr_recorder_up{job="nvr"}')
    finally:
        if prometheus is not None:
            prometheus.terminate()
            prometheus.wait(30)
        web.terminate()
        web.wait(30)


def load_key_dir(config: Path) -> Path:
    from firmware.config import load
    return Path(load(config).storage.key_dir)


# --- nothing secret in the playbooks -----------------------------------------------------------

SECRET = re.compile(r"passw|secret|token|enrollment|totp|\bkeys?\b|key_dir|keys/|-key\.pem|"
                    r"master|/var/lib/nvr/data|segments|footage|\.mp4|\.h264", re.I)
NEUTRAL = re.compile(r"nvr_config_|no_log")         # names of our own harmless variables


def tasks_of(node, inherited: dict | None = None) -> list[dict]:
    """Every task in a play, a task list or a block, blocks opened; a block's `no_log` passes
    to its tasks, as Ansible does, unless a task sets its own."""
    found = []
    inherited = inherited or {}
    if isinstance(node, list):
        for item in node:
            found += tasks_of(item, inherited)
    elif isinstance(node, dict):
        if any(k in node for k in ("block", "rescue", "always")):
            inner = {**inherited, **({"no_log": node["no_log"]} if "no_log" in node else {})}
            for part in ("block", "rescue", "always"):
                found += tasks_of(node.get(part, []), inner)
        elif any(k in node for k in ("tasks", "handlers", "pre_tasks", "post_tasks", "roles")):
            for part in ("pre_tasks", "tasks", "post_tasks", "handlers"):
                found += tasks_of(node.get(part, []))
        else:
            found.append({**inherited, **node})
    return found


MESSAGES = ("msg", "fail_msg", "success_msg")


def unguarded(tasks: list[dict]) -> list[str]:
    """Tasks that name a key, password, token or footage path without `no_log: true`. In a
    message for people only its expressions count: the text may say "token", an expression
    that shows one may not."""
    bad = []
    for task in tasks:
        body = {k: v for k, v in task.items() if k not in ("name", "no_log", "tags")}
        for module in body.values():
            if isinstance(module, dict):
                for key in MESSAGES:
                    if isinstance(module.get(key), str):
                        module[key] = " ".join(re.findall(r"{{(.*?)}}", module[key], re.S))
        text = NEUTRAL.sub("", json.dumps(body))
        if SECRET.search(text) and task.get("no_log") is not True:
            bad.append(f"{task.get('name')}: {SECRET.search(text).group(0)}")
    return bad


def fleet_task_files() -> list[Path]:
    files = [FLEET / p for p in PLAYBOOKS]
    files += sorted((FLEET / "roles").glob("*/tasks/*.yml"))
    files += sorted((FLEET / "roles").glob("*/handlers/*.yml"))
    return files


def test_the_secret_check_finds_an_unguarded_task():
    assert unguarded([{"name": "x", "ansible.builtin.command": "cat /var/lib/nvr/keys/master.key"}])
    assert unguarded([{"name": "x", "ansible.builtin.command": "nvr user add a",
                       "environment": {"NVR_PASSWORD": "{{ pw }}"}}])
    assert not unguarded([{"name": "x", "ansible.builtin.command": "nvr user add a",
                           "environment": {"NVR_PASSWORD": "{{ pw }}"}, "no_log": True}])
    assert unguarded([{"name": "x", "ansible.builtin.fail": {"msg": "shown: {{ nvr_token }}"}}])
    assert not unguarded([{"name": "x", "ansible.builtin.fail": {"msg": "revoke the token"}}])
    assert tasks_of([{"hosts": "all", "tasks": [{"block": [{"name": "in"}], "no_log": True,
                                                 "rescue": [{"name": "r", "no_log": False}]}]}]) \
        == [{"name": "in", "no_log": True}, {"name": "r", "no_log": False}]


def test_no_task_names_a_key_password_or_footage_without_no_log():
    checked = 0
    for path in fleet_task_files():
        tasks = tasks_of(yaml.safe_load(path.read_text()))
        checked += len(tasks)
        assert not unguarded(tasks), (path.name, unguarded(tasks))
    assert checked >= 10


def test_the_fleet_files_hold_no_secret_value():
    """No password, token or key in the inventory or the playbooks; the beheerder's password is
    asked at run time (vars_prompt, private), never stored."""
    for path in FLEET.rglob("*"):
        if not path.is_file():
            continue
        text = path.read_text()
        assert "nvrscrape_" not in text, path
        assert "BEGIN" not in text or "PRIVATE KEY" not in text, path
        assert not re.search(r"ansible_(become_)?pass(word)?\s*:", text), path
    for playbook in ("scrape-token.yml", "update-bundle.yml"):
        prompts = yaml.safe_load((FLEET / playbook).read_text())[0]["vars_prompt"]
        assert [p for p in prompts if "password" in p["name"]], playbook
        assert all(p["private"] for p in prompts if "password" in p["name"]), playbook


# --- after an update: nvr selftest must pass, else the play fails and says why ---------------

def play_selftest(tmp_path: Path, config: Path, *extra: str) -> subprocess.CompletedProcess:
    """site.yml's self-test tasks for one example device, run on this machine against `config`
    (the encoder, the keys; the units are skipped where systemd is not PID 1)."""
    host = sorted(recorders())[0]
    return run([str(BIN / "ansible-playbook"), "-i", str(INVENTORY), "site.yml",
                "--limit", host, "--tags", "selftest", "-c", "local",
                "-e", json.dumps({"ansible_become": False,
                                  "nvr_admin": [str(BIN / "nvr"), "--config", str(config)],
                                  "nvr_units": [],
                                  "ansible_python_interpreter": sys.executable}),
                *extra], tmp_path)


def initialised(tmp_path: Path) -> Path:
    """A device directory from `nvr init` whose keys exist (the first process makes them)."""
    subprocess.run([str(BIN / "nvr"), "init", str(tmp_path / "dev"), "--source", "synthetic",
                    "--staff-in-view", "no", "--dpia-reference", "DPIA test",
                    "--dpia-date", "2026-01-05", "--signage", "ingang"],
                   check=True, capture_output=True)
    config = tmp_path / "dev" / "nvr.toml"
    subprocess.run([str(BIN / "nvr"), "--config", str(config), "recordings", "list"],
                   check=True, capture_output=True)
    return config


@needs_ansible
def test_a_passing_selftest_lets_the_play_finish(tmp_path):
    done = play_selftest(tmp_path, initialised(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"failed=0\b", done.stdout)


@needs_ansible
def test_a_failing_selftest_fails_the_play_and_names_the_check(tmp_path):
    config = initialised(tmp_path)
    shutil.rmtree(tmp_path / "dev" / "keys")            # the keys check must now fail
    done = play_selftest(tmp_path, config)
    assert done.returncode != 0
    out = done.stdout + done.stderr
    assert "nvr selftest fails on" in out and "keys:" in out and "not accepted" in out


# --- a firmware update from a wheelhouse, no index ----------------------------------------------

def wheel(directory: Path, version: str) -> Path:
    """A small but real wheel of a distribution named nvr-firmware (the firmware's own wheel
    takes minutes to build with its dependencies; what is tested here is the playbook's way of
    installing one: copied wheelhouse, pip --no-index, into the given virtual environment)."""
    import base64
    import hashlib
    import zipfile
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"nvr_firmware-{version}-py3-none-any.whl"
    info = f"nvr_firmware-{version}.dist-info"
    files = {"nvr_fleet_probe.py": f"VERSION = {version!r}\n",
             f"{info}/METADATA": f"Metadata-Version: 2.1\nName: nvr-firmware\nVersion: {version}\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test_fleet\nRoot-Is-Purelib: true\n"
                              "Tag: py3-none-any\n"}
    record = []
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
            digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
            record.append(f"{name},sha256={digest.decode()},{len(text.encode())}")
        zf.writestr(f"{info}/RECORD", "\n".join(record + [f"{info}/RECORD,,"]) + "\n")
    return path


@needs_ansible
def test_an_update_installs_the_wheel_from_the_copied_wheelhouse_only(tmp_path):
    venv = tmp_path / "opt-nvr"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    config = initialised(tmp_path)
    host = sorted(recorders())[0]

    def update(whl: Path) -> subprocess.CompletedProcess:
        return run([str(BIN / "ansible-playbook"), "-i", str(INVENTORY), "dev-wheel-update.yml",
                    "--limit", host, "-c", "local",
                    "-e", json.dumps({"ansible_become": False,
                                      "nvr_admin": [str(BIN / "nvr"), "--config", str(config)],
                                      "nvr_units": [],
                                      "nvr_venv": str(venv), "nvr_wheel": str(whl),
                                      "nvr_wheelhouse": str(tmp_path / "device-wheelhouse"),
                                      "ansible_python_interpreter": sys.executable})], tmp_path)

    def installed() -> str:
        return subprocess.run([str(venv / "bin" / "python"), "-c",
                               "import nvr_fleet_probe; print(nvr_fleet_probe.VERSION)"],
                              capture_output=True, text=True).stdout.strip()

    first = update(wheel(tmp_path / "control" / "v1", "1.0.0"))
    assert first.returncode == 0, first.stdout + first.stderr
    assert installed() == "1.0.0"
    assert (tmp_path / "device-wheelhouse" / "nvr_firmware-1.0.0-py3-none-any.whl").exists()
    second = update(wheel(tmp_path / "control" / "v2", "1.1.0"))
    assert second.returncode == 0, second.stdout + second.stderr
    assert installed() == "1.1.0"
    assert "Run nvr selftest" in second.stdout
    again = update(tmp_path / "control" / "v2" / "nvr_firmware-1.1.0-py3-none-any.whl")
    assert again.returncode == 0 and re.search(r"changed=0\b", again.stdout), again.stdout
    # a wheel that is not there stops before anything is copied, and says so
    missing = update(tmp_path / "control" / "nvr_firmware-9.9.9-py3-none-any.whl")
    assert missing.returncode != 0 and "is not a file on this machine" in missing.stdout
    assert installed() == "1.1.0"


@needs_ansible
@pytest.mark.skipif(shutil.which("unshare") is None or os.geteuid() != 0,
                    reason="needs root and unshare(1) to mount a read-only file system")
def test_an_update_from_a_wheel_stops_on_a_read_only_root(tmp_path):
    """The flashed image's root is read-only (image/updates/): a pip install there would fail
    half-way or vanish into an overlay, so the play stops before copying and names the way that
    works (update-bundle.yml)."""
    venv = tmp_path / "ro-opt-nvr"
    venv.mkdir()
    host = sorted(recorders())[0]
    play = [str(BIN / "ansible-playbook"), "-i", str(INVENTORY), "dev-wheel-update.yml",
            "--limit", host, "-c", "local",
            "-e", json.dumps({"ansible_become": False, "nvr_units": [], "nvr_venv": str(venv),
                              "nvr_wheel": str(wheel(tmp_path / "control", "1.0.0")),
                              "nvr_wheelhouse": str(tmp_path / "device-wheelhouse"),
                              "ansible_python_interpreter": sys.executable})]
    import shlex
    done = run(["unshare", "-m", "sh", "-c",
                f"mount -t tmpfs -o ro tmpfs {shlex.quote(str(venv))} && exec {shlex.join(play)}"],
               tmp_path)
    out = done.stdout + done.stderr
    if "mount:" in out and "permission denied" in out.lower():
        pytest.skip(f"this machine does not let root mount in a namespace: {out[-300:]}")
    assert done.returncode != 0, out
    assert "read-only or overlay root" in out and "update-bundle.yml" in out, out
    assert not (tmp_path / "device-wheelhouse").exists()


def _play_update_bundle(tmp_path: Path, device: Path, admin_body: str):
    """update-bundle.yml on this machine with nvr-0.2.0.raucb, the device's folder `device`
    and an nvr-admin that runs `admin_body` (a shell script's lines)."""
    bundle = tmp_path / "control" / "nvr-0.2.0.raucb"
    bundle.parent.mkdir()
    bundle.write_bytes(b"the bundle's bytes")
    admin = tmp_path / "nvr-admin"
    admin.write_text("#!/bin/sh\n" + admin_body)
    admin.chmod(0o755)
    return run([str(BIN / "ansible-playbook"), "-i", str(INVENTORY), "update-bundle.yml",
                "--limit", sorted(recorders())[0], "-c", "local",
                "-e", json.dumps({"nvr_admin": [str(admin)], "nvr_bundle": str(bundle),
                                  "nvr_bundle_dir": str(device), "nvr_admin_user": "t.admin",
                                  "nvr_admin_password": "x", "nvr_admin_totp": "",
                                  "ansible_python_interpreter": sys.executable})], tmp_path)


@needs_ansible
def test_update_bundle_yml_hands_the_bundle_on_stdin_opened_by_the_account_R11(tmp_path):
    """Under sudo nvr-admin opens no file for its caller (tests/test_nvr_admin_paths.py): the
    play's check gives the copied bundle on standard input (`--stdin <`), opened by the
    account's own shell. nvr-admin is here a script that notes what it got and refuses, so the
    play stops after the check, removes the copy from the device and says why."""
    seen = tmp_path / "seen"
    device = tmp_path / "device"
    done = _play_update_bundle(tmp_path, device, (
        f'{{ echo "args $*"; echo "stdin $(stat -L -c %F /proc/self/fd/0)"; cat; }} > {seen}\n'
        'echo "nvr: refused: not signed by a CA this device trusts" >&2\nexit 1\n'))
    assert done.returncode != 0, done.stdout
    assert seen.read_text().splitlines() == [
        f"args update check {device}/nvr-0.2.0.raucb --stdin --json", "stdin regular file",
        "the bundle's bytes"]
    assert "refuses nvr-0.2.0.raucb" in done.stdout and "not signed by a CA" in done.stdout
    assert not (device / "nvr-0.2.0.raucb").exists()


@needs_ansible
def test_update_bundle_yml_removes_the_bundle_from_ram_after_the_install(tmp_path):
    """Reviewer C: the account's ~/.nvr-fleet lies on the image's RAM overlay, so the bundle
    held memory beside the recorder until the reboot. The play removes it right after the
    install, here one the device refuses after the check passed."""
    device = tmp_path / "device"
    done = _play_update_bundle(tmp_path, device, (
        'cat > /dev/null\nif [ "$2" = check ]; then echo \'{"version": "0.2.0"}\'; exit 0; fi\n'
        'echo "nvr: refused: the data disk has no room for the copy" >&2\nexit 1\n'))
    assert done.returncode != 0, done.stdout
    assert "Remove the bundle from the account's folder" in done.stdout, done.stdout
    assert "no room for the copy" in done.stdout
    assert not (device / "nvr-0.2.0.raucb").exists()


# --- the scrape token: made on the device, straight into Prometheus' file, never shown ---------

@needs_ansible
def test_scrape_token_goes_from_the_device_into_the_credentials_file_unseen(tmp_path):
    """scrape-token.yml on this machine (device and central room both local): the real `nvr
    scrape-token issue` with the beheerder's password from the prompt's variable; the token lands
    in the Prometheus credentials file 0640, the token and the password appear nowhere in
    Ansible's output, a second run makes no second token, a wrong password fails the play with
    a message and writes nothing."""
    from conftest import PASSWORD, nvr, staff, write_config
    config = write_config(tmp_path)
    env = staff(config)
    admin = tmp_path / "nvr-admin"              # nvr-admin's job here, without its setpriv
    admin.write_text(f'#!/bin/sh\nexec {BIN / "nvr"} --config {config} "$@"\n')
    admin.chmod(0o755)
    host = sorted(recorders())[0]

    def play(password: str) -> subprocess.CompletedProcess:
        # -v prints every task's result: what no_log must hide would show here
        return run([str(BIN / "ansible-playbook"), "-v", "-i", str(INVENTORY), "scrape-token.yml",
                    "--limit", f"{host},centrale_ruimte", "-c", "local",
                    "-e", json.dumps({"ansible_become": False, "nvr_admin": [str(admin)],
                                      "prometheus_dir": str(tmp_path / "prometheus"),
                                      "prometheus_group": "root",
                                      "nvr_admin_user": "t.admin",
                                      "nvr_admin_password": password, "nvr_admin_totp": "",
                                      "ansible_python_interpreter": sys.executable})], tmp_path)

    wrong = play("not-the-password")
    token_file = tmp_path / "prometheus" / "nvr" / f"{host}.token"
    assert wrong.returncode != 0
    assert f"no scrape token for {host}" in wrong.stdout, wrong.stdout
    assert "not-the-password" not in wrong.stdout + wrong.stderr
    assert not token_file.exists()

    done = play(PASSWORD)
    assert done.returncode == 0, done.stdout + done.stderr
    token = token_file.read_text().strip()
    assert token.startswith("nvrscrape_")
    assert oct(token_file.stat().st_mode & 0o777) == "0o640"
    assert token not in done.stdout + done.stderr and PASSWORD not in done.stdout + done.stderr
    from firmware.config import load
    from firmware.governance.service import Governance
    from firmware.system.scrape import ScrapeTokens
    gov = Governance.open(load(config))
    try:
        assert ScrapeTokens(gov.accounts.db, gov.logbook).valid(token) == "prometheus-centrale-ruimte"
    finally:
        gov.close()

    again = play(PASSWORD)
    assert again.returncode == 0, again.stdout + again.stderr
    assert token_file.read_text().strip() == token
    listed = nvr("--config", str(config), "scrape-token", "list", "--json", "--user", "t.admin",
                 env=env)
    assert len(json.loads(listed.stdout)) == 1, listed.stdout
