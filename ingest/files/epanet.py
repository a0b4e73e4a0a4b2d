"""EPANET ``.inp`` models and shut-off valve layers (CSV ``link,node``) → :mod:`geo.network`.

The parser reads the network sections of the EPANET 2.2 input format ([JUNCTIONS],
[RESERVOIRS], [TANKS], [PIPES], [PUMPS], [VALVES], [STATUS], [COORDINATES], [VERTICES]);
the other standard sections (curves, patterns, controls, options, ...) are recognised and
skipped, since topology and isolation do not need them. Any error names the line: an
unknown section, a row with too few fields, a number that is not one, a duplicate id, a link
to an unknown node.

The valve layer is WNTR's form: one row per shut-off valve, on ``link`` next to ``node``,
with an optional ``status`` (open, closed, inoperable) and ``id``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from geo.errors import RowError, ValidationError
from geo.network import PipeNetwork, ShutoffValves

__all__ = ["parse_inp", "read_inp", "parse_valve_csv", "read_valve_csv", "EpanetSyntaxError"]

_NETWORK = ("JUNCTIONS", "RESERVOIRS", "TANKS", "PIPES", "PUMPS", "VALVES", "STATUS",
            "COORDINATES", "VERTICES")
_SKIPPED = ("TITLE", "TAGS", "DEMANDS", "PATTERNS", "CURVES", "CONTROLS", "RULES", "ENERGY",
            "EMITTERS", "QUALITY", "SOURCES", "REACTIONS", "MIXING", "TIMES", "REPORT",
            "OPTIONS", "LABELS", "BACKDROP", "END", "LEAKAGE")
_VALVE_TYPES = ("PRV", "PSV", "PBV", "FCV", "TCV", "GPV", "PCV")


class EpanetSyntaxError(ValidationError):
    """A malformed ``.inp`` file; ``row`` is the 1-based line number."""


def _err(lineno: int, field: str, msg: str) -> EpanetSyntaxError:
    return EpanetSyntaxError(f"line {lineno}: {msg}", errors=[RowError(lineno, field, msg)],
                             line=lineno)


def _num(tok: str, lineno: int, field: str) -> float:
    try:
        v = float(tok)
    except ValueError:
        raise _err(lineno, field, f"{field} must be a number, got {tok!r}") from None
    if not np.isfinite(v):
        raise _err(lineno, field, f"{field} must be finite, got {tok!r}")
    return v


def parse_inp(text: str, *, crs: str | None = None) -> PipeNetwork:
    """Parse the text of an EPANET ``.inp`` file into a :class:`PipeNetwork`.

    Node kinds: ``junction``, ``reservoir``, ``tank``; link kinds: ``pipe`` (``cv`` pipes
    too), ``pump``, ``valve``. A link is closed in normal operation when its [PIPES] status
    or its [STATUS] entry says ``Closed``. Coordinates are kept as given (EPANET has no CRS;
    pass ``crs`` if you know it).

    Raises
    ------
    EpanetSyntaxError
        with the line number of the first problem.
    """
    section: str | None = None
    node_ids: list[str] = []
    node_kind: list[str] = []
    elev: list[float] = []
    node_line: dict[str, int] = {}
    links: list[tuple[str, str, str, str, int]] = []  # id, kind, n1, n2, line
    diam: list[float] = []
    length: list[float] = []
    closed: dict[str, bool] = {}
    link_line: dict[str, int] = {}
    status_rows: list[tuple[str, str, int]] = []
    coords: dict[str, tuple[float, float]] = {}
    coord_line: dict[str, int] = {}
    vertices: dict[str, list[tuple[float, float]]] = {}
    vertex_line: dict[str, int] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise _err(lineno, "section", f"section header {line!r} has no closing ']'")
            name = line[1:-1].strip().upper()
            if name not in _NETWORK and name not in _SKIPPED:
                raise _err(lineno, "section", f"unknown section [{name}]")
            section = name
            continue
        if section is None:
            raise _err(lineno, "section", "data before the first [SECTION] header")
        if section in _SKIPPED:
            continue
        tok = line.split()

        def need(k: int, what: str, _tok: list[str] = tok, _ln: int = lineno,
                 _sec: str = section) -> None:
            if len(_tok) < k:
                raise _err(_ln, _sec.lower(), f"[{_sec}] needs {what}; got {len(_tok)} "
                           f"field(s): {' '.join(_tok)!r}")

        if section in ("JUNCTIONS", "RESERVOIRS", "TANKS"):
            need({"JUNCTIONS": 2, "RESERVOIRS": 2, "TANKS": 7}[section],
                 {"JUNCTIONS": "ID Elevation [Demand Pattern]",
                  "RESERVOIRS": "ID Head [Pattern]",
                  "TANKS": "ID Elevation InitLevel MinLevel MaxLevel Diameter MinVol"}[section])
            nid = tok[0]
            if nid in node_line:
                raise _err(lineno, "id", f"node {nid!r} is defined twice "
                           f"(first on line {node_line[nid]})")
            e = _num(tok[1], lineno, "elevation" if section != "RESERVOIRS" else "head")
            if section == "JUNCTIONS" and len(tok) > 2:
                _num(tok[2], lineno, "demand")
            if section == "TANKS":
                for j, f in enumerate(("init_level", "min_level", "max_level", "diameter",
                                       "min_volume"), start=2):
                    _num(tok[j], lineno, f)
            node_line[nid] = lineno
            node_ids.append(nid)
            node_kind.append({"JUNCTIONS": "junction", "RESERVOIRS": "reservoir",
                              "TANKS": "tank"}[section])
            elev.append(e)
        elif section in ("PIPES", "PUMPS", "VALVES"):
            need({"PIPES": 6, "PUMPS": 3, "VALVES": 6}[section],
                 {"PIPES": "ID Node1 Node2 Length Diameter Roughness [MinorLoss Status]",
                  "PUMPS": "ID Node1 Node2 [Parameters]",
                  "VALVES": "ID Node1 Node2 Diameter Type Setting [MinorLoss]"}[section])
            lid = tok[0]
            if lid in link_line:
                raise _err(lineno, "id", f"link {lid!r} is defined twice "
                           f"(first on line {link_line[lid]})")
            link_line[lid] = lineno
            kind = {"PIPES": "pipe", "PUMPS": "pump", "VALVES": "valve"}[section]
            d = L = float("nan")
            if section == "PIPES":
                L = _num(tok[3], lineno, "length")
                d = _num(tok[4], lineno, "diameter")
                _num(tok[5], lineno, "roughness")
                if L <= 0:
                    raise _err(lineno, "length", f"length must be positive, got {tok[3]}")
                if d <= 0:
                    raise _err(lineno, "diameter", f"diameter must be positive, got {tok[4]}")
                st = tok[7].upper() if len(tok) > 7 else (
                    tok[6].upper() if len(tok) == 7 and not _isnum(tok[6]) else "OPEN")
                if st not in ("OPEN", "CLOSED", "CV"):
                    raise _err(lineno, "status", f"pipe status must be Open, Closed or CV, "
                               f"got {st!r}")
                closed[lid] = st == "CLOSED"
            elif section == "VALVES":
                d = _num(tok[3], lineno, "diameter")
                if tok[4].upper() not in _VALVE_TYPES:
                    raise _err(lineno, "type", f"valve type must be one of "
                               f"{', '.join(_VALVE_TYPES)}, got {tok[4]!r}")
            links.append((lid, kind, tok[1], tok[2], lineno))
            diam.append(d)
            length.append(L)
        elif section == "STATUS":
            need(2, "ID Status/Setting")
            status_rows.append((tok[0], tok[1].upper(), lineno))
        elif section == "COORDINATES":
            need(3, "Node X-Coord Y-Coord")
            coords[tok[0]] = (_num(tok[1], lineno, "x"), _num(tok[2], lineno, "y"))
            coord_line.setdefault(tok[0], lineno)
        elif section == "VERTICES":
            need(3, "Link X-Coord Y-Coord")
            vertices.setdefault(tok[0], []).append(
                (_num(tok[1], lineno, "x"), _num(tok[2], lineno, "y")))
            vertex_line.setdefault(tok[0], lineno)
    ni = {n: i for i, n in enumerate(node_ids)}
    ends = np.zeros((len(links), 2), dtype=np.int64)
    for k, (lid, _kind, n1, n2, ln) in enumerate(links):
        for j, n in enumerate((n1, n2)):
            if n not in ni:
                raise _err(ln, "node1" if j == 0 else "node2",
                           f"link {lid!r} refers to unknown node {n!r}")
            ends[k, j] = ni[n]
    for lid, st, ln in status_rows:
        if lid not in link_line:
            raise _err(ln, "id", f"[STATUS] names unknown link {lid!r}")
        if st == "CLOSED":
            closed[lid] = True
        elif st == "OPEN":
            closed[lid] = False
    for nid in coords:
        if nid not in ni:
            raise _err(coord_line[nid], "node", f"[COORDINATES] names unknown node {nid!r}")
    for lid in vertices:
        if lid not in link_line:
            raise _err(vertex_line[lid], "link", f"[VERTICES] names unknown link {lid!r}")
    xy = np.array([coords.get(n, (np.nan, np.nan)) for n in node_ids], dtype=float)
    xy = xy.reshape(-1, 2)
    link_ids = [lk[0] for lk in links]
    geoms: list[Any] = []
    for k, lid in enumerate(link_ids):
        a, b = ends[k]
        pts = [tuple(xy[a]), *vertices.get(lid, []), tuple(xy[b])]
        geoms.append(shapely.LineString(pts) if np.all(np.isfinite(pts)) else None)
    return PipeNetwork(
        node_ids=node_ids,
        node_kind=np.asarray(node_kind, dtype=object),
        node_xy=xy,
        link_ids=link_ids,
        link_kind=np.asarray([lk[1] for lk in links], dtype=object),
        link_ends=ends,
        link_closed=np.array([closed.get(lid, False) for lid in link_ids], dtype=bool),
        link_geoms=geoms,
        crs=crs,
        node_attrs={"elevation": np.asarray(elev, dtype=float)},
        link_attrs={"diameter": np.asarray(diam, dtype=float),
                    "length": np.asarray(length, dtype=float)},
    )


def _isnum(tok: str) -> bool:
    try:
        float(tok)
    except ValueError:
        return False
    return True


def read_inp(path: str | Path, *, crs: str | None = None) -> PipeNetwork:
    """Read an EPANET ``.inp`` file (UTF-8, or Latin-1 as a fallback)."""
    p = Path(path)
    if not p.is_file():
        raise ValidationError(f"no such file: {p}", field="inp")
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return parse_inp(text, crs=crs)


def parse_valve_csv(text: str, net: PipeNetwork) -> ShutoffValves:
    """Parse a valve layer CSV (header ``link,node`` [``,status``] [``,id``]) against ``net``.

    Rows are numbered from 1 for the first data row. Unknown links or nodes, a node that is
    not an end of its link, or a bad status raise one :class:`ValidationError` listing every
    bad row and field.
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    fields = [f.strip().lower() for f in (reader.fieldnames or [])]
    missing = [f for f in ("link", "node") if f not in fields]
    if missing:
        raise ValidationError(f"the valve CSV needs the columns link,node; missing "
                              f"{', '.join(missing)} (got {', '.join(fields) or 'no header'})",
                              field=missing[0])
    reader.fieldnames = fields
    pairs: list[tuple[str, str]] = []
    status: list[str] = []
    ids: list[str] = []
    for k, row in enumerate(reader):
        pairs.append(((row.get("link") or "").strip(), (row.get("node") or "").strip()))
        status.append((row.get("status") or "open").strip())
        ids.append((row.get("id") or "").strip() or str(k))
    return ShutoffValves.from_pairs(net, pairs, status, ids if "id" in fields else None)


def read_valve_csv(path: str | Path, net: PipeNetwork) -> ShutoffValves:
    """Read a valve layer CSV file; see :func:`parse_valve_csv`."""
    p = Path(path)
    if not p.is_file():
        raise ValidationError(f"no such file: {p}", field="valves")
    return parse_valve_csv(p.read_text(encoding="utf-8-sig"), net)
