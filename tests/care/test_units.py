"""Unit normalisation (mg/dL and mmol/L, kg and lb, °C and °F) and plausibility flags."""

from __future__ import annotations

import numpy as np
import pytest

from axhub.care import units


def _one(kind: str, unit: str, v: float, v2: float = np.nan) -> units.Normalised:
    return units.normalise([kind], [unit], np.array([v]), np.array([v2]))


@pytest.mark.parametrize(
    ("mmol", "mgdl"),
    # ADA6 / TIR2019 pair each mg/dL line with its mmol/L value; both must agree at the line
    [(3.9, 70), (3.0, 54), (10.0, 180), (13.9, 250), (33.3, 600), (5.5, 99)],
)
def test_glucose_mmol_to_mgdl_agrees_with_guideline_pairs(mmol: float, mgdl: int) -> None:
    assert _one("glucose", "mmol/L", mmol).value[0] == mgdl


@pytest.mark.parametrize(
    ("unit", "value", "kg"),
    [("lb", 154.0, 69.853), ("[lb_av]", 220.5, 100.017), ("kg", 70.2, 70.2)],
)
def test_weight_to_kg(unit: str, value: float, kg: float) -> None:
    assert _one("weight", unit, value).value[0] == pytest.approx(kg, abs=1e-3)


@pytest.mark.parametrize(
    ("unit", "value", "cel"),
    [("[degF]", 100.0, 37.78), ("[degF]", 100.1, 37.83), ("°F", 98.6, 37.0), ("Cel", 38.2, 38.2)],
)
def test_temperature_to_celsius(unit: str, value: float, cel: float) -> None:
    assert _one("temperature", unit, value).value[0] == cel


def test_spo2_fraction_and_bp_kpa() -> None:
    assert _one("spo2", "1", 0.95).value[0] == pytest.approx(95.0)
    n = _one("bp", "kPa", 16.0, 10.7)
    assert (n.value[0], n.value2[0]) == (120.0, 80.3)


def test_batch_mixes_units_without_crosstalk() -> None:
    n = units.normalise(
        ["glucose", "glucose", "weight", "weight"],
        ["mg/dL", "mmol/L", "kg", "lb"],
        np.array([100.0, 5.0, 80.0, 100.0]),
        np.full(4, np.nan),
    )
    assert n.value.tolist() == [100.0, 90.0, 80.0, 45.359]
    assert n.unit == ["mg/dL", "mg/dL", "kg", "kg"]


@pytest.mark.parametrize(
    ("kind", "unit", "v", "v2", "bad"),
    [
        ("spo2", "%", 101, np.nan, True),
        ("spo2", "%", 100, np.nan, False),
        ("bp", "mmHg", 120, 130, True),  # diastolic not below systolic
        ("bp", "mmHg", 320, 90, True),
        ("bp", "mmHg", 185, 95, False),
        ("glucose", "mg/dL", 5, np.nan, True),
        ("temperature", "Cel", 47, np.nan, True),
        ("weight", "lb", 20, np.nan, True),  # 9 kg
    ],
)
def test_implausible_values_are_flagged(
    kind: str, unit: str, v: float, v2: float, bad: bool
) -> None:
    n = _one(kind, unit, v, v2)
    assert bool(n.implausible[0]) is bad
    assert bool(n.reasons[0]) is bad


def test_unknown_units_are_not_accepted() -> None:
    assert units.unit_known("glucose", "MMOL/L")
    assert not units.unit_known("glucose", "g/L")
    assert "mmol/l" in units.accepted_units("glucose")
