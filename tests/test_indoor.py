"""Floor elevations: floor 1 is the ground floor, basements are negative."""

import numpy as np
import pytest

from geo.indoor import floor_at_z, floor_level_z


@pytest.mark.parametrize(
    ("floor", "z"),
    [(1, 0.0), (2, 3.5), (5, 14.0), (-1, -3.5), (-2, -7.0), (0, 0.0)],
)
def test_floor_level_counts_storeys_from_the_ground_floor(floor, z):
    assert floor_level_z(0.0, floor, 3.5) == pytest.approx(z)


def test_floor_level_adds_the_building_base_and_broadcasts():
    z = floor_level_z(np.array([10.0, 10.0, 2.0]), np.array([1, 3, -1]), np.array([3.0, 3.0, 4.0]))
    assert np.allclose(z, [10.0, 16.0, -2.0])


@pytest.mark.parametrize(("z", "floor"), [(0.0, 1), (2.9, 1), (3.0, 2), (7.5, 3), (-0.5, -1),
                                          (-3.0, -1), (-3.1, -2)])
def test_floor_at_z_is_the_storey_holding_that_height(z, floor):
    assert floor_at_z(0.0, z, 3.0) == floor


def test_floor_at_z_inverts_floor_level_z():
    for f in (-3, -2, -1, 1, 2, 3, 10):
        assert floor_at_z(5.0, floor_level_z(5.0, f, 3.2) + 0.1, 3.2) == f
