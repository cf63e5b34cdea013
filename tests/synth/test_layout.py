"""The output layout and contracts other engineers rely on (docs/synth.md)."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import orjson
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from axhub.fhir.districts import BY_NAME_KO
from axhub.synth import generate
from axhub.synth.sites import SITES

from ._util import SMALL_PEOPLE, read_ndjson

TYPES = ("Patient", "Encounter", "Observation", "Condition", "MedicationRequest",
         "Organization", "Location")  # fmt: skip


def test_every_site_writes_every_resource_type(region):
    out, _ = region
    for site in SITES:
        for rtype in TYPES:
            path = out / "sites" / site / f"{rtype}.000.ndjson"
            assert path.exists(), path
            assert path.stat().st_size > 0, path
    for rel in ("ground_truth/persons.parquet", "ground_truth/site_records.parquet",
                "ground_truth/events.parquet", "devices/Observation.000.ndjson",
                "devices/Device.000.ndjson", "devices/readings.parquet",
                "metabolomics/panel.parquet", "manifest.json"):  # fmt: skip
        assert (out / rel).exists(), rel


def test_manifest_counts_match_the_files(region):
    out, manifest = region
    for entry in manifest["files"]:
        data = (out / entry["path"]).read_bytes()
        assert data.count(b"\n") == entry["lines"], entry["path"]
        assert len(data) == entry["bytes"], entry["path"]
    on_disk = orjson.loads((out / "manifest.json").read_bytes())
    assert on_disk["counts"] == manifest["counts"]
    for site, counts in manifest["counts"].items():
        for rtype, n in counts.items():
            lines = (out / "sites" / site / f"{rtype}.000.ndjson").read_bytes().count(b"\n")
            assert lines == n, (site, rtype)


def test_patient_contract_fields(region):
    out, _ = region
    hangul = re.compile(r"^[가-힣]{2,4}$")
    for site in SITES:
        patients = read_ndjson(out / "sites" / site / "Patient.000.ndjson")
        ids = [p["id"] for p in patients]
        assert len(ids) == len(set(ids))
        n_hangul = 0
        for p in patients:
            assert p["identifier"][0]["system"] == f"urn:axhub:mrn:{site}"
            assert p["gender"] in ("male", "female")
            assert re.match(r"^\d{4}-\d{2}-\d{2}$", p["birthDate"])
            n_hangul += bool(hangul.match(p["name"][0]["text"]))
            if "address" in p:
                addr = p["address"][0]
                assert addr["city"] == "춘천시"
                assert addr["district"] in BY_NAME_KO
            if "telecom" in p:
                assert re.match(r"^010-\d{4}-\d{4}$", p["telecom"][0]["value"])
        # Most names are Hangul; the rest are romanised or typo variants (discrepancies).
        assert n_hangul / len(patients) > 0.9


def test_ground_truth_links_every_site_record(region):
    out, _ = region
    records = pq.read_table(out / "ground_truth/site_records.parquet")
    persons = pq.read_table(out / "ground_truth/persons.parquet")
    assert persons.num_rows == SMALL_PEOPLE
    person_ids = set(persons.column("person_id").to_pylist())
    assert set(records.column("person_id").to_pylist()) <= person_ids
    for site in SITES:
        patients = {p["id"] for p in read_ndjson(out / "sites" / site / "Patient.000.ndjson")}
        mask = np.array(records.column("site").to_pylist()) == site
        linked = set(np.array(records.column("patient_id").to_pylist())[mask])
        assert linked == patients, site
    # Each person visits 1-3 sites, with one record per site by default.
    per_person = Counter(records.column("person_id").to_pylist())
    assert set(per_person.values()) <= {1, 2, 3}
    assert len(per_person) == SMALL_PEOPLE


def test_second_clinic_registrations_when_enabled(tmp_path):
    generate(400, 3, tmp_path, second_clinic_rate=0.3)
    records = pq.read_table(tmp_path / "ground_truth/site_records.parquet").to_pylist()
    per_site = Counter((r["person_id"], r["site"]) for r in records)
    doubles = {k for k, c in per_site.items() if c > 1}
    assert doubles and all(site == "clinics" for _, site in doubles)
    for person, site in doubles:
        orgs = {r["organization"] for r in records if (r["person_id"], r["site"]) == (person, site)}
        assert len(orgs) == 2
    distinct_sites = Counter(p for p, _ in per_site)
    assert set(distinct_sites.values()) <= {1, 2, 3}
    patients = read_ndjson(tmp_path / "sites/clinics/Patient.000.ndjson")
    assert len(patients) == sum(1 for r in records if r["site"] == "clinics")


def test_events_are_in_the_five_year_horizon(region):
    out, _ = region
    events = pq.read_table(out / "ground_truth/events.parquet").to_pydict()
    assert set(events["event"]) <= {"stroke", "diabetes", "kidney_failure", "death"}
    dates = np.array(events["date"], dtype="datetime64[D]")
    assert dates.min() >= np.datetime64("2025-01-01")
    assert dates.max() < np.datetime64("2030-01-01")
    # Nothing happens after death.
    death = {p: d for p, e, d in zip(events["person_id"], events["event"], dates, strict=True)
             if e == "death"}  # fmt: skip
    for p, d in zip(events["person_id"], dates, strict=True):
        if p in death:
            assert d <= death[p]


def test_device_observations_reference_phc_patients_and_devices(region):
    out, _ = region
    phc = {p["id"] for p in read_ndjson(out / "sites/phc/Patient.000.ndjson")}
    devices = {d["id"]: d for d in read_ndjson(out / "devices/Device.000.ndjson")}
    obs = read_ndjson(out / "devices/Observation.000.ndjson")
    assert obs
    codes = Counter(o["code"]["coding"][0]["code"] for o in obs)
    assert set(codes) == {"85354-9", "41653-7", "59408-5", "29463-7", "41950-7"}
    for o in obs:
        patient = o["subject"]["reference"].removeprefix("Patient/")
        assert patient in phc
        device = devices[o["device"]["reference"].removeprefix("Device/")]
        assert device["patient"]["reference"] == o["subject"]["reference"]
    table = pq.read_table(out / "devices/readings.parquet")
    assert table.num_rows == len(obs)


@settings(max_examples=12, deadline=None)
@given(people=st.integers(min_value=1, max_value=60), seed=st.integers(0, 2**32 - 1))
def test_any_small_region_is_complete_and_parseable(tmp_path_factory, people, seed):
    out = tmp_path_factory.mktemp("tiny")
    manifest = generate(people, seed, out)
    persons = pq.read_table(out / "ground_truth/persons.parquet")
    assert persons.num_rows == people
    total = 0
    for entry in manifest["files"]:
        lines = (out / entry["path"]).read_bytes().splitlines()
        assert len(lines) == entry["lines"]
        for line in lines:
            assert orjson.loads(line)["resourceType"]
        total += len(lines)
    assert total == manifest["resources_total"]
    records = pq.read_table(out / "ground_truth/site_records.parquet")
    assert set(records.column("person_id").to_pylist()) == set(
        persons.column("person_id").to_pylist()
    )
