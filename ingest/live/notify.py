"""Deliveries of an emergency plan: speakers, people tier by tier, and webhooks.

:meth:`Notifier.dispatch` turns a plan (:func:`layers.broadcast.broadcast_plan`, kept in
``incident.plan.broadcast``) into deliveries — one per speaker, per person and channel, and
per configured webhook — each a store record of kind ``delivery`` whose ``status`` moves
queued → sent | failed (→ acknowledged, when the person confirms). A worker thread hands
them to the *sender* of their channel, in tier order, retrying a failed send
``retries`` times with a growing pause.

Senders are pluggable (``send(delivery) -> None``, raising on failure): :class:`LogSender`
(the default for every channel; it logs what a real gateway — SMS, app push, phone, PA
system — would be handed) and :class:`WebhookSender`, which POSTs the delivery, the incident
and its CAP 1.2 XML as JSON, signed with HMAC-SHA256 over the body in the header
``X-Xiaoan-Signature: sha256=<hex>`` (as GitHub and Traccar style webhooks do).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from geo.errors import Conflict, NotFound, ValidationError
from geo.times import iso
from ingest.live.cap import incident_cap
from layers.broadcast import TIERS
from layers.store import Record, Store

__all__ = [
    "DELIVERY",
    "Sender",
    "LogSender",
    "WebhookSender",
    "Notifier",
    "deliveries_of",
    "notifier_from_config",
]

log = logging.getLogger(__name__)

DELIVERY = "delivery"
STATUSES = ("queued", "sent", "failed", "acknowledged")


class Sender(Protocol):
    def send(self, delivery: Mapping[str, Any], incident: Mapping[str, Any]) -> None: ...


class LogSender:
    """Logs each delivery (the demo's sender, and the default for every channel)."""

    def send(self, delivery: Mapping[str, Any], incident: Mapping[str, Any]) -> None:
        log.info("deliver %s to %s via %s: %s", delivery["id"], delivery["to"],
                 delivery["channel"], delivery["message"].get("zh"))


class WebhookSender:
    """POST JSON ``{"delivery", "incident", "cap"}`` to ``url``, HMAC-signed with ``secret``."""

    def __init__(self, url: str, secret: str | None = None, timeout_s: float = 5.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValidationError(f"a webhook must be an http(s) URL, got {url!r}",
                                  field="WEBHOOKS")
        self.url, self.secret, self.timeout_s = url, secret, timeout_s

    def body(self, delivery: Mapping[str, Any], incident: Mapping[str, Any]) -> bytes:
        return json.dumps({"delivery": dict(delivery), "incident": dict(incident),
                           "cap": incident_cap(dict(incident))},
                          ensure_ascii=False).encode()

    def send(self, delivery: Mapping[str, Any], incident: Mapping[str, Any]) -> None:
        body = self.body(delivery, incident)
        req = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json", "User-Agent": "xiaoan-webhook/1"})
        if self.secret:
            sig = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
            req.add_header("X-Xiaoan-Signature", f"sha256={sig}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as r:  # noqa: S310
                if not 200 <= r.status < 300:
                    raise OSError(f"webhook answered {r.status}")
        except urllib.error.HTTPError as e:
            raise OSError(f"webhook answered {e.code}") from None


def _record(d: dict[str, Any]) -> Record:
    return Record(DELIVERY, d["id"], d, campus_id=d["campus"],
                  time=dt.datetime.fromisoformat(d["queued_at"].replace("Z", "+00:00")))


def deliveries_of(store: Store, incident_id: str) -> list[dict[str, Any]]:
    """An incident's deliveries in the order they were queued."""
    return [r.data for r in store.query_records(DELIVERY, where={"incident": incident_id})]


class Notifier:
    """Queue and send the deliveries of plans (see the module docstring).

    Parameters
    ----------
    store
        Where delivery records are kept.
    senders
        Channel → sender; channels without one use :class:`LogSender`.
    webhooks
        Senders that get every plan's alert (one delivery each).
    """

    def __init__(self, store: Store, senders: Mapping[str, Sender] | None = None,
                 webhooks: Sequence[WebhookSender] = (), retries: int = 3,
                 backoff_s: float = 0.5) -> None:
        self.store = store
        self.senders = dict(senders or {})
        self.webhooks = list(webhooks)
        self.retries, self.backoff_s = retries, backoff_s
        self._q: queue.Queue[tuple[dict[str, Any], dict[str, Any]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="xiaoan-notify", daemon=True)
        self._thread.start()

    def bureau_of(self, campus_id: str) -> list[dict[str, Any]]:
        """The bureau officers above a campus in the organisation tree: active accounts of
        role ``bureau`` whose node is the campus's school node or one of its ancestors."""
        from layers.accounts import list_accounts
        from layers.org import ScopeIndex

        ix = ScopeIndex.build(self.store)
        return [{"name": a.username, "role": "bureau", "node": a.node, "push": a.username}
                for a in list_accounts(self.store)
                if a.role == "bureau" and not a.disabled and ix.campus_in(a.node, campus_id)]

    def dispatch(self, incident: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Queue the deliveries of the incident's plan (the bureau officers above the school
        told first); returns them (status queued)."""
        plan = dict((incident.get("plan") or {}).get("broadcast") or {})
        try:
            bureau = self.bureau_of(incident["campus"])
        except Exception as e:  # noqa: BLE001 - the plan goes out without that tier
            log.warning("bureau officers of %s unknown: %s", incident["campus"], e)
            bureau = []
        if bureau:
            tiers = [t for t in plan.get("tiers") or [] if t["tier"] != "bureau"]
            known = next((t["people"] for t in plan.get("tiers") or []
                          if t["tier"] == "bureau"), [])
            plan["tiers"] = [{"tier": "bureau", "order": 1, "label": TIERS[0][1],
                              "people": known + [{**b, "channels": ["push"]}
                                                 for b in bureau]}, *tiers]
        msg = plan.get("message") or {}
        now = iso(dt.datetime.now(dt.UTC))
        base = {"incident": incident["id"], "campus": incident["campus"], "message": msg,
                "status": "queued", "queued_at": now, "attempts": 0, "log": []}
        out: list[dict[str, Any]] = []

        def add(channel: str, to: str, tier: str | None, order: int, **kw: Any) -> None:
            did = f"{incident['id']}-{len(out) + 1:03d}"
            out.append({**base, "id": did, "channel": channel, "to": to, "tier": tier,
                        "tier_order": order, **kw})

        for s in plan.get("speakers") or []:
            add("speaker", s["speaker"], None, 0, name=s.get("name"))
        for t in plan.get("tiers") or []:
            for p in t["people"]:
                for ch in p["channels"] or ["log"]:
                    add(ch, p.get(ch) or p.get("phone") or p["name"], t["tier"], t["order"],
                        name=p["name"], role=p["role"])
        for w in self.webhooks:
            add("webhook", w.url, None, 0)
        if out:
            self.store.put_records([_record(d) for d in out])
            for d in out:
                self._q.put((d, dict(incident)))
        return out

    def acknowledge(self, delivery_id: str, by: str | None) -> dict[str, Any]:
        """A person confirms a delivery."""
        try:
            d = dict(self.store.get_record(DELIVERY, delivery_id).data)
        except NotFound:
            raise NotFound(f"no delivery {delivery_id!r}", field="id") from None
        if d["status"] not in ("sent", "acknowledged"):
            raise Conflict(f"delivery {delivery_id} is {d['status']}; only a sent one can be "
                           "acknowledged", allowed=["sent"], current_status=d["status"])
        d.update(status="acknowledged", acknowledged_at=iso(dt.datetime.now(dt.UTC)),
                 acknowledged_by=by)
        self.store.put_records([_record(d)])
        return d

    def _sender(self, d: Mapping[str, Any]) -> Sender:
        if d["channel"] == "webhook":
            return next(w for w in self.webhooks if w.url == d["to"])
        return self.senders.get(d["channel"]) or LogSender()

    def _work(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                self._q.task_done()
                return
            try:
                self._deliver(*item)
            finally:
                self._q.task_done()

    def _deliver(self, d: dict[str, Any], inc: dict[str, Any]) -> None:
        for attempt in range(1, self.retries + 2):
            d["attempts"] = attempt
            try:
                self._sender(d).send(d, inc)
            except Exception as e:  # noqa: BLE001 - any failure is recorded, then retried
                d["log"].append({"at": iso(dt.datetime.now(dt.UTC)), "error": str(e)})
                if attempt <= self.retries:
                    time.sleep(self.backoff_s * attempt)
                    continue
                d["status"] = "failed"
            else:
                d["status"], d["sent_at"] = "sent", iso(dt.datetime.now(dt.UTC))
            break
        try:
            self.store.put_records([_record(d)])
        except Exception as e:  # noqa: BLE001 - the store is down: keep the worker alive
            log.warning("delivery %s: could not record %s: %s", d["id"], d["status"], e)

    def wait_idle(self, timeout_s: float = 30.0) -> bool:
        """Whether every queued delivery was handled within ``timeout_s`` (tests, shutdown)."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self._q.unfinished_tasks == 0:
                return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self._q.put(None)
        self._thread.join(5.0)


def notifier_from_config(store: Store, config: Mapping[str, Any]) -> Notifier:
    """The notifier a deployment configures: ``WEBHOOKS`` (URLs, comma-separated) signed
    with ``WEBHOOK_SECRET``; every other channel logged (``XIAOAN_`` prefix in the
    environment)."""
    urls = config.get("WEBHOOKS") or []
    if isinstance(urls, str):
        urls = [u.strip() for u in urls.split(",") if u.strip()]
    secret = config.get("WEBHOOK_SECRET") or None
    return Notifier(store, webhooks=[WebhookSender(u, secret) for u in urls])
