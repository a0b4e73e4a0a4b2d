"""The Campus: a campus's layers in memory, with spatial indexes and its local metric CRS.

A :class:`Campus` is what the live engine and the analyses work on. Layers are kept as
GeoDataFrames in EPSG:4326 (the storage CRS); :meth:`Campus.local` gives the same layer in
the campus's local metric CRS (cached), and each GeoDataFrame's ``sindex`` (an STRtree) is
the spatial index.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo.crs import local_crs_for, transformer
from geo.errors import NotFound
from layers.schema import LAYER_NAMES, empty_layer, schema_for, validate_campus_id

__all__ = ["Campus", "CampusInfo"]


@dataclass
class CampusInfo:
    """A campus record: id, name, boundary (EPSG:4326), org node and local CRS."""

    id: str
    name: str
    boundary: BaseGeometry | None = None
    org_node: str | None = None
    local_crs: str | None = None
    props: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_campus_id(self.id, "id")

    def resolved_local_crs(self) -> str:
        """The configured local CRS, or the UTM zone of the boundary's centre."""
        if self.boundary is None or self.boundary.is_empty:
            if self.local_crs:
                return self.local_crs
            raise NotFound(f"campus {self.id!r} has no boundary; cannot choose a local CRS")
        c = self.boundary.centroid
        return local_crs_for(c.x, c.y, self.local_crs)

    def time_zone(self) -> str:
        """The campus's IANA time zone: ``props["time_zone"]``, else the zone at the centre
        of its boundary (Asia/Shanghai for a campus in China), else ``UTC``."""
        from geo.timezones import FALLBACK, check_zone, zone_at

        if self.props.get("time_zone"):
            return check_zone(self.props["time_zone"], "props.time_zone")
        if self.boundary is None or self.boundary.is_empty:
            return FALLBACK
        c = self.boundary.centroid
        return zone_at(c.x, c.y)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "time_zone": self.time_zone(),
            "org_node": self.org_node,
            "local_crs": self.local_crs,
            "bbox": list(self.boundary.bounds) if self.boundary is not None else None,
            "props": self.props,
        }


def _reproject(geom: BaseGeometry, t: Any) -> BaseGeometry:
    has_z = bool(shapely.has_z(geom))

    def fn(coords: Any) -> Any:
        out = t.transform(*coords.T)
        return np.column_stack(out)

    return shapely.transform(geom, fn, include_z=has_z)


class Campus(Mapping[str, gpd.GeoDataFrame]):
    """A campus's layers, keyed by layer name (see :data:`layers.schema.LAYER_NAMES`).

    Missing layers read as empty GeoDataFrames with the layer's columns.

    Examples
    --------
    >>> campus = store.load_campus("hki")            # doctest: +SKIP
    >>> campus["buildings"].sindex.query(box)        # doctest: +SKIP
    >>> campus.local("buildings").area.sum()         # m², local metric CRS  # doctest: +SKIP
    """

    def __init__(self, info: CampusInfo, layers: Mapping[str, gpd.GeoDataFrame] | None = None):
        self.info = info
        self._layers: dict[str, gpd.GeoDataFrame] = {}
        self._local: dict[str, gpd.GeoDataFrame] = {}
        for name, gdf in (layers or {}).items():
            self.set_layer(name, gdf)
        self.crs = info.resolved_local_crs()

    @property
    def id(self) -> str:
        return self.info.id

    # Mapping protocol --------------------------------------------------------------------
    def __getitem__(self, layer: str) -> gpd.GeoDataFrame:
        schema_for(layer)
        gdf = self._layers.get(layer)
        if gdf is None:
            gdf = self._layers[layer] = empty_layer(layer)
        return gdf

    def __iter__(self) -> Iterator[str]:
        return iter(LAYER_NAMES)

    def __len__(self) -> int:
        return len(LAYER_NAMES)

    def set_layer(self, layer: str, gdf: gpd.GeoDataFrame) -> None:
        """Replace a layer (must be EPSG:4326); drops its cached local copy."""
        schema_for(layer)
        if gdf.crs is None or gdf.crs.to_epsg() != 4326:
            raise ValueError(f"layer {layer!r} must be in EPSG:4326 to be set on a Campus")
        self._layers[layer] = gdf.set_index("fid", drop=False) if "fid" in gdf else gdf
        self._local.pop(layer, None)

    def with_layers(self, layers: Mapping[str, gpd.GeoDataFrame],
                    info: CampusInfo | None = None) -> Campus:
        """A new campus with ``layers`` replaced (and ``info``, if given); the other layers
        and their local copies are shared, not copied. This campus is left as it was, so
        readers holding it keep a consistent view."""
        out = Campus.__new__(Campus)
        out.info = info if info is not None else self.info
        out.crs = out.info.resolved_local_crs()
        out._layers = dict(self._layers)
        out._local = dict(self._local) if out.crs == self.crs else {}
        for name, gdf in layers.items():
            out.set_layer(name, gdf)
        return out

    def local(self, layer: str) -> gpd.GeoDataFrame:
        """The layer in the campus's local metric CRS (cached until the layer changes)."""
        gdf = self._local.get(layer)
        if gdf is None:
            gdf = self._local[layer] = self[layer].to_crs(self.crs)
        return gdf

    # geometry conversion ------------------------------------------------------------------
    def to_local(self, geom: BaseGeometry) -> BaseGeometry:
        """A lon/lat geometry in the local metric CRS (Z kept)."""
        return _reproject(geom, transformer("EPSG:4326", self.crs))

    def to_wgs84(self, geom: BaseGeometry) -> BaseGeometry:
        """A local metric geometry back to lon/lat (Z kept)."""
        return _reproject(geom, transformer(self.crs, "EPSG:4326"))

    def xy_to_local(self, lon: Any, lat: Any) -> tuple[Any, Any]:
        return transformer("EPSG:4326", self.crs).transform(lon, lat)

    def xy_to_wgs84(self, x: Any, y: Any) -> tuple[Any, Any]:
        return transformer(self.crs, "EPSG:4326").transform(x, y)

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={len(v)}" for k, v in self._layers.items() if len(v))
        return f"<Campus {self.id!r} crs={self.crs} {counts}>"
