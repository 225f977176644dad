"""One message catalogue for everything a person reads (issue 11).

Messages are written in English in the code and templates (`_("...")`, the gettext
convention) and translated in one catalogue, `firmware/translations/nl/LC_MESSAGES/messages.po`.
The web speaks Dutch through Flask-Babel; documents (letters, reports) are always Dutch
(`dutch`); the command line speaks English by default (the technisch beheerder's tool) and Dutch
with `NVR_LANG=nl`. Rules in governance raise their messages through `_`, so the same refusal
reads in Dutch on a page and in English in a terminal, from the same catalogue entry.

The catalogue is compiled from the .po file in memory when first used (no .mo file to forget
to rebuild): the .po is the one source.
"""

from __future__ import annotations

import io
import os
import sys
import time
from gettext import NullTranslations
from pathlib import Path

CATALOGUE_DIR = Path(__file__).parent / "translations"
DOMAIN = "messages"
WEB_LOCALE = "nl"

_compiled: dict[str, tuple[float, NullTranslations]] = {}
_checked: dict[str, float] = {}          # locale: when its .po file was last looked at
RECHECK = 2.0                            # seconds
_ENGLISH = NullTranslations()
# The languages this firmware speaks. NVR_LANG is the caller's (sudoers keeps it for
# `sudo nvr-admin`): any other value is English, never a path to look at (red team R1: a
# value with "/" made root stat and open a file the caller named, and its error told
# whether the file existed).
LANGUAGES = ("en", WEB_LOCALE)


def known_language(value: str | None) -> str | None:
    """`value` when it names a language of this firmware, else None (English)."""
    return value if value in LANGUAGES else None


_cli_locale: str | None = known_language(os.environ.get("NVR_LANG"))


def po_path(locale: str) -> Path:
    return CATALOGUE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def translations(locale: str | None) -> NullTranslations:
    """The compiled catalogue of `locale` (English, the msgids, for None or "en"). Babel is
    imported only here and for the web: the recorder, whose storage raises messages through
    `_`, speaks English and never loads it (its memory budget has no room to spare). The .po
    file is looked at again at most every RECHECK seconds: a document of ten thousand logbook
    lines reads its words without ten thousand stat() calls."""
    if not locale or locale == "en" or locale not in LANGUAGES:
        return _ENGLISH
    cached = _compiled.get(locale)
    now = time.monotonic()
    if cached is not None and now - _checked.get(locale, -RECHECK) < RECHECK:
        return cached[1]
    _checked[locale] = now
    path = po_path(locale)
    mtime = path.stat().st_mtime
    if cached is None or cached[0] != mtime:
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po
        from babel.support import Translations
        with path.open("rb") as fh:
            catalog = read_po(fh, locale=locale)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        cached = _compiled[locale] = (mtime, Translations(buffer, domain=DOMAIN))
    return cached[1]


def _in_web_request() -> bool:
    """Inside a Flask request? A process that never imported Flask (the recorder, the
    command line) is not, and does not import it to find out."""
    flask = sys.modules.get("flask")
    return flask is not None and flask.has_request_context()


def gettext(message: str, **variables) -> str:
    """`message` in the reader's language: Dutch in a web request, the CLI's language
    elsewhere. `%(name)s` placeholders are filled from `variables`."""
    if _in_web_request():
        import flask_babel
        return flask_babel.gettext(message, **variables)
    text = translations(_cli_locale).gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, num: int, **variables) -> str:
    if _in_web_request():
        import flask_babel                  # sets %(num)s itself
        return flask_babel.ngettext(singular, plural, num, **variables)
    variables.setdefault("num", num)
    return translations(_cli_locale).ngettext(singular, plural, num) % variables


def lazy_gettext(message: str, **variables):
    """For messages defined at import time (constants, tables): translated when shown."""
    from babel.support import LazyProxy
    return LazyProxy(gettext, message, enable_cache=False, **variables)


def dutch(message: str, **variables) -> str:
    """Always Dutch: documents a person receives (letters, reports), whoever prints them."""
    text = translations(WEB_LOCALE).gettext(message)
    return text % variables if variables else text


def in_dutch(make):
    """`make()` with the rules' messages in Dutch wherever they are made: for a text stored for
    Dutch readers (a logbook's 'why'), so a refusal on the command line (English there) reads
    in Dutch on the DPO's logbook page and in its PDF. Only the command line switches (it is
    single-threaded); a web request speaks Dutch already."""
    global _cli_locale
    if _in_web_request() or _cli_locale == WEB_LOCALE:
        return make()
    saved, _cli_locale = _cli_locale, WEB_LOCALE
    try:
        return make()
    finally:
        _cli_locale = saved


def N_(message: str) -> str:
    """Marks `message` for the catalogue where it is defined (a table of words); it is
    translated where it is read (governance.wording.Words)."""
    return message


def set_cli_locale(locale: str | None) -> None:
    """The command line's language (None: English)."""
    global _cli_locale
    _cli_locale = known_language(locale)


_ = gettext
