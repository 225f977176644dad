"""Issue 14 item 5: what hardware.md claims that code can check. The storage table and its
figures are sizing.py's, the GPIO wiring is the pins the code names and the configuration
takes, and every `nvr` command the guide names exists."""

from __future__ import annotations

import re
import tomllib
from dataclasses import fields
from pathlib import Path

import pytest
from conftest import ROOT, nvr, write_config

from firmware.cli import build_parser
from firmware.config import CameraConfig, GpioConfig, load
from firmware.system import sizing
from firmware.system.gpio import WIRING
from firmware.system.sizing import GB, camera_need, needed_bytes, plan, recorded_share

DOC = (ROOT / "hardware.md").read_text()
SHARES = (0.1, 0.3, 1.0)
# The 40-pin header: BCM number -> physical pin, and the ground pins.
HEADER_PIN = {2: 3, 3: 5, 4: 7, 17: 11, 27: 13, 22: 15, 10: 19, 9: 21, 11: 23, 5: 29, 6: 31,
              13: 33, 19: 35, 26: 37, 14: 8, 15: 10, 18: 12, 23: 16, 24: 18, 25: 22, 8: 24,
              7: 26, 12: 32, 16: 36, 20: 38, 21: 40}
GROUND_PINS = {6, 9, 14, 20, 25, 30, 34, 39}


def _section(title: str) -> str:
    start = DOC.index(f"\n## {title}\n")
    end = DOC.find("\n## ", start + 1)
    return DOC[start:end if end > 0 else None]


def _table(text: str, header_starts: str) -> list[list[str]]:
    """The body rows of the markdown table whose header row starts with `header_starts`."""
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith(header_starts))
    rows = []
    for line in lines[first + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def _cameras(width: int, height: int, fps: int, kbps: int, n: int) -> list[CameraConfig]:
    return [CameraConfig(id=f"cam{i}", name="Camera", location="Gemeentehuis",
                         source="picamera2", width=width, height=height, fps=fps,
                         bitrate_kbps=kbps, staff_in_view=False) for i in range(n)]


def _cells(cams: list[CameraConfig]) -> list[str]:
    return [f"{needed_bytes(cams, share) / GB:,.0f}" for share in SHARES]


def test_storage_table_equals_sizing_for_every_row_R40_R42():
    rows = _table(_section("Storage for 28 days"), "| resolution |")
    assert len(rows) >= 8
    expected, found = [], []
    for resolution, fps, kbps, n, *cells in rows:
        width, height = map(int, resolution.split("x"))
        cams = _cameras(width, height, int(fps), int(kbps), int(n))
        expected.append(f"| {resolution} | {fps} | {kbps} | {n} | " + " | ".join(_cells(cams))
                        + " |")
        found.append(f"| {resolution} | {fps} | {kbps} | {n} | " + " | ".join(cells) + " |")
    assert found == expected, "hardware.md's storage table, as sizing.py computes it:\n" + \
        "\n".join(expected)
    # The rows the issue asks for: 720p and 1080p, one and two cameras, two bitrates each.
    assert {r[0] for r in rows} == {"1280x720", "1920x1080"}
    assert {r[3] for r in rows} == {"1", "2"}
    assert len({(r[0], r[2]) for r in rows}) == 4


def test_worked_example_and_formula_figures_are_sizing_py():
    section = _section("Storage for 28 days")
    [cam] = _cameras(1920, 1080, 25, 4000, 1)
    need, sized = camera_need(cam, 0.3), plan([cam], 0.3)
    for figure in (f"{need.recorded_share} x 28 x 86400", f"{need.seconds:,.0f} s recorded",
                   f"{need.video_bytes / GB:.1f} GB of video",
                   f"{(need.bytes - need.video_bytes) / GB:.1f} GB of container",
                   f"{sized.logbook_bytes / GB:.1f} GB of logbooks",
                   f"{sized.store_bytes / GB:.1f} GB stored",
                   f"{sized.disk_bytes / GB:.0f} GB of disk"):
        assert figure in section, figure
    assert f"10 % motion records {recorded_share(cam, 0.1) * 100:.2f} %" in section
    assert f"30 % records {recorded_share(cam, 0.3) * 100:.2f} %" in section
    assert "56.4 % or more records everything" in section
    assert recorded_share(cam, 0.564) == 1.0 > recorded_share(cam, 0.56)
    assert f"spells\n  of {sizing.EVENT_SECONDS:.0f} s" in section
    assert (f"{sizing.LOGBOOK_ENTRY_BYTES // 1024} KB an entry, "
            f"{sizing.LOGBOOK_ENTRIES_PER_DAY} entries a day, {sizing.LOGBOOK_YEARS} years") \
        in section
    assert f"(a header of about {sizing.MP4_SEGMENT_BYTES / 1000:.1f} KB per segment" in section
    assert f"{sizing.MP4_FRAGMENT_BYTES} bytes per keyframe, {sizing.MP4_FRAME_BYTES} bytes per" \
        in section
    assert (f"({sizing.INDEX_SEGMENT_BYTES // 1024} KB per segment, {sizing.INDEX_EVENT_BYTES} "
            "bytes per event)") in section
    # Container, encryption and index together: "about 0.1 %".
    assert 0.0005 < (need.bytes - need.video_bytes) / need.video_bytes < 0.0015


def test_gpio_wiring_table_is_the_code_and_the_configuration():
    rows = _table(_section("Assembly and GPIO wiring"), "| part | `[gpio]` key |")
    keys = {f.name: f.default for f in fields(GpioConfig)}
    seen = {}
    for part, key, bcm, pin, ground, _wiring in rows:
        key = key.strip("`")
        assert keys[key] == -1, (key, "the default is: not connected")
        assert int(bcm) == WIRING[key], (part, bcm)
        assert HEADER_PIN[int(bcm)] == int(pin), (part, "header pin of BCM", bcm)
        assert int(ground) in GROUND_PINS, (part, ground)
        seen[key] = int(bcm)
    assert seen == WIRING


def test_gpio_block_of_the_guide_loads_as_configuration(tmp_path):
    block = re.search(r"```toml\n(\[gpio\].*?)```", DOC, re.S).group(1)
    assert {k: v for k, v in tomllib.loads(block)["gpio"].items() if k in WIRING} == WIRING
    cfg = load(write_config(tmp_path, extra=block))
    assert {k: getattr(cfg.gpio, k) for k in WIRING} == WIRING
    assert cfg.gpio.enabled and cfg.gpio.pin_factory == "lgpio"


def _named_commands() -> set[tuple[str, ...]]:
    """Every `nvr [--config FILE] GROUP [ACTION]` in the guide's code spans and blocks."""
    code = re.findall(r"```.*?```|`[^`\n]+`", DOC, re.S)
    found = set()
    for text in code:
        for m in re.finditer(r"\bnvr(?:-admin)? (?:--config \S+ )?([a-z][a-z-]*)"
                             r"(?: ([a-z][a-z-]*))?", text):
            found.add(tuple(w for w in m.groups() if w))
    return found


def _commands() -> dict[str, set[str]]:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    out = {}
    for name, parser in sub.choices.items():
        actions = [a for a in parser._actions if a.dest == f"{name}_action"]
        out[name] = set(actions[0].choices) if actions else set()
    return out


NVR_ADMIN_OWN = {"restart", "reboot-trial", "journal", "web-cert"}   # systemd/nvr-admin's case


def test_every_nvr_command_the_guide_names_exists():
    named = _named_commands()
    assert {("sizing",), ("config", "check"), ("device", "tamper-ack"), ("usb", "format"),
            ("selftest",)} <= named, named
    commands = _commands()
    admin = (ROOT / "systemd" / "nvr-admin").read_text()
    for words in sorted(named):
        group, *action = words
        if group in NVR_ADMIN_OWN:          # `nvr-admin restart`: nvr-admin's, not nvr's
            assert f"\n    {group})" in admin, f"nvr-admin has no action {group}"
            continue
        assert group in commands, f"hardware.md names `nvr {group}`, which does not exist"
        if action and commands[group]:
            assert action[0] in commands[group], f"`nvr {group} {action[0]}` does not exist"
        else:
            action = []                 # a word after a command without actions is an argument
        result = nvr(group, *action, "--help")
        assert result.returncode == 0, (words, result.stderr)


def test_signage_section_follows_art_6_lid_3():
    """Art. 6 lid 3: signs at the entrances; toelichting art. 6: the text 'Cameratoezicht', in
    and around the town hall."""
    regulation = (Path(ROOT) / "docs" / "regulation" /
                  "regeling-cameratoezicht-gemeentehuis-soest.txt").read_text()
    assert "borden met de tekst 'Cameratoezicht'" in regulation
    section = _section('Signage: "Cameratoezicht"')
    assert "**Cameratoezicht**" in section
    assert "every entrance" in section and "public hall" in section and "outside" in section
    assert "nvr init --signage PLACE" in section


@pytest.mark.parametrize("anchor", ["bill-of-materials", "storage-for-28-days",
                                    "assembly-and-gpio-wiring",
                                    "flashing-the-image-and-the-first-boot",
                                    "signage-cameratoezicht", "hardware-acceptance-checklist"])
def test_links_of_the_guide_reach_its_sections(anchor):
    headings = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-")
                for h in re.findall(r"^## (.+)$", DOC, re.M)}
    assert f"(#{anchor})" in DOC and anchor in headings
