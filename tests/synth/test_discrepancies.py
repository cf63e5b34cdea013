"""Site copies of demographics carry the documented discrepancies at the documented rates."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from axhub.synth.generate import draw_region
from axhub.synth.sites import DISCREPANCY_RATES, SHARED_NAME_DOB_RATE, SITES

from ._util import read_ndjson


@pytest.fixture(scope="module")
def drawn():
    return draw_region(20_000, 77)


def test_rates_match_the_configuration(drawn):
    site = drawn.visits["site"]
    for si, name in enumerate(SITES):
        mask = site == si
        n = int(mask.sum())
        for key, rate in DISCREPANCY_RATES[name].items():
            got = drawn.demo[f"flag_{key}"][mask].mean()
            sigma = np.sqrt(rate * (1 - rate) / n)
            assert abs(got - rate) <= 4 * sigma + 0.002, (name, key, got, rate)


def test_flagged_values_differ_from_the_truth(drawn):
    d, p, person = drawn.demo, drawn.p, drawn.visits["person"]
    names = drawn.names
    true_given = names.given_ko[p["given"][person]]
    typo = d["flag_name_typo"] & ~d["flag_romanised_name"]
    assert (d["given"][typo] != true_given[typo]).all()
    clean = ~d["flag_name_typo"] & ~d["flag_romanised_name"]
    assert (d["given"][clean] == true_given[clean]).all()
    roman = d["flag_romanised_name"]
    assert all(t.isascii() for t in d["text"][roman])
    assert not any(t.isascii() for t in d["text"][~roman])
    assert (d["birth_date"][d["flag_birth_date_typo"]] != p["birth_date"][person][
        d["flag_birth_date_typo"]]).all()  # fmt: skip
    assert (
        d["phone"][d["flag_old_phone"]] != p["phone"][person][d["flag_old_phone"]]
    ).mean() > 0.99
    moved = d["flag_old_address"]
    same = (
        (d["road"] == p["road"][person]) & (d["number"] == p["number"][person])
        & (d["district"] == p["district"][person]) & (d["detail"] == p["detail"][person])
    )  # fmt: skip
    assert same[moved].mean() < 0.05
    assert same[~moved].all()


def test_different_people_share_name_and_birth_date(drawn):
    p = drawn.p
    key = p["surname"] * 1000 + p["given"]
    dob = p["birth_date"].astype(np.int64)
    pairs = {}
    shared = 0
    for i, k in enumerate(zip(key.tolist(), dob.tolist(), strict=True)):
        if k in pairs:
            shared += 1
        pairs[k] = i
    assert shared >= round(20_000 * SHARED_NAME_DOB_RATE * 0.4)
    assert len(drawn.shared) > 0


def test_romanised_names_reach_the_patient_files(region):
    out, _ = region
    records = pq.read_table(out / "ground_truth/site_records.parquet").to_pylist()
    roman = {(r["site"], r["patient_id"]) for r in records if r["flag_romanised_name"]}
    assert roman
    seen = 0
    for site in SITES:
        for pat in read_ndjson(out / "sites" / site / "Patient.000.ndjson"):
            if (site, pat["id"]) in roman:
                assert pat["name"][0]["text"].isascii()
                seen += 1
    assert seen == len(roman)
