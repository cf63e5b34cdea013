"""Steward import of research measurements keyed by site record, and their governed read."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pytest

from axhub.errors import InputError, NotFoundError, PolicyDenied
from axhub.governance.keys import KeyStore
from axhub.governance.principals import Principal, Project, Role
from axhub.governance.pseudonym import pseudonym
from axhub.governance.purposes import Purpose
from axhub.governance.stewardship import StewardStore

from .conftest import MAPPING, NOW

OP = Principal("op-1", Role.OPERATOR)
RES = Principal("r-lee", Role.RESEARCHER, project_id="p1")
NARROW = Principal("r-cho", Role.RESEARCHER, project_id="p2")
T1 = NOW + dt.timedelta(days=1)

OUTCOMES = pa.table(
    {
        "site": ["knuh", "hallym", "hallym", "hallym", "phc"],
        "patient_id": ["k1", "h7", "h8", "h404", "p1"],  # h404, p1: unknown to the zone
        "event": ["stroke", "stroke", "diabetes", "stroke", "stroke"],
        "date": [dt.date(2027, 3, 1)] * 2 + [dt.date(2028, 1, 9)] + [dt.date(2027, 1, 1)] * 2,
        "name": ["김영희", "김영희", "박철수", "x", "y"],  # present but not imported
    }
)


def project(pid: str, scope: set[str]) -> Project:
    return Project(
        pid,
        f"DRB-{pid}",
        frozenset({Purpose.RESEARCH, Purpose.AI_TRAINING}),
        frozenset(scope),
        NOW + dt.timedelta(days=365),
        1.0,
    )


def store_at(settings, at: dt.datetime = NOW) -> StewardStore:
    return StewardStore(settings, clock=lambda: at)


@pytest.fixture
def store(region) -> StewardStore:
    s = store_at(region)
    s.deidentify(OP, pa.table(MAPPING))
    s.register_project(OP, project("p1", {"Patient", "Condition", "research:outcomes"}))
    s.register_project(OP, project("p2", {"Patient", "Condition"}))
    return s


def zone_person(settings, regional: str) -> str:
    return pseudonym(KeyStore(settings).key("zone"), f"person:{regional}")


def test_import_maps_site_records_to_persons_and_reports_unknown_records(store) -> None:
    r = store.import_research_data(
        OP, "outcomes", OUTCOMES, ["event", "date"], provenance="follow-up registry 2030"
    )
    assert (r.rows_in, r.records, r.linked_records, r.unlinked_records) == (5, 5, 3, 0)
    assert (r.unknown_records, r.unknown_rows, r.unknown_by_site) == (2, 2, {"hallym": 1, "phc": 1})
    # k1 and h7 are one person with the same event: one row after the mapping
    assert (r.persons, r.rows_out) == (2, 2)
    entry = [e for e in store.audit.entries() if e["kind"] == "research-import"][-1]
    assert entry["detail"]["unknown_records"] == 2 and entry["detail"]["dataset"] == "outcomes"
    assert entry["detail"]["provenance"] == "follow-up registry 2030"


def test_unlinked_site_records_keep_their_site_pseudonym_and_are_counted(region) -> None:
    s = store_at(region)
    s.deidentify(OP, pa.table({k: v[:2] for k, v in MAPPING.items()}))  # h8 not linked
    r = s.import_research_data(OP, "outcomes", OUTCOMES, ["event", "date"], provenance="t")
    assert (r.linked_records, r.unlinked_records, r.unknown_records) == (2, 1, 2)
    assert r.persons == 2


@pytest.mark.parametrize(
    "column", ["name", "patient_name", "phone", "mrn", "birth_date", "site_code", "rrn"]
)
def test_identifier_columns_are_refused(store, column) -> None:
    t = OUTCOMES if column == "name" else OUTCOMES.append_column(column, OUTCOMES["event"])
    with pytest.raises(InputError, match="direct identifier") as exc:
        store.import_research_data(OP, "outcomes", t, ["event", column], provenance="t")
    assert exc.value.field == column


def test_identifier_shaped_text_values_are_refused(store) -> None:
    t = OUTCOMES.append_column("code", pa.array(["a", "b", "010-1234-5678", "c", "d"]))
    with pytest.raises(InputError, match="phone number"):
        store.import_research_data(OP, "outcomes", t, ["event", "code"], provenance="t")


def test_missing_columns_and_keys_are_named(store) -> None:
    with pytest.raises(NotFoundError) as exc:
        store.import_research_data(OP, "outcomes", OUTCOMES, ["evnt"], provenance="t")
    assert exc.value.suggestions == ["event"]
    with pytest.raises(InputError, match="key column 'site'"):
        store.import_research_data(
            OP, "outcomes", OUTCOMES.drop(["site"]), ["event"], provenance="t"
        )


def test_only_operators_import(store) -> None:
    with pytest.raises(PolicyDenied):
        store.import_research_data(RES, "outcomes", OUTCOMES, ["event"], provenance="t")


def test_governed_read_uses_project_pseudonyms_equal_to_the_fhir_views(store) -> None:
    store.import_research_data(OP, "outcomes", OUTCOMES, ["event", "date"], provenance="t")
    got = store.read_dataset(RES, "research", "outcomes")
    assert got.column_names == ["person_id", "event", "date"]
    patients = store.read(RES, "research", ["Patient"])
    fhir_ids = set(patients.column("person_id").to_pylist())
    key = KeyStore(store.settings).key("project:p1")
    a = pseudonym(key, zone_person(store.settings, "R-0001"))
    b = pseudonym(key, zone_person(store.settings, "R-0002"))
    assert sorted(got.to_pylist(), key=lambda r: r["event"]) == [
        {"person_id": b, "event": "diabetes", "date": dt.date(2028, 1, 9)},
        {"person_id": a, "event": "stroke", "date": dt.date(2027, 3, 1)},
    ]
    assert set(got.column("person_id").to_pylist()) <= fhir_ids  # a join works
    zone_ids = {zone_person(store.settings, "R-0001"), zone_person(store.settings, "R-0002")}
    assert not zone_ids & set(got.column("person_id").to_pylist())
    text = json.dumps(got.to_pylist(), default=str)
    assert "김영희" not in text and "h7" not in text and "k1" not in text


def test_scope_is_required(store) -> None:
    store.import_research_data(OP, "outcomes", OUTCOMES, ["event"], provenance="t")
    with pytest.raises(PolicyDenied, match="outside project 'p2' scope"):
        store.read_dataset(NARROW, "research", "outcomes")
    with pytest.raises(PolicyDenied):
        store.read_dataset(
            Principal("dr-kim", Role.CLINICIAN, site="knuh"), "treatment", "outcomes"
        )


def test_unknown_dataset_names_the_known_ones(store) -> None:
    store.import_research_data(OP, "outcomes", OUTCOMES, ["event"], provenance="t")
    store.register_project(OP, project("p3", {"research:outcome"}))
    with pytest.raises(NotFoundError) as exc:
        store.read_dataset(
            Principal("r-x", Role.RESEARCHER, project_id="p3"), "research", "outcome"
        )
    assert exc.value.suggestions == ["outcomes"]


def test_withdrawn_person_vanishes_from_the_dataset(store, tmp_path: Path) -> None:
    store.import_research_data(OP, "outcomes", OUTCOMES, ["event", "date"], provenance="t")
    consent = {
        "resourceType": "Consent",
        "id": "w1",
        "status": "active",
        "scope": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "research"}
            ]
        },
        "patient": {"reference": "Patient/h8"},
        "dateTime": "2026-11-20T10:00:00+09:00",
        "provision": {
            "type": "deny",
            "purpose": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HRESCH"}
            ],
            "period": {"start": T1.isoformat()},
        },
    }
    f = tmp_path / "c.ndjson"
    f.write_text(json.dumps(consent) + "\n")
    store.import_consent(OP, f, "hallym")
    assert store_at(store.settings, NOW).read_dataset(RES, "research", "outcomes").num_rows == 2
    after = store_at(store.settings, T1).read_dataset(RES, "research", "outcomes")
    assert after.column("event").to_pylist() == ["stroke"]


def test_datasets_survive_a_rebuild_of_the_zone(store) -> None:
    store.import_research_data(OP, "outcomes", OUTCOMES, ["event", "date"], provenance="t")
    before = store.read_dataset(RES, "research", "outcomes")
    store.deidentify(OP, pa.table(MAPPING))
    assert store.read_dataset(RES, "research", "outcomes").equals(before)
    kinds = [
        e["detail"].get("step") for e in store.audit.entries() if e["kind"] == "research-import"
    ]
    assert kinds == ["import", "republish"]


def test_import_before_deidentification_is_refused(region) -> None:
    with pytest.raises(NotFoundError, match="run de-identification"):
        store_at(region).import_research_data(OP, "outcomes", OUTCOMES, ["event"], provenance="t")
