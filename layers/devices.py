"""The device registry: sensors and alarm buttons of every campus, found by id.

Devices live in each campus's ``devices`` layer (see :mod:`layers.schema`): ``fid`` is the
device id, ``kind`` (smoke, gas, alarm, ...), a point (with Z) and/or ``building``/``floor``/
``room``, ``cameras`` (linked camera fids) and ``risk_unit``. :class:`DeviceRegistry` indexes
them across campuses; :func:`read_devices_csv` and :func:`read_devices_geojson` read the two
import formats into a validated GeoDataFrame (all-or-nothing, errors name row and field).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
from shapely.geometry import Point

from geo.errors import NotFound, RowError, ValidationError
from layers.campus import Campus
from layers.schema import validate_layer

__all__ = ["Device", "DeviceRegistry", "read_devices_csv", "read_devices_geojson"]


@dataclass(frozen=True)
class Device:
    """One device as the live engine sees it (lon/lat in WGS-84, z in metres or None)."""

    id: str
    campus_id: str
    kind: str
    name: str | None = None
    lon: float | None = None
    lat: float | None = None
    z: float | None = None
    building: str | None = None
    floor: int | None = None
    room: str | None = None
    cameras: tuple[str, ...] = ()
    risk_unit: str | None = None
    props: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


def _opt(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def devices_of(campus: Campus) -> list[Device]:
    """The devices of one campus."""
    gdf = campus["devices"]
    out: list[Device] = []
    if not len(gdf):
        return out
    geoms = list(gdf.geometry)
    for i, rec in enumerate(gdf.drop(columns=gdf.geometry.name).to_dict("records")):
        g = geoms[i]
        lon = lat = z = None
        if g is not None and not g.is_empty:
            lon, lat = float(g.x), float(g.y)
            z = float(g.z) if g.has_z and math.isfinite(g.z) else None
        cams = _opt(rec.get("cameras"))
        if isinstance(cams, str):
            try:
                cams = json.loads(cams)
            except json.JSONDecodeError:
                cams = [c for c in cams.replace(",", ";").split(";") if c.strip()]
        floor = _opt(rec.get("floor"))
        out.append(Device(
            id=str(rec["fid"]), campus_id=campus.id, kind=str(rec.get("kind")),
            name=_opt(rec.get("name")), lon=lon, lat=lat, z=z,
            building=_opt(rec.get("building")),
            floor=int(floor) if floor is not None else None,
            room=_opt(rec.get("room")),
            cameras=tuple(str(c).strip() for c in (cams or [])),
            risk_unit=_opt(rec.get("risk_unit")),
            props=dict(rec.get("props") or {}),
        ))
    return out


class DeviceRegistry:
    """Devices of many campuses, by id. Ids are unique within a campus; an id used in two
    campuses needs the campus to be named."""

    def __init__(self, campuses: Iterable[Campus] = ()) -> None:
        self._by_id: dict[str, list[Device]] = {}
        # each campus's device ids, so that removing one campus touches only its own
        # devices (scanning every device per campus made indexing N campuses O(N²))
        self._ids_of: dict[str, list[str]] = {}
        for c in campuses:
            self.add_campus(c)

    def add_campus(self, campus: Campus, devices: Iterable[Device] | None = None) -> None:
        """(Re)index one campus's devices (``devices``: already read by
        :func:`devices_of`)."""
        self.remove_campus(campus.id)
        ids = self._ids_of[campus.id] = []
        for d in devices_of(campus) if devices is None else devices:
            self._by_id.setdefault(d.id, []).append(d)
            ids.append(d.id)

    def remove_campus(self, campus_id: str) -> None:
        for k in self._ids_of.pop(campus_id, ()):
            rest = [d for d in self._by_id.get(k, ()) if d.campus_id != campus_id]
            if rest:
                self._by_id[k] = rest
            else:
                self._by_id.pop(k, None)

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_id.values())

    def get(self, device_id: str, campus_id: str | None = None) -> Device:
        """The device, or a ValidationError naming ``device_id`` (unknown or ambiguous)."""
        found = self._by_id.get(device_id)
        if found and campus_id is not None:
            found = [d for d in found if d.campus_id == campus_id]
        if not found:
            where = f" in campus {campus_id!r}" if campus_id else ""
            raise ValidationError(
                f"unknown device {device_id!r}{where}; register it in the devices layer first",
                field="device_id",
            )
        if len(found) > 1:
            raise ValidationError(
                f"device {device_id!r} exists in campuses "
                f"{', '.join(d.campus_id for d in found)}; name the campus",
                field="device_id",
            )
        return found[0]

    def lookup(self, device_id: str) -> Device:
        """Like :meth:`get` but raises :class:`NotFound` (for the REST lookup)."""
        try:
            return self.get(device_id)
        except ValidationError as e:
            raise NotFound(e.message) from e


# --- import formats ------------------------------------------------------------------------

_CSV_ID = ("fid", "device_id", "id")


def read_devices_csv(source: str | Path, campus_id: str) -> gpd.GeoDataFrame:
    """Devices from CSV text or a file: columns ``device_id`` (or ``fid``/``id``), ``kind``,
    optional ``name``, ``lon``, ``lat`` (WGS-84), ``z``, ``building``, ``floor``, ``room``,
    ``cameras`` (``;``-separated fids) and ``risk_unit``; other columns go into props.

    Returns the validated layer (EPSG:4326); raises one ValidationError listing every bad
    row (1-based data rows) and field.
    """
    text = Path(source).read_text(encoding="utf-8-sig") if isinstance(source, Path) or (
        isinstance(source, str) and "\n" not in source and Path(source).exists()
    ) else str(source)
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None:
        raise ValidationError("the CSV has no header row", field="header")
    idcol = next((c for c in _CSV_ID if c in reader.fieldnames), None)
    if idcol is None:
        raise ValidationError("the CSV needs a device_id column", field="device_id")
    rows: list[dict[str, Any]] = []
    geoms: list[Any] = []
    errors: list[RowError] = []
    for i, rec in enumerate(reader, start=1):
        rec = {k: (v.strip() if isinstance(v, str) else v) for k, v in rec.items() if k}
        lon, lat, z = rec.pop("lon", "") or "", rec.pop("lat", "") or "", rec.pop("z", "") or ""
        geom = None
        if lon or lat:
            try:
                x, y = float(lon), float(lat)
                zz = float(z) if z else None
                if not all(math.isfinite(v) for v in (x, y, zz if zz is not None else 0.0)):
                    raise ValueError
            except ValueError:
                errors.append(RowError(i, "lon/lat", f"expected numbers, got {lon!r}, {lat!r}",
                                       rec.get(idcol)))
            else:
                geom = Point(x, y, zz) if zz is not None else Point(x, y)
        row: dict[str, Any] = {k: v for k, v in rec.items() if v not in ("", None)}
        row["fid"] = row.pop(idcol, None)
        cams = row.get("cameras")
        if isinstance(cams, str):
            row["cameras"] = [c.strip() for c in cams.replace(",", ";").split(";") if c.strip()]
        rows.append(row)
        geoms.append(geom)
    if errors:
        raise ValidationError(errors=errors, layer="devices")
    return _validated(_frame(rows, geoms), campus_id)


def read_devices_geojson(source: str | Path, campus_id: str) -> gpd.GeoDataFrame:
    """Devices from a GeoJSON FeatureCollection (file path or text): property ``device_id``
    (or ``fid``/``id``, or the feature ``id``) plus the CSV's columns; Point geometry
    (lon, lat[, z]) or null with building/floor."""
    text = Path(source).read_text(encoding="utf-8") if isinstance(source, Path) or (
        isinstance(source, str) and not source.lstrip().startswith("{")
    ) else str(source)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValidationError(f"not valid JSON: {e.msg} at line {e.lineno}", field="body") from e
    feats = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(feats, list):
        raise ValidationError("expected a FeatureCollection", field="features")
    from shapely.geometry import shape

    rows, geoms, errors = [], [], []
    for i, f in enumerate(feats, start=1):
        props = dict((f or {}).get("properties") or {})
        fid = next((props.pop(c) for c in _CSV_ID if c in props), None) or (f or {}).get("id")
        g = (f or {}).get("geometry")
        try:
            geom = shape(g) if g else None
        except Exception as e:  # noqa: BLE001 - shapely raises several types for bad input
            errors.append(RowError(i, "geometry", f"not a valid GeoJSON geometry: {e}", fid))
            geom = None
        props["fid"] = fid
        rows.append(props)
        geoms.append(geom)
    if errors:
        raise ValidationError(errors=errors, layer="devices")
    return _validated(_frame(rows, geoms), campus_id)


def _frame(rows: list[dict[str, Any]], geoms: list[Any]) -> gpd.GeoDataFrame:
    # object columns with None for blanks: a float column would turn them into NaN
    import pandas as pd

    keys = sorted({k for r in rows for k in r})
    df = pd.DataFrame([[r.get(k) for k in keys] for r in rows], columns=keys, dtype=object)
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"),
                            crs="EPSG:4326")


def _validated(gdf: gpd.GeoDataFrame, campus_id: str) -> gpd.GeoDataFrame:
    out, _ = validate_layer("devices", gdf, campus_id)
    errors: list[RowError] = []
    for i, rec in enumerate(out.to_dict("records"), start=1):
        g = rec["geometry"]
        if (g is None or g.is_empty) and not rec.get("building"):
            errors.append(RowError(i, "location",
                                   "give a point (lon, lat) or a building (with floor)",
                                   rec["fid"]))
    if errors:
        raise ValidationError(errors=errors, layer="devices")
    return out
