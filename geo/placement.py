"""Camera placement: choose k of many candidate cameras to cover the most ground.

The zone's open ground is sampled on a square grid (each cell's centre stands for its
area); each candidate camera covers the cells its visible ground (or its DORI-class
polygon) contains. Choosing k candidates to maximise the covered weight is maximum
coverage, a monotone submodular problem, so the greedy choice (take the candidate adding
the most uncovered area, k times) is within a factor (1 − 1/e) ≈ 0.632 of the optimum
(Nemhauser, Wolsey & Fisher 1978), and no polynomial algorithm does better in general
unless P = NP (Feige 1998). :func:`optimal_placement` solves small instances exactly as a
mixed-integer program with ``scipy.optimize.milp``, for checking.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from geo.camera import CameraModel
from geo.coverage import DORI, dori_polygon
from geo.errors import ValidationError
from geo.occlusion import Obstacles, visible_ground

__all__ = ["PlacementResult", "grid_cells", "coverage_matrix", "greedy_placement",
           "optimal_placement", "suggest_placement"]


@dataclass
class PlacementResult:
    chosen: list[int]            # candidate indices, in the order greedy picked them
    covered_m2: float            # sampled covered area of the chosen set
    gains_m2: list[float]        # area each pick added
    ground_m2: float             # sampled open ground of the zone

    @property
    def covered_pct(self) -> float:
        return 100.0 * self.covered_m2 / self.ground_m2 if self.ground_m2 else 0.0


def grid_cells(ground: BaseGeometry, cell_m: float) -> tuple[NDArray[np.float64], float]:
    """Centres (n, 2) of the ``cell_m`` grid cells whose centre lies in ``ground``, and the
    area each stands for."""
    if not cell_m > 0:
        raise ValidationError(f"must be > 0, got {cell_m}", field="cell_m")
    x0, y0, x1, y1 = ground.bounds
    xs = np.arange(x0 + cell_m / 2, x1, cell_m)
    ys = np.arange(y0 + cell_m / 2, y1, cell_m)
    if xs.size * ys.size > 5_000_000:
        raise ValidationError("the zone is too large for this cell size; use a larger cell_m",
                              field="cell_m")
    mx, my = np.meshgrid(xs, ys)
    gx, gy = mx.ravel(), my.ravel()
    inside = shapely.contains_xy(ground, gx, gy)
    return np.c_[gx[inside], gy[inside]], cell_m * cell_m


def coverage_matrix(polys: Sequence[BaseGeometry], cells: NDArray[np.float64]) -> NDArray[np.bool_]:
    """``M[i, j]``: polygon ``i`` contains cell centre ``j``."""
    M = np.zeros((len(polys), len(cells)), dtype=bool)
    for i, p in enumerate(polys):
        if not p.is_empty and len(cells):
            M[i] = shapely.contains_xy(p, cells[:, 0], cells[:, 1])
    return M


def _check_k(k: int, n: int) -> int:
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValidationError(f"must be a whole number >= 1, got {k!r}", field="k")
    return min(int(k), n)


def greedy_placement(M: NDArray[np.bool_], weights: NDArray[np.float64] | float,
                     k: int) -> PlacementResult:
    """Greedy maximum coverage: k rows of ``M`` covering the most column weight."""
    n, m = M.shape
    k = _check_k(k, n)
    w = np.broadcast_to(np.asarray(weights, dtype=float), (m,)).astype(float)
    uncovered = np.ones(m, dtype=bool)
    chosen: list[int] = []
    gains: list[float] = []
    Mf = M.astype(float)
    for _ in range(k):
        gain = Mf @ (w * uncovered)
        gain[chosen] = -1.0
        i = int(np.argmax(gain))
        if gain[i] <= 0:
            break
        chosen.append(i)
        gains.append(float(gain[i]))
        uncovered &= ~M[i]
    return PlacementResult(chosen, float(w[~uncovered].sum()), gains, float(w.sum()))


def optimal_placement(M: NDArray[np.bool_], weights: NDArray[np.float64] | float,
                      k: int) -> PlacementResult:
    """The exact optimum by MILP (small instances): max Σ w_j y_j, y_j ≤ Σ_i M_ij x_i,
    Σ x_i = k, x binary, 0 ≤ y ≤ 1."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import csr_matrix, hstack, identity

    n, m = M.shape
    k = _check_k(k, n)
    w = np.broadcast_to(np.asarray(weights, dtype=float), (m,)).astype(float)
    c = np.r_[np.zeros(n), -w]
    link = hstack([-csr_matrix(M.T.astype(float)), identity(m)])
    card = csr_matrix(np.r_[np.ones(n), np.zeros(m)][None, :])
    res = milp(c, constraints=[LinearConstraint(link, -np.inf, 0.0),
                               LinearConstraint(card, k, k)],
               integrality=np.r_[np.ones(n), np.zeros(m)], bounds=Bounds(0, 1))
    if not res.success:
        raise ValidationError(f"the exact placement could not be solved: {res.message}",
                              field="k")
    x = np.round(res.x[:n]).astype(bool)
    chosen = [int(i) for i in np.flatnonzero(x)]
    covered = M[chosen].any(axis=0) if chosen else np.zeros(m, dtype=bool)
    return PlacementResult(chosen, float(w[covered].sum()), [], float(w.sum()))


def suggest_placement(zone: BaseGeometry, candidates: Sequence[CameraModel],
                      obstacles: Obstacles, k: int, objective: str = "covered",
                      cell_m: float = 2.0, existing: Sequence[CameraModel] = ()
                      ) -> tuple[PlacementResult, list[BaseGeometry]]:
    """Pick ``k`` of ``candidates`` maximising the open ground of ``zone`` they cover
    (``objective="covered"``) or cover at a DORI class (``"detection"``, ...); ground the
    ``existing`` cameras already cover counts for nothing.

    Returns the greedy result and each candidate's objective polygon.
    """
    if objective != "covered" and objective not in DORI:
        raise ValidationError(f"{objective!r} is not one of: covered, {', '.join(DORI)}",
                              field="objective")
    if not candidates:
        raise ValidationError("no candidate cameras given", field="candidates")
    if len(obstacles):
        ground = shapely.difference(zone, shapely.union_all(
            obstacles.footprints[obstacles.tree.query(zone, predicate="intersects")]))
    else:
        ground = zone
    cells, area = grid_cells(ground, cell_m)

    def objective_poly(cam: CameraModel) -> BaseGeometry:
        vis = visible_ground(cam, obstacles)
        return vis if objective == "covered" else dori_polygon(cam, vis, DORI[objective])

    polys = [objective_poly(c) for c in candidates]
    if existing:
        done = coverage_matrix([objective_poly(c) for c in existing], cells).any(axis=0)
        cells = cells[~done]
    M = coverage_matrix(polys, cells)
    res = greedy_placement(M, area, k)
    res.ground_m2 = float(len(cells) * area)
    return res, polys
