"""Request parsing shared by the REST blueprints: one way to read query parameters and
JSON bodies, each bad value a :class:`~geo.errors.ValidationError` naming the field.

Unknown query parameters are refused (a misspelt ``bbox`` must not silently return
everything); JSON bodies must parse and, where asked, hold only known keys; numbers must
be finite.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection
from typing import Any

from flask import Response, request

from geo.errors import ValidationError

__all__ = [
    "json_response",
    "json_body",
    "check_args",
    "float_arg",
    "int_arg",
    "bool_arg",
]


def json_response(obj: Any, status: int = 200, mimetype: str = "application/json") -> Response:
    """``obj`` as JSON (UTF-8 kept, NaN refused; dates and other objects as text)."""
    return Response(json.dumps(obj, ensure_ascii=False, allow_nan=False, default=str,
                               separators=(",", ":")),
                    status=status, mimetype=mimetype)


def json_body(*, obj: bool = True, allowed: Collection[str] | None = None) -> Any:
    """The request's JSON body; an object unless ``obj`` is false; only ``allowed`` keys."""
    raw = request.get_data(cache=True)
    if not raw:
        raise ValidationError("the request body is empty; send a JSON object", field="body")
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ValidationError(f"malformed JSON at line {e.lineno} column {e.colno}: {e.msg}",
                              field="body") from None
    except UnicodeDecodeError as e:
        raise ValidationError(f"the body is not UTF-8 text: {e.reason}", field="body") from None
    if obj and not isinstance(doc, dict):
        raise ValidationError("expected a JSON object", field="body")
    if allowed is not None and isinstance(doc, dict):
        unknown = sorted(set(doc) - set(allowed))
        if unknown:
            raise ValidationError(f"unknown key(s) {', '.join(unknown)}; allowed: "
                                  f"{', '.join(sorted(allowed))}", field="body")
    return doc


def check_args(allowed: Collection[str]) -> dict[str, str]:
    """Refuse query parameters not in ``allowed``; return the given ones."""
    unknown = sorted(set(request.args) - set(allowed))
    if unknown:
        raise ValidationError(f"unknown query parameter(s) {', '.join(unknown)}; allowed: "
                              f"{', '.join(sorted(allowed)) or 'none'}", field=unknown[0])
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
