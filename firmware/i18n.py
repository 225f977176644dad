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
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import LazyProxy, NullTranslations, Translations

CATALOGUE_DIR = Path(__file__).parent / "translations"
DOMAIN = "messages"
WEB_LOCALE = "nl"

_compiled: dict[str, NullTranslations] = {}
_ENGLISH = NullTranslations()
_cli_locale: str | None = os.environ.get("NVR_LANG") or None


def po_path(locale: str) -> Path:
    return CATALOGUE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def translations(locale: str | None) -> NullTranslations:
    """The compiled catalogue of `locale` (English, the msgids, for None or "en"), compiled
    once per process (a page looks up hundreds of messages: no file check per lookup; a
    changed catalogue takes effect when the process restarts)."""
    if not locale or locale == "en":
        return _ENGLISH
    cached = _compiled.get(locale)
    if cached is None:
        with po_path(locale).open("rb") as fh:
            catalog = read_po(fh, locale=locale)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        cached = _compiled[locale] = Translations(buffer, domain=DOMAIN)
    return cached


def _in_web_request() -> bool:
    try:
        from flask import has_request_context
    except ImportError:                                      # pragma: no cover
        return False
    return has_request_context()


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


def lazy_gettext(message: str, **variables) -> LazyProxy:
    """For messages defined at import time (constants, tables): translated when shown."""
    return LazyProxy(gettext, message, enable_cache=False, **variables)


def dutch(message: str, **variables) -> str:
    """Always Dutch: documents a person receives (letters, reports), whoever prints them."""
    text = translations(WEB_LOCALE).gettext(message)
    return text % variables if variables else text


def set_cli_locale(locale: str | None) -> None:
    """The command line's language (None: English)."""
    global _cli_locale
    _cli_locale = locale or None


_ = gettext
