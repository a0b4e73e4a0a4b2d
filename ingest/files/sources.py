"""Where an import's rows come from: which reader a file needs, and how it is named.

:func:`detect_format` tells GeoJSON/CityJSON, OSM, KRTD, EPANET, GTFS, CityGML and GDAL
files apart; :func:`read_source` reads one for a layer with the reader its format needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from geo.crs import CoordSys
from geo.errors import CRSError, ValidationError
from ingest.files.readers import Progress, ReadResult, read_geojson, read_ogr

__all__ = [
    "Source",
    "detect_format",
    "read_source",
    "check_krtd_options",
    "krtd_hint",
    "source_label",
    "source_name",
]


Source = str | Path | Sequence[str | Path]
"""A file, or (KRTD camera models only) directories and files."""


def detect_format(path: Source) -> str:
    """``json`` (GeoJSON or CityJSON), ``osm``, ``krtd`` (a ``.krtd`` file, a directory
    holding some, or several paths), ``epanet`` (``.inp``), ``gtfs`` (a zip or folder with
    ``stops.txt`` and ``trips.txt``) or ``ogr`` (GeoPackage, Shapefile, CityGML, ...)."""
    from ingest.files.krtd import is_krtd_path
    from ingest.files.osm import is_osm_path

    if not isinstance(path, (str, Path)):
        items = list(path)
        if len(items) != 1:
            return "krtd"  # only KRTD models come several at a time (checked when read)
        path = items[0]
    p = Path(path)
    name = p.name.lower()
    if is_krtd_path(p):
        return "krtd"
    from ingest.files.gtfs_layers import is_gtfs_path

    if name.endswith(".inp"):
        return "epanet"
    from ingest.files.citygml import is_citygml_path

    if is_citygml_path(p):
        return "citygml"
    if is_gtfs_path(p):
        return "gtfs"
    if is_osm_path(p):
        return "osm"
    if name.endswith((".json", ".geojson", ".cityjson")):
        return "json"
    return "ogr"


def read_source(
    path: Source,
    layer: str,
    *,
    crs: Any = None,
    coord_sys: str | None = None,
    source_layer: str | None = None,
    incomplete: str = "auto",
    geo_origin: str | Path | None = None,
    image_size: Sequence[int] | None = None,
    valves: str | Path | None = None,
    exclude: Any = None,
    per_camera: bool = True,
    progress: Progress | None = None,
) -> ReadResult | dict[str, ReadResult]:
    """Read ``path`` for ``layer`` with the reader its format needs.

    EPANET and GTFS give two layers at once (a dict by layer name); ``valves`` is an
    EPANET model's shut-off valve CSV.

    ``geo_origin`` and ``image_size`` are for KRTD camera models only (see
    :func:`ingest.files.krtd.read_krtd`); the other options do not apply to them.
    """
    fmt = detect_format(path)
    if fmt == "krtd":
        return _read_krtd(
            path,
            layer,
            crs=crs,
            coord_sys=coord_sys,
            source_layer=source_layer,
            incomplete=incomplete,
            geo_origin=geo_origin,
            image_size=image_size,
            exclude=exclude,
            per_camera=per_camera,
            progress=progress,
        )
    path = Path(path if isinstance(path, (str, Path)) else list(path)[0])
    if not path.exists():
        raise ValidationError(f"{path} does not exist", field="file")
    for name, flag, value in (
        ("geo_origin", "--geo-origin", geo_origin),
        ("image_size", "--image-size", image_size),
    ):
        if value is not None:
            what = (
                f"{path} holds no .krtd files"
                if path.is_dir()
                else f"{path.name} is not a KRTD camera model (.krtd)"
            )
            raise ValidationError(
                f"{flag} applies to KRTD camera models only, and {what}; drop {flag}", field=name
            )
    if (exclude is not None or not per_camera) and fmt != "krtd":
        raise ValidationError("--exclude and --per-file apply to KRTD camera models only",
                              field="exclude")
    if valves is not None and fmt != "epanet":
        raise ValidationError("--valves applies to EPANET models (.inp) only; drop it",
                              field="valves")
    if fmt == "epanet":
        from ingest.files.epanet_layers import read_epanet_layers

        return read_epanet_layers(path, crs=crs, coord_sys=coord_sys, valves=valves,
                                  progress=progress)
    if fmt == "citygml":
        from ingest.files.citygml import read_citygml

        if layer != "buildings":
            raise ValidationError(f"CityGML files provide the buildings layer, not {layer!r}",
                                  field="layer")
        return read_citygml(path, crs=crs, progress=progress)
    if fmt == "gtfs":
        from ingest.files.gtfs_layers import read_gtfs_layers

        return read_gtfs_layers(path, crs=crs, coord_sys=coord_sys, progress=progress)
    if fmt == "osm":
        from ingest.files.osm import read_osm

        if crs not in (None, ""):
            from geo.crs import parse_crs

            if parse_crs(crs).to_epsg() != 4326:
                raise CRSError(f"OSM data is always WGS-84 lon/lat; drop --crs {crs}", field="crs")
        if CoordSys.parse(coord_sys) not in (CoordSys.WGS84, CoordSys.CGCS2000):
            raise CRSError("OSM data is WGS-84; --coord-sys does not apply", field="coord_sys")
        return read_osm(path, layer, incomplete=incomplete, progress=progress)
    if fmt == "json":
        from ingest.files.readers import load_json

        doc = load_json(path)
        if isinstance(doc, dict) and doc.get("type") == "CityJSON":
            from ingest.files.cityjson import read_cityjson

            if layer != "buildings":
                raise ValidationError(
                    f"CityJSON files provide the buildings layer, not {layer!r}", field="layer"
                )
            if CoordSys.parse(coord_sys) is not CoordSys.WGS84:
                raise ValidationError("--coord-sys does not apply to CityJSON", field="coord_sys")
            return read_cityjson(path, crs=crs, progress=progress, doc=doc)
        return read_geojson(path, crs=crs, coord_sys=coord_sys, progress=progress, doc=doc)
    return read_ogr(
        path,
        target_layer=layer,
        source_layer=source_layer,
        crs=crs,
        coord_sys=coord_sys,
        progress=progress,
    )


def _read_krtd(
    path: Source,
    layer: str,
    *,
    crs: Any,
    coord_sys: str | None,
    source_layer: str | None,
    incomplete: str,
    geo_origin: str | Path | None,
    image_size: Sequence[int] | None,
    exclude: Any,
    per_camera: bool,
    progress: Progress | None,
) -> ReadResult:
    from ingest.files.krtd import read_krtd

    check_krtd_options(path, layer, crs, coord_sys, source_layer, incomplete)
    return read_krtd(path, geo_origin=geo_origin, image_size=image_size, exclude=exclude,
                     per_camera=per_camera, progress=progress)


def check_krtd_options(
    path: Source,
    layer: str,
    crs: Any,
    coord_sys: str | None,
    source_layer: str | None,
    incomplete: str,
) -> None:
    """Refuse, before anything is read, what does not fit KRTD camera models."""
    from ingest.files.krtd import krtd_files

    krtd_files(path)  # every path names .krtd files
    if layer != "cameras":
        raise ValidationError(
            f"KRTD files are camera models: they go into the cameras layer, not {layer!r}",
            field="layer",
        )
    for name, flag, value, default in (
        ("crs", "--crs", crs, None),
        ("coord_sys", "--coord-sys", coord_sys, None),
        ("source_layer", "--source-layer", source_layer, None),
        ("incomplete", "--incomplete", incomplete, "auto"),
    ):
        if value not in (default, ""):
            raise ValidationError(
                f"{flag} does not apply to KRTD camera models (their frame "
                f"is given by --geo-origin); drop {flag}",
                field=name,
            )


def krtd_hint(message: str) -> str:
    origin = (
        "--geo-origin (it holds 'latitude longitude altitude' of the origin of "
        "these cameras' frame)"
    )
    message = message.replace(
        "lat/lon look swapped (expected lon, lat order)",
        f"latitude and longitude look swapped in {origin}",
    )
    return message.replace("is the CRS right?", f"check {origin}")


def source_label(path: Source) -> str:
    if isinstance(path, (str, Path)):
        return str(path)
    items = [str(p) for p in path]
    return items[0] if len(items) == 1 else ", ".join(items)


def source_name(path: Source) -> str:
    if isinstance(path, (str, Path)):
        return Path(path).name
    items = list(path)
    return Path(items[0]).name if len(items) == 1 else f"the {len(items)} paths given"
