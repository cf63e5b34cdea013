"""Feature-table rules (latest value, units, look-back, index date) on hand-made view rows."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from axhub.clinical.features import FeatureReport, build_features
from axhub.errors import InputError


def views(obs: list[dict], conds: list[dict], meds: list[dict]) -> dict[str, pa.Table]:
    patients = pa.Table.from_pylist(
        [
            {"patient_id": "a", "gender": "male", "birth_date": "1960-03", "district": "퇴계동"},
            {"patient_id": "a", "gender": "male", "birth_date": "1960-03", "district": "퇴계동"},
            {"patient_id": "b", "gender": "female", "birth_date": "1950-12", "district": "남면"},
        ]
    )
    o = {
        "patient_id": None,
        "status": "final",
        "effective": None,
        "loinc_code": None,
        "value": None,
        "unit": None,
        "value_code": None,
    }
    c = {
        "patient_id": None,
        "clinical_status": "active",
        "verification_status": "confirmed",
        "recorded_date": None,
        "onset": None,
        "kcd_group": None,
    }
    m = {"patient_id": None, "status": "completed", "authored_on": None, "atc_code": None}

    def typed(rows: list[dict], template: dict) -> pa.Table:
        schema = pa.schema([(k, pa.float64() if k == "value" else pa.string()) for k in template])
        return pa.Table.from_pylist([template | r for r in rows], schema=schema)

    return {
        "patient_demographics": patients,
        "observations": typed(obs, o),
        "conditions": typed(conds, c),
        "medication_requests": typed(meds, m),
    }


def row(table: pa.Table, pid: str) -> dict:
    return next(r for r in table.to_pylist() if r["person_id"] == pid)


def test_latest_value_in_the_expected_unit_before_the_index_date() -> None:
    sbp = {"patient_id": "a", "loinc_code": "8480-6", "unit": "mm[Hg]"}
    chol = {"patient_id": "a", "loinc_code": "2093-3"}
    report = FeatureReport()
    t = build_features(
        views(
            [
                sbp | {"effective": "2023-01-01T09:00:00+09:00", "value": 150.0},
                sbp | {"effective": "2024-06-01T09:00:00+09:00", "value": 128.0},
                sbp | {"effective": "2025-03-01T09:00:00+09:00", "value": 170.0},  # after index
                chol | {"effective": "2024-01-01T09:00:00+09:00", "value": 210.0, "unit": "mg/dL"},
                chol | {"effective": "2024-09-01T09:00:00+09:00", "value": 5.2, "unit": "mmol/L"},
                {
                    "patient_id": "a",
                    "loinc_code": "72166-2",
                    "value_code": "77176002",
                    "effective": "2024-01-01T09:00:00+09:00",
                },
            ],
            [],
            [],
        ),
        report=report,
    )
    a = row(t, "a")
    assert a["sbp_mmhg"] == 128.0
    assert a["total_chol_mgdl"] == 210.0  # the mmol/L value is excluded, not converted
    assert report.excluded_unit == {"total_chol_mgdl": 1}
    assert a["smoker_current"] is True and row(t, "b")["smoker_current"] is None
    assert a["age_years"] == pytest.approx(64 + 10 / 12)  # 1960-03 to 2025-01: 778 months
    assert (a["district_en"], a["urban"]) == ("Toegye-dong", True)
    assert (row(t, "b")["district_kind"], row(t, "b")["urban"]) == ("myeon", False)
    assert t.num_rows == 2  # one row per person, not per site record


def test_diagnoses_and_drug_classes() -> None:
    t = build_features(
        views(
            [],
            [
                {
                    "patient_id": "a",
                    "kcd_group": "atrial_fibrillation",
                    "recorded_date": "2023-05-01T10:00:00+09:00",
                },
                {
                    "patient_id": "a",
                    "kcd_group": "stroke_sequelae",
                    "recorded_date": "2022-05-01T10:00:00+09:00",
                },
                {
                    "patient_id": "b",
                    "kcd_group": "hypertension",
                    "recorded_date": "2025-02-01T10:00:00+09:00",
                },  # after the index date
                {
                    "patient_id": "b",
                    "kcd_group": "diabetes",
                    "verification_status": "refuted",
                    "recorded_date": "2023-02-01T10:00:00+09:00",
                },
            ],
            [
                {
                    "patient_id": "a",
                    "atc_code": "B01AF02",
                    "authored_on": "2024-11-01T10:00:00+09:00",
                },
                {
                    "patient_id": "a",
                    "atc_code": "C10AA05",
                    "authored_on": "2022-01-10T10:00:00+09:00",
                },
                {
                    "patient_id": "a",
                    "atc_code": "C09CA01",
                    "status": "active",
                    "authored_on": "2022-01-10T10:00:00+09:00",
                },
                {
                    "patient_id": "b",
                    "atc_code": "A10BA02",
                    "authored_on": "2024-12-01T10:00:00+09:00",
                },
            ],
        )
    )
    a, b = row(t, "a"), row(t, "b")
    assert a["atrial_fibrillation"] and a["prior_stroke"] and a["prior_stroke_tia_te"]
    assert a["oral_anticoagulant"] and a["antithrombotic"]
    assert a["statin"] is False  # completed and older than the 365-day look-back
    assert a["bp_treated"] is True  # still active
    assert b["hypertension"] is False and b["diabetes_coded"] is False
    assert b["oral_hypoglycaemic"] and b["diabetes"]  # treated diabetes counts as diabetes


def test_index_date_moves_the_window() -> None:
    v = views(
        [
            {
                "patient_id": "a",
                "loinc_code": "8480-6",
                "unit": "mm[Hg]",
                "value": 170.0,
                "effective": "2025-03-01T09:00:00+09:00",
            }
        ],
        [],
        [],
    )
    assert row(build_features(v), "a")["sbp_mmhg"] is None
    later = build_features(v, index_date=dt.date(2025, 6, 1))
    assert row(later, "a")["sbp_mmhg"] == 170.0


def test_missing_view_or_column_is_named() -> None:
    v = views([], [], [])
    del v["conditions"]
    with pytest.raises(InputError, match="conditions"):
        build_features(v)
    v = views([], [], [])
    v["observations"] = v["observations"].drop(["unit"])
    with pytest.raises(InputError, match="unit"):
        build_features(v)
