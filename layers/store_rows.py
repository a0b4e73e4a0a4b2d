"""Checks and conversions shared by the two stores (PostGIS and GeoPackage).

Both stores turn validated layer frames into plain Python rows, build GeoDataFrames from
what they read back (exact ``schema.columns``, Python ``int``/``float``/``bool``/``dict``
values, ``None`` for missing ones, never NaN), and check records, bboxes and ``where``
filters the same way, so that the contract holds identically for both.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.errors import Conflict, NotFound, ValidationError
from layers.schema import LayerSchema, empty_layer, schema_for

__all__ = [
    "WRITE_MODES",
    "check_bbox",
    "check_mode",
    "check_records",
    "check_where",
    "column_kinds",
    "taken_conflict",
    "dumps",
    "frame_from_rows",
    "latest_by_key",
    "note_seqs",
    "layer_rows",
    "to_utc",
]

WRITE_MODES = ("append", "replace", "upsert")
_WHERE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,127}\Z")


def dumps(obj: Any, field: str = "data") -> str:
    """Compact JSON text of ``obj``; a ValidationError naming ``field`` if it is not JSON."""
    try:
        return json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as e:
        raise ValidationError(f"is not JSON-serialisable ({e})", field=field) from e


def check_mode(mode: str) -> str:
    if mode not in WRITE_MODES:
        raise ValidationError(
            f"unknown write mode {mode!r}; use one of: {', '.join(WRITE_MODES)}", field="mode"
        )
    return mode


def check_bbox(bbox: Sequence[float] | None) -> tuple[float, float, float, float] | None:
    """``(minlon, minlat, maxlon, maxlat)`` as floats, or a ValidationError on ``bbox``."""
    if bbox is None:
        return None
    try:
        vals = tuple(float(v) for v in bbox)
    except (TypeError, ValueError):
        raise ValidationError("must be four numbers minlon,minlat,maxlon,maxlat",
                              field="bbox") from None
    if len(vals) != 4 or not all(math.isfinite(v) for v in vals):
        raise ValidationError("must be four finite numbers minlon,minlat,maxlon,maxlat",
                              field="bbox")
    x0, y0, x1, y1 = vals
    if x0 > x1 or y0 > y1:
        raise ValidationError("minimum is above the maximum (order: minlon,minlat,maxlon,maxlat)",
                              field="bbox")
    return x0, y0, x1, y1


def check_where(where: dict[str, Any] | None) -> dict[str, Any]:
    """A ``where`` filter: top-level keys of ``data`` matched for equality with scalars."""
    if not where:
        return {}
    for k, v in where.items():
        if not isinstance(k, str) or not _WHERE_KEY.match(k):
            raise ValidationError(
                f"key {k!r} must be a name of letters, digits, '_' or '-'", field="where")
        if v is not None and not isinstance(v, (str, int, float, bool)):
            raise ValidationError(
                f"value of {k!r} must be text, a number, true/false or null", field="where")
        if isinstance(v, float) and not math.isfinite(v):
            raise ValidationError(f"value of {k!r} must be finite", field="where")
    return dict(where)


def to_utc(t: Any, field: str = "time") -> dt.datetime | None:
    """An aware datetime converted to UTC; naive datetimes are refused (never guessed)."""
    if t is None:
        return None
    if isinstance(t, pd.Timestamp):
        t = t.to_pydatetime()
    if not isinstance(t, dt.datetime):
        raise ValidationError(f"expected a datetime, got {type(t).__name__}", field=field)
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValidationError(
            "has no time zone; give an aware datetime (UTC, e.g. 2024-05-01T08:00:00Z)",
            field=field)
    return t.astimezone(dt.UTC)


def check_records(records: Sequence[Any]) -> list[tuple[Any, str, tuple | None]]:
    """Check every record before anything is written.

    Returns, per record, ``(record, data as JSON text, (lon, lat, z) or None)`` with
    ``record.time`` converted to UTC. Raises one ValidationError listing every bad record.
    """
    from geo.errors import RowError
    from layers.store import Record

    out: list[tuple[Any, str, tuple | None]] = []
    errors: list[RowError] = []
    for i, r in enumerate(records, start=1):
        rid = getattr(r, "id", None)
        fid = rid if isinstance(rid, str) else None

        def err(field: str, msg: str, _i: int = i, _fid: str | None = fid) -> None:
            errors.append(RowError(_i, field, msg, _fid))

        if not isinstance(r, Record):
            err("record", f"expected a Record, got {type(r).__name__}")
            continue
        if not isinstance(r.kind, str) or not r.kind:
            err("kind", "must be non-empty text")
        if not isinstance(r.id, str) or not r.id:
            err("id", "must be non-empty text")
        if r.campus_id is not None and not isinstance(r.campus_id, str):
            err("campus_id", "must be text or null")
        text = ""
        if not isinstance(r.data, dict):
            err("data", f"must be a JSON object (dict), got {type(r.data).__name__}")
        else:
            try:
                text = dumps(r.data)
            except ValidationError as e:
                err("data", e.errors[0].message)
        point = None
        if (r.lon is None) != (r.lat is None):
            err("lon" if r.lon is None else "lat", "lon and lat go together: give both or none")
        elif r.lon is not None:
            try:
                lon, lat = float(r.lon), float(r.lat)  # type: ignore[arg-type]
                z = None if r.z is None else float(r.z)
            except (TypeError, ValueError):
                err("lon", "lon, lat and z must be numbers")
            else:
                if not (math.isfinite(lon) and math.isfinite(lat)) or (
                    z is not None and not math.isfinite(z)
                ):
                    err("lon", "lon, lat and z must be finite numbers")
                elif abs(lat) > 90 and abs(lon) <= 90 and abs(lat) <= 180:
                    err("lat", f"{lat} is out of range: lat/lon look swapped (lon, lat order)")
                elif abs(lon) > 180 or abs(lat) > 90:
                    err("lon", f"({lon}, {lat}) is out of range for lon/lat degrees")
                else:
                    point = (lon, lat, z)
        elif r.z is not None:
            err("z", "z needs lon and lat")
        try:
            r.time = to_utc(r.time)
        except ValidationError as e:
            err("time", e.errors[0].message)
        out.append((r, text, point))
    if errors:
        raise ValidationError(errors=errors, layer="records")
    return out


def latest_by_key(checked: Sequence[tuple[Any, str, tuple | None]]
                  ) -> list[tuple[Any, str, tuple | None]]:
    """Of checked records sharing a ``(kind, id)``, the last one, in order of last
    appearance (what replacing them one after another would leave)."""
    last: dict[tuple[str, str], tuple[Any, str, tuple | None]] = {}
    for row in checked:
        key = (row[0].kind, row[0].id)
        last.pop(key, None)
        last[key] = row
    return list(last.values())


def note_seqs(rows: Sequence[tuple[Any, str, tuple | None]], seqs: dict[tuple[str, str], int],
              now: dt.datetime, *, first_only: bool) -> list[bool]:
    """Tell the records what the store did: ``seqs`` holds the seq of each ``(kind, id)``
    written. Returns, per row, whether it was written; with ``first_only`` (inserts if
    absent) only the first row of a key can have been."""
    written: list[bool] = []
    seen: set[tuple[str, str]] = set()
    for rec, _, _ in rows:
        key = (rec.kind, rec.id)
        ok = key in seqs and not (first_only and key in seen)
        seen.add(key)
        written.append(ok)
        if ok:
            rec.seq, rec.updated_at = seqs[key], now
    return written


def _py(v: Any, kind: str) -> Any:
    """A value as the Python type of its field kind; missing and NaN → None."""
    if v is None:
        return None
    if isinstance(v, (float, np.floating)) and math.isnan(v):
        return None
    if v is pd.NA or v is pd.NaT:
        return None
    if kind == "int":
        return int(v)
    if kind == "float":
        return float(v)
    if kind == "bool":
        return bool(v)
    if kind == "str":
        return str(v)
    if kind == "json":
        if isinstance(v, str):
            return json.loads(v)
        return _plain(v)
    return v


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return [_plain(x) for x in v.tolist()]
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    return v


def column_kinds(s: LayerSchema) -> list[tuple[str, str]]:
    """``(column, kind)`` of every non-geometry column, in ``schema.columns`` order."""
    kinds = {"fid": "str", "campus_id": "str", "name": "str", "props": "json"}
    kinds.update({f.name: f.kind for f in s.fields})
    return [(c, kinds[c]) for c in s.columns if c != "geometry"]


def layer_rows(layer: str, gdf: gpd.GeoDataFrame) -> tuple[list[dict[str, Any]], list[Any]]:
    """Rows of a validated frame as dicts of Python values, and the geometries apart."""
    s = schema_for(layer)
    kinds = column_kinds(s)
    rows: list[dict[str, Any]] = []
    for i, rec in enumerate(gdf[[c for c, _ in kinds]].itertuples(index=False, name=None), 1):
        row = {c: _py(v, k) for (c, k), v in zip(kinds, rec, strict=True)}
        if row["props"] is None:
            row["props"] = {}
        for c, k in kinds:  # JSON problems surface here, before any transaction starts
            if k == "json" and row[c] is not None:
                try:
                    dumps(row[c], c)
                except ValidationError as e:
                    raise ValidationError(e.errors[0].message, field=c, row=i,
                                          layer=layer) from e
        rows.append(row)
    geoms = list(gdf.geometry.array) if len(gdf) else []
    geoms = [None if g is None or (isinstance(g, float) and math.isnan(g)) else g for g in geoms]
    return rows, geoms


def frame_from_rows(layer: str, rows: Iterable[Sequence[Any]], geoms: Sequence[Any]
                    ) -> gpd.GeoDataFrame:
    """A GeoDataFrame with exactly ``schema.columns`` from raw rows read from a store.

    ``rows`` hold the non-geometry columns in ``schema.columns`` order; JSON columns may
    be text (sqlite) or already parsed (PostgreSQL).
    """
    s = schema_for(layer)
    kinds = column_kinds(s)
    data = [[_py(v, k) for (_, k), v in zip(kinds, r, strict=True)] for r in rows]
    if not data:
        return empty_layer(layer)
    df = pd.DataFrame(data, columns=[c for c, _ in kinds], dtype=object)
    for i, r in enumerate(data):
        if r[-1] is None:  # props
            df.at[i, "props"] = {}
    # geometry goes last, as in schema.columns
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(list(geoms), crs="EPSG:4326"))


def taken_conflict(layer: str, fids: Sequence[str]) -> Conflict:
    """The error of an ``append`` that meets existing feature ids."""
    shown = ", ".join(repr(f) for f in fids[:10])
    more = f" (and {len(fids) - 10} more)" if len(fids) > 10 else ""
    return Conflict(
        f"{layer}: feature id(s) {shown}{more} already exist; nothing was written. "
        "Use mode 'upsert' to replace them.",
        fids=list(fids),
    )


def campus_not_found(campus_id: str) -> NotFound:
    """The error both stores raise for a write to a campus that does not exist."""
    return NotFound(
        f"no campus {campus_id!r}; create it first, e.g. by importing its boundary "
        f"(xiaoan import campuses FILE --campus {campus_id})",
        field="campus",
    )
