"""The one exception hierarchy of xiaoan.

Every error we raise derives from :class:`XiaoanError` and from the built-in that best
describes it, so callers may catch ``ValueError`` or ``LookupError`` as usual. Each carries
an HTTP status and a message written for the user: what is wrong and what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "XiaoanError",
    "ValidationError",
    "RowError",
    "NotFound",
    "Conflict",
    "PayloadTooLarge",
    "Unavailable",
    "Unauthorized",
    "Forbidden",
    "CRSError",
]


class XiaoanError(Exception):
    """Root of all xiaoan errors.

    Parameters
    ----------
    message
        Says what is wrong and what to do, safe to show to any user.
    """

    status: int = 500
    title: str = "Internal error"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def to_problem(self) -> dict[str, Any]:
        """RFC 7807 problem document for this error."""
        doc: dict[str, Any] = {
            "type": "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": self.message,
        }
        doc.update(self.extra)
        return doc


@dataclass(frozen=True)
class RowError:
    """One problem with one input row (1-based ``row``) and one ``field``."""

    row: int | None
    field: str
    message: str
    fid: str | None = None

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.fid is not None:
            where.append(f"id {self.fid!r}")
        loc = (" (" + ", ".join(where) + ")") if where else ""
        return f"{self.field}{loc}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "fid": self.fid, "field": self.field, "message": self.message}


class ValidationError(XiaoanError, ValueError):
    """Input that breaks a rule; ``errors`` lists every row and field at fault."""

    status = 400
    title = "Invalid input"

    def __init__(
        self,
        message: str | None = None,
        errors: list[RowError] | None = None,
        *,
        field: str | None = None,
        row: int | None = None,
        **extra: Any,
    ) -> None:
        errs = list(errors or [])
        if field is not None and not errs:
            errs = [RowError(row, field, message or "invalid value")]
        if message is None:
            shown = "; ".join(str(e) for e in errs[:10])
            more = f" (and {len(errs) - 10} more)" if len(errs) > 10 else ""
            message = f"{len(errs)} invalid value(s): {shown}{more}"
        elif field is not None and not message.startswith(field):
            loc = f" (row {row})" if row is not None else ""
            message = f"{field}{loc}: {message}"
        super().__init__(message, **extra)
        self.errors = errs

    @property
    def field(self) -> str | None:
        return self.errors[0].field if self.errors else None

    def to_problem(self) -> dict[str, Any]:
        doc = super().to_problem()
        doc["errors"] = [e.to_dict() for e in self.errors]
        return doc


class CRSError(ValidationError):
    """Missing or unusable coordinate reference system."""


class NotFound(XiaoanError, LookupError):
    status = 404
    title = "Not found"


class Conflict(XiaoanError, RuntimeError):
    """A state change that is not allowed now (e.g. an illegal workflow transition)."""

    status = 409
    title = "Conflict"


class PayloadTooLarge(ValidationError):
    status = 413
    title = "Payload too large"


class Unauthorized(XiaoanError, PermissionError):
    """No identity, or one that cannot be verified (bad, expired or forged credentials)."""

    status = 401
    title = "Unauthorized"


class Forbidden(XiaoanError, PermissionError):
    """A verified identity whose role or organisation node does not allow the request."""

    status = 403
    title = "Forbidden"


class Unavailable(XiaoanError, ConnectionError):
    """A service we depend on (database, broker) cannot be reached right now."""

    status = 503
    title = "Service unavailable"
