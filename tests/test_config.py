"""Configuration: every kind of wrong input gives a message naming the key, and exit code 2."""

from __future__ import annotations

import os

import pytest

from firmware.config import MAX_RETENTION_DAYS, ConfigError, load, parse

from conftest import INIT_FLAGS, nvr, write_config

BASE = """
[device]
id = "dev"
[storage]
data_dir = "data"
key_dir = "keys"
{storage}
[[cameras]]
id = "cam"
name = "Cam"
location = "Hal"
{camera}
[cameras.motion]
{motion}
"""


def base(storage: str = "", camera: str = "", motion: str = "") -> str:
    """BASE with the camera's staff_in_view (required, art. 11) unless `camera` has it."""
    if "staff_in_view" not in camera:
        camera += "\nstaff_in_view = false"
    return BASE.format(storage=storage, camera=camera, motion=motion)


def problems(storage="", camera="", motion="", text=None, tmp_path=None) -> list[str]:
    if "source =" not in camera:
        camera = 'source = "synthetic"\n' + camera
    text = text if text is not None else base(storage=storage, camera=camera,
                                                     motion=motion)
    with pytest.raises(ConfigError) as info:
        parse(text, "nvr.toml", tmp_path)
    return info.value.problems


def test_valid_config_loads_with_defaults(tmp_path):
    cfg = parse(base(storage="", camera="source = 'synthetic'", motion=""), "nvr.toml", tmp_path)
    cam = cfg.cameras[0]
    assert (cam.width, cam.height, cam.fps) == (1920, 1080, 25)
    assert cam.preroll_seconds == 5 and cam.postroll_seconds == 10
    assert cfg.storage.retention_days == 28 and cfg.storage.segment_seconds == 10
    assert cfg.storage.data_dir == tmp_path / "data"


@pytest.mark.parametrize("camera,expect", [
    ("fsp = 30", ["cameras[0].fsp: unknown key (did you mean 'fps'?)"]),
    ("fps = 120", ["cameras[0].fps: 120 is out of range: allowed 1 to 60"]),
    ("fps = 'fast'", ["cameras[0].fps: 'fast' is not a whole number"]),
    ("fps = true", ["cameras[0].fps: True is not a whole number"]),
    ("width = 1281", ["cameras[0].width: 1281 must be even"]),
    ("source = 'webcam'", ["cameras[0].source: 'webcam' is not one of: picamera2, synthetic"]),
    ("source = 'file'", ["cameras[0].path: source 'file' needs a path"]),
    ("source = 'file'\npath = '/nonexistent.mp4'", ["/nonexistent.mp4 is not a readable file"]),
    ("preroll_seconds = -1", ["cameras[0].preroll_seconds: -1.0 is out of range"]),
    ("privacy_masks = [[[0, 0], [2, 0], [0, 1]]]",
     ["cameras[0].privacy_masks[0][1]: [2, 0] is not a point"]),
    ("privacy_masks = [[[0, 0], [1, 0]]]", ["privacy_masks[0]: a polygon needs at least 3"]),
    ("lores_width = 640\nwidth = 320\nheight = 240", ["lores stream may not be larger"]),
    ("works_council_date = '31-03-2026'", ["works_council_date: '31-03-2026' is not a date"]),
])
def test_camera_errors_name_the_key(camera, expect):
    found = "\n".join(problems(camera=camera))
    for e in expect:
        assert e in found


def test_retention_above_28_days_is_refused_R40():
    found = problems(storage="retention_days = 29")
    assert found == [f"storage.retention_days: 29 is out of range: allowed 1 to "
                     f"{MAX_RETENTION_DAYS}"]


def test_key_dir_inside_data_dir_is_refused_R82(tmp_path):
    found = problems(text=base(storage="", camera="source = 'synthetic'", motion="")
                     .replace('key_dir = "keys"', 'key_dir = "data/keys"'), tmp_path=tmp_path)
    assert len(found) == 1 and "storage.key_dir" in found[0] and "R-82" in found[0]


def test_motion_section_is_validated():
    found = problems(motion="threshold = 0\nzones = 'all'")
    assert "cameras[0].motion.threshold: 0 is out of range: allowed 4 to 128" in found
    assert any(p.startswith("cameras[0].motion.zones: must be a list of polygons") for p in found)


def test_missing_and_unknown_sections():
    found = problems(text='[devise]\nid = "x"\n')
    assert any(p.startswith("devise: unknown section (did you mean 'device'?); allowed: device, "
                            "storage, web, export, introduction, cameras, deadlines")
               for p in found), found
    assert "device.id: missing; this key is required" in found
    assert "cameras: missing; add at least one [[cameras]] table" in found


def test_duplicate_camera_ids():
    text = base(storage="", camera="source = 'synthetic'", motion="") + \
        '[[cameras]]\nid = "cam"\nname = "B"\nlocation = "B"\nsource = "synthetic"\n' \
        'staff_in_view = false\n'
    assert problems(text=text) == ["cameras[1].id: 'cam' is used by more than one camera"]


def test_bad_timezone():
    text = base(storage="", camera="source = 'synthetic'", motion="")
    found = problems(text=text.replace('id = "dev"', 'id = "dev"\ntimezone = "Mars/Olympus"'))
    assert found == ["device.timezone: 'Mars/Olympus' is not a known time zone such as "
                     "Europe/Amsterdam"]


def test_invalid_toml_is_reported():
    found = problems(text="[device\nid=1")
    assert found[0].startswith("not valid TOML")


def test_art11_staff_in_view_needs_works_council_approval_R02(tmp_path):
    from datetime import date

    from firmware.governance.introduction import works_council_refusal
    cfg = parse(base(camera="source = 'synthetic'\nstaff_in_view = true"), "x", tmp_path)
    english, dutch = works_council_refusal(cfg.cameras[0], date(2026, 4, 1))
    assert "R-02" in english and "art. 11" in english and "ondernemingsraad" in dutch
    cfg = parse(base(camera="source = 'synthetic'\nstaff_in_view = true\n"
                            "works_council_reference = 'OR-2026-04'\n"
                            "works_council_date = '2026-03-31'"), "x", tmp_path)
    assert works_council_refusal(cfg.cameras[0], date(2026, 4, 1)) is None
    assert works_council_refusal(cfg.cameras[0], date(2026, 3, 30)) is not None   # future


# --- through the real command line -------------------------------------------------------

def test_cli_reports_config_errors_with_exit_2(tmp_path):
    path = write_config(tmp_path, camera_extra="bitrate_kbps = 0\nlocatoin = 'x'")
    result = nvr("--config", str(path), "config", "check")
    assert result.returncode == 2
    assert "cameras[0].bitrate_kbps: 0 is out of range: allowed 250 to 25000" in result.stderr
    assert "cameras[0].locatoin: unknown key (did you mean 'location'?)" in result.stderr
    assert "2 problem(s)" in result.stderr


def test_cli_without_config_says_how_to_get_one(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NVR_CONFIG"}
    result = nvr("config", "check", env=env)
    assert result.returncode == 2
    assert "pass --config FILE or set NVR_CONFIG" in result.stderr and "nvr init" in result.stderr
    result = nvr("--config", str(tmp_path / "missing.toml"), "config", "check")
    assert result.returncode == 2 and "file not found" in result.stderr


def test_cli_takes_config_from_environment(tmp_path):
    path = write_config(tmp_path)
    result = nvr("config", "check", env={**os.environ, "NVR_CONFIG": str(path)})
    assert result.returncode == 0, result.stderr
    assert "OK, 1 camera(s)" in result.stdout


def test_run_refuses_camera_without_works_council_approval_R02(tmp_path):
    path = write_config(tmp_path, camera_extra="staff_in_view = true")
    result = nvr("--config", str(path), "run", timeout=60)
    assert result.returncode == 1
    assert "no camera may record" in result.stderr and "R-02" in result.stderr
    assert not any((tmp_path / "data").rglob("*.seg"))


def test_init_writes_loadable_config_and_refuses_to_overwrite(tmp_path):
    target = tmp_path / "device"
    result = nvr("init", str(target), *INIT_FLAGS)
    assert result.returncode == 0, result.stderr
    cfg = load(target / "nvr.toml")
    assert cfg.storage.data_dir.is_dir() and cfg.storage.key_dir.is_dir()
    assert cfg.storage.data_dir not in cfg.storage.key_dir.parents
    assert (cfg.storage.data_dir.stat().st_mode & 0o777) == 0o700
    assert (cfg.storage.key_dir.stat().st_mode & 0o777) == 0o700
    before = (target / "nvr.toml").read_text()
    again = nvr("init", str(target), *INIT_FLAGS)
    assert again.returncode == 1 and "never overwrites" in again.stderr
    assert (target / "nvr.toml").read_text() == before


def test_ingest_with_unknown_camera_names_the_configured_ones(tmp_path):
    path = write_config(tmp_path)
    result = nvr("--config", str(path), "ingest", str(path), "--camera", "nope")
    assert result.returncode == 2
    assert "no camera with id 'nope' (configured: cam)" in result.stderr


def test_ingest_rejects_time_without_zone(tmp_path):
    path = write_config(tmp_path)
    result = nvr("--config", str(path), "ingest", str(path), "--camera", "cam",
                 "--start", "2026-04-24T14:30:00")
    assert result.returncode == 2 and "has no time zone" in result.stderr


def test_ingest_of_a_file_that_is_not_video_fails_clearly(tmp_path):
    path = write_config(tmp_path)
    result = nvr("--config", str(path), "ingest", str(path), "--camera", "cam")
    assert result.returncode == 1
    assert f"nvr: {path}: " in result.stderr
    assert "cannot be opened as video" in result.stderr or "no video stream" in result.stderr
