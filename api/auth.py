"""Authentication and the one authorisation hook.

:func:`install` registers, on the app, a ``before_request`` hook that for every request:

1. refuses a ``Host`` not in ``ALLOWED_HOSTS`` (400);
2. maps the endpoint to an action of the policy table (:mod:`api.policy`); public actions
   pass;
3. finds the identity: a bearer token (ours, HS256, or an external OIDC provider's, checked
   against its JWKS), the session cookie of the web pages, or a device key (``X-API-Key`` /
   ``Authorization: ApiKey``); none → 401 ``application/problem+json`` (a page: redirect
   to the login page);
4. asks the policy table whether the role may do the action (403), checks the CSRF token of
   a cookie-authenticated write (403), and checks the scope (:func:`api.scope.check_request`).

and an ``after_request`` hook adding the security headers (CSP, frame and nosniff) and CORS
for configured origins. ``AUTH=off`` (``XIAOAN_AUTH=off``) skips steps 2-4.

Settings (``XIAOAN_*``): ``AUTH`` (required|off), ``SECRET_KEY`` (else generated once and
kept in ``DATA_DIR/secret.key``), ``TOKEN_TTL_S`` (3600), ``ALLOWED_HOSTS`` (comma list,
``*`` for any; default localhost names), ``CORS_ORIGINS`` (comma list), ``OIDC_ISSUER``,
``OIDC_AUDIENCE``, ``OIDC_JWKS_URL``, ``OIDC_ROLE_CLAIM`` (``xiaoan_role``),
``OIDC_NODE_CLAIM`` (``xiaoan_node``), ``LOGIN_MAX_FAILS`` (5 per account and 20 per
address in ``LOGIN_WINDOW_S``, 300).
"""

from __future__ import annotations

import collections
import logging
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import jwt
from flask import Flask, Response, current_app, g, json, redirect, request, url_for

from api.policy import PUBLIC, action_for, allowed
from api.scope import check_request
from geo.errors import Forbidden, NotFound, Unauthorized, ValidationError, XiaoanError
from layers.accounts import ACCOUNT, API_KEY, ROLES, Account, parse_api_key, verify_api_key

__all__ = ["AuthState", "install", "issue_token", "actor"]

log = logging.getLogger(__name__)

ISSUER = AUDIENCE = "xiaoan"
SESSION_COOKIE = "xiaoan_session"
CSRF_COOKIE = "xiaoan_csrf"
CACHE_TTL_S = 2.0  # a disabled account or key stops working within this time
DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def _list(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return [x.strip() for x in v.split(",") if x.strip()]
    return [str(x) for x in v]


class AuthState:
    """Per-app authentication state: the signing secret, short-lived caches of accounts and
    keys, the login rate limiter and the OIDC key client."""

    def __init__(self, app: Flask) -> None:
        cfg = app.config
        self.required = str(cfg.get("AUTH", "required")).lower() not in ("off", "0", "false")
        self._secret: str | None = cfg.get("SECRET_KEY") or None
        self._data_dir = cfg.get("DATA_DIR")
        self._secret_lock = threading.Lock()
        self.ttl = int(cfg.get("TOKEN_TTL_S") or 3600)
        hosts = _list(cfg.get("ALLOWED_HOSTS")) or list(DEFAULT_HOSTS)
        self.any_host = "*" in hosts
        self.hosts = {h.lower().strip("[]") for h in hosts}
        self.cors = set(_list(cfg.get("CORS_ORIGINS")))
        self.oidc = {k: cfg.get(f"OIDC_{k.upper()}") for k in ("issuer", "audience", "jwks_url")}
        self.role_claim = cfg.get("OIDC_ROLE_CLAIM") or "xiaoan_role"
        self.node_claim = cfg.get("OIDC_NODE_CLAIM") or "xiaoan_node"
        self.max_fails = int(cfg.get("LOGIN_MAX_FAILS") or 5)
        self.window = float(cfg.get("LOGIN_WINDOW_S") or 300)
        self._jwks: Any = None
        #: tokens whose signature and claims were checked, until they expire
        self.tokens: dict[str, dict[str, Any]] = {}
        self._cache: dict[tuple[str, str], tuple[float, Any]] = {}
        self._fails: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self._lock = threading.Lock()

    @property
    def secret(self) -> str:
        """The signing secret: ``SECRET_KEY``, else ``DATA_DIR/secret.key`` (made on first use,
        so an app with authentication off writes nothing)."""
        if self._secret is None:
            with self._secret_lock:
                if self._secret is None:
                    self._secret = _stored_secret(self._data_dir)
        return self._secret

    # --- cached store lookups ----------------------------------------------------------------

    def record(self, kind: str, rid: str) -> Any:
        """The data of a record (None if absent), cached for :data:`CACHE_TTL_S`."""
        from api.service import current_service

        now = time.monotonic()
        hit = self._cache.get((kind, rid))
        if hit is not None and now - hit[0] < CACHE_TTL_S:
            return hit[1]
        try:
            data = current_service().store.get_record(kind, rid).data
        except (NotFound, ValidationError):
            data = None
        if len(self._cache) > 10000:
            self._cache.clear()
        self._cache[(kind, rid)] = (now, data)
        return data

    def forget(self, kind: str, rid: str) -> None:
        self._cache.pop((kind, rid), None)

    # --- login rate limit --------------------------------------------------------------------
    def limited(self, username: str, addr: str) -> float:
        """Seconds to wait before another login attempt (0: go ahead)."""
        now = time.monotonic()
        with self._lock:
            for key, cap in ((f"u:{username}", self.max_fails), (f"a:{addr}", self.max_fails * 4)):
                q = self._fails[key]
                while q and now - q[0] > self.window:
                    q.popleft()
                if len(q) >= cap:
                    return max(1.0, self.window - (now - q[0]))
        return 0.0

    def failed(self, username: str, addr: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._fails[f"u:{username}"].append(now)
            self._fails[f"a:{addr}"].append(now)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._fails.pop(f"u:{username}", None)

    def jwks(self) -> Any:
        if self._jwks is None:
            self._jwks = jwt.PyJWKClient(self.oidc["jwks_url"], cache_keys=True, lifespan=300)
        return self._jwks


def _stored_secret(data_dir: Any) -> str:
    """The signing secret kept in ``DATA_DIR/secret.key`` (made on first use, mode 0600)."""
    d = Path(data_dir or "xiaoan-data")
    p = d / "secret.key"
    if p.is_file():
        return p.read_text().strip()
    d.mkdir(parents=True, exist_ok=True)
    s = secrets.token_urlsafe(48)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(s)
    return s


def state() -> AuthState:
    return current_app.extensions["xiaoan.auth"]


def issue_token(acc: Account, *, csrf: str | None = None) -> tuple[str, int]:
    """A signed access token for an account: ``(token, expires_in seconds)``."""
    st = state()
    now = int(time.time())
    claims = {
        "sub": acc.username,
        "role": acc.role,
        "node": acc.node,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + st.ttl,
    }
    if csrf:
        claims["csrf"] = csrf
    return jwt.encode(claims, st.secret, algorithm="HS256"), st.ttl


def _account(username: str) -> Account:
    d = state().record(ACCOUNT, username)
    if d is None or d.get("disabled"):
        raise Unauthorized("the account does not exist or is disabled; log in again")
    return Account.from_data(d)


def _from_token(token: str) -> tuple[Account, dict[str, Any]]:
    st = state()
    hit = st.tokens.get(token)
    if hit is not None and hit["exp"] > time.time():  # verified before: skip the parsing
        if hit["iss"] == ISSUER:
            return _account(hit["sub"]), hit
        return hit["_account"], hit
    acc, claims = _verify_token(st, token)
    if len(st.tokens) > 10000:
        st.tokens.clear()
    st.tokens[token] = claims if claims["iss"] == ISSUER else {**claims, "_account": acc}
    return acc, claims


def _verify_token(st: AuthState, token: str) -> tuple[Account, dict[str, Any]]:
    try:
        alg = jwt.get_unverified_header(token).get("alg")
    except jwt.PyJWTError:
        raise Unauthorized("the bearer token is not a JWT") from None
    try:
        if alg == "HS256":
            claims = jwt.decode(
                token,
                st.secret,
                algorithms=["HS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "sub", "iss"]},
            )
            return _account(claims["sub"]), claims
        if not (st.oidc["issuer"] and st.oidc["jwks_url"]):
            raise Unauthorized(
                "tokens of external issuers are not accepted here (no OIDC issuer is configured)"
            )
        key = st.jwks().get_signing_key_from_jwt(token).key
        claims = jwt.decode(
            token,
            key,
            algorithms=["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"],
            audience=st.oidc["audience"],
            issuer=st.oidc["issuer"],
            options={"require": ["exp", "sub", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("the token has expired; get a new one") from None
    except jwt.PyJWKClientError as e:
        raise Unauthorized(f"the token's signing key is not in the issuer's JWKS ({e})") from None
    except jwt.PyJWTError as e:
        raise Unauthorized(f"the token is not valid here ({e})") from None
    role = claims.get(st.role_claim)
    if role not in ROLES:
        raise Forbidden(
            f"the token's {st.role_claim} claim {role!r} is not a role here ({', '.join(ROLES)})"
        )
    user = str(claims.get("preferred_username") or claims["sub"])
    return Account(
        user,
        role,
        claims.get(st.node_claim),
        district=claims.get("district"),
        campus=claims.get("campus"),
        bus=claims.get("bus"),
    ), claims


def _from_key(key: str) -> Account:
    parsed = parse_api_key(key)
    d = state().record(API_KEY, parsed[0]) if parsed else None
    if d is None or parsed is None or not verify_api_key(d, parsed[1]):
        raise Unauthorized("the API key is not valid (or was disabled)")
    return Account(f"device:{d['name']}", "device", None, campus=d["campus"])


def authenticate() -> tuple[Account | None, str]:
    """The identity of the request and how it was given (``bearer``, ``oidc``, ``cookie``,
    ``key``), or ``(None, "")``."""
    h = request.headers.get("Authorization", "")
    scheme, _, cred = h.partition(" ")
    if scheme.lower() == "bearer" and cred.strip():
        acc, claims = _from_token(cred.strip())
        return acc, "bearer" if claims.get("iss") == ISSUER else "oidc"
    if scheme.lower() == "apikey" and cred.strip():
        return _from_key(cred.strip()), "key"
    if request.headers.get("X-API-Key"):
        return _from_key(request.headers["X-API-Key"].strip()), "key"
    if h:
        raise Unauthorized(
            "use Authorization: Bearer TOKEN (POST /auth/token) or a device key (X-API-Key)"
        )
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        acc, claims = _from_token(cookie)
        g.xiaoan_csrf = claims.get("csrf")
        return acc, "cookie"
    return None, ""


def actor(given: Any) -> Any:
    """Who did a change: the authenticated user (the body's value only with auth off)."""
    ident = g.get("xiaoan_identity")
    return given if ident is None else ident.username


def _problem(e: XiaoanError) -> Response:
    resp = Response(
        json.dumps(e.to_problem()), status=e.status, mimetype="application/problem+json"
    )
    if e.status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="xiaoan"'
    return resp


def _host_ok(st: AuthState) -> bool:
    if st.any_host:
        return True
    host = request.host.lower()
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return name.strip("[]") in st.hosts or host.strip("[]") in st.hosts


def _before() -> Response | None:
    st = state()
    if not _host_ok(st):
        return _problem(
            ValidationError(
                f"host {request.host!r} is not served here (set XIAOAN_ALLOWED_HOSTS)", field="Host"
            )
        )
    g.xiaoan_identity = None
    if not st.required or request.method == "OPTIONS" or request.endpoint is None:
        return None
    endpoint = request.endpoint
    action = action_for(endpoint, request.method)
    if action is None and endpoint.startswith("health"):
        action = PUBLIC
    if action == PUBLIC:
        return None
    try:
        ident, via = authenticate()
        if ident is None:
            if action == "page":
                return redirect(url_for("auth.login_page", next=request.full_path.rstrip("?")))
            raise Unauthorized(
                "log in first: POST /auth/token with username and password, "
                "then send Authorization: Bearer TOKEN"
            )
        g.xiaoan_identity = ident
        g.xiaoan_via = via
        if not allowed(ident.role, action):
            raise Forbidden(
                f"a {ident.role} may not {action.replace('.', ' ')}"
                if action
                else f"{endpoint} is not open to any role"
            )
        if via == "cookie" and request.method not in ("GET", "HEAD"):
            sent = request.headers.get("X-CSRF-Token")
            if not sent or sent != g.get("xiaoan_csrf"):
                raise Forbidden(
                    "a write from the web pages needs the X-CSRF-Token header "
                    "(the xiaoan_csrf cookie)",
                    field="X-CSRF-Token",
                )
        check_request(ident, action)
        if action == "page" and "campus" not in request.args:
            return _first_campus_page()
    except XiaoanError as e:
        return _problem(e)
    return None


def _first_campus_page() -> Response | None:
    from api.scope import visible_campuses

    vis = visible_campuses()
    if not vis or request.endpoint == "auth.whoami" or request.endpoint == "webmap.city":
        return None
    args = request.args.to_dict(flat=False)
    args["campus"] = [sorted(vis)[0]]
    return redirect(url_for(request.endpoint, **args, **(request.view_args or {})))


def _after(resp: Response) -> Response:
    h = resp.headers
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Referrer-Policy", "same-origin")
    if resp.mimetype == "text/html":
        h.setdefault("Content-Security-Policy", CSP)
    origin = request.headers.get("Origin")
    st = state()
    if origin and origin in st.cors:
        h["Access-Control-Allow-Origin"] = origin
        h.add("Vary", "Origin")
        if request.method == "OPTIONS":
            h["Access-Control-Allow-Headers"] = "Authorization, Content-Type, X-API-Key"
            h["Access-Control-Allow-Methods"] = "GET, POST, PUT, DELETE"
    return resp


def install(app: Flask) -> None:
    """Register the authentication state and hooks on ``app``."""
    st = app.extensions["xiaoan.auth"] = AuthState(app)
    store = app.extensions["xiaoan"].store if "xiaoan" in app.extensions else None
    if st.required and store is not None and not st.oidc["issuer"]:
        try:
            none = not store.query_records(ACCOUNT, limit=1)
        except XiaoanError:
            none = False
        if none:
            log.warning(
                "authentication is required and there is no account yet: add one with "
                "`xiaoan users add NAME --role ROLE --node NODE` (or set "
                "XIAOAN_AUTH=off for a closed test setup)"
            )
    app.before_request(_before)
    app.after_request(_after)
