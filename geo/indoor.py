"""Indoor positions: the height of a floor in a building.

Floors are numbered as on Chinese (and North American) building plans: floor 1 (一层) is
the ground floor, floor 2 is one storey up, and basements are -1 (B1), -2 (B2), ...
There is no floor 0; it is read as the ground floor, for data that counts from 0.

The design card's "renders at floor × floor_height" is this rule with the storeys counted
from the ground: floor *f* ≥ 1 has its level at ``base_z + (f - 1) × floor_height_m``, so
an alarm on floor 1 is on the ground, not one storey up; basement *f* ≤ -1 at
``base_z + f × floor_height_m``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["floor_level_z", "floor_at_z", "storeys_below"]


def storeys_below(floor: ArrayLike) -> Any:
    """How many storeys lie between the ground and the floor's level (negative below)."""
    f = np.asarray(floor, dtype=float)
    out = np.where(f >= 1, f - 1, f)
    return float(out) if out.ndim == 0 else out


def floor_level_z(base_z: ArrayLike, floor: ArrayLike, floor_height_m: ArrayLike) -> Any:
    """Elevation (m, campus ground datum) of the floor slab of ``floor``.

    Scalars or arrays (broadcast). Example: ``floor_level_z(0, 1, 3.5) == 0.0``,
    ``floor_level_z(0, 3, 3.5) == 7.0``, ``floor_level_z(0, -1, 3.5) == -3.5``.
    """
    z = np.asarray(base_z, dtype=float) + storeys_below(floor) * np.asarray(
        floor_height_m, dtype=float
    )
    return float(z) if np.ndim(z) == 0 else z


def floor_at_z(base_z: float, z: float, floor_height_m: float) -> int:
    """The floor whose storey holds elevation ``z`` (the inverse of :func:`floor_level_z`):
    ``floor_at_z(0, 0.0, 3) == 1``, ``floor_at_z(0, 7.5, 3) == 3``,
    ``floor_at_z(0, -0.5, 3) == -1``."""
    k = int(np.floor((z - base_z) / floor_height_m + 1e-9))
    return k + 1 if k >= 0 else k
