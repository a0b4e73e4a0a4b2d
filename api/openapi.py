"""``GET /api``: the OpenAPI 3.0 document of the whole HTTP surface, built from the Flask URL
map and the operation table of :mod:`api.openapi_ops`.

Every rule of the URL map becomes a path (``<campus_id>`` → ``{campus_id}``; the OGC routes
keep the OGC names ``collectionId`` and ``featureId``), every method an operation described by
its ``"METHOD blueprint.endpoint"`` entry of :data:`api.openapi_OPERATIONS`. Path
parameters are typed from their names (campus ids by the campus-id rule, other ids by the id
rule of :mod:`layers.schema`); the error responses follow from what the operation takes: 400
(bad value), 404 (a path id), 413/415 (a body), 401/403 (when it is not public in
:mod:`api.policy`), 503 (the store). A route with no entry is left out and
``tests/test_openapi.py`` names it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from flask import Flask

from api.ogc_core import LIMIT_DEFAULT, LIMIT_MAX, OPENAPI
from api.openapi_assets import ASSET_OPERATIONS
from api.openapi_bodies import PATH_DOCS, PATH_VARS_WITH_SLASH, SSE_DOC, Op
from api.openapi_ops import REST_OPERATIONS
from api.openapi_schemas import ogc_parameters, schemas
from api.openapi_site import SITE_OPERATIONS
from layers.schema import CAMPUS_ID_PATTERN, ID_MAX_CHARS, OFFSET_MAX

__all__ = ["OPERATIONS", "document", "operations", "openapi_path"]

PROBLEM = "application/problem+json"
#: Every described operation, by ``"METHOD blueprint.endpoint"``.
OPERATIONS = {**SITE_OPERATIONS, **REST_OPERATIONS, **ASSET_OPERATIONS}
_RULE_VAR = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_METHODS = ("get", "put", "post", "delete", "patch")
#: Flask variable name → OpenAPI parameter name, where a standard names it differently.
RENAMED = {"collection_id": "collectionId", "ogc.item fid": "featureId"}
_STATUS_TEXT = {
    400: "Bad input: problem document naming the field",
    401: "Not signed in (no, expired or forged token)",
    403: "Signed in, but this role or scope may not do this",
    404: "No such campus, feature, incident, hazard or bus",
    405: "Method not allowed (see the Allow header)",
    409: "Conflicting change (e.g. an illegal transition)",
    413: "Body or batch too large",
    415: "The body is not declared as JSON",
    429: "Too many attempts",
    503: "The store is unavailable; retry",
}


def openapi_path(rule: str, endpoint: str) -> str:
    """The OpenAPI path template of a Flask rule (``/a/<int:b>`` → ``/a/{b}``)."""

    def name(m: re.Match[str]) -> str:
        var = m.group(1)
        return "{" + RENAMED.get(f"{endpoint} {var}", RENAMED.get(var, var)) + "}"

    return _RULE_VAR.sub(name, rule)


def operations(app: Flask) -> Iterator[tuple[str, str, str, list[str]]]:
    """``(path, method, endpoint, path variables)`` for every route of ``app``'s URL map."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield (
                openapi_path(rule.rule, rule.endpoint),
                method.lower(),
                rule.endpoint,
                [v for v in _RULE_VAR.findall(rule.rule)],
            )


def _path_param(
    var: str, endpoint: str, collection_ids: Sequence[str], campus_ids: Sequence[str]
) -> dict[str, Any]:
    name = RENAMED.get(f"{endpoint} {var}", RENAMED.get(var, var))
    if var == "campus_id":
        schema: dict[str, Any] = {"type": "string", "pattern": CAMPUS_ID_PATTERN.pattern[:-2] + "$"}
        if campus_ids:
            schema = {"type": "string", "enum": list(campus_ids)}
        desc = "campus id"
    elif var == "collection_id":
        schema = {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_-]{0,63}\.[a-z_]+$"}
        if collection_ids:
            schema = {"type": "string", "enum": list(collection_ids)}
        desc = "campus.layer, e.g. hki.buildings"
    else:
        # one path segment (a path: variable may hold '/', sent as %2F); no control characters
        seg = "" if endpoint in PATH_VARS_WITH_SLASH else "/"
        schema = {
            "type": "string",
            "minLength": 1,
            "maxLength": ID_MAX_CHARS,
            "pattern": "^[^" + seg + "\\u0000-\\u001f\\u007f]+$",
        }
        desc = PATH_DOCS.get(var, f"the {var.replace('_', ' ')}")
    return {"name": name, "in": "path", "required": True, "description": desc, "schema": schema}


def _responses(op: Op, public: bool, has_path: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status, (media, schema, desc) in op.ok.items():
        content: dict[str, Any] = {}
        for m in media.split("|"):  # one schema; a non-JSON alternative is text or bytes
            is_json = m.endswith("json") or "+json;" in m
            content[m] = {
                "schema": schema if schema is not None and is_json else {"type": "string"}
            }
            if m == "text/event-stream":
                content[m]["schema"]["description"] = SSE_DOC
        out[str(status)] = {"description": desc, "content": content}
    codes = {400, *op.errors}
    if has_path:
        codes.add(404)
    if op.body is not None or op.writes:
        codes |= {413, 415}
    if not public:
        codes |= {401, 403}
    if op.store:  # a campus, node, incident ... named anywhere may not exist
        codes |= {404, 503}
    for code in sorted(codes):
        out[str(code)] = {
            "description": _STATUS_TEXT.get(code, "error"),
            "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/problem"}}},
        }
    return out


def _operation(
    app: Flask,
    path: str,
    method: str,
    endpoint: str,
    variables: list[str],
    collection_ids: Sequence[str],
    campus_ids: Sequence[str],
) -> dict[str, Any] | None:
    from api.policy import PUBLIC, action_for

    op = OPERATIONS.get(f"{method.upper()} {endpoint}")
    if op is None:
        return None
    public = action_for(endpoint, method.upper()) == PUBLIC
    params = [_path_param(v, endpoint, collection_ids, campus_ids) for v in variables]
    params += [dict(p) for p in op.query]
    doc: dict[str, Any] = {
        "operationId": f"{endpoint.replace('.', '_')}_{method}",
        "summary": op.summary,
        "tags": [endpoint.split(".")[0]],
        "parameters": params,
        "responses": _responses(op, public, bool(variables)),
    }
    if op.description:
        doc["description"] = op.description
    if public:
        doc["security"] = []
    if op.body is not None:
        doc["requestBody"] = {
            "required": op.body_required,
            "content": {"application/json": {"schema": op.body}},
        }
    elif op.writes:  # a write without a body still says JSON (see docs/api.md)
        doc["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": {"type": "object", "maxProperties": 0}}},
        }
    return doc


def document(
    app: Flask, base: str, collection_ids: Sequence[str] = (), campus_ids: Sequence[str] = ()
) -> dict[str, Any]:
    """The OpenAPI 3.0 document of every described route of ``app``.

    ``collection_ids`` (``campus.layer``) become the enum of the OGC ``collectionId``,
    ``campus_ids`` that of every ``campus_id`` path parameter (the campuses there are now).
    """
    paths: dict[str, Any] = {}
    for path, method, endpoint, variables in operations(app):
        op = _operation(app, path, method, endpoint, variables, collection_ids, campus_ids)
        if op is not None:
            paths.setdefault(path, {})[method] = op
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "xiaoan 校安 campus safety API",
            "version": "1.0.0",
            "description": "Campus layers as OGC API - Features Part 1 (core, GeoJSON) and the "
            "xiaoan REST API under /api/v1 (events, incidents and their live feed, risk, hidden "
            "hazards, cameras, pipes, buses, patrol). Writes take application/json only; every "
            "error is an RFC 7807 application/problem+json document (see docs/api.md).",
            "license": {"name": "Apache-2.0"},
        },
        "servers": [{"url": base or "/"}],
        "security": [{"bearer": []}, {"deviceKey": []}, {"session": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "POST /auth/token, or a JWT of the configured OIDC issuer",
                },
                "deviceKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-API-Key",
                    "description": "a device key (xiaoan keys add)",
                },
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "xiaoan_session",
                    "description": "the web pages' session (POST /auth/session); "
                    "writes also need the X-CSRF-Token header",
                },
            },
            "parameters": ogc_parameters(LIMIT_DEFAULT, LIMIT_MAX, OFFSET_MAX),
            "schemas": schemas(),
        },
    }


def media_type() -> str:
    """The media type ``/api`` answers with."""
    return OPENAPI
