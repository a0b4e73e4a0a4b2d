"""Floor elevations: floor 1 is the ground floor, basements are negative."""

import numpy as np
import pytest

from geo.indoor import floor_level_z


@pytest.mark.parametrize(
    ("floor", "z"),
    [(1, 0.0), (2, 3.5), (5, 14.0), (-1, -3.5), (-2, -7.0), (0, 0.0)],
)
def test_floor_level_counts_storeys_from_the_ground_floor(floor, z):
    assert floor_level_z(0.0, floor, 3.5) == pytest.approx(z)


def test_floor_level_adds_the_building_base_and_broadcasts():
    z = floor_level_z(np.array([10.0, 10.0, 2.0]), np.array([1, 3, -1]), np.array([3.0, 3.0, 4.0]))
    assert np.allclose(z, [10.0, 16.0, -2.0])
