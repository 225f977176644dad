"""The one message catalogue (issue 11 item 3): every message a person reads comes from
firmware/translations/nl/LC_MESSAGES/messages.po, and nothing is left in English there."""

from __future__ import annotations

import io
import re
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
        for msgid in (message if isinstance(message, tuple) else (message,)):
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
