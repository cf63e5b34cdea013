"""Achieved figures of a 30,000-person region against the sourced calibration targets."""

from __future__ import annotations

import numpy as np
import pytest

from axhub.fhir.districts import DISTRICTS, total_population
from axhub.synth import calibration as cal
from axhub.synth.generate import draw_region

PEOPLE = 30_000


@pytest.fixture(scope="module")
def drawn():
    return draw_region(PEOPLE, 2026)


@pytest.fixture(scope="module")
def rep(drawn):
    return drawn.report()


def test_sourced_prevalence_anchors_within_tolerance(rep):
    off = [a for a in rep["anchors"] if not a["ok"]]
    assert not off, off
    assert len(rep["anchors"]) == len(cal.ANCHORS)


def test_every_band_target_is_met(rep):
    # Band × sex cells with at least 400 people are within 4 points of their target
    # (sampling error at p=0.5, n=400 is 2.5 points; the liability model hits targets exactly
    # in expectation).
    misses = []
    for key, block in rep["prevalence"].items():
        for row in block["bands"]:
            if row["n"] >= 400 and abs(row["achieved"] - row["target"]) > 0.04:
                misses.append((key, row))
    assert not misses, misses


def test_age_sex_structure(rep, drawn):
    assert rep["share_65"]["achieved"] == pytest.approx(cal.SHARE_65_TARGET, abs=0.01)
    assert rep["male_share"]["achieved"] == pytest.approx(cal.MALE_SHARE_TARGET, abs=0.015)
    age = drawn.p["age"]
    for lo, hi, share in cal.AGE_BANDS[:5]:  # the five sourced bands
        got = ((age >= lo) & (age <= hi)).mean()
        assert got == pytest.approx(share, abs=0.01), (lo, hi)


def test_district_populations_and_rural_ageing(rep):
    total = total_population()
    assert total == 286_069  # MOIS Dec 2024 total, all 25 units
    assert len(DISTRICTS) == 25
    assert sorted(d.kind for d in DISTRICTS).count("myeon") == 9
    for d in rep["districts"]:
        expected = d["target_share"]
        # Binomial 4-sigma band around the target share.
        sigma = np.sqrt(expected * (1 - expected) / PEOPLE)
        assert abs(d["achieved_share"] - expected) <= 4 * sigma + 1e-4, d
    old_rural = [d["achieved_share_65"] for d in rep["districts"]
                 if d["code"] in ("nam-myeon", "buksan-myeon")]  # fmt: skip
    urban = [d["achieved_share_65"] for d in rep["districts"] if d["code"] == "toegye-dong"]
    assert min(old_rural) > 0.35 > urban[0]


def test_care_cascade_matches_the_fact_sheets(rep):
    cascade = rep["care_cascade"]
    for key in ("hypertension_treated", "hypertension_controlled", "diabetes_treated"):
        assert cascade[key]["achieved"] == pytest.approx(cascade[key]["target"], abs=0.03), key
    assert cascade["diabetes_hba1c_lt_6_5"]["achieved"] == pytest.approx(
        cal.DM_HBA1C_LT65, abs=0.05
    )


def test_stroke_incidence_near_kdca(rep):
    # Competing deaths remove a few strokes, so the achieved rate sits a little under target.
    got = rep["stroke_incidence_per_100k_year"]["achieved"]
    assert 0.8 * cal.STROKE_CRUDE_PER_100K <= got <= 1.1 * cal.STROKE_CRUDE_PER_100K


def test_values_agree_with_diagnoses(drawn):
    h = drawn.h
    adult = drawn.p["age"] >= 19
    obese = h["obesity"][adult]
    assert (h["bmi"][adult][obese] >= 25).all()
    assert (h["bmi"][adult][~obese] < 25).all()
    untreated_htn = h["hypertension"] & ~h["bp_treated"]
    assert (h["sbp"][untreated_htn] >= 140).all()
    no_htn = adult & ~h["hypertension"]
    assert (h["sbp"][no_htn] < 140).all() and (h["dbp"][no_htn] < 90).all()
    ckd = h["egfr_lt60"]
    assert (h["egfr"][ckd] < 60).all() and (h["egfr"][~ckd] >= 60).all()
