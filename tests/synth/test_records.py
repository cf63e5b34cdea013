"""Clinical records agree with the true state: drugs with conditions, codes with diagnoses."""

from __future__ import annotations

from collections import defaultdict

import pyarrow.parquet as pq

from axhub.fhir import codes
from axhub.synth.sites import SITES

from ._util import read_ndjson

# ATC code → the true flags that justify it (persons.parquet columns; any one suffices).
_REASONS = {
    "bp_treated": ("amlodipine", "losartan", "telmisartan", "hydrochlorothiazide", "bisoprolol"),
    "diabetes_treated": ("metformin", "glimepiride", "sitagliptin", "dapagliflozin",
                         "insulin_glargine"),
    "statin": ("atorvastatin", "rosuvastatin"),
    "oac": ("warfarin", "apixaban", "rivaroxaban", "edoxaban"),
    "antiplatelet": ("aspirin", "clopidogrel"),
    "aspirin_in_diabetes": ("aspirin",),
    "nsaid_regular": ("aceclofenac", "celecoxib"),
    "ppi_gastroprotection": ("omeprazole", "pantoprazole", "lansoprazole", "rabeprazole",
                             "esomeprazole"),
    "long_term_benzodiazepine": ("diazepam", "alprazolam"),
    "osteoporosis_treated": ("alendronate",),
}  # fmt: skip
DRUG_REASON: dict[str, tuple[str, ...]] = {}
for _flag, _keys in _REASONS.items():
    for _k in _keys:
        _atc = codes.MEDICATIONS[_k].atc
        DRUG_REASON[_atc] = (*DRUG_REASON.get(_atc, ()), _flag)
KCD_REASON = {"I10": "hypertension_aware", "E11.9": "diabetes_aware",
              "E78.5": "dyslipidaemia_aware", "I48.9": "atrial_fibrillation",
              "I69.3": "prior_stroke", "E66.9": "obesity"}  # fmt: skip


def _truth(out):
    persons = {
        p["person_id"]: p for p in pq.read_table(out / "ground_truth/persons.parquet").to_pylist()
    }
    records = pq.read_table(out / "ground_truth/site_records.parquet").to_pylist()
    who = {(r["site"], r["patient_id"]): persons[r["person_id"]] for r in records}
    return persons, who


def test_every_prescription_has_its_indication(region):
    out, _ = region
    _, who = _truth(out)
    seen = defaultdict(int)
    for site in SITES:
        for mr in read_ndjson(out / "sites" / site / "MedicationRequest.000.ndjson"):
            person = who[(site, mr["subject"]["reference"].removeprefix("Patient/"))]
            atc = mr["medicationCodeableConcept"]["coding"][0]["code"]
            flags = [f for f in DRUG_REASON[atc] if person[f]]
            assert flags, (site, atc)
            seen[flags[0]] += 1
            if atc == codes.MEDICATIONS["metformin"].atc:
                assert person["egfr"] >= 30  # contraindicated below 30 (label)
    assert set(seen) >= {"bp_treated", "diabetes_treated", "statin"}


def test_treated_people_get_prescriptions_somewhere(region):
    out, _ = region
    persons, who = _truth(out)
    prescribed = defaultdict(set)
    for site in SITES:
        for mr in read_ndjson(out / "sites" / site / "MedicationRequest.000.ndjson"):
            person = who[(site, mr["subject"]["reference"].removeprefix("Patient/"))]
            prescribed[person["person_id"]].update(
                DRUG_REASON[mr["medicationCodeableConcept"]["coding"][0]["code"]]
            )
    for flag in ("bp_treated", "diabetes_treated", "oac"):
        treated = [p for p in persons.values() if p[flag]]
        assert treated
        with_rx = sum(flag in prescribed[p["person_id"]] for p in treated)
        assert with_rx == len(treated), flag


def test_coded_diagnoses_are_true_and_known(region):
    out, _ = region
    _, who = _truth(out)
    n = admissions = 0
    for site in SITES:
        for c in read_ndjson(out / "sites" / site / "Condition.000.ndjson"):
            person = who[(site, c["subject"]["reference"].removeprefix("Patient/"))]
            code = c["code"]["coding"][0]["code"]
            if code in KCD_REASON:
                assert person[KCD_REASON[code]], (site, code)
            elif code.startswith("N18."):
                stage = int(code[-1])
                assert person["ckd_aware"]
                assert (
                    (stage == 3 and 30 <= person["egfr"] < 60)
                    or (stage == 4 and 15 <= person["egfr"] < 30)
                    or (stage == 5 and person["egfr"] < 15)
                )
            elif code == "Z72.0":
                assert person["smoking_status"] == 2
            elif code == "I63.9":
                assert person["prior_stroke"] and person["stroke_admission_site"] == site
                admissions += 1
            n += 1
    assert n > 100
    assert admissions > 0


def test_stroke_admissions_are_inpatient_encounters_with_acute_stroke(region):
    out, _ = region
    persons, who = _truth(out)
    for site in ("knuh", "hallym"):
        encounters = {
            e["id"]: e for e in read_ndjson(out / "sites" / site / "Encounter.000.ndjson")
        }
        inpatient = {i for i, e in encounters.items() if e["class"]["code"] == "IMP"}
        acute = {
            c["encounter"]["reference"].removeprefix("Encounter/")
            for c in read_ndjson(out / "sites" / site / "Condition.000.ndjson")
            if c["code"]["coding"][0]["code"] == "I63.9"
        }
        assert acute == inpatient
        for i in inpatient:
            e = encounters[i]
            assert e["period"]["end"] > e["period"]["start"]
            assert who[(site, e["subject"]["reference"].removeprefix("Patient/"))]["prior_stroke"]
    admitted = [p for p in persons.values() if p["stroke_admission_site"]]
    assert admitted and all(p["prior_stroke"] for p in admitted)


def test_measured_values_track_true_values(region):
    out, _ = region
    _, who = _truth(out)
    pairs = defaultdict(list)
    column = {"2093-3": "total_cholesterol", "4548-4": "hba1c", "39156-5": "bmi",
              "2160-0": "creatinine"}  # fmt: skip
    for o in read_ndjson(out / "sites/clinics/Observation.000.ndjson"):
        code = o["code"]["coding"][0]["code"]
        if code in column:
            person = who[("clinics", o["subject"]["reference"].removeprefix("Patient/"))]
            pairs[code].append((o["valueQuantity"]["value"], person[column[code]]))
    for code, values in pairs.items():
        assert len(values) > 50, code
        measured = [m for m, _ in values]
        true = [t for _, t in values]
        mean_t = sum(true) / len(true)
        mean_m = sum(measured) / len(measured)
        cov = sum((m - mean_m) * (t - mean_t) for m, t in values)
        var_m = sum((m - mean_m) ** 2 for m in measured)
        var_t = sum((t - mean_t) ** 2 for t in true)
        assert cov / (var_m * var_t) ** 0.5 > 0.9, code
