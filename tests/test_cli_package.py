"""Issue 11 item 8: the `nvr` command as a package, one module per command group."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import firmware.cli as cli
from firmware.cli import GROUPS, build_parser

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "firmware" / "cli"
MAX_LINES = 400
NVR = Path(sys.executable).parent / "nvr"      # the console script of pyproject's [project.scripts]

# Modules that are not a command group: the assembly, `python -m`, the shared helpers.
NOT_GROUPS = {"__init__", "__main__", "common"}
# Modules whose actions join another group's (scans and viewing add to `request`).
JOINS = {"scans": "request", "viewing": "request"}


def test_every_module_of_the_package_is_small():
    sizes = {p.name: len(p.read_text().splitlines()) for p in PACKAGE.glob("*.py")}
    assert "__init__.py" in sizes and "common.py" in sizes
    too_long = {name: n for name, n in sizes.items() if n > MAX_LINES}
    assert not too_long, f"modules over {MAX_LINES} lines: {too_long}"
    assert not (ROOT / "firmware" / "cli.py").exists(), "the old single-file cli.py is back"


def test_every_module_is_a_group_the_parser_assembles():
    modules = {p.stem for p in PACKAGE.glob("*.py")} - NOT_GROUPS
    assembled = {m.__name__.rsplit(".", 1)[1] for m in GROUPS}
    assert modules == assembled | set(JOINS), "a module of firmware/cli/ is not assembled"
    for module in GROUPS:
        assert callable(module.add_parser), module.__name__


def _commands(parser) -> dict:
    """COMMAND -> its subparser, from the parser itself (not from its help text)."""
    sub = next(a for a in parser._actions if a.dest == "command")
    return sub.choices


def test_nvr_help_lists_every_group():
    commands = _commands(build_parser())
    assert {"init", "run", "web", "recordings", "hold", "user", "request", "export", "logbook",
            "decision", "client"} <= set(commands)
    help_text = subprocess.run([str(NVR), "--help"], capture_output=True, text=True,
                               timeout=60, cwd=ROOT)
    assert help_text.returncode == 0, help_text.stderr
    listed = {line.split()[0] for line in help_text.stdout.splitlines()
              if line.startswith("    ") and not line.startswith("     ")}
    assert listed == set(commands)
    for joined in set(JOINS.values()):                        # scans and viewing joined it
        actions = next(a for a in commands[joined]._actions if a.dest == f"{joined}_action")
        assert {"attach", "scans", "inzage", "play", "letter", "declaration-pdf"} <= \
            set(actions.choices)


def test_python_m_and_the_console_script_are_the_same_main():
    """`nvr = "firmware.cli:main"` (pyproject) and `python -m firmware.cli` (how `nvr run`
    starts the web process) both reach the package's main."""
    assert callable(cli.main)
    version = subprocess.run([sys.executable, "-m", "firmware.cli", "--version"],
                             capture_output=True, text=True, timeout=60, cwd=ROOT)
    script = subprocess.run([str(NVR), "--version"],
                            capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert version.returncode == script.returncode == 0
    assert version.stdout == script.stdout and version.stdout.startswith("nvr ")
