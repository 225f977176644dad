"""The one message catalogue (issue 11 item 3): every message a person reads comes from
firmware/translations/nl/LC_MESSAGES/messages.po, and nothing is left in English there."""

from __future__ import annotations

import ast
import os
import io
import re
from html.parser import HTMLParser
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from firmware import i18n

ROOT = Path(__file__).resolve().parents[1]
METHOD_MAP = [("firmware/**.py", "python"), ("firmware/web/templates/**.html", "jinja2")]


def _catalogue():
    with i18n.po_path("nl").open("rb") as fh:
        return read_po(fh, locale="nl")


def _extracted() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), METHOD_MAP, keywords={"_": None, "gettext": None, "lazy_gettext": None,
                                             "dutch": None, "ngettext": (1, 2), "N_": None}):
        msgid = message[0] if isinstance(message, tuple) else message   # a plural: its singular
        if msgid:
            found.setdefault(msgid, []).append(f"{filename}:{lineno}")
    return found


def test_every_message_in_the_code_has_a_dutch_translation():
    catalogue = _catalogue()
    missing = [f"{msgid!r} ({places[0]})" for msgid, places in _extracted().items()
               if not (catalogue.get(msgid) and catalogue.get(msgid).string)]
    assert not missing, "untranslated in messages.po:\n" + "\n".join(sorted(missing))


def test_catalogue_placeholders_match():
    """A translation that drops or renames a %(name)s would raise at the moment it is shown."""
    pattern = re.compile(r"%\((\w+)\)[sdif]")
    wrong = []
    for message in _catalogue():
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        want = set(pattern.findall(ids[0]))
        for text in strings:
            if set(pattern.findall(text)) != want:
                wrong.append(message.id)
    assert not wrong, wrong


def test_catalogue_compiles_dutch_for_documents_english_for_the_command_line():
    assert i18n.dutch("Camera system") == "Camerasysteem"
    i18n.set_cli_locale(None)
    assert i18n.gettext("Camera system") == "Camera system"
    i18n.set_cli_locale("nl")
    try:
        assert i18n.gettext("Camera system") == "Camerasysteem"
    finally:
        i18n.set_cli_locale(None)


# --- issue 11 item 3, the web side: no Dutch or English literal left outside the catalogue ----

ALLOWLIST = Path(__file__).with_name("catalogue_allowlist.txt")
TEMPLATES = ROOT / "firmware" / "web" / "templates"
# Attributes a person reads (or hears, with a screen reader).
READ_ATTRIBUTES = {"title", "aria-label", "placeholder", "alt"}
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_WORD = re.compile(r"[^\W\d_]{2,}")


def _allowed(kind: str) -> set[str]:
    """Entries `kind name` of the allowlist: what others still convert (issue 11). The lead
    empties the list when the branches are merged."""
    names = set()
    for line in ALLOWLIST.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and line.split(None, 1)[0] == kind:
            names.add(line.split(None, 1)[1].strip())
    return names


class _Literals(HTMLParser):
    """Text a person reads in a template with its Jinja taken out: text between tags (not
    script, style or code) and the read attributes, and the value of a button."""
    SKIP = {"script", "style", "code"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.skipping = 0
        self.found: list[str] = []

    def _check(self, text: str | None) -> None:
        if text and _WORD.search(text):
            self.found.append(" ".join(text.split()))

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skipping += 1
        kinds = dict(attrs)
        for name, value in attrs:
            if name in READ_ATTRIBUTES or (name == "value" and (
                    tag == "button" or kinds.get("type") in ("submit", "button", "reset"))):
                self._check(value)

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1

    def handle_data(self, data):
        if not self.skipping:
            self._check(data)


def template_literals(source: str) -> list[str]:
    parser = _Literals()
    parser.feed(_JINJA.sub("", source))
    parser.close()
    return parser.found


def test_the_template_scan_finds_bare_text_and_attributes():
    assert template_literals("<p>Geen verzoeken.</p>") == ["Geen verzoeken."]
    assert template_literals('<input placeholder="naam">') == ["naam"]
    assert template_literals('<a title="{{ x }}" aria-label="terug">{{ _("Back") }}</a>') == [
        "terug"]
    assert template_literals("{% block title %}Systeem{% endblock %}") == ["Systeem"]
    assert template_literals("<p>{{ _('Back') }} · {{ n }} %</p><code>/readyz</code>") == []
    assert template_literals("<script>let a = 'b c';</script>") == []


def test_every_template_takes_its_text_from_the_catalogue():
    """(a) Text between tags and in the attributes a person reads is `_('English')` with its
    Dutch in messages.po, never a bare literal (a template still being converted by another
    engineer is listed in tests/catalogue_allowlist.txt)."""
    waiting = _allowed("template")
    bare = {}
    for path in sorted(TEMPLATES.glob("*.html")):
        found = template_literals(path.read_text())
        if found and path.name not in waiting:
            bare[path.name] = found[:5]
    assert not bare, f"bare text in templates (write {{{{ _('English') }}}}): {bare}"
    converted = sorted(n for n in waiting if not template_literals((TEMPLATES / n).read_text()))
    assert not converted, f"converted, take them off the allowlist: {converted}"


# Where a message is handed to a person: its argument is a catalogue call (or a variable).
_MESSAGE_CALLS = {"abort": 1, "flash": 0, "done": 1, "TooManyRequests": 0}
_TRANSLATED = {"_", "gettext", "ngettext", "lazy_gettext", "dutch"}


def _rule_error_names() -> set[str]:
    from firmware.export.helpers import ExportError
    from firmware.governance.scans import ScanError, ScanRefused
    from firmware.web import routes
    shown = (ScanError, ScanRefused, ExportError)          # shown by the web as they are
    return {cls.__name__ for cls in (*routes.RuleError, *shown)}


def _literal(node: ast.AST) -> bool:
    """A str literal, an f-string or a string built with + or %: words not from the catalogue."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        return _literal(node.left) or _literal(node.right)
    return False


def messages_outside_the_catalogue(path: Path, rule_errors: set[str]) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name in rule_errors:
            position = 0
        elif name in _MESSAGE_CALLS:
            position = _MESSAGE_CALLS[name]
        else:
            continue
        if len(node.args) > position and _literal(node.args[position]):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}(...)")
    return found


def test_every_message_raised_to_a_person_is_a_catalogue_entry():
    """(b) The refusals of the rules (routes.RuleError), abort() descriptions, flashes and
    done() messages are `_()` calls, never a literal in one language; modules another
    engineer still converts are listed in tests/catalogue_allowlist.txt."""
    waiting = _allowed("source")
    rule_errors = _rule_error_names()
    found = []
    for path in sorted((ROOT / "firmware").rglob("*.py")):
        if str(path.relative_to(ROOT)) not in waiting:
            found += messages_outside_the_catalogue(path, rule_errors)
    assert not found, "messages not from the catalogue:\n" + "\n".join(found)
    converted = sorted(name for name in waiting if (ROOT / name).is_file()
                       and not messages_outside_the_catalogue(ROOT / name, rule_errors))
    assert not converted, f"converted, take them off the allowlist: {converted}"


def test_nvr_lang_makes_the_command_line_dutch():
    """NVR_LANG=nl, read when the command line starts, gives the catalogue's Dutch."""
    import os
    import subprocess
    import sys
    code = "from firmware.i18n import _; print(_('Camera system'))"
    env = {k: v for k, v in os.environ.items() if k != "NVR_LANG"}
    english = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.strip()
    dutch = subprocess.run([sys.executable, "-c", code], env={**env, "NVR_LANG": "nl"},
                           cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    assert (english, dutch) == ("Camera system", "Camerasysteem")


def test_no_message_is_in_the_catalogue_twice():
    """Babel silently keeps one of two entries with the same msgid: when branches append their
    entries, a message added twice (perhaps with two Dutch texts) must be merged by hand."""
    text = i18n.po_path("nl").read_text(encoding="utf-8")
    ids = ["".join(re.findall(r'"(.*)"', block))
           for block in re.findall(r'^msgid ((?:".*"\n)+)', text, re.M)]
    twice = sorted({m for m in ids if ids.count(m) > 1})
    assert not twice, f"in messages.po more than once: {twice}"


def test_nvr_lang_names_a_language_never_a_path_to_look_at(tmp_path):
    """Red team R1: NVR_LANG (kept by sudoers for `sudo nvr-admin`) was joined into the
    catalogue's path, so root stat()ed and opened a path the caller named, and the error told
    whether it existed. Only the firmware's languages count; anything else is English, said
    in one line, with no traceback."""
    import subprocess
    import sys
    from conftest import ROOT
    from firmware.i18n import known_language
    assert known_language("nl") == "nl" and known_language("en") == "en"
    for value in ("/etc/shadow", "../../../../root/x", "nl/../nl", "NL", ""):
        assert known_language(value) is None
    secret = tmp_path / "geheim" / "LC_MESSAGES"
    secret.mkdir(parents=True)
    (secret / "messages.po").write_text("not a catalogue")
    env = {k: v for k, v in os.environ.items() if k != "NVR_LANG"}
    for value in (str(tmp_path / "geheim"), str(tmp_path / "bestaat-niet")):
        done = subprocess.run([sys.executable, "-m", "firmware.cli", "--config",
                               str(tmp_path / "missing.toml"), "config", "check"],
                              capture_output=True, text=True, cwd=ROOT, timeout=120,
                              env={**env, "NVR_LANG": value})
        assert "Traceback" not in done.stderr, done.stderr
        assert "is not a language of this firmware (en, nl)" in done.stderr
        assert done.returncode != 0 and "missing.toml" in done.stderr
