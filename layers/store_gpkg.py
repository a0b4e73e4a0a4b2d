"""The embedded store: one GeoPackage file per deployment (pip-only, no server).

Layout of the file
------------------
- one GeoPackage feature table per layer kind, named as the layer (``buildings``,
  ``pipes``, ...), holding every campus's rows (``campus_id`` column), with the standard
  GeoPackage R-tree spatial index. GIS tools (QGIS, ``ogrinfo``) open the file directly;
- ``xiaoan_campuses`` and ``xiaoan_records``: plain sqlite tables (not registered in
  ``gpkg_contents``, so GIS tools do not list them).

How it is written
-----------------
pyogrio (its bundled GDAL) creates the layer tables, so they carry everything GDAL and QGIS
expect: ``gpkg_contents``, ``gpkg_geometry_columns``, the ``rtree_<layer>_geom`` index and
its triggers. Rows are then written and read through Python's ``sqlite3`` on one
connection, because OGR offers no delete-by-key or upsert and its writes cannot join our
transaction: a ``write_layer`` (deletes for replace/upsert + inserts) and the records
tables must change in one sqlite transaction to be all-or-nothing. Geometries are stored as
standard GeoPackage binary (header with envelope + ISO WKB, Z kept); the ``ST_IsEmpty`` /
``ST_MinX`` ... functions the R-tree triggers call are registered on our connection.

Campuses and records live in the same file as the layers, not beside it: one connection,
guarded by a lock, does every read and write, and GDAL touches the file only when a layer
table is first created (on open, before that connection exists), so there is no second
writer to contend with; other processes (QGIS, a CLI import) are serialised by sqlite's
own file locking (busy timeout 30 s). One file is also what a user backs up or copies.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import struct
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import Conflict, NotFound, ValidationError
from layers.campus import CampusInfo
from layers.schema import LAYER_NAMES, schema_for, validate_campus_id, validate_layer
from layers.store import BBox, LayerWrite, Record, Rev, StaleRevision, Store, change_record, rev_of
from layers.store_rows import (
    campus_not_found,
    check_bbox,
    check_mode,
    check_records,
    check_where,
    column_kinds,
    dumps,
    frame_from_rows,
    latest_by_key,
    layer_rows,
    note_seqs,
    taken_conflict,
    to_utc,
)

__all__ = ["GeoPackageStore"]

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())

CAMPUS_TABLE = "xiaoan_campuses"
RECORD_TABLE = "xiaoan_records"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_CHUNK = 500  # ids per IN (...) list, well under sqlite's parameter limit

_SQL_TYPES = {"str": "TEXT", "float": "REAL", "int": "INTEGER", "bool": "BOOLEAN",
              "json": "TEXT"}  # the GeoPackage column types GDAL itself writes
_DTYPES = {"str": object, "float": "float64", "int": "int64", "bool": "bool", "json": object}


# --- GeoPackage geometry binary -----------------------------------------------------------

def _blobs(geoms: Sequence[Any]) -> list[bytes | None]:
    """GeoPackage geometry blobs (SRS 4326, xy envelope, ISO WKB keeping Z)."""
    if not len(geoms):
        return []
    arr = np.empty(len(geoms), dtype=object)
    arr[:] = list(geoms)
    wkbs = shapely.to_wkb(arr, output_dimension=3, flavor="iso", byte_order=1)
    bounds = shapely.bounds(arr)
    out: list[bytes | None] = []
    for g, w, (x0, y0, x1, y1) in zip(arr, wkbs, bounds, strict=True):
        if g is None:
            out.append(None)
        elif g.is_empty:
            out.append(b"GP\x00\x11" + struct.pack("<i", 4326) + w)  # LE, empty, no envelope
        else:
            out.append(b"GP\x00\x03" + struct.pack("<i4d", 4326, x0, x1, y0, y1) + w)
    return out


_ENVELOPE_DOUBLES = {0: 0, 1: 4, 2: 6, 3: 6, 4: 8}


def _wkb_of(blob: bytes) -> bytes:
    """The WKB part of a GeoPackage geometry blob (any envelope, any writer)."""
    n = _ENVELOPE_DOUBLES.get((blob[3] >> 1) & 7, 0)
    return blob[8 + 8 * n:]


def _shapes(blobs: Sequence[bytes | None]) -> list[Any]:
    if not blobs:
        return []
    arr = np.empty(len(blobs), dtype=object)
    arr[:] = [None if b is None else _wkb_of(b) for b in blobs]
    return list(shapely.from_wkb(arr))


def _st_is_empty(blob: bytes | None) -> int | None:
    return None if blob is None else (blob[3] >> 4) & 1


def _envelope(blob: bytes) -> tuple[float, float, float, float]:
    """(minx, maxx, miny, maxy) from the header, or computed from the WKB."""
    flags = blob[3]
    if (flags >> 1) & 7:
        return struct.unpack_from("<4d" if flags & 1 else ">4d", blob, 8)
    x0, y0, x1, y1 = shapely.bounds(shapely.from_wkb(_wkb_of(blob)))
    return x0, x1, y0, y1


def _st_bound(i: int):  # noqa: ANN202 - an sqlite scalar function
    def f(blob: bytes | None) -> float | None:
        return None if blob is None or _st_is_empty(blob) else _envelope(blob)[i]
    return f


# --- time ------------------------------------------------------------------------------

def _us(t: dt.datetime | None) -> int | None:
    return None if t is None else (t - _EPOCH) // dt.timedelta(microseconds=1)


def _time(us: int | None) -> dt.datetime | None:
    return None if us is None else _EPOCH + dt.timedelta(microseconds=us)


# --- creating the file -------------------------------------------------------------------

def _existing_layers(path: Path) -> set[str]:
    if not path.exists() or path.stat().st_size == 0:
        return set()
    con = sqlite3.connect(str(path), timeout=30)
    try:
        return {r[0] for r in con.execute(
            "SELECT table_name FROM gpkg_contents WHERE data_type = 'features'")}
    except sqlite3.DatabaseError as e:
        raise ValidationError(f"{path} is not a GeoPackage ({e})", field="path") from e
    finally:
        con.close()


def _create_layers(path: Path) -> None:
    """Create the missing layer tables with pyogrio (GDAL), empty."""
    import pyogrio

    existing = _existing_layers(path)
    for layer in (n for n in LAYER_NAMES if n not in existing):
        s = schema_for(layer)
        cols = {c: pd.Series([], dtype=_DTYPES[k]) for c, k in column_kinds(s)}
        gdf = gpd.GeoDataFrame(cols, geometry=gpd.GeoSeries([], crs="EPSG:4326"),
                               crs="EPSG:4326")
        pyogrio.write_dataframe(
            gdf, path, layer=layer, driver="GPKG", geometry_type="Unknown",
            promote_to_multi=False,
            # our text "fid" is a normal column; GDAL's integer key gets its own name
            layer_options={"FID": "gpkg_fid", "GEOMETRY_NAME": "geom",
                           "DESCRIPTION": s.title or layer},
        )


_template_bytes: bytes | None = None
_template_lock = threading.Lock()


def _template() -> bytes:
    """An empty GeoPackage with every layer, made once per process with pyogrio.

    Creating 15 layers through GDAL takes about half a second; a new store copies this
    file instead (tests and the demo open many fresh stores).
    """
    global _template_bytes
    with _template_lock:
        if _template_bytes is None:
            import tempfile

            with tempfile.TemporaryDirectory() as d:
                p = Path(d) / "template.gpkg"
                _create_layers(p)
                _template_bytes = p.read_bytes()
        return _template_bytes


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class GeoPackageStore(Store):
    """Store in one GeoPackage file (created on first open).

    Parameters
    ----------
    path
        The ``.gpkg`` file; its directory is created if needed.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.url = str(self.path)
        self._lock = threading.RLock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            self.path.write_bytes(_template())
        self._create_layers(self.path)  # layers added to the schema since the file was made
        self._conn = sqlite3.connect(str(self.path), timeout=30, isolation_level=None,
                                     check_same_thread=False)
        c = self._conn
        c.create_function("ST_IsEmpty", 1, _st_is_empty, deterministic=True)
        for i, name in enumerate(("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY")):
            c.create_function(name, 1, _st_bound(i), deterministic=True)
        with self._tx():
            self._create_tables()

    # set-up ------------------------------------------------------------------------------
    @staticmethod
    def _create_layers(path: Path) -> None:
        _create_layers(path)

    def _create_tables(self) -> None:
        c = self._conn
        for layer in LAYER_NAMES:
            t = _q(layer)
            # a field added to a layer schema since the file was made: add its column
            have = {r[1] for r in c.execute(f"PRAGMA table_info({t})")}
            for col, kind in column_kinds(schema_for(layer)):
                if col not in have:
                    c.execute(f"ALTER TABLE {t} ADD COLUMN {_q(col)} {_SQL_TYPES[kind]}")
            c.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {_q(layer + '_campus_fid')} "
                      f"ON {t} (campus_id, fid)")
        # geometries may be 2D or 3D: z "optional" (2) in GeoPackage terms
        c.execute("UPDATE gpkg_geometry_columns SET z = 2 WHERE z <> 2")
        c.execute(f"""CREATE TABLE IF NOT EXISTS {CAMPUS_TABLE} (
            id TEXT PRIMARY KEY, name TEXT NOT NULL, org_node TEXT, local_crs TEXT,
            props TEXT NOT NULL DEFAULT '{{}}', boundary BLOB, updated_us INTEGER NOT NULL)""")
        c.execute(f"""CREATE TABLE IF NOT EXISTS {RECORD_TABLE} (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL, id TEXT NOT NULL, campus_id TEXT, data TEXT NOT NULL,
            lon REAL, lat REAL, z REAL, time_us INTEGER, updated_us INTEGER NOT NULL,
            UNIQUE (kind, id))""")
        for name, cols in (("kind_seq", "kind, seq"), ("campus", "campus_id, kind, seq"),
                           ("time", "kind, time_us"), ("lonlat", "kind, lon, lat")):
            c.execute(f"CREATE INDEX IF NOT EXISTS {RECORD_TABLE}_{name} "
                      f"ON {RECORD_TABLE} ({cols})")

    @contextmanager
    def _tx(self, write: bool = True) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock, in one transaction (rolled back on error)."""
        with self._lock:
            c = self._conn
            c.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield c
            except BaseException:
                c.execute("ROLLBACK")
                raise
            c.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def ping(self) -> None:
        with self._tx(write=False) as c:
            c.execute("SELECT 1")

    # campuses ---------------------------------------------------------------------------
    def put_campus(self, info: CampusInfo) -> None:
        validate_campus_id(info.id, "id")
        with self._tx() as c:
            self._put_campus(c, info)
            self._note_change(c, info.id, None)

    @staticmethod
    def _put_campus(c: sqlite3.Connection, info: CampusInfo) -> None:
        boundary = None if info.boundary is None else shapely.to_wkb(info.boundary,
                                                                     output_dimension=3)
        c.execute(
            f"""INSERT INTO {CAMPUS_TABLE} (id, name, org_node, local_crs, props, boundary,
                updated_us) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET name = excluded.name,
                org_node = excluded.org_node, local_crs = excluded.local_crs,
                props = excluded.props, boundary = excluded.boundary,
                updated_us = excluded.updated_us""",
            (info.id, info.name, info.org_node, info.local_crs,
             dumps(dict(info.props or {}), "props"), boundary,
             _us(dt.datetime.now(dt.UTC))),
        )

    _CAMPUS_COLS = "id, name, boundary, org_node, local_crs, props"

    @staticmethod
    def _campus(row: tuple) -> CampusInfo:
        cid, name, boundary, org, crs, props = row
        return CampusInfo(cid, name, None if boundary is None else shapely.from_wkb(boundary),
                          org, crs, json.loads(props) if props else {})

    def get_campus(self, campus_id: str) -> CampusInfo:
        with self._tx(write=False) as c:
            row = c.execute(f"SELECT {self._CAMPUS_COLS} FROM {CAMPUS_TABLE} WHERE id = ?",
                            (campus_id,)).fetchone()
        if row is None:
            raise NotFound(f"no campus {campus_id!r}",
                           field="campus")
        return self._campus(row)

    def list_campuses(self) -> list[CampusInfo]:
        with self._tx(write=False) as c:
            rows = c.execute(f"SELECT {self._CAMPUS_COLS} FROM {CAMPUS_TABLE} ORDER BY id"
                             ).fetchall()
        return [self._campus(r) for r in rows]

    def delete_campus(self, campus_id: str) -> None:
        with self._tx() as c:
            self._require_campus(c, campus_id)
            for layer in LAYER_NAMES:
                c.execute(f"DELETE FROM {_q(layer)} WHERE campus_id = ?", (campus_id,))
                self._update_extent(c, layer)
            c.execute(f"DELETE FROM {RECORD_TABLE} WHERE campus_id = ?", (campus_id,))
            c.execute(f"DELETE FROM {CAMPUS_TABLE} WHERE id = ?", (campus_id,))
            self._note_change(c, campus_id, None)

    @staticmethod
    def _require_campus(c: sqlite3.Connection, campus_id: str) -> None:
        if c.execute(f"SELECT 1 FROM {CAMPUS_TABLE} WHERE id = ?", (campus_id,)).fetchone() \
                is None:
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
            prepared.append((w, rows, _blobs(geoms)))
        if campus is not None:
            validate_campus_id(campus.id, "id")
        try:
            with self._tx() as c:
                if campus is not None:
                    self._put_campus(c, campus)
                self._require_campus(c, campus_id)
                for w, rows, blobs in prepared:
                    self._write_one(c, campus_id, w, rows, blobs)
                if campus is not None:
                    self._note_change(c, campus.id, None)
                for layer in dict.fromkeys(w.layer for w in writes):
                    self._note_change(c, campus_id, layer)
        except sqlite3.IntegrityError as e:
            raise Conflict(f"a feature id is already taken ({e}); nothing was "
                           "written. Use mode 'upsert' to replace existing features.") from e
        return [len(rows) for _, rows, _ in prepared]

    def _write_one(self, c: sqlite3.Connection, campus_id: str, w: LayerWrite,
                   rows: list[dict[str, Any]], blobs: list[bytes | None]) -> None:
        t = _q(w.layer)
        fids = [r["fid"] for r in rows]
        gone = [str(f) for f in w.delete_fids]
        if w.mode == "replace":
            c.execute(f"DELETE FROM {t} WHERE campus_id = ?", (campus_id,))
        elif w.mode == "upsert":
            gone += fids
        elif w.mode == "append":
            taken: list[str] = []
            for chunk in _chunks(fids):
                taken += [r[0] for r in c.execute(
                    f"SELECT fid FROM {t} WHERE campus_id = ? AND fid IN "
                    f"({','.join('?' * len(chunk))})", (campus_id, *chunk))]
            if taken:
                raise taken_conflict(w.layer, sorted(taken))
        for chunk in _chunks(gone):
            c.execute(f"DELETE FROM {t} WHERE campus_id = ? AND fid IN "
                      f"({','.join('?' * len(chunk))})", (campus_id, *chunk))
        self._insert_rows(c, w.layer, rows, blobs)
        self._update_extent(c, w.layer)

    def _insert_rows(self, c: sqlite3.Connection, layer: str, rows: list[dict[str, Any]],
                     blobs: list[bytes | None]) -> None:
        if not rows:
            return
        kinds = column_kinds(schema_for(layer))
        names = ", ".join(["geom", *(_q(col) for col, _ in kinds)])
        sql = f"INSERT INTO {_q(layer)} ({names}) VALUES ({', '.join('?' * (len(kinds) + 1))})"

        def values() -> Iterator[tuple]:
            for row, blob in zip(rows, blobs, strict=True):
                yield (blob, *(_sql_value(row[col], k) for col, k in kinds))

        c.executemany(sql, values())

    @staticmethod
    def _update_extent(c: sqlite3.Connection, layer: str) -> None:
        """Keep gpkg_contents' extent and last_change current (GIS tools zoom to it)."""
        c.execute(
            f"""UPDATE gpkg_contents SET (min_x, min_y, max_x, max_y) =
                (SELECT min(minx), min(miny), max(maxx), max(maxy)
                 FROM {_q(f'rtree_{layer}_geom')}),
                last_change = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                WHERE lower(table_name) = lower(?)""",
            (layer,),
        )

    def _select(self, c: sqlite3.Connection, layer: str, campus_id: str, bbox: BBox | None,
                extra: str = "", params: tuple = (), order: bool = True) -> list[tuple]:
        s = schema_for(layer)
        t = _q(layer)
        cols = ", ".join([*(f"t.{_q(col)}" for col, _ in column_kinds(s)), "t.geom"])
        sql = f"SELECT {cols} FROM {t} t"
        args: list[Any] = []
        if bbox is not None:
            # candidates from the GeoPackage R-tree; the exact test follows in shapely
            # CROSS JOIN fixes the join order in sqlite: R-tree first, then rows by key.
            # (With a plain JOIN the planner walks the campus index and probes the R-tree
            # per row: 100x slower on 5,000 pipes.)
            sql = (f"SELECT {cols} FROM {_q(f'rtree_{layer}_geom')} r CROSS JOIN {t} t"
                   " ON t.gpkg_fid = r.id")
            sql += " WHERE r.minx <= ? AND r.maxx >= ? AND r.miny <= ? AND r.maxy >= ?"
            x0, y0, x1, y1 = bbox
            args += [x1, x0, y1, y0]
            sql += " AND t.campus_id = ?" + extra
        else:
            sql += " WHERE t.campus_id = ?" + extra
        args += [campus_id, *params]
        if order:
            sql += " ORDER BY t.fid"
        return c.execute(sql, args).fetchall()

    def _filtered(self, layer: str, campus_id: str, bbox: BBox | None,
                  limit: int | None = None, offset: int = 0) -> gpd.GeoDataFrame:
        bb = check_bbox(bbox)
        with self._tx(write=False) as c:
            rows = self._select(c, layer, campus_id, bb)
            if not rows:
                self._require_campus(c, campus_id)
        geoms = _shapes([r[-1] for r in rows])
        if bb is not None and rows:
            hit = shapely.intersects(np.array(geoms, dtype=object), shapely.box(*bb))
            rows = [r for r, h in zip(rows, hit, strict=True) if h]
            geoms = [g for g, h in zip(geoms, hit, strict=True) if h]
        start = max(int(offset or 0), 0)
        stop = None if limit is None else start + max(int(limit), 0)
        rows, geoms = rows[start:stop], geoms[start:stop]
        return frame_from_rows(layer, [r[:-1] for r in rows], geoms)

    def read_layer(
        self,
        campus_id: str,
        layer: str,
        bbox: BBox | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> gpd.GeoDataFrame:
        schema_for(layer)
        return self._filtered(layer, campus_id, bbox, limit, offset)

    def count(self, campus_id: str, layer: str, bbox: BBox | None = None) -> int:
        schema_for(layer)
        if bbox is not None:
            return len(self._filtered(layer, campus_id, bbox))
        with self._tx(write=False) as c:
            n = c.execute(f"SELECT count(*) FROM {_q(layer)} WHERE campus_id = ?",
                          (campus_id,)).fetchone()[0]
            if not n:
                self._require_campus(c, campus_id)
        return int(n)

    def extent(self, campus_id: str, layer: str) -> BBox | None:
        schema_for(layer)
        with self._tx(write=False) as c:
            row = c.execute(
                f"SELECT min(r.minx), min(r.miny), max(r.maxx), max(r.maxy) FROM {_q(layer)} t"
                f" JOIN {_q(f'rtree_{layer}_geom')} r ON r.id = t.gpkg_fid"
                " WHERE t.campus_id = ?", (campus_id,)).fetchone()
            if row[0] is None:
                self._require_campus(c, campus_id)
                return None
        return (float(row[0]), float(row[1]), float(row[2]), float(row[3]))

    def get_feature(self, campus_id: str, layer: str, fid: str) -> gpd.GeoDataFrame:
        schema_for(layer)
        with self._tx(write=False) as c:
            rows = self._select(c, layer, campus_id, None, " AND t.fid = ?", (str(fid),),
                                order=False)
            if not rows:
                self._require_campus(c, campus_id)
                raise NotFound(f"no feature {fid!r} in layer {layer!r} of campus {campus_id!r}",
                               field="fid")
        return frame_from_rows(layer, [r[:-1] for r in rows], _shapes([r[-1] for r in rows]))

    def campuses_with(self, layer: str, fid: str) -> list[str]:
        schema_for(layer)
        with self._tx(write=False) as c:
            rows = c.execute(f"SELECT DISTINCT campus_id FROM {_q(layer)} WHERE fid = ? "
                             "ORDER BY campus_id", (str(fid),)).fetchall()
        return [r[0] for r in rows]

    def delete_features(self, campus_id: str, layer: str, fids: Sequence[str]) -> int:
        schema_for(layer)
        n = 0
        with self._tx() as c:
            self._require_campus(c, campus_id)
            for chunk in _chunks([str(f) for f in fids]):
                n += c.execute(f"DELETE FROM {_q(layer)} WHERE campus_id = ? AND fid IN "
                               f"({','.join('?' * len(chunk))})", (campus_id, *chunk)).rowcount
            if n:
                self._update_extent(c, layer)
                self._note_change(c, campus_id, layer)
        return n

    def _note_change(self, c: sqlite3.Connection, campus_id: str, layer: str | None) -> None:
        """Move the (campus, layer) change record to the end of the feed, in the write's
        transaction (SQLite runs one writer at a time: seqs commit in order)."""
        rec = change_record(campus_id, layer)
        c.execute(f"DELETE FROM {RECORD_TABLE} WHERE kind = ? AND id = ?", (rec.kind, rec.id))
        self._insert_records(c, check_records([rec]), dt.datetime.now(dt.UTC), "")

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
        with self._tx() as c:  # BEGIN IMMEDIATE: no other writer between check and write
            stale = {}
            for kind, rid in expect:
                row = c.execute(f"SELECT json_extract(data, '$.rev'), json_extract(data, "
                                f"'$.rev_by') FROM {RECORD_TABLE} WHERE kind = ? AND id = ?",
                                (kind, rid)).fetchone()
                cur = rev_of(None if row is None else {"rev": row[0], "rev_by": row[1]})
                if cur != tuple(expect[(kind, rid)]):
                    stale[(kind, rid)] = cur
            if stale:
                raise StaleRevision(stale)
            if added:
                got = self._insert_records(c, added, now, "ON CONFLICT (kind, id) DO NOTHING")
                written = note_seqs(added, got, now, first_only=True)
            if replaced:
                # a replaced record gets a new seq: it moves to the end of the feed
                c.executemany(f"DELETE FROM {RECORD_TABLE} WHERE kind = ? AND id = ?",
                              [(r.kind, r.id) for r, _, _ in replaced])
                got = self._insert_records(c, replaced, now, "")
                note_seqs(checked[len(new):], got, now, first_only=False)
        return written

    #: Rows per multi-row INSERT (9 parameters each, well under SQLite's variable limit).
    _ROWS_PER_INSERT = 500

    def _insert_records(self, c: sqlite3.Connection,
                        rows: Sequence[tuple[Record, str, tuple | None]],
                        now: dt.datetime, conflict: str) -> dict[tuple[str, str], int]:
        """Multi-row INSERTs of ``rows`` in order; the seq of each row written, by key."""
        got: dict[tuple[str, str], int] = {}
        for i in range(0, len(rows), self._ROWS_PER_INSERT):
            chunk = rows[i:i + self._ROWS_PER_INSERT]
            args: list[Any] = []
            for rec, text, point in chunk:
                lon, lat, z = point if point else (None, None, None)
                args += [rec.kind, rec.id, rec.campus_id, text, lon, lat, z, _us(rec.time),
                         _us(now)]
            values = ",".join(["(?,?,?,?,?,?,?,?,?)"] * len(chunk))
            cur = c.execute(
                f"INSERT INTO {RECORD_TABLE} (kind, id, campus_id, data, lon, lat, z, "
                f"time_us, updated_us) VALUES {values} {conflict} RETURNING kind, id, seq",
                args)
            got.update(((k, rid), int(seq)) for k, rid, seq in cur.fetchall())
        return got

    _RECORD_COLS = "kind, id, data, campus_id, lon, lat, z, time_us, updated_us, seq"

    @staticmethod
    def _record(row: tuple) -> Record:
        kind, rid, data, campus_id, lon, lat, z, t, u, seq = row
        return Record(kind, rid, json.loads(data), campus_id, lon, lat, z, _time(t), _time(u),
                      int(seq))

    def get_record(self, kind: str, record_id: str) -> Record:
        with self._tx(write=False) as c:
            row = c.execute(f"SELECT {self._RECORD_COLS} FROM {RECORD_TABLE} "
                            "WHERE kind = ? AND id = ?", (kind, record_id)).fetchone()
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
        bb = check_bbox(bbox)
        w = check_where(where)
        since_u, until_u = to_utc(since, "since"), to_utc(until, "until")
        conds, args = ["kind = ?"], [kind]
        if campus_ids is not None:
            ids = list(campus_ids)
            if not ids:
                return []
            conds.append(f"campus_id IN ({','.join('?' * len(ids))})")
            args += ids
        if bb is not None:
            conds.append("lon >= ? AND lon <= ? AND lat >= ? AND lat <= ?")
            args += [bb[0], bb[2], bb[1], bb[3]]
        if since_u is not None:
            conds.append("time_us >= ?")
            args.append(_us(since_u))
        if until_u is not None:
            conds.append("time_us < ?")
            args.append(_us(until_u))
        if after_seq is not None:
            conds.append("seq > ?")
            args.append(int(after_seq))
        for k, v in w.items():
            path = f'$."{k}"'
            if v is None:
                conds.append("coalesce(json_type(data, ?), 'null') = 'null'")
                args.append(path)
            elif isinstance(v, bool):
                conds.append("json_type(data, ?) = ?")
                args += [path, "true" if v else "false"]
            elif isinstance(v, (int, float)):
                conds.append("json_type(data, ?) IN ('integer', 'real') "
                             "AND json_extract(data, ?) = ?")
                args += [path, path, v]
            else:
                conds.append("json_type(data, ?) = 'text' AND json_extract(data, ?) = ?")
                args += [path, path, v]
        sql = (f"SELECT {self._RECORD_COLS} FROM {RECORD_TABLE} WHERE {' AND '.join(conds)}"
               " ORDER BY seq LIMIT ? OFFSET ?")
        args += [-1 if limit is None else max(int(limit), 0), max(int(offset or 0), 0)]
        with self._tx(write=False) as c:
            rows = c.execute(sql, args).fetchall()
        return [self._record(r) for r in rows]

    def delete_records(self, kind: str, ids: Sequence[str]) -> int:
        n = 0
        with self._tx() as c:
            for chunk in _chunks([str(i) for i in ids]):
                n += c.execute(f"DELETE FROM {RECORD_TABLE} WHERE kind = ? AND id IN "
                               f"({','.join('?' * len(chunk))})", (kind, *chunk)).rowcount
        return n


def _sql_value(v: Any, kind: str) -> Any:
    if v is None:
        return None
    if kind == "json":
        return dumps(v, "props")
    if kind == "bool":
        return int(bool(v))
    return v


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i:i + _CHUNK]
