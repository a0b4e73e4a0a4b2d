"""Logging in: tokens for API clients, a login page and session cookie for the web pages.

- ``POST /auth/token`` ``{"username", "password"}`` → ``{"access_token", "token_type":
  "Bearer", "expires_in"}``; 401 on a wrong password, 429 (``Retry-After``) after too many
  failures for the account or the address.
- ``GET /login``: the login page; it posts to ``POST /auth/session`` (same body), which sets
  the ``xiaoan_session`` cookie (HttpOnly, SameSite=Strict, the token) and the
  ``xiaoan_csrf`` cookie the pages echo in ``X-CSRF-Token`` on writes.
- ``POST /auth/logout`` clears both; ``GET /auth/whoami`` says who is logged in.
"""

from __future__ import annotations

import logging
import secrets

from flask import Blueprint, Response, g, render_template, request

from api.auth import CSRF_COOKIE, SESSION_COOKIE, issue_token, state
from api.params import json_body, json_response
from geo.errors import Unauthorized, ValidationError, XiaoanError

__all__ = ["bp"]

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)


class TooManyAttempts(XiaoanError):
    status = 429
    title = "Too many login attempts"


def _login() -> tuple[object, dict]:
    from api.service import current_service
    from layers.accounts import check_password

    doc = json_body()
    user, pw = doc.get("username"), doc.get("password")
    for k, v in (("username", user), ("password", pw)):
        if not isinstance(v, str) or not v or len(v) > 200:
            raise ValidationError("is required (text)", field=k)
    st = state()
    addr = request.remote_addr or "?"
    wait = st.limited(user, addr)
    if wait:
        raise TooManyAttempts(
            f"too many failed logins; try again in {int(wait)} s", retry_after_s=int(wait)
        )
    acc = check_password(current_service().store, user, pw)
    if acc is None:
        st.failed(user, addr)
        log.info("failed login for %r from %s", user, addr)  # never the password
        raise Unauthorized("wrong username or password, or the account is disabled")
    st.succeeded(user)
    return acc, doc


def _retry_after(resp: Response, e: XiaoanError) -> Response:
    if isinstance(e, TooManyAttempts):
        resp.headers["Retry-After"] = str(e.extra.get("retry_after_s", 60))
    return resp


@bp.errorhandler(TooManyAttempts)
def _too_many(e: TooManyAttempts) -> Response:
    from api.auth import _problem

    return _retry_after(_problem(e), e)


@bp.post("/auth/token")
def token() -> Response:
    acc, _ = _login()
    tok, ttl = issue_token(acc)  # type: ignore[arg-type]
    return json_response({"access_token": tok, "token_type": "Bearer", "expires_in": ttl})


@bp.get("/login")
def login_page() -> str:
    return render_template("login.html", next=request.args.get("next") or "/map/")


@bp.post("/auth/session")
def session() -> Response:
    acc, _ = _login()
    csrf = secrets.token_urlsafe(24)
    tok, ttl = issue_token(acc, csrf=csrf)  # type: ignore[arg-type]
    resp = json_response(
        {
            "username": acc.username,
            "role": acc.role,  # type: ignore[attr-defined]
            "node": acc.node,
            "expires_in": ttl,
        }
    )  # type: ignore[attr-defined]
    secure = request.is_secure
    resp.set_cookie(
        SESSION_COOKIE, tok, max_age=ttl, httponly=True, samesite="Strict", secure=secure, path="/"
    )
    resp.set_cookie(
        CSRF_COOKIE, csrf, max_age=ttl, httponly=False, samesite="Strict", secure=secure, path="/"
    )
    return resp


@bp.post("/auth/logout")
def logout() -> Response:
    resp = json_response({"logged_out": True})
    resp.delete_cookie(SESSION_COOKIE, path="/")
    resp.delete_cookie(CSRF_COOKIE, path="/")
    return resp


@bp.get("/auth/whoami")
def whoami() -> Response:
    ident = g.get("xiaoan_identity")
    if ident is None:
        return json_response({"auth": "off"})
    from api.scope import visible_campuses

    vis = visible_campuses()
    return json_response(
        {
            **ident.public(),
            "via": g.get("xiaoan_via"),
            "campuses": None if vis is None else sorted(vis),
        }
    )
