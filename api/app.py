"""The Flask application factory.

Configuration comes from ``XIAOAN_*`` environment variables (``from_prefixed_env``) and
the ``config`` mapping passed in, which wins. Nothing is built at import time.

Settings: ``DATABASE_URL`` (``postgresql+psycopg://...``; default: the embedded
GeoPackage in ``DATA_DIR``), ``DATA_DIR`` (default ``./xiaoan-data``),
``MAX_CONTENT_LENGTH`` (bytes, default 16 MiB), ``CHANGE_POLL_S`` (how often the live
runtime reads the store's change feed, default 1 s).

The app holds one live runtime (:class:`api.service.Service`: the store, the
:class:`~ingest.live.hub.CampusHub` and the event pipeline); ``app.extensions["xiaoan"]
.close()`` stops it (``xiaoan serve`` does on exit).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from api.params import check_path, guard_request, problem
from api.routes import (
    alerts,
    auth,
    bus,
    cameras,
    compliance,
    events,
    health,
    ogc,
    org,
    patrol,
    pipes,
    risk,
    stream,
)
from api.service import Service
from geo.errors import XiaoanError
from ingest.live.hub import CampusHub
from layers.store import Store, open_store, redact_url
from webmap import views

__all__ = ["create_app", "problem"]

log = logging.getLogger(__name__)

# Blueprints, one per capability.
BLUEPRINTS = (ogc.bp, health.bp, events.bp, stream.bp, risk.bp, cameras.bp, bus.bp, pipes.bp,
              patrol.bp, alerts.bp, compliance.bp, views.bp, auth.bp, org.bp)


def create_app(config: Mapping[str, Any] | None = None, store: Store | None = None) -> Flask:
    """Build the xiaoan Flask app.

    Parameters
    ----------
    config
        Overrides for the app config (e.g. ``{"DATABASE_URL": ...}``).
    store
        An already-open store to use instead of opening one from the config.
    """
    app = Flask(__name__, static_folder=None)
    app.config.update(DATA_DIR="xiaoan-data", DATABASE_URL=None, MAX_CONTENT_LENGTH=16 << 20,
                      CHANGE_POLL_S=1.0)
    app.config.from_prefixed_env("XIAOAN")
    if config:
        app.config.update(config)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    if store is None:
        store = open_store(app.config["DATABASE_URL"], app.config["DATA_DIR"])
    log.info("xiaoan store: %s", redact_url(store.url))
    hub = CampusHub(store, poll_s=float(app.config["CHANGE_POLL_S"]))
    hub.start()
    app.extensions["xiaoan"] = Service(store=store, hub=hub)

    from api.auth import install as install_auth

    install_auth(app)  # identity, policy table and scope on every request (api/auth.py)
    for bp in BLUEPRINTS:
        app.register_blueprint(bp)
    app.url_value_preprocessor(check_path)  # every id in a path is valid before a route runs
    app.before_request(guard_request)  # JSON-only writes, size, control characters

    @app.errorhandler(XiaoanError)
    def _xiaoan_error(e: XiaoanError) -> Response:
        if e.status >= 500:
            log.error("request failed: %s", e.message)
        doc = e.to_problem()
        return problem(**{k: v for k, v in doc.items() if k != "type"})

    @app.errorhandler(HTTPException)
    def _http_error(e: HTTPException) -> Response:
        resp = problem(e.code or 500, e.name, e.description or e.name)
        for k, v in e.get_headers():  # e.g. Allow on a 405
            if k.lower() != "content-type":
                resp.headers[k] = v
        return resp

    @app.errorhandler(Exception)
    def _unexpected(e: Exception) -> Response:
        log.exception("unexpected error")
        return problem(500, "Internal error", "an unexpected error occurred; see the server log")

    return app
