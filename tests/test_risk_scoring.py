"""LEC and LS scoring: every band edge, every matrix cell, and bad input refused clearly."""

from __future__ import annotations

import itertools
import math

import pytest

from geo.errors import ValidationError
from geo.risk import grade
from geo.risk_lec import LEC_C, LEC_E, LEC_L, lec_grade, lec_level
from geo.risk_levels import COLOURS, level_from_rank, parse_level, raise_level
from geo.risk_ls import DEFAULT_LS_BANDS, LSBands, ls_grade

# --- LEC -------------------------------------------------------------------------------------


def test_lec_example_from_the_issue():
    g = lec_grade(6, 3, 15).to_dict()
    assert g["method"] == "lec" and g["score"] == 270
    assert g["level"] == "orange" and g["colour"] == "#FF7F00"
    assert g["level_zh"] == "较大风险"


@pytest.mark.parametrize(
    "d, level, cls",
    [
        (320, "orange", "highly dangerous"),  # the edge belongs to the band below
        (320.0001, "red", "extremely dangerous"),
        (160, "yellow", "significantly dangerous"),
        (160.0001, "orange", "highly dangerous"),
        (70, "blue", "general"),
        (70.0001, "yellow", "significantly dangerous"),
        (20, "blue", "slight"),
        (20.0001, "blue", "general"),
        (0, "blue", "slight"),
        (6000, "red", "extremely dangerous"),
    ],
)
def test_lec_band_edges(d, level, cls):
    assert lec_level(d) == (level, cls)


@pytest.mark.parametrize(
    "l, e, c, score, level, cls",
    [
        (10, 1, 7, 70, "blue", "general"),  # D = 70 occurs on the scales
        (1, 10, 7, 70, "blue", "general"),
        (10, 2, 1, 20, "blue", "slight"),  # D = 20 occurs
        (0.2, 1, 100, 20, "blue", "slight"),  # ... also through decimal factors
        (0.1, 2, 100, 20, "blue", "slight"),
        (1, 0.5, 40, 20, "blue", "slight"),
        (3, 3, 15, 135, "yellow", "significantly dangerous"),
        (6, 2, 15, 180, "orange", "highly dangerous"),
        (3, 6, 7, 126, "yellow", "significantly dangerous"),
        (6, 6, 7, 252, "orange", "highly dangerous"),
        (10, 6, 7, 420, "red", "extremely dangerous"),
        (6, 3, 3, 54, "blue", "general"),
        (0.1, 0.5, 1, 0.05, "blue", "slight"),
    ],
)
def test_lec_grades_on_the_scales(l, e, c, score, level, cls):  # noqa: E741
    g = lec_grade(l, e, c)
    assert g.score == pytest.approx(score, abs=1e-12)
    assert (g.level, g.band) == (level, cls)
    assert g.colour == COLOURS[level]


def test_lec_every_combination_lands_in_the_band_its_exact_product_says():
    # the exact product (in tenths, as integers) against the issue's edges
    for lv, ev, cv in itertools.product(LEC_L, LEC_E, LEC_C):
        tenths = round(lv * 10) * round(ev * 10) * round(cv * 10)  # D * 1000
        if tenths > 320_000:
            want = "red"
        elif tenths > 160_000:
            want = "orange"
        elif tenths > 70_000:
            want = "yellow"
        else:
            want = "blue"
        assert lec_grade(lv, ev, cv).level == want, (lv, ev, cv)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"l": 5, "e": 3, "c": 15}, "l"),
        ({"l": 6, "e": 4, "c": 15}, "e"),
        ({"l": 6, "e": 3, "c": 50}, "c"),
        ({"l": 0, "e": 3, "c": 15}, "l"),
        ({"l": -6, "e": 3, "c": 15}, "l"),
        ({"l": math.nan, "e": 3, "c": 15}, "l"),
        ({"l": True, "e": 3, "c": 15}, "l"),
        ({"l": "six", "e": 3, "c": 15}, "l"),
        ({"l": None, "e": 3, "c": 15}, "l"),
        ({"l": 6, "e": 3, "c": 0.1}, "c"),
    ],
)
def test_lec_values_off_the_scale_are_rejected_naming_the_field(kwargs, field):
    with pytest.raises(ValidationError) as ei:
        lec_grade(**kwargs)
    assert ei.value.field == field
    assert ei.value.message.startswith(field + ":")
    assert "one of" in ei.value.message  # tells the user the valid values


def test_lec_accepts_numeric_text_from_forms():
    assert lec_grade("6", "3", "15").score == 270


# --- LS --------------------------------------------------------------------------------------

# rows: likelihood 1..5, columns: severity 1..5, with the default bands
LS_MATRIX = [
    ["blue", "blue", "blue", "blue", "blue"],
    ["blue", "blue", "blue", "blue", "yellow"],
    ["blue", "blue", "yellow", "yellow", "orange"],
    ["blue", "blue", "yellow", "orange", "red"],
    ["blue", "yellow", "orange", "red", "red"],
]


@pytest.mark.parametrize("lik, sev", list(itertools.product(range(1, 6), range(1, 6))))
def test_ls_every_cell_with_default_bands(lik, sev):
    g = ls_grade(lik, sev)
    assert g.score == lik * sev
    assert g.level == LS_MATRIX[lik - 1][sev - 1]


def test_ls_severity_is_the_maximum_of_the_dimensions():
    g = ls_grade(4, {"personnel": 2, "property": 5, "environment": 1})
    assert g.score == 20 and g.level == "red"
    assert g.inputs["severity_dimensions"] == {"personnel": 2, "property": 5, "environment": 1}
    assert ls_grade(3, [1, 4, 2]).score == 12


@pytest.mark.parametrize(
    "lik, sev, field",
    [
        (0, 3, "likelihood"),
        (6, 3, "likelihood"),
        (2.5, 3, "likelihood"),
        (3, 6, "severity"),
        (3, {"personnel": 2, "property": 7}, "severity.property"),
        (3, {}, "severity"),
        (3, [], "severity"),
        (3, [2, 0], "severity[1]"),
        (True, 3, "likelihood"),
        (math.inf, 3, "likelihood"),
    ],
)
def test_ls_values_off_the_scale_are_rejected(lik, sev, field):
    with pytest.raises(ValidationError) as ei:
        ls_grade(lik, sev)
    assert ei.value.field == field


def test_ls_custom_bands_change_the_levels():
    bands = {"red": [16, 25], "orange": [10, 15], "yellow": [5, 9], "blue": [1, 4]}
    assert ls_grade(4, 4, bands).level == "red"
    assert ls_grade(2, 5, bands).level == "orange"
    assert ls_grade(4, 4).level == "orange"  # default unchanged


@pytest.mark.parametrize(
    "bands, needle",
    [
        # blue stops at 7: R = 8 (2x4, 4x2) has no level
        ({"red": [20, 25], "orange": [15, 16], "yellow": [9, 12], "blue": [1, 7]}, "R = 8"),
        ({"red": [16, 25], "orange": [15, 16], "yellow": [9, 12], "blue": [1, 8]}, "overlap"),
        ({"red": [20, 25], "orange": [15, 16], "yellow": [9, 12]}, "no range for blue"),
        ({"red": [20, 26], "orange": [15, 16], "yellow": [9, 12], "blue": [1, 8]}, "<= 25"),
        ({"red": [20, 25], "orange": [15, 16], "yellow": [12, 9], "blue": [1, 8]}, "low <= high"),
        ({"red": [1, 8], "orange": [15, 16], "yellow": [9, 12], "blue": [20, 25]}, "below"),
        ({"red": [20, 25], "orange": [15, 16], "yellow": [9, 12], "blue": [0, 8]}, "1 <= low"),
        ({"red": [20, 25], "orange": [15, 16], "yellow": [9.5, 12], "blue": [1, 8]}, "whole"),
        ({"red": [20, 25], "orange": "15-16", "yellow": [9, 12], "blue": [1, 8]}, "[low, high]"),
        ({"red": [20, 25], "purple": [15, 16], "yellow": [9, 12], "blue": [1, 8]}, "purple"),
        ([{"level": "red", "min": 20, "max": 25}, {"level": "red", "min": 1, "max": 19}], "twice"),
    ],
)
def test_bad_band_configurations_are_rejected(bands, needle):
    with pytest.raises(ValidationError) as ei:
        LSBands.parse(bands)
    assert ei.value.field.startswith("bands")
    assert needle in ei.value.message


def test_default_bands_are_valid_and_list_form_parses():
    assert DEFAULT_LS_BANDS.to_dict() == {
        "red": [20, 25], "orange": [15, 16], "yellow": [9, 12], "blue": [1, 8]
    }
    parsed = LSBands.parse([{"level": k, "min": lo, "max": hi}
                            for k, (lo, hi) in DEFAULT_LS_BANDS.ranges.items()])
    assert parsed == DEFAULT_LS_BANDS


# --- dispatch and helpers --------------------------------------------------------------------


def test_grade_dispatch_and_unknown_parameters():
    assert grade("lec", {"L": 6, "E": 3, "C": 15}).score == 270
    assert grade("LS", {"likelihood": 4, "severity": 5}).level == "red"
    with pytest.raises(ValidationError) as ei:
        grade("lec", {"l": 6, "e": 3, "c": 15, "x": 1})
    assert ei.value.field == "x"
    with pytest.raises(ValidationError) as ei:
        grade("lec", {"l": 6, "e": 3})
    assert ei.value.field == "c"
    with pytest.raises(ValidationError) as ei:
        grade("matrix", {})
    assert ei.value.field == "method" and "lec, ls" in ei.value.message


def test_level_helpers():
    assert raise_level("blue") == "yellow" and raise_level("red") == "red"
    assert raise_level(None) == "yellow"  # no assessed risk counts as blue
    assert level_from_rank(0) is None and level_from_rank(9) == "red"
    assert parse_level("重大风险") == "red" and parse_level("Orange") == "orange"
    with pytest.raises(ValidationError):
        parse_level("green")
