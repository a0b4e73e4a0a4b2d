"""The PostGIS store: PostgreSQL + PostGIS through SQLAlchemy 2 Core and GeoAlchemy2.

Selected with a ``postgresql+psycopg://`` URL (``XIAOAN_DATABASE_URL``). Opening the store
runs the Alembic migrations packaged in :mod:`migrations` up to ``head`` (under an advisory
lock, so two processes starting together do not race). Tables are created in the first
schema of the connection's ``search_path``; PostGIS may live in ``public``.

Spatial filters run in the database: ``geom && envelope`` (GiST) then ``ST_Intersects``.
Every method runs in its own transaction; the SQLAlchemy pool makes the store safe to use
from several threads.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import shapely
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert

from geo.errors import Conflict, NotFound, Unavailable
from layers.campus import CampusInfo
from layers.schema import schema_for, validate_campus_id, validate_layer
from layers.store import (
    BBox,
    LayerWrite,
    Record,
    Rev,
    StaleRevision,
    Store,
    change_record,
    redact_url,
    rev_of,
)
from layers.store_rows import (
    campus_not_found,
    check_bbox,
    check_mode,
    check_records,
    check_where,
    dumps,
    frame_from_rows,
    latest_by_key,
    layer_rows,
    note_seqs,
    taken_conflict,
    to_utc,
)
from layers.tables import campuses, layer_table, records

__all__ = ["PostGISStore"]

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())

_WKB = sa.LargeBinary
_T = TypeVar("_T")
_RECORDS_LOCK = 0x7869616F7265  # advisory lock key serialising record writes
_CHANGES_LOCK = 0x786961636867  # ... and change-feed writes (see Store.changes)

# Records are written as one JSON array (one parameter and one statement however many
# rows; the documents go in as they are, with no escaping into SQL arrays), unpacked in
# order (WITH ORDINALITY keeps seq in the order given); the search_path names the schema.
_RECORD_ROWS = """
    INSERT INTO records (kind, id, campus_id, data, geom, time, updated_at)
    SELECT r.kind, r.id, r.campus, r.data,
           CASE WHEN r.lon IS NOT NULL
                THEN ST_SetSRID(ST_MakePoint(r.lon, r.lat, coalesce(r.z, 'NaN')), 4326) END,
           r.time, :now
    FROM ROWS FROM (jsonb_to_recordset(CAST(:rows AS jsonb)) AS (
            kind text, id text, campus text, data jsonb, lon float8, lat float8, z float8,
            time timestamptz)) WITH ORDINALITY AS r(kind, id, campus, data, lon, lat, z, time, n)
    ORDER BY r.n
"""
_INSERT_NEW = sa.text(_RECORD_ROWS + """
    ON CONFLICT (kind, id) DO NOTHING
    RETURNING kind, id, seq""")
# a replaced record gets a new seq: it moves to the end of the feed
_REPLACE = sa.text(_RECORD_ROWS + """
    ON CONFLICT (kind, id) DO UPDATE SET
        campus_id = excluded.campus_id, data = excluded.data, geom = excluded.geom,
        time = excluded.time, updated_at = excluded.updated_at,
        seq = nextval(pg_get_serial_sequence('records', 'seq'))
    RETURNING kind, id, seq""")

# the stored rev of each (kind, id) asked for (compare-and-set, see Store.write_records_cas)
_REVS = sa.text("""
    SELECT r.kind, r.id, CASE WHEN jsonb_typeof(r.data->'rev') = 'number'
                              THEN (r.data->>'rev')::bigint END, r.data->>'rev_by'
    FROM records r
    JOIN unnest(CAST(:kinds AS text[]), CAST(:ids AS text[])) AS k(kind, id)
      ON r.kind = k.kind AND r.id = k.id""")


def _ewkb(geom: Any) -> bytes | None:
    if geom is None:
        return None
    return shapely.to_wkb(shapely.set_srid(geom, 4326), output_dimension=3, include_srid=True)


def _geom_in(param: str) -> sa.ColumnElement:
    return sa.func.ST_GeomFromEWKB(sa.bindparam(param, type_=_WKB))


def _geom_out(col: sa.ColumnElement, label: str = "wkb") -> sa.ColumnElement:
    return sa.type_coerce(sa.func.ST_AsEWKB(col), _WKB).label(label)


def _is_connection_error(e: sa.exc.DBAPIError) -> bool:
    """Whether a DB error means the server cannot be reached (not a failing statement)."""
    if e.connection_invalidated:
        return True
    state = getattr(e.orig, "sqlstate", None)
    # no SQLSTATE: the client could not connect; 08: connection exception; 57P0x: shutdown
    return state is None or state.startswith("08") or state in ("57P01", "57P02", "57P03")


def _shape(b: Any) -> Any:
    return None if b is None else shapely.from_wkb(bytes(b))


def _any(col: sa.ColumnElement, values: Sequence[str]) -> sa.ColumnElement:
    """``col = ANY(:array)``: one array parameter however many values."""
    return col == sa.any_(sa.literal(list(values), type_=ARRAY(sa.Text)))


def _envelope(bbox: BBox) -> sa.ColumnElement:
    x0, y0, x1, y1 = bbox
    return sa.func.ST_MakeEnvelope(x0, y0, x1, y1, 4326)


def _bbox_filter(col: sa.ColumnElement, bbox: BBox) -> sa.ColumnElement:
    env = _envelope(bbox)
    return sa.and_(col.op("&&")(env), sa.func.ST_Intersects(col, env))


class PostGISStore(Store):
    """Store in PostgreSQL + PostGIS.

    Parameters
    ----------
    url
        ``postgresql+psycopg://user:password@host:port/db`` (``?options=-csearch_path%3D...``
        selects the schema).
    migrate
        Run the migrations up to ``head`` on open (default).

    Raises
    ------
    geo.errors.Unavailable
        when the database cannot be reached (the message hides the password).
    """

    def __init__(self, url: str, *, migrate: bool = True, connect_timeout: int = 10) -> None:
        self.url = url
        # No pool_pre_ping: it costs a round trip per call. A connection dropped by a
        # server restart fails one call (as Unavailable) and the pool then reconnects.
        self._engine = sa.create_engine(
            url,
            pool_recycle=1800,
            json_serializer=dumps,
            connect_args={"connect_timeout": connect_timeout},
        )
        # Reads run on a pool of autocommit connections: no BEGIN/ROLLBACK round trips
        # around a SELECT (an execution_options() copy of the engine would switch the
        # isolation level at every checkout, which costs round trips too).
        self._reader = sa.create_engine(
            url,
            pool_recycle=1800,
            isolation_level="AUTOCOMMIT",
            connect_args={"connect_timeout": connect_timeout},
        )
        if migrate:
            self.migrate()

    # lifecycle --------------------------------------------------------------------------
    def _unavailable(self, e: Exception) -> Unavailable:
        detail = str(getattr(e, "orig", None) or e).strip().splitlines()[0] if str(e) else ""
        pw = sa.engine.make_url(self.url).password
        if pw:
            detail = detail.replace(str(pw), "***")
        return Unavailable(
            f"cannot reach the PostGIS database at {redact_url(self.url)} ({detail}); "
            "check that the server is running and the URL is right"
        )

    def has_schema(self) -> bool:
        """Whether the connection's schema holds a xiaoan store (any migration applied)."""
        try:
            with self._reader.connect() as c:
                return c.execute(sa.text("SELECT to_regclass('alembic_version') IS NOT NULL "
                                         "AND to_regclass('records') IS NOT NULL")).scalar_one()
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as e:
            raise self._unavailable(e) from e

    def migrate(self) -> None:
        """Bring the schema to the newest migration (``alembic upgrade head``)."""
        from alembic import command

        from migrations import alembic_config

        try:
            with self._engine.begin() as conn:
                command.upgrade(alembic_config(connection=conn), "head")
        except sa.exc.OperationalError as e:
            raise self._unavailable(e) from e
        except sa.exc.InterfaceError as e:
            raise self._unavailable(e) from e

    def ping(self) -> None:
        try:
            with self._engine.connect() as c:
                c.execute(sa.text("SELECT 1"))
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as e:
            raise self._unavailable(e) from e

    def close(self) -> None:
        self._engine.dispose()
        self._reader.dispose()

    @contextmanager
    def _begin(self, lock: int | None = None) -> Iterator[sa.Connection]:
        """A connection in one transaction; connection failures become Unavailable.

        With ``lock``, the transaction first takes that advisory transaction lock; a pooled
        connection found dead by that first statement (nothing written yet) is replaced
        once by a fresh one.
        """
        try:
            if lock is None:
                with self._engine.begin() as c:
                    yield c
                return
            c, tx = self._locked(lock)
            with c, tx:
                yield c
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as e:
            if not _is_connection_error(e):
                raise
            raise self._unavailable(e) from e

    def _locked(self, lock: int) -> tuple[sa.Connection, sa.RootTransaction]:
        for attempt in (1, 2):
            c = self._engine.connect()
            try:
                tx = c.begin()
                c.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock})
                return c, tx
            except (sa.exc.OperationalError, sa.exc.InterfaceError) as e:
                c.close()
                if attempt == 1 and e.connection_invalidated:
                    log.info("write on a dropped database connection; retrying once")
                    continue
                raise
        raise AssertionError("unreachable")

    def _reading(self, fn: Callable[[sa.Connection], _T]) -> _T:
        """``fn(connection)`` on an autocommit connection for reads.

        A pooled connection the server has dropped (a restart, an idle backend ended)
        fails its first statement; SQLAlchemy then marks every older pooled connection
        stale. A read has no effect, so it is run once more on a fresh connection rather
        than failing a caller whose server is up: a feed polling with ``after_seq`` would
        otherwise see a dead poll. A second failure is :class:`Unavailable`.
        """
        for attempt in (1, 2):
            try:
                with self._reader.connect() as c:
                    return fn(c)
            except (sa.exc.OperationalError, sa.exc.InterfaceError) as e:
                if not _is_connection_error(e):
                    raise
                if attempt == 1 and e.connection_invalidated:
                    log.info("read on a dropped database connection; retrying once")
                    continue
                raise self._unavailable(e) from e
        raise AssertionError("unreachable")

    # campuses ---------------------------------------------------------------------------
    def put_campus(self, info: CampusInfo) -> None:
        validate_campus_id(info.id, "id")
        with self._begin() as c:
            self._put_campus(c, info)
            self._note_change(c, info.id, None)

    @staticmethod
    def _put_campus(c: sa.Connection, info: CampusInfo) -> None:
        values = {
            "id": info.id,
            "name": info.name,
            "org_node": info.org_node,
            "local_crs": info.local_crs,
            "props": dict(info.props or {}),
            "updated_at": dt.datetime.now(dt.UTC),
        }
        stmt = pg_insert(campuses).values(**values, boundary=_geom_in("boundary_wkb"))
        stmt = stmt.on_conflict_do_update(
            index_elements=[campuses.c.id],
            set_={k: stmt.excluded[k] for k in (*values, "boundary") if k != "id"},
        )
        c.execute(stmt, {"boundary_wkb": _ewkb(info.boundary)})

    def _campus_query(self) -> sa.Select:
        return sa.select(
            campuses.c.id, campuses.c.name, _geom_out(campuses.c.boundary),
            campuses.c.org_node, campuses.c.local_crs, campuses.c.props,
        )

    @staticmethod
    def _campus(row: Any) -> CampusInfo:
        return CampusInfo(row.id, row.name, _shape(row.wkb), row.org_node, row.local_crs,
                          dict(row.props or {}))

    def get_campus(self, campus_id: str) -> CampusInfo:
        q = self._campus_query().where(campuses.c.id == campus_id)
        row = self._reading(lambda c: c.execute(q).first())
        if row is None:
            raise NotFound(f"no campus {campus_id!r}",
                           field="campus")
        return self._campus(row)

    def list_campuses(self) -> list[CampusInfo]:
        q = self._campus_query().order_by(campuses.c.id)
        rows = self._reading(lambda c: c.execute(q).all())
        return [self._campus(r) for r in rows]

    def delete_campus(self, campus_id: str) -> None:
        with self._begin() as c:
            c.execute(sa.delete(records).where(records.c.campus_id == campus_id))
            # layer rows go with the campus (ON DELETE CASCADE)
            n = c.execute(sa.delete(campuses).where(campuses.c.id == campus_id)).rowcount
            if not n:
                raise NotFound(f"no campus {campus_id!r}", field="campus")
            self._note_change(c, campus_id, None)

    @staticmethod
    def _require_campus(c: sa.Connection, campus_id: str, lock: bool = False) -> None:
        q = sa.select(campuses.c.id).where(campuses.c.id == campus_id)
        if lock:  # keep the campus from being deleted under a running write
            q = q.with_for_update(read=True)
        if c.execute(q).first() is None:
            raise campus_not_found(campus_id)

    # layers -----------------------------------------------------------------------------
    def write_layers(
        self, campus_id: str, writes: Sequence[LayerWrite], *, campus: CampusInfo | None = None
    ) -> list[int]:
        prepared = []
        for w in writes:
            check_mode(w.mode)
            clean = w.gdf if w.validated else validate_layer(w.layer, w.gdf, campus_id)[0]
            rows, geoms = layer_rows(w.layer, clean)
            for row, g in zip(rows, geoms, strict=True):
                row["geom_wkb"] = _ewkb(g)
            prepared.append((w, rows))
        if campus is not None:
            validate_campus_id(campus.id, "id")
        try:
            with self._begin() as c:
                if campus is not None:
                    self._put_campus(c, campus)
                self._require_campus(c, campus_id, lock=True)
                for w, rows in prepared:
                    self._write_one(c, campus_id, w, rows)
                # last, all together: the feed's lock is held only from here to the commit
                if campus is not None:
                    self._note_change(c, campus.id, None)
                for layer in dict.fromkeys(w.layer for w in writes):
                    self._note_change(c, campus_id, layer)
        except sa.exc.IntegrityError as e:  # a concurrent append took an fid first
            raise Conflict(f"a feature id is already taken ({e.orig}); nothing was "
                           "written. Use mode 'upsert' to replace existing features.") from e
        return [len(rows) for _, rows in prepared]

    def _write_one(self, c: sa.Connection, campus_id: str, w: LayerWrite,
                   rows: list[dict[str, Any]]) -> None:
        t = layer_table(w.layer)
        fids = [r["fid"] for r in rows]
        gone = [str(f) for f in w.delete_fids]
        mine = t.c.campus_id == campus_id
        if w.mode == "replace":
            c.execute(sa.delete(t).where(mine))
        elif w.mode == "upsert":
            gone += fids
        elif w.mode == "append" and fids:
            taken = c.execute(sa.select(t.c.fid).where(
                mine, _any(t.c.fid, fids)).order_by(t.c.fid.collate("C"))
            ).scalars().all()
            if taken:
                raise taken_conflict(w.layer, taken)
        if gone:
            c.execute(sa.delete(t).where(mine, _any(t.c.fid, gone)))
        self._insert_rows(c, t, rows)

    def _insert_rows(self, c: sa.Connection, t: sa.Table, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        # the other columns come from the parameter dicts (executemany, batched)
        stmt = sa.insert(t).values(geom=_geom_in("geom_wkb"))
        for i in range(0, len(rows), 1000):
            c.execute(stmt, rows[i:i + 1000])

    def _layer_select(self, t: sa.Table, layer: str) -> sa.Select:
        cols = [t.c[c] for c in schema_for(layer).columns if c != "geometry"]
        return sa.select(*cols, _geom_out(t.c.geom))

    def _frame(self, layer: str, result: Sequence[Any]) -> gpd.GeoDataFrame:
        wkb = np.empty(len(result), dtype=object)
        wkb[:] = [None if r[-1] is None else bytes(r[-1]) for r in result]
        return frame_from_rows(layer, [r[:-1] for r in result], list(shapely.from_wkb(wkb)))

    def read_layer(
        self,
        campus_id: str,
        layer: str,
        bbox: BBox | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> gpd.GeoDataFrame:
        t = layer_table(schema_for(layer).name)
        bb = check_bbox(bbox)
        q = self._layer_select(t, layer).where(t.c.campus_id == campus_id)
        if bb is not None:
            q = q.where(_bbox_filter(t.c.geom, bb))
        q = q.order_by(t.c.fid.collate("C"))
        if limit is not None:
            q = q.limit(max(int(limit), 0))
        if offset:
            q = q.offset(max(int(offset), 0))

        def read(c: sa.Connection) -> Sequence[Any]:
            result = c.execute(q).all()
            if not result:
                self._require_campus(c, campus_id)
            return result

        return self._frame(layer, self._reading(read))

    def count(self, campus_id: str, layer: str, bbox: BBox | None = None) -> int:
        t = layer_table(schema_for(layer).name)
        bb = check_bbox(bbox)
        q = sa.select(sa.func.count()).select_from(t).where(t.c.campus_id == campus_id)
        if bb is not None:
            q = q.where(_bbox_filter(t.c.geom, bb))

        def read(c: sa.Connection) -> int:
            n = int(c.execute(q).scalar_one())
            if not n:
                self._require_campus(c, campus_id)
            return n

        return self._reading(read)

    def extent(self, campus_id: str, layer: str) -> BBox | None:
        t = layer_table(schema_for(layer).name)
        box = sa.func.ST_Extent(t.c.geom)
        q = sa.select(sa.func.ST_XMin(box), sa.func.ST_YMin(box), sa.func.ST_XMax(box),
                      sa.func.ST_YMax(box)).where(t.c.campus_id == campus_id)

        def read(c: sa.Connection) -> BBox | None:
            row = c.execute(q).one()
            if row[0] is None:
                self._require_campus(c, campus_id)
                return None
            return (float(row[0]), float(row[1]), float(row[2]), float(row[3]))

        return self._reading(read)

    def get_feature(self, campus_id: str, layer: str, fid: str) -> gpd.GeoDataFrame:
        t = layer_table(schema_for(layer).name)
        q = self._layer_select(t, layer).where(t.c.campus_id == campus_id, t.c.fid == str(fid))

        def read(c: sa.Connection) -> Sequence[Any]:
            result = c.execute(q).all()
            if not result:
                self._require_campus(c, campus_id)
                raise NotFound(f"no feature {fid!r} in layer {layer!r} of campus {campus_id!r}",
                               field="fid")
            return result

        return self._frame(layer, self._reading(read))

    def campuses_with(self, layer: str, fid: str) -> list[str]:
        t = layer_table(schema_for(layer).name)
        q = sa.select(t.c.campus_id).where(t.c.fid == str(fid)).distinct().order_by(
            t.c.campus_id)
        return [str(r) for r in self._reading(lambda c: c.execute(q).scalars().all())]

    def delete_features(self, campus_id: str, layer: str, fids: Sequence[str]) -> int:
        t = layer_table(schema_for(layer).name)
        ids = [str(f) for f in fids]
        with self._begin() as c:
            self._require_campus(c, campus_id)
            if not ids:
                return 0
            n = int(c.execute(sa.delete(t).where(
                t.c.campus_id == campus_id, _any(t.c.fid, ids))).rowcount)
            if n:
                self._note_change(c, campus_id, layer)
            return n

    def _note_change(self, c: sa.Connection, campus_id: str, layer: str | None) -> None:
        """Move the (campus, layer) change record to the end of the feed, last in the
        write's transaction. One change writer at a time (an advisory lock held to the
        commit), so change seqs become visible in order and a poller skips none; the lock
        is taken after the write's own work, so writes of different layers overlap."""
        c.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHANGES_LOCK})
        self._insert_records(c, _REPLACE, check_records([change_record(campus_id, layer)]),
                             dt.datetime.now(dt.UTC))

    # records ----------------------------------------------------------------------------
    def write_records(self, new: Sequence[Record], replace: Sequence[Record] = ()) -> list[bool]:
        return self.write_records_cas(new, replace, {})

    def write_records_cas(self, new: Sequence[Record], replace: Sequence[Record],
                          expect: Mapping[tuple[str, str], Rev]) -> list[bool]:
        checked = check_records([*new, *replace])
        now = dt.datetime.now(dt.UTC)
        added = checked[:len(new)]
        replaced = latest_by_key(checked[len(new):])
        written: list[bool] = []
        # One record writer at a time: seq values then become visible in commit order,
        # so a reader polling with after_seq never skips a seq that commits late. (The
        # lock is released after the commit is visible: PostgreSQL ends the transaction in
        # the proc array before it releases locks.)
        with self._begin(lock=_RECORDS_LOCK) as c:
            # under the records lock no other writer runs between this check and the write
            if expect:
                keys = list(expect)
                cur = {(k, i): rev_of({"rev": r, "rev_by": b}) for k, i, r, b in c.execute(
                    _REVS, {"kinds": [k for k, _ in keys], "ids": [i for _, i in keys]})}
                stale = {key: cur.get(key, (0, None)) for key in keys
                         if cur.get(key, (0, None)) != tuple(expect[key])}
                if stale:
                    raise StaleRevision(stale)
            if added:
                got = self._insert_records(c, _INSERT_NEW, added, now)
                written = note_seqs(added, got, now, first_only=True)
            if replaced:
                got = self._insert_records(c, _REPLACE, replaced, now)
                note_seqs(checked[len(new):], got, now, first_only=False)
        return written

    @staticmethod
    def _insert_records(c: sa.Connection, stmt: sa.TextClause,
                        rows: Sequence[tuple[Record, str, tuple | None]],
                        now: dt.datetime) -> dict[tuple[str, str], int]:
        """Run one multi-row statement over ``rows``; the seq of each row it wrote, by
        key."""
        parts = []
        for rec, text, point in rows:
            lon, lat, z = point if point else (None, None, None)
            meta = json.dumps({"kind": rec.kind, "id": rec.id, "campus": rec.campus_id,
                               "lon": lon, "lat": lat, "z": z,
                               "time": rec.time.isoformat() if rec.time else None})
            parts.append(f'{meta[:-1]},"data":{text}}}')
        res = c.execute(stmt, {"rows": "[" + ",".join(parts) + "]", "now": now})
        return {(k, i): int(seq) for k, i, seq in res}

    def _record_query(self) -> sa.Select:
        r = records
        return sa.select(
            r.c.kind, r.c.id, r.c.data, r.c.campus_id,
            sa.func.ST_X(r.c.geom).label("lon"), sa.func.ST_Y(r.c.geom).label("lat"),
            sa.func.ST_Z(r.c.geom).label("z"), r.c.time, r.c.updated_at, r.c.seq,
        )

    @staticmethod
    def _record(row: Any) -> Record:
        z = row.z
        return Record(
            kind=row.kind, id=row.id, data=row.data, campus_id=row.campus_id,
            lon=row.lon, lat=row.lat,
            z=None if z is None or math.isnan(z) else float(z),
            time=to_utc(row.time), updated_at=to_utc(row.updated_at), seq=int(row.seq),
        )

    def get_record(self, kind: str, record_id: str) -> Record:
        q = self._record_query().where(records.c.kind == kind, records.c.id == record_id)
        row = self._reading(lambda c: c.execute(q).first())
        if row is None:
            raise NotFound(f"no {kind} record {record_id!r}", field="id")
        return self._record(row)

    def query_records(
        self,
        kind: str,
        *,
        campus_ids: Sequence[str] | None = None,
        bbox: BBox | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        after_seq: int | None = None,
        where: dict[str, Any] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Record]:
        r = records
        bb = check_bbox(bbox)
        w = check_where(where)
        since_u, until_u = to_utc(since, "since"), to_utc(until, "until")
        q = self._record_query().where(r.c.kind == kind)
        if campus_ids is not None:
            q = q.where(_any(r.c.campus_id, campus_ids))
        if bb is not None:
            q = q.where(_bbox_filter(r.c.geom, bb))
        if since_u is not None:
            q = q.where(r.c.time >= since_u)
        if until_u is not None:
            q = q.where(r.c.time < until_u)
        if after_seq is not None:
            q = q.where(r.c.seq > int(after_seq))
        for k, v in w.items():
            if v is None:
                q = q.where(sa.or_(r.c.data[k].is_(None),
                                   r.c.data[k] == sa.cast(sa.literal("null"), JSONB)))
            else:
                # @> uses the GIN index; the -> equality makes the match exact
                q = q.where(r.c.data.contains(sa.cast(sa.literal(dumps({k: v})), JSONB)),
                            r.c.data[k] == sa.cast(sa.literal(dumps(v)), JSONB))
        q = q.order_by(r.c.seq)
        if limit is not None:
            q = q.limit(max(int(limit), 0))
        if offset:
            q = q.offset(max(int(offset), 0))
        rows = self._reading(lambda c: c.execute(q).all())
        return [self._record(row) for row in rows]

    def delete_records(self, kind: str, ids: Sequence[str]) -> int:
        ids = [str(i) for i in ids]
        if not ids:
            return 0
        with self._begin() as c:
            return int(c.execute(sa.delete(records).where(
                records.c.kind == kind, _any(records.c.id, ids))).rowcount)

