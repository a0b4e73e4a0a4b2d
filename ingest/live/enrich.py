"""Geolocation and enrichment: where an event happened, and what a coordinator needs there.

:class:`Enricher` turns a validated :class:`~ingest.live.events.Event` into the *incident context*:
campus, building, floor, room, 3D position (:func:`geo.indoor.floor_level_z`: floor 1 is the
ground floor), zones
entered (danger, perimeter, ...), the risk level at the spot, the cameras that see it ranked
by pixel density (with the PTZ aim for PTZ cameras), responsible people, and the police
jurisdiction and station.

Everything that does not change between events is precomputed per campus in a
:class:`CampusIndex` (STRtrees and coordinate arrays), and the static part
of a device's context is computed once per device and cached, so a device event costs a dict
lookup plus the (dynamic) risk level.

Camera ranking and risk level are pluggable (:class:`CameraRanker`, :class:`RiskLevel`): by
default :func:`layers.cameras.cameras_seeing` (the camera models with occlusion) and
:func:`layers.risk.risk_level_at` (the four-colour map's units), the one definition of each.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import shapely
from shapely.geometry import Point
from shapely.strtree import STRtree

from geo.crs import transformer
from geo.errors import NotFound, ValidationError
from geo.indoor import floor_at_z, floor_level_z
from ingest.live.events import Event
from ingest.live.hub import CAMPUS, CampusHub, Derivation
from layers.cameras import camera_models, camera_problems, cameras_seeing
from layers.campus import Campus
from layers.devices import Device, DeviceRegistry, devices_of
from layers.risk import risk_level_at

__all__ = [
    "Enricher",
    "CampusIndex",
    "CAMPUS_INDEX",
    "CameraRanker",
    "RiskLevel",
]

#: Distance (m) within which a line zone (fence, perimeter line) counts as entered.
LINE_ZONE_BUFFER_M = 5.0
#: Events this far (m) outside a campus boundary still belong to it (gates, pavements).
CAMPUS_MARGIN_M = 30.0
#: Indoors, cameras that see the building's outside within this many metres are listed.
EXTERIOR_RADIUS_M = 25.0
EXTERIOR_SPACING_M = 5.0
EXTERIOR_SAMPLES = 6


class CameraRanker(Protocol):
    """``(campus, lon, lat, z, limit) -> [{"camera", "name", "pixel", "px_per_m",
    "distance_m", "dori", "ptz"}, ...]`` best first."""

    def __call__(self, campus: Campus, lon: float, lat: float, z: float = 0.0,
                 limit: int = 10) -> list[dict[str, Any]]: ...


class RiskLevel(Protocol):
    """``(campus, lon, lat, building, floor, open_alarm_units) -> {"level", "colour",
    "unit", "score"}``."""

    def __call__(self, campus: Campus, lon: float, lat: float, building: str | None = None,
                 floor: int | None = None,
                 open_alarm_units: Iterable[str] = ()) -> dict[str, Any]: ...


def _f(v: Any, default: float | None = None) -> float | None:
    if v is None:
        return default
    try:
        x = float(v)
    except (TypeError, ValueError):
        return default
    return x if math.isfinite(x) else default


class CampusIndex:
    """A campus's layers precomputed for enrichment, in its local metric CRS."""

    def __init__(self, campus: Campus) -> None:
        self.campus = campus
        self.id = campus.id
        self.crs = campus.crs
        info = campus.info
        self.boundary_ll = info.boundary
        self.boundary = campus.to_local(info.boundary) if info.boundary is not None else None
        if self.boundary is not None:
            self.boundary_padded = self.boundary.buffer(CAMPUS_MARGIN_M)
            shapely.prepare(self.boundary_padded)
        self.props = dict(info.props or {})
        self._build_buildings()
        self._build_rooms()
        self._build_zones()
        self._build_jurisdictions()
        self._build_cameras()
        self._build_risk()
        self.devices: dict[str, Device] = {d.id: d for d in devices_of(campus)}

    # --- construction ------------------------------------------------------------------
    def _local(self, layer: str) -> tuple[list[dict[str, Any]], np.ndarray]:
        gdf = self.campus[layer]
        if not len(gdf):
            return [], np.array([], dtype=object)
        loc = self.campus.local(layer)
        recs = gdf.drop(columns=gdf.geometry.name).to_dict("records")
        return recs, np.asarray(loc.geometry.values, dtype=object)

    def _build_buildings(self) -> None:
        recs, geoms = self._local("buildings")
        self.b_recs = recs
        self.b_geoms = geoms
        self.b_tree = STRtree(geoms) if len(geoms) else None
        self.b_index = {str(r["fid"]): i for i, r in enumerate(recs)}
        self.b_base = np.array([_f(r.get("base_z"), 0.0) for r in recs])
        self.b_fh = np.array([_f(r.get("floor_height_m"), 3.0) for r in recs])
        floors = [_f(r.get("floors")) for r in recs]
        height = [_f(r.get("height_m")) for r in recs]
        self.b_floors = [int(f) if f else None for f in floors]
        self.b_top = np.array([
            self.b_base[i] + (height[i] if height[i] is not None else
                              (floors[i] or 1) * self.b_fh[i])
            for i in range(len(recs))
        ])
        if len(geoms):
            shapely.prepare(geoms)
            self.b_centroid = shapely.get_coordinates(shapely.point_on_surface(geoms))
        else:
            self.b_centroid = np.zeros((0, 2))

    def _build_rooms(self) -> None:
        recs, geoms = self._local("rooms")
        self.rooms: dict[str, dict[str, Any]] = {}
        self.rooms_by_floor: dict[tuple[str, int], list[str]] = {}
        for r, g in zip(recs, geoms, strict=False):
            fid = str(r["fid"])
            poly = g if g is not None and not g.is_empty else None
            self.rooms[fid] = {"id": fid, "name": r.get("name"), "building": str(r["building"]),
                               "floor": int(r["floor"]), "geom": poly}
            self.rooms_by_floor.setdefault((str(r["building"]), int(r["floor"])), []).append(fid)

    def _build_zones(self) -> None:
        recs, geoms = self._local("zones")
        self.z_recs = recs
        self.z_geoms = geoms
        if len(geoms):
            # line zones (fences) count as entered within a few metres of the line
            areas = np.array([g.buffer(LINE_ZONE_BUFFER_M) if g.geom_type in
                              ("LineString", "MultiLineString") else g for g in geoms],
                             dtype=object)
            shapely.prepare(areas)
            self.z_areas = areas
            self.z_tree: STRtree | None = STRtree(areas)
        else:
            self.z_areas = geoms
            self.z_tree = None

    def _build_jurisdictions(self) -> None:
        recs, geoms = self._local("jurisdictions")
        self.j_recs = recs
        self.j_geoms = geoms
        self.j_tree = STRtree(geoms) if len(geoms) else None

    def _build_cameras(self) -> None:
        recs, _ = self._local("cameras")
        self.c_recs = recs
        self.c_index = {str(r["fid"]): i for i, r in enumerate(recs)}

    def _build_risk(self) -> None:
        recs, geoms = self._local("risk_areas")
        self.ra_recs = recs
        self.ra_geoms = geoms
        self.ra_tree = STRtree(geoms) if len(geoms) else None
        self.rp_by_unit: dict[tuple[str, int | None], list[dict[str, Any]]] = {}
        prs, pgeoms = self._local("risk_points")
        self.rp_recs = prs
        self.rp_geoms = pgeoms
        self.rp_tree = STRtree(pgeoms) if len(pgeoms) else None
        for r in prs:
            if r.get("building"):
                fl = _f(r.get("floor"))
                key = (str(r["building"]), int(fl) if fl is not None else None)
                self.rp_by_unit.setdefault(key, []).append(r)

    def risk_points_of(self, building: str, floor: int | None) -> list[dict[str, Any]]:
        """Risk points of a building floor, plus the building's floor-less ones."""
        out = list(self.rp_by_unit.get((building, None), []))
        if floor is not None:
            out += self.rp_by_unit.get((building, floor), [])
        return out

    # --- queries (local metric coordinates) ----------------------------------------------
    def to_local(self, lon: float, lat: float) -> tuple[float, float]:
        x, y = transformer("EPSG:4326", self.crs).transform(lon, lat)
        return float(x), float(y)

    def to_lonlat(self, x: float, y: float) -> tuple[float, float]:
        lon, lat = transformer(self.crs, "EPSG:4326").transform(x, y)
        return float(lon), float(lat)

    def contains(self, x: float, y: float) -> bool:
        return self.boundary is not None and bool(
            shapely.contains_xy(self.boundary_padded, x, y))

    def building_at(self, x: float, y: float) -> int | None:
        if self.b_tree is None:
            return None
        hits = self.b_tree.query(Point(x, y), predicate="intersects")
        if not len(hits):
            return None
        if len(hits) > 1:  # nested/overlapping footprints: the smallest is the most specific
            return int(min(hits, key=lambda i: self.b_geoms[i].area))
        return int(hits[0])

    def room_at(self, building: str, floor: int | None, x: float, y: float) -> str | None:
        if floor is None:
            return None
        for fid in self.rooms_by_floor.get((building, floor), ()):
            g = self.rooms[fid]["geom"]
            if g is not None and shapely.intersects_xy(g, x, y):
                return fid
        return None

    def zones_at(self, x: float, y: float) -> list[dict[str, Any]]:
        if self.z_tree is None:
            return []
        out = []
        for i in sorted(self.z_tree.query(Point(x, y), predicate="intersects")):
            r = self.z_recs[i]
            out.append({"id": str(r["fid"]), "kind": r.get("kind"), "name": r.get("name")})
        return out

    def jurisdiction_at(self, x: float, y: float) -> dict[str, Any] | None:
        if self.j_tree is None:
            return None
        hits = self.j_tree.query(Point(x, y), predicate="intersects")
        if not len(hits):
            return None
        r = self.j_recs[int(min(hits, key=lambda i: self.j_geoms[i].area))]
        return {
            "id": str(r["fid"]), "name": r.get("name"), "station": r.get("station"),
            "phone": r.get("phone"), "station_lon": _f(r.get("station_lon")),
            "station_lat": _f(r.get("station_lat")),
        }

    def exterior_samples(self, b: int, *, offset: float = 1.5,
                         spacing: float = EXTERIOR_SPACING_M) -> np.ndarray:
        """Ground points (n, 2) just outside building ``b``: ``offset`` m from its walls,
        every ``spacing`` m along them; local metres."""
        ring = self.b_geoms[b].buffer(offset, quad_segs=2).boundary
        n = max(1, int(ring.length // spacing))
        return shapely.get_coordinates(shapely.line_interpolate_point(
            ring, np.arange(n) * spacing))

    def responsible_at(self, x: float, y: float, building: int | None,
                       floor: int | None) -> list[dict[str, Any]]:
        people: list[dict[str, Any]] = []
        seen: set[tuple[str, str]] = set()

        def add(name: Any, role: str, source: str) -> None:
            if not name:
                return
            key = (str(name), role)
            if key not in seen:
                seen.add(key)
                people.append({"name": str(name), "role": role, "source": source})

        if building is not None:
            br = self.b_recs[building]
            props = br.get("props") or {}
            for key in ("responsible", "manager"):
                add(props.get(key), "building_manager", f"buildings/{br['fid']}")
            for r in self.risk_points_of(str(br["fid"]), floor):
                add(r.get("responsible"), "risk_owner", f"risk_points/{r['fid']}")
        if self.ra_tree is not None:
            for i in self.ra_tree.query(Point(x, y), predicate="intersects"):
                r = self.ra_recs[int(i)]
                add(r.get("responsible"), "risk_owner", f"risk_areas/{r['fid']}")
        for c in self.props.get("contacts") or []:
            if isinstance(c, dict) and c.get("role") in ("security", "security_chief",
                                                         "principal", "duty_officer"):
                add(c.get("name"), str(c["role"]), "campus")
        return people


#: A campus's :class:`CampusIndex`, cached on the hub's campus entry; rebuilt when one of
#: the layers it reads (or the campus record: boundary, contacts) changes.
CAMPUS_INDEX: Derivation[CampusIndex] = Derivation(
    "campus_index",
    frozenset({CAMPUS, "buildings", "rooms", "zones", "jurisdictions", "cameras",
               "risk_points", "risk_areas", "devices"}),
    lambda campus, store: CampusIndex(campus))


@dataclass
class _Spot:
    x: float
    y: float
    z: float
    building: int | None
    floor: int | None
    room: str | None


class Enricher:
    """Geolocates and enriches events over a set of campuses. Thread-safe for reads.

    The campus indexes come from a :class:`~ingest.live.hub.CampusHub` (``hub``): each is
    built on first use (an event for a campus not indexed yet builds that campus only) and
    dropped when a layer it reads changes. Without a hub, ``campuses`` are indexed once
    (tests, benchmarks) and :meth:`refresh` swaps one atomically.

    Parameters
    ----------
    campuses
        The campuses to serve, when there is no hub.
    hub
        The runtime's campuses (see :data:`CAMPUS_INDEX`).
    cameras, risk
        Override the camera ranker / risk level providers (see the protocols above).
    camera_limit
        Most cameras listed per incident.
    """

    def __init__(
        self,
        campuses: Iterable[Campus] = (),
        *,
        hub: CampusHub | None = None,
        cameras: CameraRanker | None = None,
        risk: RiskLevel | None = None,
        pixel_to_ground: Callable[[Campus, str, float, float], tuple[float, float, float]]
        | None = None,
        camera_limit: int = 5,
    ) -> None:
        self._lock = threading.RLock()
        self._hub = hub
        self._idx: dict[str, CampusIndex] = {}
        self._all = hub is None  # every campus of the hub installed
        # caches per campus (campus id -> key -> value): dropping one campus's entries
        # must not scan every campus's (that made indexing N campuses O(N²))
        self._static: dict[str, dict[str, dict[str, Any]]] = {}
        self._risk_cache: dict[str, dict[tuple[Any, frozenset[str]], dict[str, Any]]] = {}
        self._samples: dict[str, dict[int, np.ndarray]] = {}
        self._sample_cams: dict[str, dict[tuple[int, int], list[dict[str, Any]]]] = {}
        self.devices = DeviceRegistry()
        self.camera_limit = camera_limit
        self._cameras: CameraRanker = cameras if cameras is not None else cameras_seeing
        self._risk: RiskLevel = risk if risk is not None else risk_level_at
        self._pixel = pixel_to_ground if pixel_to_ground is not None else _pixel_to_ground
        self._btree: STRtree | None = None
        self._bids: list[str] = []
        self._b_owner: dict[str, list[str]] = {}
        self._c_owner: dict[str, list[str]] = {}
        for c in campuses:
            self._install(CampusIndex(c))
        self._rebuild_boundaries()
        if hub is not None:
            hub.subscribe(self._on_change)

    # --- campuses ------------------------------------------------------------------------
    def refresh(self, campus: Campus) -> None:
        """(Re)index one campus after its layers changed (without a hub)."""
        self._install(CampusIndex(campus))
        self._rebuild_boundaries()

    def remove(self, campus_id: str) -> None:
        self._uninstall(campus_id)
        self._rebuild_boundaries()

    def _install(self, idx: CampusIndex) -> None:
        with self._lock:
            self._drop_caches(idx.id)
            self._idx[idx.id] = idx
            self.devices.add_campus(idx.campus, idx.devices.values())
            for fid in idx.b_index:
                self._b_owner.setdefault(fid, []).append(idx.id)
            for fid in idx.c_index:
                self._c_owner.setdefault(fid, []).append(idx.id)

    def _uninstall(self, campus_id: str) -> None:
        with self._lock:
            ix = self._idx.pop(campus_id, None)
            self._drop_caches(campus_id)
            if ix is None:
                return
            self._all = self._hub is None
            self.devices.remove_campus(campus_id)
            for owners, fids in ((self._b_owner, ix.b_index), (self._c_owner, ix.c_index)):
                for fid in fids:
                    rest = [c for c in owners.get(fid, ()) if c != campus_id]
                    if rest:
                        owners[fid] = rest
                    else:
                        owners.pop(fid, None)

    def _drop_caches(self, campus_id: str) -> None:
        for cache in (self._static, self._risk_cache, self._samples, self._sample_cams):
            cache.pop(campus_id, None)

    def _on_change(self, campus_id: str, layers: frozenset[str] | None) -> None:
        """The hub's listener: forget what a change made stale (rebuilt on next use)."""
        if CAMPUS_INDEX.reads(layers):
            self._uninstall(campus_id)
        if layers is None:
            with self._lock:
                self._all = False
                self._rebuild_boundaries()

    def _rebuild_boundaries(self) -> None:
        if self._hub is not None:
            bounds = [(c.id, c.boundary) for c in self._hub.infos()]
        else:
            bounds = [(cid, ix.boundary_ll) for cid, ix in self._idx.items()]
        bounds = [(cid, b) for cid, b in bounds if b is not None]
        self._bids = [cid for cid, _ in bounds]
        self._btree = STRtree([b for _, b in bounds]) if bounds else None

    def _ix(self, campus_id: str) -> CampusIndex:
        """The campus's index: installed, or built through the hub now."""
        ix = self._idx.get(campus_id)
        if ix is not None:
            return ix
        if self._hub is None:
            raise KeyError(campus_id)
        ix = self._hub.derived(campus_id, CAMPUS_INDEX)
        with self._lock:
            if self._idx.get(campus_id) is not ix:
                self._uninstall(campus_id)
                self._install(ix)
                self._all = all(cid in self._idx for cid in self._hub.ids())
        return ix

    def _ensure_all(self) -> None:
        """Install every campus (a lookup by device, building or camera id alone needs
        them all to find the owner and to see an ambiguous id)."""
        if self._all or self._hub is None:
            return
        for cid in self._hub.ids():
            try:
                self._ix(cid)
            except NotFound:  # deleted meanwhile
                continue
        self._all = True

    def campus_ids(self) -> list[str]:
        return self._hub.ids() if self._hub is not None else sorted(self._idx)

    def knows(self, campus_id: str) -> bool:
        """Whether ``campus_id`` is one of the campuses served."""
        return self._hub.known(campus_id) if self._hub is not None else campus_id in self._idx

    def index(self, campus_id: str) -> CampusIndex:
        try:
            return self._ix(campus_id)
        except (KeyError, NotFound):
            raise ValidationError(f"unknown campus {campus_id!r}; known: "
                                  f"{', '.join(self.campus_ids()) or 'none'}",
                                  field="campus") from None

    def campus_at(self, lon: float, lat: float) -> CampusIndex:
        """The campus whose boundary (padded by a margin) holds lon/lat."""
        tree, bids = self._btree, self._bids
        if tree is not None:
            p = Point(lon, lat)
            hits = tree.query(p, predicate="intersects")
            if len(hits):
                return self.index(bids[int(hits[0])])
            # near a boundary: the margin is in metres, so test the nearest few locally
            for i in tree.query(p.buffer(0.001)):
                ix = self.index(bids[int(i)])
                if ix.contains(*ix.to_local(lon, lat)):
                    return ix
        raise ValidationError(
            f"({lon:.6f}, {lat:.6f}) lies outside every campus; check the coordinates "
            "(lon, lat order) and coord_sys", field="lon/lat")

    def _owner(self, owners: dict[str, list[str]], fid: str, campus: str | None,
               field: str, what: str) -> CampusIndex:
        if campus is not None:
            ix = self.index(campus)
            if fid not in (ix.b_index if owners is self._b_owner else ix.c_index):
                raise ValidationError(f"unknown {what} {fid!r} in campus {campus!r}",
                                      field=field)
            return ix
        self._ensure_all()
        found = owners.get(fid, [])
        if not found:
            raise ValidationError(f"unknown {what} {fid!r}", field=field)
        if len(found) > 1:
            raise ValidationError(f"{what} {fid!r} exists in campuses {', '.join(found)}; "
                                  "name the campus", field=field)
        return self.index(found[0])

    def device(self, device_id: str, campus_id: str | None) -> Device:
        """The device (its campus indexed), or a ValidationError naming ``device_id``."""
        if campus_id is None and not self._all and self._hub is not None:
            # not every campus is indexed yet (start-up, or just changed): ask the store
            # which campus holds the device, and index only that one
            found = self._hub.store.campuses_with("devices", device_id)
            if len(found) == 1:
                campus_id = found[0]
            elif len(found) > 1:
                raise ValidationError(f"device {device_id!r} exists in campuses "
                                      f"{', '.join(found)}; name the campus", field="device_id")
        if campus_id is not None:
            self.index(campus_id)
        return self.devices.get(device_id, campus_id)

    # --- geolocation -------------------------------------------------------------------------
    def _spot_from_xy(self, ix: CampusIndex, x: float, y: float, z: float | None,
                      floor: int | None, building_hint: int | None = None,
                      room: str | None = None) -> _Spot:
        b = building_hint if building_hint is not None else ix.building_at(x, y)
        if b is not None:
            base, fh = float(ix.b_base[b]), float(ix.b_fh[b])
            if floor is None:
                floor = floor_at_z(base, z, fh) if z is not None else 1
            if z is None:
                z = floor_level_z(base, floor, fh)
            if room is None:
                room = ix.room_at(str(ix.b_recs[b]["fid"]), floor, x, y)
        elif z is None:
            z = 0.0 if floor is None else floor_level_z(0.0, floor, 3.0)
        return _Spot(x, y, float(z), b, floor, room)

    def locate(self, ev: Event) -> tuple[CampusIndex, _Spot, Device | None]:
        """Where the event happened: its campus index, the spot, and the device if any.
        Raises a ValidationError naming the field for anything that cannot be placed."""
        if ev.form == "device":
            assert ev.device_id is not None
            dev = self.device(ev.device_id, ev.campus)
            ix = self.index(dev.campus_id)
            return ix, self._device_spot(ix, dev), dev
        if ev.form == "lonlat":
            assert ev.lon is not None and ev.lat is not None
            if ev.campus is not None:
                ix = self.index(ev.campus)
                x, y = ix.to_local(ev.lon, ev.lat)
                if not ix.contains(x, y):
                    raise ValidationError(f"({ev.lon:.6f}, {ev.lat:.6f}) lies outside campus "
                                          f"{ev.campus!r}", field="lon/lat")
            else:
                ix = self.campus_at(ev.lon, ev.lat)
                x, y = ix.to_local(ev.lon, ev.lat)
            return ix, self._spot_from_xy(ix, x, y, ev.z, ev.floor), None
        if ev.form == "building":
            assert ev.building is not None
            ix = self._owner(self._b_owner, ev.building, ev.campus, "building", "building")
            b = ix.b_index[ev.building]
            nf = ix.b_floors[b]
            if ev.floor is not None and nf is not None and not (-5 <= ev.floor <= nf):
                raise ValidationError(f"building {ev.building!r} has floors 1..{nf} "
                                      f"(1 = ground floor; basements -1, -2, ...; got "
                                      f"{ev.floor})", field="floor")
            x, y = (float(v) for v in ix.b_centroid[b])
            room = None
            if ev.room is not None:
                r = ix.rooms.get(ev.room)
                if r is None or r["building"] != ev.building:
                    raise ValidationError(f"unknown room {ev.room!r} in building "
                                          f"{ev.building!r}", field="room")
                room = ev.room
                if r["geom"] is not None:
                    c = r["geom"].representative_point()
                    x, y = c.x, c.y
            return ix, self._spot_from_xy(ix, x, y, None, ev.floor, b, room or ""), None
        assert ev.camera_id is not None and ev.pixel is not None
        ix = self._owner(self._c_owner, ev.camera_id, ev.campus, "camera_id", "camera")
        lon, lat, z = self._pixel(ix.campus, ev.camera_id, ev.pixel[0], ev.pixel[1])
        x, y = ix.to_local(lon, lat)
        return ix, self._spot_from_xy(ix, x, y, z, None), None

    def _device_spot(self, ix: CampusIndex, dev: Device) -> _Spot:
        b = ix.b_index.get(dev.building) if dev.building else None
        if dev.lon is not None and dev.lat is not None:
            x, y = ix.to_local(dev.lon, dev.lat)
        elif b is not None:
            x, y = (float(v) for v in ix.b_centroid[b])
            if dev.room and dev.room in ix.rooms and ix.rooms[dev.room]["geom"] is not None:
                c = ix.rooms[dev.room]["geom"].representative_point()
                x, y = c.x, c.y
        else:
            raise ValidationError(f"device {dev.id!r} has neither a point nor a building; "
                                  "fix it in the devices layer", field="device_id")
        return self._spot_from_xy(ix, x, y, dev.z, dev.floor, b, dev.room)

    # --- enrichment ----------------------------------------------------------------------
    def _static_context(self, ix: CampusIndex, spot: _Spot, dev: Device | None,
                        ev_form: str) -> dict[str, Any]:
        lon, lat = ix.to_lonlat(spot.x, spot.y)
        bdict = None
        bid: str | None = None
        if spot.building is not None:
            br = ix.b_recs[spot.building]
            bid = str(br["fid"])
            bdict = {"id": bid, "name": br.get("name"), "floors": ix.b_floors[spot.building],
                     "base_z": float(ix.b_base[spot.building]),
                     "floor_height_m": float(ix.b_fh[spot.building])}
        room = None
        if spot.room:
            r = ix.rooms.get(spot.room)
            room = {"id": spot.room, "name": r.get("name") if r else None}
        linked = dev.cameras if dev is not None else ()
        indoors = spot.building is not None and spot.z < float(ix.b_top[spot.building])
        # indoors the building's own walls hide the spot from every outdoor camera
        cams = [] if indoors else self._cameras(ix.campus, lon, lat, spot.z,
                                                limit=self.camera_limit)
        for c in cams:
            c["view"] = "spot"
        if spot.building is not None:
            # indoors the walls hide the spot: add the cameras that see the outside of
            # the building right next to it (where responders arrive)
            seen = {c["camera"] for c in cams}
            for c in self._exterior_cameras(ix, spot):
                if c["camera"] not in seen:
                    seen.add(c["camera"])
                    cams.append(dict(c))
        have = {c["camera"] for c in cams}
        for c in cams:
            c["linked"] = c["camera"] in linked
        for cid in linked:
            if cid not in have:
                cams.append({"camera": cid, "name": None, "pixel": None, "px_per_m": None,
                             "distance_m": None, "dori": None, "ptz": None, "linked": True,
                             "view": "linked"})
        cams.sort(key=lambda d: (not d["linked"], -(d.get("px_per_m") or 0.0)))
        cams = cams[: self.camera_limit]
        unit = (dev.risk_unit if dev is not None and dev.risk_unit else None) or (
            f"{bid}/{spot.floor}" if bid is not None else None)
        ctx: dict[str, Any] = {
            "campus": ix.id,
            "campus_name": ix.campus.info.name,
            "located_by": ev_form,
            "device": None if dev is None else {"id": dev.id, "kind": dev.kind,
                                                "name": dev.name},
            "building": bdict,
            "floor": spot.floor if spot.building is not None else None,
            "room": room,
            "position": {"lon": round(lon, 8), "lat": round(lat, 8), "z": round(spot.z, 3)},
            "zones": ix.zones_at(spot.x, spot.y),
            "cameras": cams,
            "responsible": ix.responsible_at(spot.x, spot.y, spot.building, spot.floor),
            "jurisdiction": ix.jurisdiction_at(spot.x, spot.y),
            "risk_unit": unit,
            "_xy": (spot.x, spot.y),  # local metres; dropped before the context is stored
        }
        return ctx

    def _exterior_cameras(self, ix: CampusIndex, spot: _Spot) -> list[dict[str, Any]]:
        """Cameras seeing the ground just outside the spot's building, nearest samples
        first; each sample point's answer is cached (many devices share a building)."""
        assert spot.building is not None
        b = spot.building
        mine = self._samples.setdefault(ix.id, {})
        samples = mine.get(b)
        if samples is None:
            samples = mine[b] = ix.exterior_samples(b)
        d = np.hypot(samples[:, 0] - spot.x, samples[:, 1] - spot.y)
        order = np.argsort(d)
        keep = [int(i) for i in order[:EXTERIOR_SAMPLES] if d[i] <= EXTERIOR_RADIUS_M]
        gz = float(ix.b_base[b])
        out: list[dict[str, Any]] = []
        cams = self._sample_cams.setdefault(ix.id, {})
        for i in keep or [int(order[0])]:
            key = (b, i)
            got = cams.get(key)
            if got is None:
                olon, olat = ix.to_lonlat(float(samples[i, 0]), float(samples[i, 1]))
                got = self._cameras(ix.campus, olon, olat, gz, limit=self.camera_limit)
                for c in got:
                    c["view"] = "exterior"
                    c["target"] = {"lon": olon, "lat": olat, "z": gz}
                cams[key] = got
            out.extend(got)
        return out

    def _risk_for(self, ix: CampusIndex, ctx: dict[str, Any],
                  open_units: Iterable[str]) -> dict[str, Any]:
        unit = ctx["risk_unit"]
        b = ctx["building"]["id"] if ctx["building"] else None
        p = ctx["position"]
        r = dict(self._risk(ix.campus, p["lon"], p["lat"], building=b,
                            floor=ctx["floor"], open_alarm_units=tuple(open_units)))
        r.setdefault("unit", unit)
        return r

    def enrich(self, ev: Event, open_units: Iterable[str] = ()) -> dict[str, Any]:
        """The incident context of one event (see the module docstring). ``open_units``
        are the risk units with an open alarm (they raise the dynamic risk level)."""
        ctx = self.context(ev)
        ctx["risk"] = self.risk(ctx, open_units)
        ctx.pop("_xy", None)
        ctx.pop("_key", None)
        return ctx

    def risk(self, ctx: dict[str, Any], open_units: Iterable[str] = ()) -> dict[str, Any]:
        """The (dynamic) risk level at the spot of a context from :meth:`context`.

        For a device context and a ``frozenset`` of open units the answer is cached: it
        only changes when the set of open alarm units does."""
        key = ctx.get("_key")
        if key is not None and isinstance(open_units, frozenset):
            ck = (key, open_units)
            cache = self._risk_cache.setdefault(key[0], {})
            hit = cache.get(ck)
            if hit is None:
                if len(cache) > 50_000:
                    cache.clear()
                hit = cache[ck] = self._risk_for(self.index(ctx["campus"]), ctx, open_units)
            return dict(hit)
        return self._risk_for(self.index(ctx["campus"]), ctx, open_units)

    def context(self, ev: Event) -> dict[str, Any]:
        """The incident context without the risk level (see :meth:`risk`)."""
        if ev.form == "device":
            assert ev.device_id is not None
            dev = self.device(ev.device_id, ev.campus)
            key = (dev.campus_id, dev.id)
            ix = self.index(dev.campus_id)
            ctx = self._static.get(dev.campus_id, {}).get(dev.id)
            if ctx is None:
                ctx = self._static_context(ix, self._device_spot(ix, dev), dev, "device")
                ctx["_key"] = key
                self._static.setdefault(dev.campus_id, {})[dev.id] = ctx
        else:
            ix, spot, dev = self.locate(ev)
            ctx = self._static_context(ix, spot, dev, ev.form)
        return dict(ctx)

    def warm(self, campus_id: str | None = None) -> int:
        """Precompute the static context of every device (of one campus, or all)."""
        n = 0
        for cid in [campus_id] if campus_id is not None else self.campus_ids():
            ix = self.index(cid)
            static = self._static.setdefault(cid, {})
            for dev in ix.devices.values():
                key = (cid, dev.id)
                if dev.id not in static:
                    try:
                        ctx = self._static_context(ix, self._device_spot(ix, dev), dev,
                                                   "device")
                    except ValidationError:
                        continue
                    ctx["_key"] = key
                    static[dev.id] = ctx
                    self.risk(ctx, frozenset())  # the risk with no alarm open, cached
                    n += 1
        return n


def _pixel_to_ground(campus: Campus, camera_id: str, u: float,
                     v: float) -> tuple[float, float, float]:
    """Pixel → ground point (lon, lat, z) through the camera layer's model of the camera."""
    model = dict(camera_models(campus)).get(camera_id)
    if model is None:
        why = camera_problems(campus).get(camera_id)
        raise ValidationError(
            f"camera {camera_id!r} has no usable model ({why})" if why else
            f"unknown camera {camera_id!r}", field="camera_id")
    p = model.pixel_to_ground([[u, v]], z=0.0)[0]
    lon, lat = campus.xy_to_wgs84(float(p[0]), float(p[1]))
    return float(lon), float(lat), float(p[2])
