"""Accounts and device API keys, kept as records in the store (both stores, no migration).

- ``account`` records, id = username: ``{"username", "role", "node", "password_hash",
  "disabled", "created_at"}`` plus, by role, ``district`` (police: the fid of a
  ``jurisdictions`` row), ``campus`` and ``bus`` (parent: the child's campus and bus).
  Passwords are hashed with argon2id (argon2-cffi defaults); the plain text is never stored
  or logged.
- ``api_key`` records, id = the key's public id: ``{"name", "campus", "key_hash",
  "disabled", "created_at"}``. A key reads ``xk_<id>_<secret>``; the secret has 256 bits of
  entropy, so it is stored as its SHA-256 (a slow KDF would only slow ingest down).

Imports only ``geo`` and ``layers``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

from geo.errors import Conflict, NotFound, ValidationError
from layers.schema import validate_campus_id
from layers.store import Record, Store

__all__ = [
    "ACCOUNT",
    "API_KEY",
    "ROLES",
    "Account",
    "add_account",
    "add_api_key",
    "check_password",
    "disable_account",
    "generate_password",
    "get_account",
    "list_accounts",
    "verify_api_key",
]

ACCOUNT = "account"
API_KEY = "api_key"
#: Every role (the policy table in api/policy.py says what each may do).
ROLES = (
    "bureau",
    "school_safety",
    "planner",
    "coordinator",
    "pipe_crew",
    "bus_dispatch",
    "guard",
    "police",
    "parent",
    "device",
)
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}\Z")
MIN_PASSWORD = 10

_hasher = None


def _ph():  # -> argon2.PasswordHasher, built on first use
    global _hasher
    if _hasher is None:
        from argon2 import PasswordHasher

        _hasher = PasswordHasher()
    return _hasher


@dataclass(frozen=True)
class Account:
    """What an authenticated user is: role and node, plus role-specific scope."""

    username: str
    role: str
    node: str | None
    disabled: bool = False
    district: str | None = None
    campus: str | None = None
    bus: str | None = None

    @classmethod
    def from_data(cls, d: dict[str, Any]) -> Account:
        return cls(
            d["username"],
            d["role"],
            d.get("node"),
            bool(d.get("disabled")),
            d.get("district"),
            d.get("campus"),
            d.get("bus"),
        )

    def public(self) -> dict[str, Any]:
        """The account without secrets (for listings)."""
        return {
            "username": self.username,
            "role": self.role,
            "node": self.node,
            "disabled": self.disabled,
            "district": self.district,
            "campus": self.campus,
            "bus": self.bus,
        }


def generate_password() -> str:
    """A random password of 16 URL-safe characters (~96 bits)."""
    return secrets.token_urlsafe(12)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def add_account(
    store: Store,
    username: str,
    role: str,
    node: str | None,
    password: str,
    *,
    district: str | None = None,
    campus: str | None = None,
    bus: str | None = None,
    replace: bool = False,
) -> Account:
    """Create an account (Conflict if the username is taken, unless ``replace``).

    ``node`` must be a node of the organisation tree (police may give a ``district``
    instead; a device account names its ``campus``).
    """
    from layers.org import org_tree

    if not isinstance(username, str) or not USERNAME.match(username):
        raise ValidationError("1-64 letters, digits, '_', '.', '@' or '-'", field="username")
    if role not in ROLES:
        raise ValidationError(f"{role!r}: use one of {', '.join(ROLES)}", field="role")
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise ValidationError(f"must be at least {MIN_PASSWORD} characters", field="password")
    if node is not None and node not in org_tree(store):
        raise NotFound(f"unknown org node {node!r}; see `xiaoan org list`", field="node")
    if node is None and role not in ("police", "device"):
        raise ValidationError(f"a {role} account needs --node", field="node")
    if role == "police" and not (district or node):
        raise ValidationError(
            "a police account needs --district (a jurisdictions fid) or --node", field="district"
        )
    if role in ("device", "parent") and campus is None:
        raise ValidationError(f"a {role} account needs --campus", field="campus")
    if campus is not None:
        validate_campus_id(campus)
        store.get_campus(campus)
    if role == "parent" and not bus:
        raise ValidationError("a parent account needs --bus (the child's bus)", field="bus")
    data = {
        "username": username,
        "role": role,
        "node": node,
        "district": district,
        "campus": campus,
        "bus": bus,
        "password_hash": _ph().hash(password),
        "disabled": False,
        "created_at": _now(),
    }
    rec = Record(ACCOUNT, username, data, campus_id=campus)
    if replace:
        store.put_records([rec])
    elif not store.put_records([rec], if_absent=True)[0]:
        raise Conflict(f"user {username!r} exists already", field="username")
    return Account.from_data(data)


def get_account(store: Store, username: str) -> tuple[Account, str]:
    """The account and its password hash, or NotFound."""
    d = store.get_record(ACCOUNT, username).data
    return Account.from_data(d), d["password_hash"]


def list_accounts(store: Store) -> list[Account]:
    return sorted(
        (Account.from_data(r.data) for r in store.query_records(ACCOUNT)), key=lambda a: a.username
    )


def disable_account(store: Store, username: str, disabled: bool = True) -> Account:
    try:
        rec = store.get_record(ACCOUNT, username)
    except NotFound:
        raise NotFound(f"no user {username!r}; see `xiaoan users list`", field="username") from None
    rec.data["disabled"] = disabled
    store.put_records([rec])
    return Account.from_data(rec.data)


#: verified against when the user does not exist, so that timing does not tell
_DUMMY_HASH: str | None = None


def check_password(store: Store, username: str, password: str) -> Account | None:
    """The account if the password is right and the account enabled, else None."""
    from argon2.exceptions import InvalidHashError, VerificationError

    global _DUMMY_HASH
    try:
        acc, h = get_account(store, username)
    except (NotFound, ValidationError):
        if _DUMMY_HASH is None:
            _DUMMY_HASH = _ph().hash(generate_password())
        acc, h = None, _DUMMY_HASH
    try:
        _ph().verify(h, password)
    except (VerificationError, InvalidHashError):
        return None
    if acc is None or acc.disabled:
        return None
    return acc


def _key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def add_api_key(store: Store, campus: str, name: str) -> tuple[str, dict[str, Any]]:
    """A new device key for one campus: ``(the key, shown once; its stored record data)``."""
    validate_campus_id(campus)
    store.get_campus(campus)
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise ValidationError("give the device a name of 1-100 characters", field="name")
    kid = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    data = {
        "id": kid,
        "name": name.strip(),
        "campus": campus,
        "key_hash": _key_hash(secret),
        "disabled": False,
        "created_at": _now(),
    }
    store.put_records([Record(API_KEY, kid, data, campus_id=campus)])
    return f"xk_{kid}_{secret}", data


def parse_api_key(key: str) -> tuple[str, str] | None:
    """``(id, secret)`` of a well-formed key, else None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "xk" or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def verify_api_key(data: dict[str, Any], secret: str) -> bool:
    """Whether ``secret`` is the key stored as ``data`` (and the key is enabled)."""
    return not data.get("disabled") and hmac.compare_digest(data["key_hash"], _key_hash(secret))
