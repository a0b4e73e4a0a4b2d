"""The one message catalogue of xiaoan (gettext, Babel): Simplified Chinese first, English.

Every text shown to a person (web pages, their scripts, pictures, human-readable CLI output)
is an English msgid marked with ``_()``; ``locales/zh_Hans_CN/LC_MESSAGES/messages.po``
holds the Chinese (Babel's name for zh-CN), compiled to ``messages.mo`` beside it (shipped;
``make i18n`` re-extracts and recompiles, and ``tests/test_i18n.py`` fails when the two
differ). English is the msgids themselves. Imports nothing of ours and no Flask.

>>> from layers.i18n import gettext
>>> gettext("Planner", "zh_CN")
'规划'
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.support import NullTranslations, Translations

__all__ = [
    "CATALOGUE_DIR",
    "DEFAULT",
    "LOCALES",
    "gettext",
    "html_lang",
    "messages",
    "negotiate",
    "normalise",
    "translations",
    "cli_locale",
    "catalogue_name",
]

CATALOGUE_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "messages"
LOCALES: tuple[str, ...] = ("zh_CN", "en")
DEFAULT = "zh_CN"  # xiaoan's people are in China


def normalise(tag: str | None) -> str | None:
    """``zh-CN``, ``zh_Hans_CN``, ``zh``, ``en-GB``... as one of :data:`LOCALES`, else None."""
    if not tag:
        return None
    try:
        loc = Locale.parse(tag.strip().replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return None
    if loc.language == "zh" and loc.script != "Hant" and loc.territory not in ("TW", "HK", "MO"):
        return "zh_CN"
    if loc.language == "en":
        return "en"
    return None


def negotiate(accept_language: str | None) -> str:
    """The best of :data:`LOCALES` for an HTTP ``Accept-Language`` header (by q), else
    :data:`DEFAULT`."""
    best: tuple[float, int, str] | None = None
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        loc = normalise(tag)
        if loc and q > 0 and (best is None or (q, -i) > (best[0], best[1])):
            best = (q, -i, loc)
    return best[2] if best else DEFAULT


def cli_locale(flag: str | None = None) -> str:
    """The CLI's language: ``--lang``, else ``XIAOAN_LANG``, else :data:`DEFAULT`."""
    for v in (flag, os.environ.get("XIAOAN_LANG")):
        loc = normalise(v)
        if loc:
            return loc
    return DEFAULT


def catalogue_name(locale: str) -> str:
    """Babel's name of ``locale``, which names its catalogue's directory (``zh_Hans_CN``)."""
    return str(Locale.parse(locale))


def html_lang(locale: str) -> str:
    """The BCP 47 tag for ``<html lang>``: ``zh-CN`` or ``en``."""
    return locale.replace("_", "-")


@functools.lru_cache(maxsize=8)
def translations(locale: str) -> NullTranslations:
    """The compiled catalogue of ``locale`` (English: no translation)."""
    if locale == "en":
        return NullTranslations()
    t = Translations.load(str(CATALOGUE_DIR), [catalogue_name(locale)], DOMAIN)
    if not isinstance(t, Translations):
        raise FileNotFoundError(
            f"no compiled catalogue for {locale} under {CATALOGUE_DIR}; "
            "run `make i18n` (pybabel compile)"
        )
    return t


def gettext(message: str, locale: str = DEFAULT, **values: object) -> str:
    """``message`` in ``locale``, with ``%(name)s`` placeholders filled from ``values``."""
    text = translations(locale).gettext(message)
    return text % values if values else text


def messages(locale: str) -> dict[str, str]:
    """Every translated message of ``locale`` as ``{msgid: text}`` (for the pages' scripts)."""
    t = translations(locale)
    cat = getattr(t, "_catalog", {})
    return {k: v for k, v in cat.items() if isinstance(k, str) and k and v}
