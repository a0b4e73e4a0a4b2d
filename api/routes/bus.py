"""School-bus dispatch over HTTP, under ``/api/v1/buses``.

- ``POST /{campus}/fixes``: one fix ``{"bus", "lon", "lat", "t", "route"?, "trip_start"?}``
  → 200 ``{"status": "accepted"|"duplicate", "bus": state}``; a bad fix (NaN, out of range,
  time going backwards, a different fix at the same time, unknown field or route) → 400
  problem naming the field, and the bus's state is unchanged. A batch ``{"fixes": [...]}``
  (at most 5,000) → 200 ``{"accepted", "duplicates", "rejected", "results": [{"index",
  "status", "errors"?}]}``: good fixes are applied in order, bad ones are flagged with their
  row and field and skipped.
- ``GET /{campus}``: live buses: position, matched road position, route progress, the next
  stops with ETAs, off-route state. ``GET /{campus}/{bus}``: one bus.
- ``GET /{campus}/{bus}/track?since=&until=``: the bus's fixes as GeoJSON with times.
- ``PUT /{campus}/network``: a GeoJSON FeatureCollection of directed road edges (``id``,
  ``from``, ``to``, optional ``oneway``, ``speed`` km/h) to map-match the buses onto.
- ``PUT /{campus}/routes/{route_id}``: a GeoJSON Feature (LineString) whose
  ``properties.stops`` lists ``{"stop_id", "lon", "lat", "name"?, "offset_s"?}`` in order.

Routes also come from the campus's ``bus_routes``/``bus_stops`` layers. Off-route and stop
arrival events are stored as records of kind ``event`` (``data.kind`` ``bus_off_route`` /
``bus_arrival``) through the events' journaled writer (so a database that is down loses
none) and so appear on the live feed. Engines live on the campus hub
(:func:`ingest.live.buses.bus_engine`), one per campus: a change to the campus's bus
routes or stops layers builds a new one; other layers leave the live buses alone.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from api.params import check_args, json_body, json_response
from api.routes.events import pipeline as events_pipeline
from api.service import current_service
from geo.errors import PayloadTooLarge, ValidationError
from ingest.live.buses import MAX_BATCH, BusEngine, bus_engine, parse_time

__all__ = ["bp", "engine"]

bp = Blueprint("buses", __name__, url_prefix="/api/v1/buses")


def engine(campus_id: str) -> BusEngine:
    """The campus's bus engine: built from its layers on first use and kept on the hub
    while its ``bus_routes`` and ``bus_stops`` stay as they are (404 for an unknown
    campus)."""
    return current_service().hub.derived(campus_id, bus_engine(events_pipeline().write_events))


@bp.post("/<campus_id>/fixes")
def post_fixes(campus_id: str) -> Response:
    check_args(set())
    eng = engine(campus_id)
    body = json_body(obj=False, max_items=MAX_BATCH, batch="fixes")
    if isinstance(body, dict) and "fixes" in body:
        fixes = body["fixes"]
        if not isinstance(fixes, list):
            raise ValidationError("fixes must be a list of fix objects", field="fixes")
        if len(fixes) > MAX_BATCH:
            raise PayloadTooLarge(f"at most {MAX_BATCH} fixes per request, got {len(fixes)}",
                                  field="fixes")
        results, _ = eng.ingest(fixes)
        counts = {s: sum(1 for r in results if r.status == s)
                  for s in ("accepted", "duplicate", "rejected")}
        return json_response({"accepted": counts["accepted"], "duplicates": counts["duplicate"],
                      "rejected": counts["rejected"],
                      "results": [r.to_dict() for r in results]})
    results, _ = eng.ingest([body])
    r = results[0]
    if r.status == "rejected":
        raise ValidationError(errors=r.errors)
    bus = str(body.get("bus", body.get("bus_id")))
    return json_response({"status": r.status, "bus": eng.state(bus)})


@bp.get("/<campus_id>")
def list_buses(campus_id: str) -> Response:
    check_args(set())
    eng = engine(campus_id)
    return json_response({"campus": campus_id, "buses": eng.states(),
                  "routes": sorted(eng.routes)})


@bp.get("/<campus_id>/<bus>")
def get_bus(campus_id: str, bus: str) -> Response:
    check_args({"next"})
    n = request.args.get("next", "3")
    try:
        k = int(n)
        if not 0 <= k <= 50:
            raise ValueError
    except ValueError:
        raise ValidationError("next must be an integer 0..50", field="next") from None
    return json_response(engine(campus_id).state(bus, k))


@bp.get("/<campus_id>/<bus>/track")
def get_track(campus_id: str, bus: str) -> Response:
    check_args({"since", "until"})
    since = request.args.get("since")
    until = request.args.get("until")
    doc = engine(campus_id).track_geojson(
        bus, None if since is None else parse_time(since, "since"),
        None if until is None else parse_time(until, "until"))
    return json_response(doc, mimetype="application/geo+json")


def _edges_doc(doc: dict[str, Any]) -> dict[str, Any]:
    """The shape a road network must have before it is read: objects where objects belong,
    ids that are text or numbers."""
    if not isinstance(doc.get("crs", {}), dict):
        raise ValidationError("must be a GeoJSON crs object", field="crs")
    feats = doc.get("features")
    for row, f in enumerate(feats if isinstance(feats, list) else [], start=1):
        if not isinstance(f, dict):
            raise ValidationError("each feature must be a GeoJSON Feature object",
                                  field="features", row=row)
        for key in ("properties", "geometry"):
            if f.get(key) is not None and not isinstance(f[key], dict):
                raise ValidationError("must be an object", field=key, row=row)
        props = f.get("properties") or {}
        for key, v in (("id", f.get("id")), *((k, props.get(k)) for k in ("id", "from", "to"))):
            if isinstance(v, (dict, list)):
                raise ValidationError("must be text or a number", field=key, row=row)
    return doc


@bp.put("/<campus_id>/network")
def put_network(campus_id: str) -> Response:
    from ingest.files.roads import edges_from_geojson

    check_args(set())
    eng = engine(campus_id)
    graph = edges_from_geojson(_edges_doc(json_body()))
    eng.set_network(graph)
    return json_response({"campus": campus_id, "edges": graph.n_edges, "nodes": graph.n_nodes,
                  "crs": graph.crs})


@bp.put("/<campus_id>/routes/<route_id>")
def put_route(campus_id: str, route_id: str) -> Response:
    check_args(set())
    eng = engine(campus_id)
    doc = json_body(obj=False)
    if not isinstance(doc, dict) or doc.get("type") != "Feature":
        raise ValidationError("send a GeoJSON Feature with a LineString", field="type")
    geom = doc.get("geometry")
    if not isinstance(geom, dict) or geom.get("type") != "LineString":
        raise ValidationError("the route must be a LineString", field="geometry")
    coords = geom.get("coordinates")
    try:
        ll = [(float(c[0]), float(c[1])) for c in coords]
    except (TypeError, ValueError, IndexError):
        raise ValidationError("coordinates must be [lon, lat] pairs",
                              field="geometry") from None
    if len(ll) < 2 or any(not (abs(a) <= 180 and abs(b) <= 90) for a, b in ll):
        raise ValidationError("needs 2 or more lon/lat points in range", field="geometry")
    props = doc.get("properties")
    if props is not None and not isinstance(props, dict):
        raise ValidationError("must be an object", field="properties")
    stops = (props or {}).get("stops") or []
    if not isinstance(stops, list):
        raise ValidationError("stops must be a list", field="stops")
    for i, s in enumerate(stops, start=1):
        if not isinstance(s, dict) or s.get("stop_id") is None:
            raise ValidationError("each stop needs a stop_id", field="stop_id", row=i)
        for k, lim in (("lon", 180), ("lat", 90)):
            v = s.get(k)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not abs(v) <= lim:
                raise ValidationError(f"must be a number in -{lim}..{lim}", field=k, row=i)
        off = s.get("offset_s")
        if off is not None and (isinstance(off, bool) or not isinstance(off, (int, float))):
            raise ValidationError("must be seconds after the trip start", field="offset_s",
                                  row=i)
    eng.add_route(route_id, ll, stops)
    r = eng.routes[route_id]
    return json_response({"route_id": route_id, "length_m": round(r.line.length, 1),
                  "stops": len(r.stop_ids)})
