"""Request parsing shared by the REST blueprints: one way to read query parameters and
JSON bodies, each bad value a :class:`~geo.errors.ValidationError` naming the field.

Unknown query parameters are refused (a misspelt ``bbox`` must not silently return
everything); JSON bodies must parse and, where asked, hold only known keys; numbers must
be finite.

Before any route runs, :func:`guard_request` bounds the work a request can cause: a write
(POST, PUT, PATCH, DELETE) must say ``Content-Type: application/json`` (415 otherwise, so a
plain HTML form or a ``text/plain`` POST from another site cannot act), its declared size is
checked against ``MAX_CONTENT_LENGTH`` before a byte is read (413; werkzeug's limited
stream stops an undeclared one), and no path or query value may hold control characters.
:func:`check_path` validates every path variable (ids, campus ids) in one place.
:func:`json_body` pre-scans the raw bytes (:func:`json_shape`) and refuses a body nested
deeper than :data:`MAX_JSON_DEPTH` or with a list longer than the route's batch limit before
parsing it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection
from typing import Any

import numpy as np
from flask import Response, current_app, request

from geo.errors import PayloadTooLarge, ValidationError
from layers.schema import OFFSET_MAX, validate_campus_id, validate_id, validate_offset

__all__ = [
    "MAX_JSON_DEPTH",
    "JSON_WRITE_TYPES",
    "UnsupportedMediaType",
    "problem",
    "json_response",
    "json_body",
    "json_shape",
    "guard_request",
    "check_path",
    "accepts_form",
    "check_args",
    "float_arg",
    "int_arg",
    "offset_arg",
    "bool_arg",
]

MAX_JSON_DEPTH = 32
JSON_WRITE_TYPES = "application/json or another application/*+json type"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_FORM_OK: set[str] = set()  # endpoints that take HTML forms (they guard against CSRF)


class UnsupportedMediaType(ValidationError):
    """A write whose body is not declared as JSON (HTTP 415)."""

    status = 415
    title = "Unsupported Media Type"


def problem(status: int, title: str, detail: str, **extra: Any) -> Response:
    """An RFC 7807 ``application/problem+json`` response."""
    doc = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return json_response(doc, status, mimetype="application/problem+json")


def accepts_form(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view function (by its endpoint name) as taking non-JSON writes, e.g. a login
    form; it must then guard against cross-site requests itself."""
    _FORM_OK.add(view.__name__)
    return view


def _is_json_type(mimetype: str) -> bool:
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def _check_text(value: str, field: str) -> None:
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValidationError(
            "must not contain control characters (NUL, tab, newline ...)", field=field
        )


def guard_request() -> None:
    """``before_request``: refuse non-JSON writes, oversized bodies and control characters in
    query values before a route or a store sees them."""
    if request.routing_exception is not None:  # 404/405 first: there is no route to guard
        return
    if request.method in WRITE_METHODS:
        endpoint = (request.endpoint or "").rpartition(".")[2]
        if endpoint not in _FORM_OK and not _is_json_type(request.mimetype):
            got = request.mimetype or "none"
            raise UnsupportedMediaType(
                f"writes take JSON: send Content-Type: application/json (got {got}); "
                "with nothing to send, an empty body or {} will do",
                field="Content-Type",
            )
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        size = request.content_length
        if limit is not None and size is not None and size > limit:
            raise PayloadTooLarge(
                f"the body is {size} bytes; at most {limit} are accepted", field="body"
            )
    for name, value in request.args.items(multi=True):
        _check_text(name, "query")
        _check_text(value, name)


def check_path(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """``url_value_preprocessor``: every path variable is a valid id before a route runs
    (campus ids by the campus rule, the rest by :func:`layers.schema.validate_id`)."""
    for name, value in (values or {}).items():
        if name == "campus_id":
            validate_campus_id(value, field=name)
        else:
            validate_id(value, field=name)


_STEP = np.zeros(256, np.int8)
_STEP[[ord("["), ord("{")]] = 1
_STEP[[ord("]"), ord("}")]] = -1


def json_shape(raw: bytes) -> tuple[int, int]:
    """``(depth, longest)`` of a JSON text without parsing it: the deepest nesting of
    arrays/objects and the most items of any array in the outer two levels (a batch's
    length). Vectorised over the bytes, so it costs a fraction of a parse and no objects;
    for text that is not JSON the figures are meaningless (the parse then says why)."""
    if b"\\" in raw:
        raw = raw.replace(b"\\\\", b"__")
    if b'\\"' in raw:
        raw = raw.replace(b'\\"', b"__")
    a = np.frombuffer(raw, dtype=np.uint8)
    if not len(a):
        return 0, 0
    quoted = (np.cumsum(a == ord('"'), dtype=np.uint8) & 1).astype(bool)
    step = _STEP[a]
    step[quoted] = 0
    depth = np.cumsum(step, dtype=np.int32)
    outer = (depth <= 2) & ~quoted
    opens = np.flatnonzero((step == 1) & outer)
    commas = np.flatnonzero((a == ord(",")) & outer)
    longest = 0
    for d in (1, 2):
        o = opens[depth[opens] == d]
        c = commas[depth[commas] == d]
        if len(o) and len(c):
            n = np.bincount(np.searchsorted(o, c) - 1, minlength=len(o))[a[o] == ord("[")]
            longest = max(longest, int(n.max()) + 1 if len(n) else 0)
    return int(depth.max()), longest


def json_response(obj: Any, status: int = 200, mimetype: str = "application/json") -> Response:
    """``obj`` as JSON (UTF-8 kept, NaN refused; dates and other objects as text)."""
    return Response(
        json.dumps(obj, ensure_ascii=False, allow_nan=False, default=str, separators=(",", ":")),
        status=status,
        mimetype=mimetype,
    )


def json_body(
    *,
    obj: bool = True,
    allowed: Collection[str] | None = None,
    max_items: int | None = None,
    batch: str = "items",
) -> Any:
    """The request's JSON body; an object unless ``obj`` is false; only ``allowed`` keys.

    Nesting deeper than :data:`MAX_JSON_DEPTH` (400), or a list in the outer two levels
    longer than ``max_items`` (413, naming ``batch``, what the list holds), is refused from
    a pre-scan of the bytes, before they are parsed.
    """
    raw = request.get_data(cache=True)
    if not raw:
        raise ValidationError("the request body is empty; send a JSON object", field="body")
    depth, longest = json_shape(raw)
    if depth > MAX_JSON_DEPTH:
        raise ValidationError(
            f"JSON nested {depth} levels deep; at most {MAX_JSON_DEPTH}", field="body"
        )
    if max_items is not None and longest > max_items:
        raise PayloadTooLarge(
            f"at most {max_items} {batch} per request, got {longest}", field=batch
        )
    if b"\\u0000" in raw:
        raise ValidationError("text must not contain NUL (\\u0000)", field="body")
    try:
        doc = json.loads(raw)
    except RecursionError:
        raise ValidationError(
            f"JSON nested too deep; at most {MAX_JSON_DEPTH} levels", field="body"
        ) from None
    except json.JSONDecodeError as e:
        raise ValidationError(
            f"malformed JSON at line {e.lineno} column {e.colno}: {e.msg}", field="body"
        ) from None
    except UnicodeDecodeError as e:
        raise ValidationError(f"the body is not UTF-8 text: {e.reason}", field="body") from None
    if obj and not isinstance(doc, dict):
        raise ValidationError("expected a JSON object", field="body")
    if allowed is not None and isinstance(doc, dict):
        unknown = sorted(set(doc) - set(allowed))
        if unknown:
            raise ValidationError(
                f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}",
                field="body",
            )
    return doc


def check_args(allowed: Collection[str]) -> dict[str, str]:
    """Refuse query parameters not in ``allowed``; return the given ones."""
    unknown = sorted(set(request.args) - set(allowed))
    if unknown:
        raise ValidationError(
            f"unknown query parameter(s) {', '.join(unknown)}; allowed: "
            f"{', '.join(sorted(allowed)) or 'none'}",
            field=unknown[0],
        )
    return {k: request.args[k] for k in request.args}


def float_arg(name: str, default: float | None = None, *, required: bool = False) -> Any:
    """A finite number from the query; ``default`` when absent unless ``required``."""
    v = request.args.get(name)
    if v is None:
        if required:
            raise ValidationError("is required", field=name)
        return default
    try:
        x = float(v)
    except ValueError:
        raise ValidationError(f"expected a number, got {v!r}", field=name) from None
    if not math.isfinite(x):
        raise ValidationError(f"must be a finite number, got {v!r}", field=name)
    return x


def int_arg(name: str, default: int | None, lo: int, hi: int) -> Any:
    """A whole number in ``lo..hi`` from the query, or ``default`` when absent."""
    v = request.args.get(name)
    if v is None:
        return default
    try:
        x = int(v)
    except ValueError:
        raise ValidationError(f"expected a whole number, got {v!r}", field=name) from None
    if not lo <= x <= hi:
        raise ValidationError(f"{x} is outside {lo}..{hi}", field=name)
    return x


def offset_arg(name: str = "offset") -> int:
    """A paging offset from the query: a whole number in ``0..OFFSET_MAX`` (default 0)."""
    x = int_arg(name, 0, 0, OFFSET_MAX)
    return validate_offset(x, name)


def bool_arg(name: str, default: bool) -> bool:
    """``true``/``false`` (or 1/0, yes/no) from the query, or ``default`` when absent."""
    v = request.args.get(name)
    if v is None:
        return default
    if v.lower() in ("1", "true", "yes"):
        return True
    if v.lower() in ("0", "false", "no"):
        return False
    raise ValidationError(f"expected true or false, got {v!r}", field=name)
