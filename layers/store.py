"""The Store interface: the system of record for campuses, layers and records.

Two implementations honour the same contract (one test suite runs over both):

- :class:`layers.store_postgis.PostGISStore`, PostgreSQL + PostGIS through SQLAlchemy 2 and
  GeoAlchemy2, schema from the Alembic migrations in ``migrations/``;
- :class:`layers.store_gpkg.GeoPackageStore`, the embedded default: one GeoPackage file
  per deployment (pyogrio's bundled GDAL for layers, sqlite3 for records).

Layer writes are all-or-nothing: the rows are validated first (see
:func:`layers.schema.validate_layer`), then written in one transaction.

*Records* are the non-layer documents (events, incidents, hazards, audit entries, ...):
JSON documents keyed by ``(kind, id)`` with an optional point and time for queries.
``write_records(new, replace)`` is how idempotent ingest is done: events are inserted only
if absent, and the incident they update is replaced, in the same transaction.

*The change feed*: every ``put_campus``, ``delete_campus``, ``write_layer`` and
``delete_features`` also replaces, in the same transaction, one record of kind
:data:`CHANGE_KIND` per (campus, layer), which moves it to the end of the ``seq`` feed.
:meth:`Store.changes` reads the feed after a seq, so a running service sees the writes
another process made (see :mod:`ingest.live.hub`).

Use :func:`open_store` to get a store from a URL.
"""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd

from geo.errors import Conflict
from layers.campus import Campus, CampusInfo

__all__ = ["CHANGE_KIND", "LayerChange", "LayerWrite", "Record", "Rev", "StaleRevision", "Store",
           "change_record", "open_store", "redact_url"]

BBox = tuple[float, float, float, float]
#: A record's revision as compare-and-set sees it: ``(data["rev"], data["rev_by"])``
#: (``(0, None)`` for a record that is not there). ``rev_by`` names the process that made
#: that revision, so two processes that both go from rev 3 to 4 do not look alike.
Rev = tuple[int, str | None]


class StaleRevision(Conflict):
    """A compare-and-set write found records changed since the writer read them.

    ``current`` maps each stale ``(kind, id)`` to its stored :data:`Rev`; nothing was
    written. The writer re-reads those records and applies its change again.
    """

    def __init__(self, current: dict[tuple[str, str], Rev]) -> None:
        keys = ", ".join(f"{k}/{i}" for k, i in current)
        super().__init__(f"changed by another writer since it was read: {keys}; read it "
                         "again and retry")
        self.current = current


def rev_of(data: dict[str, Any] | None) -> Rev:
    """The :data:`Rev` of a record's data (``(0, None)`` for none)."""
    if data is None:
        return (0, None)
    rev = data.get("rev")
    by = data.get("rev_by")
    return (rev if isinstance(rev, int) and not isinstance(rev, bool) else 0,
            by if isinstance(by, str) else None)


@dataclass
class Record:
    """A JSON document of some ``kind`` with an id, optionally placed and timed."""

    kind: str
    id: str
    data: dict[str, Any]
    campus_id: str | None = None
    lon: float | None = None
    lat: float | None = None
    z: float | None = None
    time: dt.datetime | None = None  # UTC, aware
    updated_at: dt.datetime | None = None
    seq: int | None = field(default=None, compare=False)  # store-assigned, increasing


@dataclass
class LayerWrite:
    """One layer's part of :meth:`Store.write_layers`: validated rows to write with
    ``mode``, after deleting the campus's rows ``delete_fids`` of that layer.
    ``validated``: the rows are :func:`layers.schema.validate_layer`'s output for this
    campus already (the importer's), so the store does not validate them again."""

    layer: str
    gdf: gpd.GeoDataFrame
    mode: Literal["append", "replace", "upsert"] = "upsert"
    delete_fids: Sequence[str] = ()
    validated: bool = False


#: The record kind of the change feed: one record per (campus, layer), replaced on each write.
CHANGE_KIND = "layer_change"


@dataclass(frozen=True)
class LayerChange:
    """One entry of the change feed: ``layer`` of ``campus_id`` was written at ``seq``;
    ``layer`` None means the campus record itself (created, changed or deleted)."""

    seq: int
    campus_id: str
    layer: str | None


def change_record(campus_id: str, layer: str | None) -> Record:
    """The change-feed record a store writes with each write of ``layer`` (None: the
    campus record). It carries no ``campus_id`` so that deleting the campus keeps it."""
    return Record(CHANGE_KIND, f"{layer or '*'}@{campus_id}",
                  {"campus": campus_id, "layer": layer})


class Store(abc.ABC):
    """System of record. All methods are safe to call from several threads."""

    url: str

    # campuses ---------------------------------------------------------------------------
    @abc.abstractmethod
    def put_campus(self, info: CampusInfo) -> None:
        """Create or update a campus record."""

    @abc.abstractmethod
    def get_campus(self, campus_id: str) -> CampusInfo:
        """The campus, or :class:`geo.errors.NotFound`."""

    @abc.abstractmethod
    def list_campuses(self) -> list[CampusInfo]: ...

    @abc.abstractmethod
    def delete_campus(self, campus_id: str) -> None:
        """Delete a campus with all its layer rows and records."""

    # layers -----------------------------------------------------------------------------
    def write_layer(
        self,
        campus_id: str,
        layer: str,
        gdf: gpd.GeoDataFrame,
        mode: Literal["append", "replace", "upsert"] = "upsert",
    ) -> int:
        """Write validated rows (``schema.columns``, EPSG:4326) in one transaction.

        ``replace`` drops the campus's rows of that layer first; ``upsert`` replaces rows
        with the same fid; ``append`` fails on an existing fid. Returns rows written.
        Raises :class:`geo.errors.NotFound` for an unknown campus; nothing is written
        on any error.
        """
        return self.write_layers(campus_id, [LayerWrite(layer, gdf, mode)])[0]

    @abc.abstractmethod
    def write_layers(
        self, campus_id: str, writes: Sequence[LayerWrite], *, campus: CampusInfo | None = None
    ) -> list[int]:
        """Several layer writes, and with ``campus`` the campus record itself (created or
        updated), in one transaction.

        This is what makes an import all-or-nothing whatever stops it (an error, Ctrl-C,
        SIGTERM, a killed process): a new campus and its rows are committed together or
        not at all. Returns the rows written per write.
        """

    @abc.abstractmethod
    def read_layer(
        self,
        campus_id: str,
        layer: str,
        bbox: BBox | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> gpd.GeoDataFrame:
        """Rows of a layer (EPSG:4326, ordered by fid), filtered by a lon/lat bbox that
        intersects their geometry; ``schema.columns`` columns."""

    @abc.abstractmethod
    def count(self, campus_id: str, layer: str, bbox: BBox | None = None) -> int: ...

    @abc.abstractmethod
    def extent(self, campus_id: str, layer: str) -> BBox | None:
        """``(minx, miny, maxx, maxy)`` in EPSG:4326 of the layer's geometries on the
        campus, from the spatial index (nothing is read); None when none has geometry."""

    @abc.abstractmethod
    def get_feature(self, campus_id: str, layer: str, fid: str) -> gpd.GeoDataFrame:
        """One row as a one-row GeoDataFrame, or :class:`geo.errors.NotFound`."""

    def campuses_with(self, layer: str, fid: str) -> list[str]:
        """The campuses (id order) whose ``layer`` holds a feature ``fid``: how the live
        runtime finds a device's campus without reading every campus."""
        out = []
        for c in self.list_campuses():
            try:
                self.get_feature(c.id, layer, fid)
            except LookupError:
                continue
            out.append(c.id)
        return out

    @abc.abstractmethod
    def delete_features(self, campus_id: str, layer: str, fids: Sequence[str]) -> int: ...

    def load_campus(self, campus_id: str) -> Campus:
        """The campus with all its layers in memory."""
        from layers.schema import LAYER_NAMES

        info = self.get_campus(campus_id)
        return Campus(info, {name: self.read_layer(campus_id, name) for name in LAYER_NAMES})

    # records ----------------------------------------------------------------------------
    @abc.abstractmethod
    def write_records(self, new: Sequence[Record], replace: Sequence[Record] = ()) -> list[bool]:
        """In one transaction: store each of ``new`` unless a record with its
        ``(kind, id)`` is there already (the idempotency primitive: the first one stays),
        then store each of ``replace``, replacing any record with its ``(kind, id)``.

        Every record is checked first (one ValidationError lists the bad ones, nothing is
        written). Returns, per ``new`` record, whether it was written. Each record
        written gets a ``seq`` greater than any before it (a replaced record moves to
        the end of the feed) and ``updated_at``.
        """

    @abc.abstractmethod
    def write_records_cas(self, new: Sequence[Record], replace: Sequence[Record],
                          expect: Mapping[tuple[str, str], Rev]) -> list[bool]:
        """:meth:`write_records`, compare-and-set: in the same transaction, each
        ``(kind, id)`` of ``expect`` must still hold that :data:`Rev` (``(0, None)``: not
        there). Otherwise :class:`StaleRevision` names every stale key with its stored rev,
        and nothing is written."""

    def put_records(self, records: Sequence[Record], *, if_absent: bool = False) -> list[bool]:
        """Insert (or, unless ``if_absent``, replace) records in one transaction; per
        record, whether it was written (False: it existed and ``if_absent`` kept it)."""
        if if_absent:
            return self.write_records(records)
        self.write_records((), records)
        return [True] * len(records)

    @abc.abstractmethod
    def get_record(self, kind: str, record_id: str) -> Record:
        """The record, or :class:`geo.errors.NotFound`."""

    @abc.abstractmethod
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
        """Records of a kind, ordered by ``seq``; ``where`` matches top-level keys of
        ``data`` for equality; ``since``/``until`` filter ``time`` (inclusive/exclusive)."""

    @abc.abstractmethod
    def delete_records(self, kind: str, ids: Sequence[str]) -> int: ...

    # change feed ------------------------------------------------------------------------
    def changes(self, after_seq: int = 0, limit: int = 1000) -> list[LayerChange]:
        """The layers written after ``after_seq`` (oldest first, at most ``limit``): the
        latest write of each (campus, layer), so a reader that polls sees every layer that
        changed since its last poll. Writes commit in ``seq`` order (see the stores)."""
        return [LayerChange(int(r.seq or 0), str(r.data["campus"]), r.data.get("layer"))
                for r in self.query_records(CHANGE_KIND, after_seq=after_seq, limit=limit)]

    def change_head(self) -> int:
        """The seq of the latest change (0 when there is none): a reader starting now
        reads :meth:`changes` after it."""
        head, page = 0, 1000
        while True:
            got = self.changes(head, page)
            if got:
                head = got[-1].seq
            if len(got) < page:
                return head

    # lifecycle --------------------------------------------------------------------------
    def ping(self) -> None:  # noqa: B027 - optional hook
        """Raise :class:`geo.errors.Unavailable` if the store cannot be reached."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (for logs and messages)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a non-SQLAlchemy URL, e.g. a file path
        return url


def open_store(url: str | None = None, data_dir: str | None = None) -> Store:
    """Open the store at ``url``: ``postgresql+psycopg://...`` for PostGIS, else a
    GeoPackage path (default ``<data_dir>/xiaoan.gpkg``)."""
    if url and url.startswith("postgresql"):
        from layers.store_postgis import PostGISStore

        return PostGISStore(url)
    from pathlib import Path

    from layers.store_gpkg import GeoPackageStore

    if url and url.startswith("gpkg://"):
        url = url[len("gpkg://"):]
    path = Path(url) if url else Path(data_dir or "xiaoan-data") / "xiaoan.gpkg"
    return GeoPackageStore(path)
