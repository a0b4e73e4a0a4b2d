"""The bureau's view: one row per school under an organisation node, ranked.

Row: ``{"node", "name", "campuses", "incidents_open", "hazards_open", "hazards_overdue",
"rectification_rate", "risk_units": {"red", "orange", "yellow", "blue"}, "coverage_pct",
"score", "rank"}``.

The score (0-100, higher is safer work) is documented in docs/security.md::

    score = 100 − 10·hazards_overdue − 3·hazards_open − 5·incidents_open
                − 5·red − 2·orange + 10·rectification_rate + 0.1·coverage_pct

clamped to 0..100 and rounded to one decimal; a missing rate or coverage counts 0. Rank 1 is
the highest score (ties: by node id).

Imports only ``geo`` and ``layers``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from layers.hazards import hazard_stats
from layers.org import org_tree
from layers.schema import RISK_LEVELS
from layers.store import Store

__all__ = ["org_summary", "score"]

OPEN_INCIDENT = ("open", "acknowledged", "dispatched")


def score(row: dict[str, Any]) -> float:
    """The documented school score of a summary row."""
    s = (
        100.0
        - 10 * row["hazards_overdue"]
        - 3 * row["hazards_open"]
        - 5 * row["incidents_open"]
        - 5 * row["risk_units"]["red"]
        - 2 * row["risk_units"]["orange"]
        + 10 * (row["rectification_rate"] or 0.0)
        + 0.1 * (row["coverage_pct"] or 0.0)
    )
    return round(min(100.0, max(0.0, s)), 1)


def _schools(stats: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    if stats.get("level") == "school":
        out.append(stats)
    for k in stats.get("children", []):
        out += _schools(k)
    return out


def org_summary(
    store: Store,
    node: str,
    *,
    coverage_pct: Callable[[str], float | None] | None = None,
    now: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """Every school under ``node`` (itself, if a school), ranked by :func:`score`.

    ``coverage_pct(campus)`` gives a campus's camera coverage (None: no cameras); a school's
    is the mean over its campuses that have one.
    """
    stats = hazard_stats(store, node, now=now)
    names = {n: d["name"] for n, d in org_tree(store).items()}
    campuses: dict[str, list[str]] = {}
    for c in store.list_campuses():
        if c.org_node:
            campuses.setdefault(c.org_node, []).append(c.id)
    rows = []
    for st in _schools(stats):
        ids = sorted(campuses.get(st["node"], []))
        inc = (
            sum(
                len(store.query_records("incident", campus_ids=ids, where={"status": s}))
                for s in OPEN_INCIDENT
            )
            if ids
            else 0
        )
        units = dict.fromkeys(RISK_LEVELS, 0)
        for cid in ids:
            for layer in ("risk_points", "risk_areas"):
                for lvl in store.read_layer(cid, layer)["level"]:
                    if lvl in units:
                        units[lvl] += 1
        cov = (
            [c for c in (coverage_pct(cid) for cid in ids) if c is not None] if coverage_pct else []
        )
        row = {
            "node": st["node"],
            "name": names.get(st["node"]),
            "campuses": ids,
            "incidents_open": inc,
            "hazards_open": st["open"],
            "hazards_overdue": st["overdue"],
            "rectification_rate": st["rectification_rate"],
            "risk_units": units,
            "coverage_pct": round(sum(cov) / len(cov), 1) if cov else None,
        }
        row["score"] = score(row)
        rows.append(row)
    rows.sort(key=lambda r: (-r["score"], r["node"]))
    for i, r in enumerate(rows, 1):
        r["rank"] = i
    return rows
