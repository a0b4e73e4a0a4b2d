"""Layer schemas: what each campus layer holds, and validation of incoming rows.

Every layer row has the common columns ``fid`` (unique within its campus and layer),
``campus_id``, ``name``, ``geometry`` (EPSG:4326 lon/lat, Z in metres) and ``props`` (a dict
of extra attributes kept as JSON), plus the typed fields its schema lists.

:func:`validate_layer` checks a whole GeoDataFrame and raises one
:class:`~geo.errors.ValidationError` listing every bad row (1-based row number, fid and
field), so that an import is all-or-nothing.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.validation import explain_validity

from geo.errors import CRSError, RowError, ValidationError
from geo.risk_levels import LEVELS

__all__ = [
    "Field",
    "LayerSchema",
    "SCHEMAS",
    "LAYER_NAMES",
    "COMMON_COLUMNS",
    "CAMPUS_ID_PATTERN",
    "schema_for",
    "validate_layer",
    "validate_campus_id",
    "validate_id",
    "validate_offset",
    "ID_MAX_CHARS",
    "OFFSET_MAX",
    "empty_layer",
]

CAMPUS_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\Z")  # \Z: no trailing newline
COMMON_COLUMNS = ("fid", "campus_id", "name", "props", "geometry")

UTILITIES = ("water", "gas", "power", "telecom", "sewer", "heat", "drain")
VALVE_STATUS = ("open", "closed", "inoperable")
RISK_LEVELS = LEVELS  # the four colours, defined once in geo.risk_levels
ORG_LEVELS = ("province", "city", "county", "school", "class", "family")


@dataclass(frozen=True)
class Field:
    """One typed attribute of a layer.

    ``kind`` is one of ``str``, ``float``, ``int``, ``bool``, ``json`` (any JSON value).
    """

    name: str
    kind: str = "str"
    required: bool = False
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    default: Any = None
    doc: str = ""


@dataclass(frozen=True)
class LayerSchema:
    """The schema of one layer kind."""

    name: str
    geometry_types: tuple[str, ...]
    fields: tuple[Field, ...] = ()
    geometry_required: bool = True
    doc: str = ""
    title: str = ""

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def columns(self) -> tuple[str, ...]:
        return ("fid", "campus_id", "name", *self.field_names, "props", "geometry")

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


_POLY = ("Polygon", "MultiPolygon")
_LINE = ("LineString", "MultiLineString")
_POINT = ("Point",)

SCHEMAS: dict[str, LayerSchema] = {
    s.name: s
    for s in [
        LayerSchema(
            "org_nodes",
            _POLY + _POINT,
            (
                Field("level", "str", required=True, choices=ORG_LEVELS),
                Field("parent_id", "str"),
            ),
            geometry_required=False,
            title="Organisation tree",
            doc="province → city → county → school; a campus belongs to a school node",
        ),
        LayerSchema(
            "campuses",
            _POLY,
            (
                Field("org_node", "str", doc="the school node this campus belongs to"),
                Field("local_crs", "str", doc="configured local metric CRS, e.g. EPSG:4547"),
            ),
            title="Campus boundaries",
        ),
        LayerSchema(
            "buildings",
            _POLY,
            (
                Field("height_m", "float", min=0.5, max=1000.0, doc="height above base, m"),
                Field("floors", "int", min=1, max=200),
                Field("floor_height_m", "float", min=1.5, max=20.0, default=3.0),
                Field("base_z", "float", min=-100.0, max=1000.0, default=0.0),
                Field("use", "str"),
            ),
            title="Buildings",
        ),
        LayerSchema(
            "rooms",
            _POLY,
            (
                Field("building", "str", required=True, doc="fid of the building"),
                Field("floor", "int", required=True, min=-10, max=200),
                Field("use", "str"),
            ),
            geometry_required=False,
            title="Rooms",
        ),
        LayerSchema(
            "roads",
            _LINE,
            (
                Field("kind", "str", choices=("road", "footway", "service", "path")),
                Field("highway", "str"),
                Field("oneway", "bool", default=False),
                Field("speed_kmh", "float", min=0.0, max=200.0),
                Field("from_node", "str"),
                Field("to_node", "str"),
            ),
            title="Roads and footways",
        ),
        LayerSchema(
            "pipes",
            _LINE,
            (
                Field("utility", "str", required=True, choices=UTILITIES),
                Field("diameter_m", "float", required=True, min=0.005, max=5.0),
                Field("depth_m", "float", required=True, min=0.0, max=50.0,
                      doc="depth of the crown below ground, m"),
                Field("material", "str"),
                Field("pressure_class", "str"),
                Field("from_node", "str"),
                Field("to_node", "str"),
            ),
            title="Underground pipes",
            doc="centreline Z (negative underground) plus depth_m to the crown",
        ),
        LayerSchema(
            "pipe_nodes",
            _POINT,
            (
                Field("kind", "str", required=True,
                      choices=("junction", "valve", "hydrant", "reservoir", "tank", "inlet",
                               "meter", "pump")),
                Field("utility", "str", choices=UTILITIES),
                Field("status", "str", choices=VALVE_STATUS, default="open"),
                Field("pipe", "str", doc="fid of the pipe a valve sits on"),
                Field("depth_m", "float", min=0.0, max=50.0),
            ),
            title="Pipe nodes and valves",
        ),
        LayerSchema(
            "risk_points",
            _POINT,
            (
                Field("category", "str"),
                Field("level", "str", choices=RISK_LEVELS),
                Field("building", "str"),
                Field("floor", "int", min=-10, max=200),
                Field("responsible", "str"),
            ),
            title="Risk points",
        ),
        LayerSchema(
            "risk_areas",
            _POLY,
            (
                Field("category", "str"),
                Field("level", "str", choices=RISK_LEVELS),
                Field("building", "str"),
                Field("floor", "int", min=-10, max=200),
                Field("responsible", "str"),
            ),
            title="Risk areas",
        ),
        LayerSchema(
            "cameras",
            _POINT,
            (
                Field("camera_type", "str", choices=("fixed", "dome", "ptz", "panoramic")),
                Field("mount_height_m", "float", min=0.0, max=300.0),
                Field("heading_deg", "float", min=0.0, max=360.0),
                Field("tilt_deg", "float", min=-90.0, max=90.0),
                Field("roll_deg", "float", min=-180.0, max=180.0, default=0.0),
                Field("hfov_deg", "float", min=0.1, max=179.9),
                Field("image_width", "int", min=16, max=20000),
                Field("image_height", "int", min=16, max=20000),
                Field("range_m", "float", min=1.0, max=5000.0),
            ),
            title="Cameras",
            doc="mount point; full model (intrinsics, distortion, PTZ limits) in props['model']",
        ),
        LayerSchema(
            "zones",
            _POLY + _LINE,
            (Field("kind", "str", required=True,
                   choices=("danger", "perimeter", "fence", "restricted", "assembly", "gate",
                            "other")),),
            title="Zones",
        ),
        LayerSchema(
            "devices",
            _POINT,
            (
                Field("kind", "str", required=True),
                Field("building", "str"),
                Field("floor", "int", min=-10, max=200),
                Field("room", "str"),
                Field("cameras", "json", doc="list of linked camera fids"),
                Field("risk_unit", "str"),
            ),
            geometry_required=False,
            title="Devices and sensors",
        ),
        LayerSchema(
            "bus_routes",
            _LINE,
            (Field("route_id", "str"), Field("short_name", "str")),
            title="Bus routes",
        ),
        LayerSchema(
            "bus_stops",
            _POINT,
            (Field("stop_id", "str"), Field("route_id", "str"),
             Field("sequence", "int", min=0, max=100000)),
            title="Bus stops",
        ),
        LayerSchema(
            "jurisdictions",
            _POLY,
            (
                Field("station", "str", required=True, doc="police station name"),
                Field("phone", "str"),
                Field("station_lon", "float", min=-180.0, max=180.0),
                Field("station_lat", "float", min=-90.0, max=90.0),
            ),
            title="Police jurisdictions",
        ),
        LayerSchema(
            "patrol_routes",
            _LINE,
            (
                Field("checkpoints", "json", required=True,
                      doc="checkpoint device fids (kind patrol_checkpoint) in walking order"),
                Field("rounds_per_day", "int", min=1, max=288, default=5,
                      doc="rounds required in the window (GB/T 29315-2022: >= 5 a day)"),
                Field("start", "str", default="00:00", doc="daily window start, local HH:MM"),
                Field("end", "str", default="24:00", doc="daily window end, local HH:MM"),
                Field("max_gap_min", "float", min=0.0, max=1440.0, default=15.0,
                      doc="minutes allowed between consecutive checkpoints"),
                Field("grace_min", "float", min=0.0, max=1440.0, default=10.0,
                      doc="minutes after a slot ends before a miss is raised"),
                Field("key_area", "str", doc="the key area the route guards, e.g. gate"),
                Field("guard", "str", doc="who walks it (name or role)"),
            ),
            geometry_required=False,
            title="Patrol routes",
        ),
        LayerSchema(
            "speakers",
            _POINT,
            (
                Field("radius_m", "float", min=1.0, max=2000.0, default=30.0,
                      doc="audible radius outdoors, m (clipped by buildings)"),
                Field("building", "str", doc="fid of the building it is inside, if indoors"),
                Field("floor", "int", min=-10, max=200),
                Field("zone", "str", doc="broadcast zone name"),
            ),
            title="Broadcast speakers",
        ),
    ]
}

LAYER_NAMES: tuple[str, ...] = tuple(SCHEMAS)


def schema_for(layer: str) -> LayerSchema:
    """The schema of ``layer``, or a ValidationError listing the valid names."""
    try:
        return SCHEMAS[layer]
    except KeyError:
        raise ValidationError(
            f"unknown layer {layer!r}; valid layers: {', '.join(LAYER_NAMES)}", field="layer"
        ) from None


def validate_campus_id(campus_id: Any, field: str = "campus") -> str:
    if not isinstance(campus_id, str) or not CAMPUS_ID_PATTERN.match(campus_id):
        raise ValidationError(
            f"campus id {campus_id!r} must be 1-64 lowercase letters, digits, '-' or '_'",
            field=field,
        )
    return campus_id


ID_MAX_CHARS = 256
# Paging offsets fit every store's integer (PostgreSQL's OFFSET is a bigint) with room to spare.
OFFSET_MAX = 1_000_000_000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def validate_id(value: Any, field: str = "id") -> str:
    """An identifier (feature, incident, hazard, bus, route ...): 1-256 characters of text
    without control characters (NUL included, which PostgreSQL cannot store).

    Examples
    --------
    >>> validate_id("way/123")
    'way/123'
    """
    if not isinstance(value, str) or not 0 < len(value) <= ID_MAX_CHARS:
        raise ValidationError(f"must be 1-{ID_MAX_CHARS} characters of text", field=field)
    if _CONTROL.search(value):
        raise ValidationError("must not contain control characters (NUL, tab, newline ...)",
                              field=field)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("must be valid Unicode text", field=field) from None
    return value


def validate_offset(value: int, field: str = "offset") -> int:
    """A paging offset in ``0..OFFSET_MAX``."""
    if not 0 <= value <= OFFSET_MAX:
        raise ValidationError(f"must be between 0 and {OFFSET_MAX}, got {value}", field=field)
    return value


def empty_layer(layer: str) -> gpd.GeoDataFrame:
    """An empty GeoDataFrame with the layer's columns, in EPSG:4326."""
    s = schema_for(layer)
    cols = {c: pd.Series([], dtype=object) for c in s.columns if c != "geometry"}
    return gpd.GeoDataFrame(cols, geometry=gpd.GeoSeries([], crs="EPSG:4326"), crs="EPSG:4326")


# --- validation -----------------------------------------------------------------------------


def _is_missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return False  # NaN is a bad value, not a missing one: reported as such
    try:
        return bool(pd.isna(v)) and not isinstance(v, float)
    except (TypeError, ValueError):
        return False


def _is_blank(v: Any) -> bool:
    """Missing, or NaN where a number is not expected (ids, names, free props)."""
    return _is_missing(v) or (isinstance(v, float) and math.isnan(v))


def _coerce(f: Field, v: Any) -> Any:
    """Coerce ``v`` to the field's kind or raise ValueError with a message."""
    if f.kind == "str":
        if isinstance(v, (str, int)) and not isinstance(v, bool):
            return str(v)
        raise ValueError(f"expected text, got {type(v).__name__} {v!r}")
    if f.kind in ("float", "int"):
        if isinstance(v, bool):
            raise ValueError(f"expected a number, got boolean {v!r}")
        if isinstance(v, str):
            x = _parse_text_number(f, v)
            if x is None:
                unit = " (a length: '12.5', '12.5 m', '300 mm', \"40'\")" \
                    if f.name.endswith("_m") else ""
                raise ValueError(f"expected a number{unit}, got text {v!r}")
            v = x
        if not isinstance(v, (int, float, np.integer, np.floating)):
            raise ValueError(f"expected a number, got {type(v).__name__} {v!r}")
        x = float(v)
        if not math.isfinite(x):
            raise ValueError(f"must be a finite number, got {v!r}")
        if f.kind == "int":
            if x != int(x):
                raise ValueError(f"expected a whole number, got {v!r}")
            x = int(x)
        if f.min is not None and x < f.min:
            raise ValueError(f"{x} is below the minimum {f.min}")
        if f.max is not None and x > f.max:
            raise ValueError(f"{x} is above the maximum {f.max}")
        return x
    if f.kind == "bool":
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        if isinstance(v, str) and v.lower() in ("yes", "true", "1", "no", "false", "0", "-1"):
            return v.lower() in ("yes", "true", "1", "-1")
        if isinstance(v, (int, np.integer)) and v in (0, 1):
            return bool(v)
        raise ValueError(f"expected true/false, got {v!r}")
    if f.kind == "json":
        if isinstance(v, str):
            try:
                return json.loads(v)
            except json.JSONDecodeError:
                return v
        return v
    raise AssertionError(f"unknown field kind {f.kind}")


def _parse_text_number(f: Field, v: str) -> float | None:
    """A number written as text, with the unit a field of this name may carry."""
    from layers.values import parse_length_m, parse_number, parse_speed_kmh

    if f.name.endswith("_m"):
        return parse_length_m(v)
    if f.name.endswith("_kmh"):
        return parse_speed_kmh(v)
    return parse_number(v)


def _check_choices(f: Field, v: Any) -> None:
    if f.choices is not None and v not in f.choices:
        raise ValueError(f"{v!r} is not one of: {', '.join(f.choices)}")


def _geometry_problem(geom: Any, s: LayerSchema) -> str | None:
    if geom is None or (isinstance(geom, float) and math.isnan(geom)):
        return "missing geometry" if s.geometry_required else None
    if geom.is_empty:
        return "empty geometry" if s.geometry_required else None
    if geom.geom_type not in s.geometry_types:
        return f"{geom.geom_type} is not allowed here; expected {' or '.join(s.geometry_types)}"
    coords = shapely.get_coordinates(geom, include_z=True)
    if not np.all(np.isfinite(coords[:, :2])):
        return "coordinates contain NaN or infinity"
    if coords.shape[1] == 3 and np.any(np.isinf(coords[:, 2])):
        return "Z contains infinity"
    lon, lat = coords[:, 0], coords[:, 1]
    if np.any(np.abs(lat) > 90) or np.any(np.abs(lon) > 180):
        if np.all(np.abs(lon) <= 90) and np.all(np.abs(lat) <= 180):
            return "latitude out of range: lat/lon look swapped (expected lon, lat order)"
        return "coordinates out of range for lon/lat degrees (is the CRS right?)"
    if not geom.is_valid:
        return f"invalid geometry: {explain_validity(geom)}"
    return None


def validate_layer(
    layer: str,
    gdf: gpd.GeoDataFrame,
    campus_id: str,
    *,
    expected_bounds: tuple[float, float, float, float] | None = None,
    skip_invalid: bool = False,
    row_offset: int = 1,
) -> tuple[gpd.GeoDataFrame, list[RowError]]:
    """Validate and normalise a layer.

    Parameters
    ----------
    layer
        Layer name (see :data:`LAYER_NAMES`).
    gdf
        Rows to validate; must have a CRS. Converted to EPSG:4326. Must have ``fid`` or
        it is numbered from the row; unknown columns go into ``props``.
    campus_id
        The campus the rows belong to.
    expected_bounds
        lon/lat box the data should fall into (the campus boundary, padded); rows whose
        geometry lies outside get an error that suggests swapped lat/lon where that fits.
    skip_invalid
        Drop bad rows and return them as the second value instead of raising.
    row_offset
        Row number of the first row (1-based features).

    Returns
    -------
    (clean GeoDataFrame in EPSG:4326 with exactly ``schema.columns``, skipped row errors)

    Raises
    ------
    ValidationError
        listing every bad row, when ``skip_invalid`` is false and any row is bad.
    """
    s = schema_for(layer)
    validate_campus_id(campus_id)
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise ValidationError("expected a GeoDataFrame", field="geometry")
    if gdf.crs is None:
        raise CRSError(
            "the data has no coordinate reference system; it is refused, never guessed. "
            "Give one (e.g. --crs EPSG:4326).",
            field="crs",
        )
    if len(gdf) and gdf.crs.to_epsg() != 4326:
        gdf = gdf.to_crs("EPSG:4326")
    gdf = gdf.reset_index(drop=True)
    geom_col = gdf.geometry.name
    errors: list[RowError] = []
    bad_rows: set[int] = set()
    out_rows: list[dict[str, Any]] = []
    known = set(s.field_names) | {"fid", "campus_id", "name", "props", geom_col, "geometry"}
    extra_cols = [c for c in gdf.columns if c not in known]
    records = gdf.to_dict("records")
    seen: dict[str, int] = {}
    for i, rec in enumerate(records):
        rowno = i + row_offset
        fid_raw = rec.get("fid")
        if _is_blank(fid_raw):
            fid = str(rowno)
        elif isinstance(fid_raw, float) and fid_raw == int(fid_raw):
            fid = str(int(fid_raw))
        else:
            fid = str(fid_raw)

        def err(fld: str, msg: str, _row: int = rowno, _fid: str = fid) -> None:
            errors.append(RowError(_row, fld, msg, _fid))
            bad_rows.add(_row)

        if fid in seen:
            err("fid", f"duplicate id; row {seen[fid]} has it too")
        seen.setdefault(fid, rowno)
        geom = rec.get(geom_col)
        problem = _geometry_problem(geom, s)
        if problem:
            err("geometry", problem)
        elif expected_bounds is not None and geom is not None and not geom.is_empty:
            minx, miny, maxx, maxy = expected_bounds
            gx0, gy0, gx1, gy1 = geom.bounds
            if gx1 < minx or gx0 > maxx or gy1 < miny or gy0 > maxy:
                swapped = minx <= gy0 and gy1 <= maxx and miny <= gx0 and gx1 <= maxy
                hint = (
                    "; lat/lon look swapped (expected lon, lat order)"
                    if swapped
                    else "; is the CRS right?"
                )
                err("geometry", f"lies outside the campus area{hint}")
        row: dict[str, Any] = {"fid": fid, "campus_id": campus_id}
        name = rec.get("name")
        row["name"] = None if _is_blank(name) else str(name)
        for f in s.fields:
            v = rec.get(f.name)
            if _is_missing(v) or (f.kind == "str" and _is_blank(v)):
                if f.required:
                    err(f.name, "is required")
                row[f.name] = f.default
                continue
            try:
                cv = _coerce(f, v)
                _check_choices(f, cv)
                row[f.name] = cv
            except ValueError as e:
                err(f.name, str(e))
                row[f.name] = None
        props = rec.get("props")
        if isinstance(props, str):
            try:
                props = json.loads(props)
            except json.JSONDecodeError:
                err("props", "is not valid JSON")
                props = {}
        props = dict(props) if isinstance(props, dict) else {}
        for c in extra_cols:
            v = rec.get(c)
            if _is_blank(v):
                continue
            props[c] = _jsonable(v)
        row["props"] = props
        row["geometry"] = geom if geom is not None and not problem else None
        out_rows.append(row)
    if errors and not skip_invalid:
        raise ValidationError(errors=errors, layer=layer)
    keep = [r for j, r in enumerate(out_rows) if (j + row_offset) not in bad_rows]
    table = (
        # object dtype keeps None for blank optional numbers (a float column would turn
        # them into NaN, which validation rightly rejects when the rows come back)
        pd.DataFrame(keep, columns=list(s.columns), dtype=object)
        if keep
        else empty_layer(layer).drop(columns="geometry")
    )
    for f in s.fields:
        if f.kind in ("float", "int") and len(table) and table[f.name].notna().all():
            table[f.name] = table[f.name].astype("float64" if f.kind == "float" else "int64")
    out = gpd.GeoDataFrame(
        table,
        geometry=gpd.GeoSeries([r["geometry"] for r in keep], crs="EPSG:4326"),
        crs="EPSG:4326",
    )
    return out[list(s.columns)], errors


def _jsonable(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if isinstance(v, (pd.Timestamp,)):
        return v.isoformat()
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, np.ndarray):
        return [_jsonable(x) for x in v.tolist()]
    return v


def iter_layer_names(names: Iterable[str]) -> list[str]:
    return [schema_for(n).name for n in names]
