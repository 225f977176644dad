"""The device configuration: one TOML file, validated completely at load.

Every key is declared below with its type, default and allowed range. Unknown keys are errors
(a typo must not silently fall back to a default), and every message names the key, the value
and what is allowed, so a technical administrator can fix the file without reading code.
Relative paths are taken relative to the directory of the configuration file.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from firmware.i18n import N_, _

# footage is kept at most 28 days. The limit is a rule of the regulation, not a setting.
MAX_RETENTION_DAYS = 28

Point = tuple[float, float]
Polygon = tuple[Point, ...]

CONFIG_ENV = "NVR_CONFIG"
INDEX_NAME = "index.sqlite3"        # the one SQLite file of index and governance, in index_dir
CONFIG_NAME = "nvr.toml"


class ConfigError(Exception):
    """The configuration cannot be used; the message lists every problem found."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: the configuration has {len(problems)} problem(s):\n{lines}")


def _spec(default: Any = dataclasses.MISSING, *, help: str = "", kw_only: bool = False,
          **rules: Any) -> Any:
    """A dataclass field with validation rules (min, max, choices, pattern, even) in metadata;
    `missing`: what the message says when a required key is missing."""
    meta = {"help": help, **rules}
    if isinstance(default, (list, dict)):
        raise TypeError("use a tuple for sequence defaults")
    return field(default=default, metadata=meta, kw_only=kw_only)


_ID = r"^[a-z0-9][a-z0-9_-]{0,31}$"


@dataclass(frozen=True)
class MotionConfig:
    threshold: int = _spec(25, min=4, max=128,
                           help="luma difference that counts as change; lower is more sensitive")
    min_area: float = _spec(0.004, min=0.0001, max=0.5,
                            help="smallest changed area, as a fraction of the zone, that is motion")
    trigger_frames: int = _spec(2, min=1, max=30,
                                help="consecutive frames with motion before an event opens")
    zones: tuple[Polygon, ...] = _spec((), polygons=True,
                                       help="polygons in which motion counts; empty: everywhere")
    ignore: tuple[Polygon, ...] = _spec((), polygons=True,
                                        help="polygons in which motion never counts (trees, flags)")


@dataclass(frozen=True)
class CameraConfig:
    id: str = _spec(pattern=_ID)
    name: str = _spec(min_len=1)
    location: str = _spec(min_len=1, help="burned into every frame and stored with every segment")
    source: str = _spec(choices=("picamera2", "synthetic", "file", "v4l2"))
    path: str = _spec("", help="video file for source 'file', device for 'v4l2'")
    loop: bool = _spec(True, help="source 'file': start again at the end")
    freeze_file: str = _spec("", help="source 'synthetic': while a file exists at this absolute "
                             "path the camera delivers no frames, as a stalled camera does (the "
                             "watchdog's tests and the system test)")
    width: int = _spec(1920, min=160, max=4096, even=True)
    height: int = _spec(1080, min=120, max=3072, even=True)
    fps: int = _spec(25, min=1, max=60)
    lores_width: int = _spec(320, min=64, max=1280, even=True)
    lores_height: int = _spec(240, min=48, max=960, even=True)
    bitrate_kbps: int = _spec(4000, min=250, max=25000)
    keyframe_seconds: float = _spec(1.0, min=0.2, max=5.0)
    preroll_seconds: float = _spec(5.0, min=0.0, max=30.0)
    postroll_seconds: float = _spec(10.0, min=1.0, max=300.0)
    privacy_masks: tuple[Polygon, ...] = _spec((), polygons=True)
    # Art. 11, R-02: no silent default; a camera that sees staff at work waits for the works
    # council's approval (firmware.governance.introduction).
    staff_in_view: bool = _spec(kw_only=True, missing=(
        "say whether staff at work are in view: true or false (art. 11: true waits for the "
        "works council's approval in works_council_reference and works_council_date)"))
    works_council_reference: str = _spec("")
    works_council_date: str = _spec("", iso_date=True)
    motion: MotionConfig = field(default_factory=MotionConfig)


@dataclass(frozen=True)
class IntroductionConfig:
    """What the regulation asks before the cameras are switched on: the DPIA (its introduction,
    AVG art. 35) and the signs at the entrances (art. 6 lid 3). Recording waits for the DPIA
    (firmware.governance.introduction)."""
    dpia_reference: str = _spec("", help="the DPIA's reference (kenmerk)")
    dpia_date: str = _spec("", iso_date=True, help="the date the DPIA was completed")
    signage: tuple[str, ...] = _spec((), strings=True,
                                     help="where the signs announcing camera surveillance hang")


@dataclass(frozen=True)
class StorageConfig:
    data_dir: Path = _spec(Path("data"), path=True)
    key_dir: Path = _spec(Path("keys"), path=True,
                          help="device keys; must not lie inside data_dir (R-82)")
    # names, password hashes and logbooks are in the index, so on a device with footage
    # on its own disk the index stays on the card beside the keys (docs/storage.md).
    index_dir: Path | None = _spec(None, path=True, min_len=1,
                                   help="the index and governance database (index.sqlite3); "
                                        "missing: data_dir")
    retention_days: int = _spec(MAX_RETENTION_DAYS, min=1, max=MAX_RETENTION_DAYS)
    segment_seconds: int = _spec(10, min=2, max=60)
    high_water_percent: int = _spec(90, min=50, max=99)
    cipher: str = _spec("chacha20-poly1305", choices=("chacha20-poly1305", "aes-256-gcm"),
                        help="segment cipher; ChaCha20 is 4-5x faster on a Pi 4 (no AES unit)")
    watchdog_failure_seconds: int = _spec(
        60, min=2, max=3600, help="segments failing to be stored this long (at least two "
        "segments' length) stop the watchdog's pings: systemd restarts the recorder; never "
        "for a full disk (docs/units.md)")

    def __post_init__(self) -> None:
        if self.index_dir is None:
            object.__setattr__(self, "index_dir", self.data_dir)

    @property
    def index_path(self) -> Path:
        """Where index.sqlite3 lives: every reader and writer of the index takes it from here."""
        return self.index_dir / INDEX_NAME


@dataclass(frozen=True)
class WebConfig:
    host: str = _spec("127.0.0.1", min_len=1)
    port: int = _spec(8443, min=0, max=65535, help="0: any free port (tests)")
    live_fps: int = _spec(10, min=1, max=30, help="live view frames per second")
    live_width: int = _spec(960, min=160, max=1920, even=True,
                            help="live view picture width; the height keeps the aspect")
    # Art. 4 lid 1: footage only on the workstations of the secured room (system/clients.py).
    footage_addresses: tuple[str, ...] = _spec(("127.0.0.1", "::1"), addresses=True,
                                               help="addresses or networks (CIDR) that may show "
                                                    "footage without a client certificate")
    footage_certificate_required: bool = _spec(False, help="footage only with a client "
                                                           "certificate `nvr client issue` made")
    footage_console: bool = _spec(False, help="the command line (`nvr segment play`, `nvr "
                                              "request play`) may show footage on the device "
                                              "itself; every process without SSH then counts "
                                              "as the console in the secured room")


@dataclass(frozen=True)
class ExportConfig:
    directory: str = _spec("", help="development only: a directory standing in for the "
                                    "encrypted USB stick; empty: the export helper (exportd)")
    min_password: int = _spec(12, min=12, max=64,
                              help="no longer used (accepted in older files): a typed "
                                   "export password has at least 16 characters (R-61)")


@dataclass(frozen=True)
class DeviceConfig:
    id: str = _spec(pattern=_ID)
    name: str = _spec("", help="human name of the site")
    timezone: str = _spec("Europe/Amsterdam", timezone=True)


@dataclass(frozen=True)
class GpioConfig:
    """The status LED, the case tamper switch and the eject button (firmware/system/gpio.py,
    hardware.md "GPIO"). Pins are BCM numbers; -1: not connected."""
    enabled: bool = _spec(False, help="drive the GPIO pins from `nvr run` (off on a PC)")
    pin_factory: str = _spec("auto", choices=("auto", "mock", "lgpio", "rpigpio", "native"),
                             help="gpiozero pin factory; auto: $GPIOZERO_PIN_FACTORY or "
                                  "gpiozero's choice (lgpio on a Pi 5); mock: tests and a PC")
    status_led: int = _spec(-1, min=-1, max=27, help="BCM pin of the status LED (to GND "
                                                      "through a resistor); -1: none")
    tamper_switch: int = _spec(-1, min=-1, max=27, help="BCM pin of the case switch, closed to "
                                                         "GND while the lid is on; -1: none")
    eject_button: int = _spec(-1, min=-1, max=27, help="BCM pin of the eject button, closing to "
                                                        "GND when pressed; -1: none")


EquatedDay = tuple[date, str]            # (day, the decree that equates it)


@dataclass(frozen=True)
class DeadlinesConfig:
    equated_days: tuple[EquatedDay, ...] = _spec(
        (), equated_days=True,
        help="days equated with a feast day by royal decree (art. 3 lid 3 Algemene "
             "termijnenwet) after the decrees the firmware ships: [{date, decree}]")


@dataclass(frozen=True)
class Config:
    device: DeviceConfig
    storage: StorageConfig
    web: WebConfig
    cameras: tuple[CameraConfig, ...]
    source: Path = Path("<memory>")
    export: ExportConfig = field(default_factory=ExportConfig)
    deadlines: DeadlinesConfig = field(default_factory=DeadlinesConfig)
    introduction: IntroductionConfig = field(default_factory=IntroductionConfig)
    gpio: GpioConfig = field(default_factory=GpioConfig)

    @property
    def export_directory(self) -> Path | None:
        """The development stand-in for the USB stick, relative to the configuration file."""
        if not self.export.directory:
            return None
        return (self.source.parent / self.export.directory).resolve()

    @property
    def live_socket(self) -> Path:
        """The recorder's live-view socket (firmware.live.hub)."""
        return self.storage.data_dir / "live.sock"

    def camera(self, camera_id: str) -> CameraConfig:
        for cam in self.cameras:
            if cam.id == camera_id:
                return cam
        known = ", ".join(c.id for c in self.cameras)
        raise ConfigError(str(self.source), [_("no camera with id '%(camera)s' (configured: %(known)s)", camera=camera_id, known=known)])


# --- validation -----------------------------------------------------------------------------

class _Problems(list):
    def add(self, where: str, message: str) -> None:
        self.append(f"{where}: {message}" if where else message)


def _check_polygons(value: Any, where: str, problems: _Problems) -> tuple[Polygon, ...]:
    if not isinstance(value, list):
        problems.add(where, _("must be a list of polygons, each a list of [x, y] points from 0.0 to 1.0"))
        return ()
    polygons = []
    for i, poly in enumerate(value):
        pw = f"{where}[{i}]"
        if not isinstance(poly, list) or len(poly) < 3:
            problems.add(pw, _("a polygon needs at least 3 points [x, y]"))
            continue
        points = []
        for j, pt in enumerate(poly):
            ok = (isinstance(pt, list) and len(pt) == 2
                  and all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in pt))
            if not ok or not all(0.0 <= c <= 1.0 for c in pt):
                problems.add(f"{pw}[{j}]", _("%(point)s is not a point [x, y] with 0.0 <= x, y <= 1.0 "
                                               "(fractions of the image width and height)",
                                               point=repr(pt)))
                continue
            points.append((float(pt[0]), float(pt[1])))
        polygons.append(tuple(points))
    return tuple(polygons)


def _check_equated_days(value: Any, where: str, problems: _Problems) -> tuple[EquatedDay, ...]:
    """R-72: each entry a weekday with the decree (Staatscourant) that equates it."""
    if not isinstance(value, list):
        problems.add(where, _("must be a list of tables like { date = 2029-05-11, decree = "
                              "\"Besluit ..., Stcrt. 2028, 12345\" }"))
        return ()
    days: dict[date, str] = {}
    for i, entry in enumerate(value):
        ew = f"{where}[{i}]"
        if not isinstance(entry, dict):
            problems.add(ew, _("%(entry)s must be a table { date = ..., decree = ... }",
                                entry=repr(entry)))
            continue
        for key in set(entry) - {"date", "decree"}:
            problems.add(ew, _("unknown key '%(key)s'; allowed here: date, decree", key=key))
        day = entry.get("date")
        if isinstance(day, str):
            try:
                day = date.fromisoformat(day)
            except ValueError:
                problems.add(f"{ew}.date", _("%(day)s is not a date like 2029-05-11",
                                             day=repr(day)))
                continue
        if isinstance(day, datetime) or not isinstance(day, date):
            problems.add(f"{ew}.date", _("%(day)s is not a date like 2029-05-11",
                                         day=repr(day)))
            continue
        if day.weekday() >= 5:
            problems.add(f"{ew}.date", _("%(day)s is a %(weekday)s: no working day anyway; check "
                                         "the date in the decree", day=day,
                                         weekday=(_("Saturday"), _("Sunday"))[day.weekday() - 5]))
        decree = entry.get("decree")
        if not isinstance(decree, str) or not decree.strip():
            problems.add(f"{ew}.decree", _("name the decree that equates the day, e.g. "
                                           "\"Besluit gelijkstelling ..., Stcrt. 2028, 12345\""))
            continue
        if day in days:
            problems.add(f"{ew}.date", _("%(day)s is listed twice", day=day))
        days[day] = decree.strip()
    return tuple(sorted(days.items()))


def _check_strings(value: Any, where: str, problems: _Problems) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        problems.add(where, _("%(value)s is not a list of texts, such as [\"hoofdingang\", "
                              "\"ingang Raadhuisplein\"]", value=repr(value)))
        return ()
    return tuple(v.strip() for v in value)


def _check_addresses(value: Any, where: str, problems: _Problems) -> tuple[str, ...]:
    """A list of IP addresses or networks such as "10.0.4.17" or "10.0.4.0/28"."""
    import ipaddress
    if not isinstance(value, list):
        problems.add(where, _('must be a list of addresses or networks, e.g. ["10.0.4.17"]'))
        return ()
    for i, item in enumerate(value):
        try:
            if not isinstance(item, str):
                raise TypeError
            ipaddress.ip_network(item, strict=False)
        except (TypeError, ValueError):
            problems.add(f"{where}[{i}]", _("%(item)s is not an IP address or network such as "
                                            "10.0.4.17 or 10.0.4.0/28", item=repr(item)))
    return tuple(value)


_SCALARS = {"str": str, "int": int, "float": float, "bool": bool}
_TYPE_NAMES = {str: N_("a string"), int: N_("a whole number"), float: N_("a number"),
               bool: N_("true or false")}


def _check_scalar(f: dataclasses.Field, value: Any, where: str, problems: _Problems) -> Any:
    meta = f.metadata
    typ = str if meta.get("path") else _SCALARS[f.type]
    ok = isinstance(value, typ) and not (typ in (int, float) and isinstance(value, bool))
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        ok, value = True, float(value)
    if not ok:
        problems.add(where, _("%(value)s is not %(kind)s", value=repr(value),
                              kind=_(_TYPE_NAMES.get(typ, typ.__name__))))
        return None
    lo, hi = meta.get("min"), meta.get("max")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        problems.add(where, _("%(value)s is out of range: allowed %(low)s to %(high)s",
                              value=repr(value), low=lo, high=hi))
    if meta.get("even") and value % 2:
        problems.add(where, _("%(value)s must be even (video planes are subsampled by 2)",
                              value=repr(value)))
    if "choices" in meta and value not in meta["choices"]:
        problems.add(where, _("%(value)s is not one of: %(choices)s", value=repr(value),
                              choices=", ".join(meta['choices'])))
    if "pattern" in meta and not re.match(meta["pattern"], value):
        problems.add(where, _("%(value)s must be 1-32 characters of a-z, 0-9, '-' and '_', "
                              "starting with a letter or digit", value=repr(value)))
    if meta.get("min_len") and len(value.strip()) < meta["min_len"]:
        problems.add(where, _("must not be empty"))
    if meta.get("iso_date") and value:
        try:
            date.fromisoformat(value)
        except ValueError:
            problems.add(where, _("%(value)s is not a date like 2026-03-31", value=repr(value)))
    if meta.get("timezone"):
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            problems.add(where, _("%(value)s is not a known time zone such as Europe/Amsterdam",
                              value=repr(value)))
    if meta.get("path"):
        return Path(value)
    return value


def _build(cls: type, table: Any, where: str, problems: _Problems, base: Path) -> Any:
    if not isinstance(table, dict):
        problems.add(where, _("must be a table"))
        return None
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in table:
        if key not in fields:
            hint = difflib.get_close_matches(key, list(fields), n=1)
            suffix = _(" (did you mean '%(name)s'?)", name=hint[0]) if hint else ""
            allowed = ", ".join(fields)
            problems.add(f"{where}.{key}" if where else key,
                         _("unknown key%(hint)s; allowed here: %(allowed)s", hint=suffix,
                           allowed=allowed))
    values: dict[str, Any] = {}
    for name, f in fields.items():
        fw = f"{where}.{name}" if where else name
        if name not in table:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                why = f.metadata.get("missing")
                problems.add(fw, _("missing; this key is required") + (f": {why}" if why else ""))
            continue
        value = table[name]
        if dataclasses.is_dataclass(f.default_factory if f.default_factory is not dataclasses.MISSING
                                    else None):
            values[name] = _build(f.default_factory, value, fw, problems, base)
        elif f.metadata.get("polygons"):
            values[name] = _check_polygons(value, fw, problems)
        elif f.metadata.get("equated_days"):
            values[name] = _check_equated_days(value, fw, problems)
        elif f.metadata.get("strings"):
            values[name] = _check_strings(value, fw, problems)
        elif f.metadata.get("addresses"):
            values[name] = _check_addresses(value, fw, problems)
        else:
            checked = _check_scalar(f, value, fw, problems)
            if checked is not None and f.metadata.get("path"):
                checked = checked if checked.is_absolute() else (base / checked)
            values[name] = checked
    if problems:
        return None
    return cls(**values)


def _check_index_dir(s: StorageConfig, problems: _Problems) -> None:
    """R-82: the index may share data_dir (the default) or lie on another path, but not inside
    data_dir (that is the footage disk under another name) and never mixed with the keys (the
    keys' folder is root's and the recorder's, the index is the web's too)."""
    data, keys, idx = s.data_dir.resolve(), s.key_dir.resolve(), s.index_dir.resolve()
    if idx != data and data in idx.parents:
        problems.add("storage.index_dir", _("%(index)s lies inside storage.data_dir %(data)s: "
                                            "leave index_dir out to keep the index in data_dir, "
                                            "or give a path on another disk (R-82)",
                                            index=idx, data=data))
    if idx != data and (idx == keys or keys in idx.parents or idx in keys.parents):
        problems.add("storage.index_dir", _("%(index)s and storage.key_dir %(keys)s lie one in "
                                            "the other: give the index its own directory beside "
                                            "the keys, e.g. /var/lib/nvr/index next to "
                                            "/var/lib/nvr/keys (R-82)", index=idx, keys=keys))


def _check_cross(cfg: Config, problems: _Problems, files: bool = True) -> None:
    data = cfg.storage.data_dir.resolve()
    keys = cfg.storage.key_dir.resolve()
    if keys == data or data in keys.parents:
        problems.add("storage.key_dir", _("%(keys)s lies inside storage.data_dir %(data)s; keys "
                                            "must be kept on another path so a stolen data disk "
                                            "opens nothing (R-82)", keys=keys, data=data))
    _check_index_dir(cfg.storage, problems)
    pins = [(name, getattr(cfg.gpio, name)) for name in ("status_led", "tamper_switch",
                                                          "eject_button")]
    for name, pin in pins:
        if pin >= 0 and [p for _n, p in pins].count(pin) > 1:
            problems.add(f"gpio.{name}", _("GPIO %(pin)s is used for more than one purpose; "
                                           "give each its own pin", pin=pin))
    seen: set[str] = set()
    for i, cam in enumerate(cfg.cameras):
        if cam.id in seen:
            problems.add(f"cameras[{i}].id", _("'%(camera)s' is used by more than one camera",
                                               camera=cam.id))
        seen.add(cam.id)
        if cam.lores_width > cam.width or cam.lores_height > cam.height:
            problems.add(f"cameras[{i}]", _("the lores stream may not be larger than the main stream"))
        if cam.source in ("file", "v4l2") and not cam.path:
            problems.add(f"cameras[{i}].path", _("source '%(source)s' needs a path",
                                                 source=cam.source))
        if files and cam.source == "file" and cam.path and not Path(cam.path).is_file():
            problems.add(f"cameras[{i}].path", _("%(path)s is not a readable file", path=cam.path))
        frozen = Path(cam.freeze_file)
        if cam.freeze_file and (cam.source != "synthetic" or not frozen.is_absolute()):
            problems.add(f"cameras[{i}].freeze_file", _(
                "freeze_file is for the synthetic camera only and must be an absolute path; "
                "remove it or set source = \"synthetic\""))


def parse(text: str, source: str = "<memory>", base: Path | None = None,
          files: bool = True) -> Config:
    """Parse and validate configuration text; raise ConfigError listing every problem.
    `files=False` leaves out whether a camera's file exists: root installing a file for the
    technisch beheerder, who checked that with their own rights (system/config_install.py)."""
    base = base or Path.cwd()
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [_("not valid TOML: %(problem)s", problem=exc)]) from None
    problems = _Problems()
    for key in raw:
        sections = ["device", "storage", "web", "export", "introduction", "cameras", "deadlines",
                    "gpio"]
        if key not in sections:
            hint = difflib.get_close_matches(key, sections, n=1)
            problems.add(key, _("unknown section%(hint)s; allowed: %(allowed)s",
                                 hint=_(" (did you mean '%(name)s'?)", name=hint[0]) if hint else "",
                                 allowed=", ".join(sections)))
    device = _build(DeviceConfig, raw.get("device", {}), "device", problems, base)
    storage = _build(StorageConfig, raw.get("storage", {}), "storage", problems, base)
    web = _build(WebConfig, raw.get("web", {}), "web", problems, base)
    export = _build(ExportConfig, raw.get("export", {}), "export", problems, base)
    deadlines = _build(DeadlinesConfig, raw.get("deadlines", {}), "deadlines", problems, base)
    introduction = _build(IntroductionConfig, raw.get("introduction", {}), "introduction",
                          problems, base)
    gpio = _build(GpioConfig, raw.get("gpio", {}), "gpio", problems, base)
    cams_raw = raw.get("cameras")
    cameras: list[CameraConfig] = []
    if not isinstance(cams_raw, list) or not cams_raw:
        problems.add("cameras", _("missing; add at least one [[cameras]] table"))
    else:
        for i, table in enumerate(cams_raw):
            cam = _build(CameraConfig, table, f"cameras[{i}]", problems, base)
            if cam is not None:
                cameras.append(cam)
    if problems:
        raise ConfigError(source, problems)
    cfg = Config(device=device, storage=storage, web=web, cameras=tuple(cameras),
                 source=Path(source), export=export, deadlines=deadlines,
                 introduction=introduction, gpio=gpio)
    _check_cross(cfg, problems, files)
    if problems:
        raise ConfigError(source, problems)
    return cfg


def load(path: str | os.PathLike | None = None) -> Config:
    """Load the configuration from `path`, else from $NVR_CONFIG."""
    if path is None:
        path = os.environ.get(CONFIG_ENV)
    if not path:
        raise ConfigError("nvr", [_("no configuration given: pass --config FILE or set "
                                    "%(variable)s; `nvr init DIR` writes a ready-to-run one",
                                    variable=CONFIG_ENV)])
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(p), [_("file not found; `nvr init DIR` writes a ready-to-run "
                                     "configuration")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(p), [_("cannot be read: %(problem)s", problem=exc)]) from None
    return parse(text, str(p), p.resolve().parent)
