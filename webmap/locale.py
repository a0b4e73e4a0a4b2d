"""The web pages' language (Flask-Babel over :mod:`layers.i18n`): ``?lang=`` (kept in a cookie),
else the ``xiaoan_lang`` cookie, else the browser's ``Accept-Language``, else Chinese.

Also what each page template gets: ``html_lang`` for ``<html lang>``, ``i18n`` (the
translated messages for the page's scripts) and the campus time zone (``time_zone``).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request
from flask_babel import Babel

from layers.i18n import (
    CATALOGUE_DIR,
    LOCALES,
    catalogue_name,
    html_lang,
    messages,
    negotiate,
    normalise,
)

__all__ = ["COOKIE", "init_app", "page_context", "remember_choice", "select_locale"]

COOKIE = "xiaoan_lang"


def _choice() -> str:
    for tag in (request.args.get("lang"), request.cookies.get(COOKIE)):
        loc = normalise(tag)
        if loc:
            return loc
    return negotiate(request.headers.get("Accept-Language"))


def select_locale() -> str:
    """The locale of this request (see the module docstring), as Babel names it
    (``zh_Hans_CN``, the catalogue's directory)."""
    return catalogue_name(_choice())


def init_app(app: Flask) -> None:
    """Install Flask-Babel (``_``, ``gettext`` in the templates) on ``app`` once."""
    if "babel" not in app.extensions:
        Babel(
            app, locale_selector=select_locale, default_translation_directories=str(CATALOGUE_DIR)
        )


def current() -> str:
    """This request's locale as one of :data:`i18n.LOCALES`."""
    return _choice()


def page_context() -> dict[str, Any]:
    """What every page template needs to speak the reader's language."""
    loc = current()
    return {
        "locale": loc,
        "html_lang": html_lang(loc),
        "locales": LOCALES,
        "i18n": {"locale": html_lang(loc), "messages": messages(loc)},
    }


def remember_choice(resp: Response) -> Response:
    """A ``?lang=`` choice is kept for the next pages (a year, this site only)."""
    loc = normalise(request.args.get("lang"))
    if loc:
        resp.set_cookie(COOKIE, loc, max_age=365 * 24 * 3600, samesite="Lax")
    return resp
