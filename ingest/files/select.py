"""Picking what you mean from an extract: ``--select KEY=VALUE`` and ``--osm-id r123``.

An OSM extract or a GeoPackage holds many campus areas (the Helsinki extract: 9 schools and
universities); a campus is one of them. :func:`select_rows` keeps the rows asked for, and
:func:`one_campus` refuses to make one new campus out of several features, listing them
with the option that picks each.
"""

from __future__ import annotations

from typing import Any

from geo.errors import ValidationError
from ingest.files.identity import FEATURE_ID
from ingest.files.readers import ReadResult

__all__ = ["select_rows", "one_campus"]


def _value(rec: dict[str, Any], key: str) -> Any:
    if key in rec and rec[key] is not None:
        return rec[key]
    props = rec.get("props")
    return props.get(key) if isinstance(props, dict) else None


def _osm_id(rec: dict[str, Any]) -> Any:
    return rec.get(FEATURE_ID) or rec.get("fid") or _value(rec, "osm_id")


def select_rows(res: ReadResult, select: str | None, osm_id: str | None) -> ReadResult:
    """The rows of ``res`` matching ``select`` (``KEY=VALUE``) and ``osm_id``; none is an
    error naming what the file does hold."""
    key = value = None
    if select is not None:
        key, sep, value = select.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValidationError(f"--select {select!r}: expected KEY=VALUE, e.g. "
                                  "--select 'name=Helsingin yliopisto'", field="select")
    recs = res.gdf.to_dict("records")
    keep = [i for i, r in enumerate(recs)
            if (key is None or str(_value(r, key)) == value)
            and (osm_id is None or str(_osm_id(r)) == osm_id)]
    if not keep:
        what = " and ".join(x for x in (select and f"{select}", osm_id and f"id {osm_id}") if x)
        raise ValidationError(f"no feature of the file has {what}; it holds "
                              + _listing(res), field="select" if select else "osm_id")
    return ReadResult(res.gdf.iloc[keep].reset_index(drop=True), [res.rows[i] for i in keep],
                      [e for e in res.errors if e.row in {res.rows[i] for i in keep}],
                      res.rows_read, res.source_crs, res.format,
                      [*res.notes, f"selected {len(keep)} of {len(recs)} feature(s)"],
                      res.left_out, res.own_ids, res.layer)


def _listing(res: ReadResult, limit: int = 10) -> str:
    recs = res.gdf.to_dict("records")
    items = [f"{_osm_id(r)} ({_value(r, 'name') or 'no name'})" for r in recs[:limit]]
    more = f" and {len(recs) - limit} more" if len(recs) > limit else ""
    return ", ".join(items) + more


def one_campus(res: ReadResult, campus_id: str) -> None:
    """Refuse to make one new campus of several campus features (they used to be merged
    into one campus named after the first)."""
    bad = {e.row for e in res.errors}
    ok = [i for i, r in enumerate(res.rows) if r not in bad]  # rows the reader refused don't count
    if len(ok) <= 1:
        return
    first = res.gdf.to_dict("records")[ok[0]]
    raise ValidationError(
        f"{len(ok)} campus features in the file would become one campus {campus_id!r}; "
        f"a campus is one of them: pick it with --osm-id {_osm_id(first)} or --select "
        f"'name=...' (import each under its own --campus). The file holds: "
        + _listing(res), field="select")
