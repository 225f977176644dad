"""`nvr selftest`: does this device's hardware do what the configuration asks? (issue 14 item 6)

The technisch beheerder runs it on a new device (hardware.md's acceptance checklist) and the
virtual device runs it in `make system-test`. Each check is one function taking the
configuration and returning a `Result`: ok, warn, fail or skip (a skip names its reason), a
one-line finding and what to do. Where /readyz already has the answer (the running recorder's
cameras, the keys, the clock) its functions in `readiness.py` and `clock.py` are asked, not a
second set. Nothing here reads a key's content or shows a frame: keys are judged by stat()
only, frames are counted and measured.
"""

from __future__ import annotations

import errno
import functools
import glob
import io
import os
import pwd
import shutil
import stat
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from firmware.config import Config

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"

CAMERA_FRAMES = 5             # frames each camera must deliver ...
CAMERA_BOUND = 10.0           # ... within this many seconds
WRITE_BYTES = 64 * 2**20      # written and fsynced in the data directory to time the disk ...
WRITE_LEAVE = 32 * 2**20      # ... at most up to this far below the high-water mark ...
WRITE_LEAST = 8 * 2**20       # ... and not at all when less than this would fit there
WRITE_MARGIN = 4              # the disk must write this many times the cameras' bitrate
MOTION_SHARE = 0.3            # share of the time with motion for the disk's room (as nvr sizing)
SERVICE_USER = "nvr-recorder"         # owns the key files on a device (docs/units.md)
UNITS = ("nvr-recorder.service", "nvr-web.service", "nvr-exportd.service")
RTC_ENV = "NVR_RTC"           # the seam: the RTC device looked for instead of /dev/rtc0
RTC_DEVICE = "/dev/rtc0"
SYSTEMCTL_ENV = "NVR_SYSTEMCTL"   # the seam: the command asked instead of `systemctl`


@dataclass(frozen=True)
class Result:
    name: str
    status: str               # ok, warn, fail, skip
    finding: str              # one line: what was found
    action: str = ""          # what to do about it ("" when nothing)

    def as_dict(self) -> dict:
        return asdict(self)


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB" if n < 1e9 else f"{n / 1e9:,.1f} GB"


# --- camera -------------------------------------------------------------------------------------

class _FrameCounter:
    """A FrameConsumer that counts what a camera delivers and keeps nothing."""

    def __init__(self, want: int):
        self.want, self.frames, self.packets = want, 0, 0
        self.enough = threading.Event()

    def on_lores(self, luma, t: float) -> None:
        self.frames += 1
        if self.frames >= self.want:
            self.enough.set()

    def on_packet(self, packet) -> None:
        self.packets += 1


def _grab(cfg: Config, cam, bound: float) -> str | None:
    """Open `cam` as the recorder would and take CAMERA_FRAMES frames; None when it worked,
    else what went wrong."""
    from firmware.capture.backends import open_camera
    try:
        camera = open_camera(cam, ZoneInfo(cfg.device.timezone))
    except Exception as exc:                   # noqa: BLE001 - every failure is a finding
        return f"{cam.id}: cannot be opened ({cam.source}): {exc}"
    if (camera.width, camera.height) != (cam.width, cam.height):
        return (f"{cam.id}: delivers {camera.width}x{camera.height}, the configuration asks "
                f"{cam.width}x{cam.height}")
    counter, stop, failed = _FrameCounter(CAMERA_FRAMES), threading.Event(), []

    def run() -> None:
        try:
            camera.run(counter, stop)
        except Exception as exc:               # noqa: BLE001
            failed.append(exc)
        finally:
            counter.enough.set()

    thread = threading.Thread(target=run, name=f"selftest-{cam.id}", daemon=True)
    started = time.monotonic()
    thread.start()
    counter.enough.wait(bound)
    took = time.monotonic() - started
    stop.set()
    thread.join(bound)
    if counter.frames < CAMERA_FRAMES:
        why = f": {failed[0]}" if failed else ""
        return (f"{cam.id}: {counter.frames} of {CAMERA_FRAMES} frames in {took:.1f} s"
                f"{why}")
    if counter.packets == 0:        # counted once the camera stopped: its encoder flushed
        return f"{cam.id}: {counter.frames} frames, but its encoder gave no H.264 packet"
    return None


def check_camera(cfg: Config, bound: float = CAMERA_BOUND) -> Result:
    """Each camera opened as the recorder opens it (picamera2 on a Pi, the twins elsewhere)
    delivers CAMERA_FRAMES frames of the configured size within `bound` seconds. While the
    recorder runs it holds the cameras: then its own status is asked (readiness's check).
    A camera that may not record (no DPIA yet: "uitgevoerd voordat de camera's worden
    ingeschakeld"; art. 11 without the works council) is not switched on, only named."""
    from firmware.governance.introduction import refusals
    from firmware.live.client import recorder_status
    from firmware.system.readiness import recorder_problems
    refused = refusals(cfg)
    status = recorder_status(cfg.live_socket)
    if status is not None:
        problems = recorder_problems(cfg, refused, time.time(), status)
        if problems:
            return Result("camera", FAIL, "; ".join(problems),
                          "check the camera and its cable; journalctl -u nvr-recorder")
        return _with_refused(Result("camera", OK, f"the running recorder holds the "
                             f"{len(cfg.cameras)} camera(s); each that may record delivered "
                             "a frame just now"), refused)
    allowed = [cam for cam in cfg.cameras if cam.id not in refused]
    problems = [p for p in (_grab(cfg, cam, bound) for cam in allowed) if p]
    if problems:
        return Result("camera", FAIL, "; ".join(problems),
                      "check the cable, [[cameras]] source/path/size in the configuration, "
                      "and on a Pi `rpicam-hello --list-cameras`")
    if not allowed:
        return _with_refused(Result("camera", SKIP, "no camera may be switched on yet"),
                             refused)
    sizes = ", ".join(f"{c.id} {c.width}x{c.height}" for c in allowed)
    return _with_refused(Result("camera", OK, f"{CAMERA_FRAMES} frames and their H.264 "
                                f"packets from each camera ({sizes})"), refused)


def _with_refused(result: Result, refused: dict) -> Result:
    """`result`, naming the cameras that were not switched on and why; an ok becomes a
    warning then (their hardware is not checked)."""
    if not refused:
        return result
    why = "; ".join(f"{cam} not switched on: {r.message}" for cam, r in refused.items())
    status = WARN if result.status == OK else result.status
    return Result(result.name, status, f"{result.finding}; {why}",
                  "check these cameras again once they may record (nvr config check)")


# --- encoder ------------------------------------------------------------------------------------

class _MemoryTarget:
    """A SegmentTarget in memory: the check's one-second segment never reaches the disk."""

    def __init__(self):
        self.buffer = io.BytesIO()

    def write(self, data) -> int:
        return self.buffer.write(data)

    def commit(self, end, frames: int) -> None:
        return None

    def abort(self) -> None:
        self.buffer = io.BytesIO()


def _encode_second(cfg: Config, cam) -> tuple[bytes, float]:
    """One second of the synthetic scene at the camera's size, fps and bitrate, encoded by
    the recorder's encoder and muxed by its segment writer: the MP4 and the seconds spent in
    the encoder (drawing the scene and muxing not counted)."""
    from firmware.capture.encoder import SoftwareEncoder
    from firmware.capture.synthetic import demo_scene
    from firmware.recording.segments import SegmentWriter, utc
    from firmware.storage.sink import SegmentMeta
    scene = demo_scene(cam.width, cam.height, cam.fps)
    start = time.time()
    meta = SegmentMeta("selftest", "selftest", cfg.device.id, cam.id, cam.name, cam.location,
                       utc(start), False)
    target = _MemoryTarget()
    writer = SegmentWriter(target, meta, cam.width, cam.height, cam.fps)
    encoder = SoftwareEncoder(cam.width, cam.height, cam.fps, cam.bitrate_kbps,
                              cam.keyframe_seconds)
    took = 0.0
    for i in range(cam.fps):
        scene.i420(i, encoder.input)
        packets, spent = _timed(encoder.encode, encoder.input, start + i / cam.fps)
        took += spent
        for packet in packets:
            writer.write(packet)
    packets, spent = _timed(encoder.flush)
    for packet in packets:
        writer.write(packet)
    writer.close()
    return target.buffer.getvalue(), took + spent


def _timed(call, *args):
    """call(*args) and the seconds it took."""
    began = time.monotonic()
    return call(*args), time.monotonic() - began


def _decoded(data: bytes, cam) -> str | None:
    """None when `data` is H.264 only, of the camera's size, one second of frames."""
    import av
    with av.open(io.BytesIO(data)) as container:
        if container.streams.audio or len(container.streams) != 1:
            return f"{cam.id}: the segment has {len(container.streams)} streams, audio or " \
                   "other besides the video (R-03: never sound)"
        stream = container.streams.video[0]
        if stream.codec_context.name != "h264":
            return f"{cam.id}: the video is {stream.codec_context.name}, not h264"
        frames = [(f.width, f.height) for f in container.decode(stream)]
    if len(frames) != cam.fps or set(frames) != {(cam.width, cam.height)}:
        return (f"{cam.id}: decoded {len(frames)} frames of {sorted(set(frames))}, expected "
                f"{cam.fps} of {cam.width}x{cam.height}")
    return None


def check_encoder(cfg: Config) -> Result:
    """Per camera: one second of frames encoded at its size, fps and bitrate with libx264 (the
    recorder's software encoder), muxed by the segment writer and decoded back with PyAV."""
    import av
    problems, seen, slow = [], [], 0.0
    for cam in cfg.cameras:
        try:
            data, took = _encode_second(cfg, cam)
            wrong = _decoded(data, cam)
        except (av.FFmpegError, OSError, ValueError) as exc:
            problems.append(f"{cam.id}: encoding or decoding failed: {exc}")
            continue
        if wrong:
            problems.append(wrong)
            continue
        if cam.source != "picamera2":
            slow += took                   # the software cameras share the CPU
        seen.append(f"{cam.id} {cam.width}x{cam.height}@{cam.fps} "
                    f"{len(data) * 8 / 1000:,.0f} kbit/s in {took:.2f} s")
    if problems:
        return Result("encoder", FAIL, "; ".join(problems),
                      "reinstall the firmware's venv (PyAV with libx264); check the camera's "
                      "width/height/fps/bitrate_kbps")
    if slow > 1.0:
        return Result("encoder", FAIL, f"encoding one second of every software camera took "
                      f"{slow:.2f} s: it cannot keep up in real time ({'; '.join(seen)})",
                      "lower width/height or fps, or use fewer software-encoded cameras")
    return Result("encoder", OK, "H.264, no audio, decoded back: " + "; ".join(seen))


# --- disk ---------------------------------------------------------------------------------------

def write_room(directory: Path, high_water_percent: int) -> int:
    """How much the write test may write in `directory`: WRITE_BYTES at most, and no closer
    than WRITE_LEAVE to the store's high-water mark, counted as the store counts it (the whole
    filesystem, total minus free: EncryptedStore.disk_used). Past the mark the recorder's next
    segment erases the oldest footage (R-42); on a full disk its write fails."""
    usage = shutil.disk_usage(directory)
    below_mark = usage.total * high_water_percent // 100 - (usage.total - usage.free)
    return min(WRITE_BYTES, below_mark - WRITE_LEAVE)


def write_speed(directory: Path, size: int = WRITE_BYTES) -> float:
    """Bytes a second written and fsynced to an unnamed file in `directory` (O_TMPFILE): it
    has no name to leave behind, whatever stops the selftest (SIGTERM, SIGKILL, a power cut
    frees it at the next mount). Raises OSError when it cannot be written."""
    chunk = os.urandom(min(size, 4 * 2**20))
    fd = os.open(directory, os.O_WRONLY | os.O_TMPFILE | os.O_CLOEXEC, 0o600)
    try:
        began = time.monotonic()
        left = size
        while left > 0:
            left -= os.write(fd, chunk[:left])
        os.fsync(fd)
        return size / max(time.monotonic() - began, 1e-6)
    finally:
        os.close(fd)


def check_disk(cfg: Config, motion_share: float = MOTION_SHARE) -> Result:
    """Room on the data disk for `retention_days` (28, R-40) of every camera at its bitrate,
    as `nvr sizing` computes it (system/sizing.py: the store's overheads and logbooks, below
    the high-water mark where the sweep erases early, R-42) at `motion_share` of the time with
    motion; and a write speed of at least WRITE_MARGIN times what the cameras store a second
    while they all record."""
    from firmware.system.sizing import GB, check_disk as disk_holds, plan, \
        stored_bytes_per_second
    s = cfg.storage
    if not s.data_dir.is_dir():
        return Result("disk", FAIL, f"the data directory {s.data_dir} does not exist",
                      "mount the data disk there; on a device `systemd-tmpfiles --create "
                      "nvr.conf` makes it (docs/units.md)")
    sizing = plan(cfg.cameras, motion_share, s.retention_days, s)
    disk = disk_holds(s.data_dir, sizing)
    space = (f"{max(disk.room, 0) / GB:,.1f} GB room below the {s.high_water_percent}% "
             f"high-water mark, {disk.needed / GB:,.1f} GB needed for {s.retention_days} days "
             f"at {motion_share:.0%} of the time with motion (nvr sizing; "
             f"{sum(c.bitrate_kbps for c in cfg.cameras):,} kbit/s)")
    problems, actions = [], []
    if not disk.holds:
        problems.append(space)
        actions.append("use a larger data disk, or lower bitrate_kbps (nvr sizing shows what "
                       "each camera needs)")
    rate = sum(stored_bytes_per_second(cam, s) for cam in cfg.cameras)
    size = write_room(s.data_dir, s.high_water_percent)
    speed, unmeasured = None, ""
    if size < WRITE_LEAST:
        unmeasured = (f"write speed not measured: {_mb(max(size + WRITE_LEAVE, 0))} left below "
                      f"the {s.high_water_percent}% high-water mark, and a test file there "
                      "would make the recorder erase footage (R-42)")
        actions.append("measure it on an emptier disk: before footage fills it, or with the "
                       "recorder stopped and room below the mark")
    else:
        try:
            speed = write_speed(s.data_dir, size)
        except OSError as exc:
            if exc.errno in (errno.EOPNOTSUPP, errno.EISDIR):
                unmeasured = (f"write speed not measured: the filesystem of {s.data_dir} "
                              "makes no unnamed files (O_TMPFILE)")
                actions.append("use ext4 for the data disk (hardware.md)")
            else:
                problems.append(f"{_mb(size)} could not be written and synced in "
                                f"{s.data_dir}: {exc.strerror or exc}")
                actions.append("check the data disk (mounted, writable, not full)")
    if speed is not None:
        written = (f"writes {_mb(speed)}/s (at least {WRITE_MARGIN}x the "
                   f"{_mb(rate)}/s the cameras store while all record)")
        if speed < WRITE_MARGIN * rate:
            problems.append(written)
            actions.append("use a faster disk (an SSD or an A2 high-endurance card)")
    if problems:
        return Result("disk", FAIL, "; ".join(problems + [unmeasured] * bool(unmeasured)),
                      "; ".join(actions))
    if unmeasured:
        return Result("disk", WARN, f"{space}; {unmeasured}", "; ".join(actions))
    return Result("disk", OK, f"{space}; {written}")


# --- keys ---------------------------------------------------------------------------------------

def _service_uid(user: str = SERVICE_USER) -> int | None:
    try:
        return pwd.getpwnam(user).pw_uid
    except KeyError:
        return None


def _web_secret_problems(key_dir: Path) -> list[str]:
    """The web's secrets (system/keyfiles.py, the table nvr firstboot gives them by): no mode
    bit beyond the table's, owned by nvr-web where that user exists (without it, a development
    checkout, the owner is not judged: the web runs as whoever started it). One not made yet is
    no problem (the web makes what is missing at its start)."""
    from firmware.system.keyfiles import WEB_SECRETS, WEB_USER
    web = _service_uid(WEB_USER)
    problems = []
    for name, mode in WEB_SECRETS.items():
        path = key_dir / name
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        if not stat.S_ISREG(st.st_mode):
            problems.append(f"{path} is not a regular file: move it away and restart nvr-web")
            continue
        if st.st_mode & 0o7777 & ~mode:
            problems.append(f"{path} has mode {stat.filemode(st.st_mode)}, more than "
                            f"{stat.filemode(stat.S_IFREG | mode)}: chmod {mode:o} {path}")
        if web is not None and st.st_uid != web:
            problems.append(f"{path} belongs to uid {st.st_uid}, not to {WEB_USER}: "
                            f"chown {WEB_USER}:nvr {path}")
    return problems


def check_keys(cfg: Config) -> Result:
    """The key directory and the keys /readyz wants (readiness.key_problems): present, of a
    key's size, no access for others (and on a device only the group nvr may read:
    storage/sharing.too_open, R-82), owned by nvr-recorder where that user exists, else by
    this user. Judged by stat() only: no key is read."""
    from firmware.storage.sharing import too_open, trusted_owner
    from firmware.system.readiness import KEY_FILES, key_problems
    key_dir = cfg.storage.key_dir
    if not key_dir.is_dir():
        return Result("keys", FAIL, f"the key directory {key_dir} does not exist",
                      "start the recorder once (it makes the master key) or restore the keys "
                      "from the key backup")
    problems = list(key_problems(cfg))
    if os.stat(key_dir).st_mode & 0o007:
        problems.append(f"{key_dir} is open to others (mode "
                        f"{stat.filemode(os.stat(key_dir).st_mode)}): chmod 700 {key_dir} "
                        "(3770 on a device, docs/units.md)")
    service = _service_uid()
    for name in KEY_FILES:
        path = key_dir / name
        try:
            st = os.stat(path)
        except OSError:
            continue                       # said by key_problems
        if too_open(path, st):
            problems.append(f"{path} is readable or writable by others (mode "
                            f"{stat.filemode(st.st_mode)}): chmod 600 {path} (640 in the "
                            "device's shared key directory)")
        if service is not None and st.st_uid != service:
            problems.append(f"{path} belongs to uid {st.st_uid}, not to {SERVICE_USER}: "
                            f"chown {SERVICE_USER}:nvr {path}")
        elif service is None and not trusted_owner(path, st):
            problems.append(f"{path} belongs to uid {st.st_uid}, not to this user "
                            f"(uid {os.geteuid()})")
    problems += _web_secret_problems(key_dir)
    if problems:
        return Result("keys", FAIL, "; ".join(problems),
                      "fix the modes and owners as said (docs/units.md); a missing or damaged "
                      "key: restore it from the key backup (on a new device without footage: "
                      "start the recorder once, it makes them)")
    owner = SERVICE_USER if service is not None else f"uid {os.geteuid()}"
    from firmware.system.disks import index_beside_footage, keys_beside_footage
    beside = keys_beside_footage(key_dir, cfg.storage.data_dir)     # R-82, as nvr firstboot
    if beside:
        return Result("keys", WARN, beside, "set [storage] key_dir to a directory on the other "
                      "disk and move the key files there with their owners and modes "
                      "(docs/provisioning.md)")
    beside = index_beside_footage(cfg.storage.index_dir, cfg.storage.data_dir)
    if beside:
        return Result("keys", WARN, beside, "set [storage] index_dir = \"/var/lib/nvr/index\" "
                      "and move index.sqlite3 there as the recorder says when it starts "
                      "(docs/storage.md)")
    return Result("keys", OK, f"{len(KEY_FILES)} keys in {key_dir}, closed to others, owned "
                  f"by {owner}; the web's secrets present closed as nvr firstboot makes them")


# --- clock --------------------------------------------------------------------------------------

def check_clock(cfg: Config) -> Result:
    """Synchronised as /readyz asks it (system.clock.clock_state, R-30); the RTC present, a
    warning when absent."""
    from firmware.system.clock import clock_state
    state = clock_state()
    rtc = Path(os.environ.get(RTC_ENV) or RTC_DEVICE)
    if not state.synchronised:
        return Result("clock", FAIL, f"the clock is not synchronised (according to "
                      f"{state.source})", "check the network and the time server: "
                      "timedatectl timesync-status; recordings need trustworthy time (R-30)")
    if not rtc.exists():
        return Result("clock", WARN, f"synchronised ({state.source}), but there is no RTC "
                      f"({rtc})", "fit the RTC battery (Pi 5) or an RTC module: after a power "
                      "cut without network the clock starts wrong until NTP answers")
    return Result("clock", OK, f"synchronised ({state.source}); RTC {rtc} present")


# --- gpio ---------------------------------------------------------------------------------------

def check_gpio(cfg: Config) -> Result:
    """The configured pins can be claimed on the configured pin factory (gpiozero's
    MockFactory twin on a PC); skipped with no GPIO, or while the recorder holds them."""
    from firmware.live.client import recorder_status
    from firmware.system.gpio import claim_pins
    pins = cfg.gpio
    if not pins.enabled:
        return Result("gpio", SKIP, "GPIO is off in the configuration ([gpio] enabled = false)")
    mock = pins.pin_factory == "mock" or (
        pins.pin_factory == "auto" and os.environ.get("GPIOZERO_PIN_FACTORY") == "mock")
    if not mock and not glob.glob("/dev/gpiochip*"):
        return Result("gpio", SKIP, "no GPIO on this machine (no /dev/gpiochip*)")
    if not mock and recorder_status(cfg.live_socket) is not None:
        return Result("gpio", SKIP, "the running recorder holds the pins; its alarm "
                      "gpio-failed on /readyz says whether it could open them",
                      "to test the pins here: systemctl stop nvr-recorder, run again, start it")
    try:
        claimed = claim_pins(cfg)
    except Exception as exc:                   # noqa: BLE001 - gpiozero's errors vary
        return Result("gpio", FAIL, f"the pins cannot be claimed ({type(exc).__name__}: "
                      f"{exc})", "check [gpio] (pins, pin_factory), the wiring, and that the "
                      "user is in the group gpio (/dev/gpiochip*)")
    if not claimed:
        return Result("gpio", SKIP, "no pin is configured ([gpio] all -1)")
    where = "gpiozero's mock pin factory (a twin, no real pins)" if mock else \
        f"the {pins.pin_factory} pin factory"
    return Result("gpio", OK, f"claimed {', '.join(claimed)} on {where}")


# --- exportd ------------------------------------------------------------------------------------

def check_exportd(cfg: Config) -> Result:
    """exportd's socket answers `list` (export/protocol.py)."""
    from firmware.export import protocol
    if cfg.export_directory is not None:
        return Result("exportd", SKIP, f"[export] directory is set ({cfg.export_directory}): "
                      "exports go to a directory, exportd is not used (development only)")
    path = protocol.socket_path()
    try:
        reply = protocol.call(path, {"cmd": "list"}, timeout=5)
    except protocol.ProtocolError as exc:
        return Result("exportd", FAIL, str(exc),
                      "systemctl start nvr-exportd; journalctl -u nvr-exportd says why it "
                      "stopped")
    return Result("exportd", OK, f"answers at {path}; {len(reply.get('devices', []))} USB "
                  "stick(s) offered")


# --- units --------------------------------------------------------------------------------------

def _systemctl(*args: str) -> str:
    """What `systemctl ARGS` prints (or $NVR_SYSTEMCTL's: a test's script), one word."""
    command = os.environ.get(SYSTEMCTL_ENV) or "systemctl"
    try:
        out = subprocess.run([command, *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc.strerror if isinstance(exc, OSError) else 'no answer'})"
    return out.stdout.strip() or f"unknown (exit {out.returncode})"


def check_units(cfg: Config) -> Result:
    """`systemctl is-active` and `is-enabled` of the device's units (docs/units.md), when
    systemd runs this machine: `systemctl is-system-running` says "offline" (or nothing)
    when systemd is not PID 1, as in a container."""
    system = _systemctl("is-system-running")
    if system == "offline" or system.startswith("unknown"):
        return Result("units", SKIP, f"systemd is not PID 1 here (is-system-running: {system}; "
                      "a container or a chroot): the units cannot be asked")
    bad, good = [], []
    for unit in UNITS:
        active, enabled = _systemctl("is-active", unit), _systemctl("is-enabled", unit)
        (good if (active, enabled) == ("active", "enabled") else bad).append(
            (unit, f"{unit} is {active} and {enabled}"))
    if bad:
        return Result("units", FAIL, "; ".join(text for _, text in bad),
                      "systemctl enable --now " + " ".join(unit for unit, _ in bad)
                      + "; journalctl -u UNIT says why one stopped")
    return Result("units", OK, f"active and enabled: {', '.join(UNITS)} (system {system})")


# In the order they run and print.
CHECKS: dict[str, Callable[[Config], Result]] = {
    "camera": check_camera, "encoder": check_encoder, "disk": check_disk, "keys": check_keys,
    "clock": check_clock, "gpio": check_gpio, "exportd": check_exportd, "units": check_units,
}


def run_checks(cfg: Config, only: list[str] | None = None,
               motion_share: float = MOTION_SHARE) -> list[Result]:
    """The checks named in `only` (all by default), in CHECKS' order; `motion_share` for the
    disk's room. A check that breaks is a failure that names the error, never a traceback
    that hides the other checks."""
    results = []
    checks = {**CHECKS, "disk": functools.partial(check_disk, motion_share=motion_share)}
    for name, check in checks.items():
        if only and name not in only:
            continue
        try:
            results.append(check(cfg))
        except Exception as exc:               # noqa: BLE001
            results.append(Result(name, FAIL, f"the check itself failed: "
                                  f"{type(exc).__name__}: {exc}",
                                  "report this with the output of nvr -v selftest"))
    return results


def failed(results: list[Result]) -> bool:
    return any(r.status == FAIL for r in results)
