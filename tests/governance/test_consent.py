"""Consent import (FHIR R4 Consent) and the query-time consent filter."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from axhub.config import Settings
from axhub.errors import InputError, NotFoundError
from axhub.governance.keys import KeyStore
from axhub.governance.policy import load_policy
from axhub.governance.principals import Principal, Project, Role
from axhub.governance.pseudonym import pseudonym
from axhub.governance.purposes import Purpose
from axhub.governance.stewardship import StewardStore

from .conftest import MAPPING, NOW, write_raw_zone

OP = Principal("op-1", Role.OPERATOR)
RES = Principal("r-lee", Role.RESEARCHER, project_id="p1")
DOC = Principal("dr-kim", Role.CLINICIAN, site="hallym")
T1 = NOW + dt.timedelta(days=1)


def consent(
    cid: str,
    patient: str,
    kind: str = "deny",
    purpose: str = "HRESCH",
    start: str | None = None,
    **extra,
) -> dict:
    prov: dict = {
        "type": kind,
        "purpose": [
            {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": purpose}
        ],
    }
    if start:
        prov["period"] = {"start": start}
    return {
        "resourceType": "Consent",
        "id": cid,
        "status": "active",
        "scope": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "research"}
            ]
        },
        "patient": {"reference": f"Patient/{patient}"},
        "dateTime": "2026-11-20T10:00:00+09:00",
        "provision": prov,
        **extra,
    }


def ndjson(path: Path, resources: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in resources))
    return path


def make_store(settings: Settings, at: dt.datetime, policy=None) -> StewardStore:
    return StewardStore(settings, clock=lambda: at, policy=policy)


@pytest.fixture
def zone(region):
    store = make_store(region, NOW)
    store.deidentify(OP, pa.table(MAPPING))
    store.register_project(
        OP,
        Project(
            "p1",
            "DRB-1",
            frozenset(Purpose),
            frozenset({"Patient", "Condition"}),
            NOW + dt.timedelta(days=365),
            1.0,
        ),
    )
    return region


def person(settings: Settings, regional: str) -> str:
    return pseudonym(KeyStore(settings).key("zone"), f"person:{regional}")


def zone_persons(settings: Settings, principal: Principal, purpose: str, at: dt.datetime) -> set:
    store = make_store(settings, at)
    rows = store.read(principal, purpose, ["Patient"])
    return {(r["site"], r["person_id"]) for r in rows.to_pylist()}


def test_withdrawal_removes_person_from_research_from_its_effective_time(zone, tmp_path) -> None:
    f = ndjson(tmp_path / "c.ndjson", [consent("w1", "h8", start=T1.isoformat())])
    report = make_store(zone, NOW).import_consent(OP, f, "hallym")
    assert report.records == 1
    before = make_store(zone, NOW).read(RES, "research", ["Patient"])
    after = make_store(zone, T1).read(RES, "research", ["Patient"])
    assert before.num_rows == 3 and after.num_rows == 2
    # treatment is not affected by a research withdrawal
    assert len(zone_persons(zone, DOC, "treatment", T1)) == 3  # both persons' Patient records


def test_withdrawal_at_one_site_applies_to_the_linked_person_everywhere(zone, tmp_path) -> None:
    f = ndjson(tmp_path / "c.ndjson", [consent("w1", "k1")])
    make_store(zone, NOW).import_consent(OP, f, "knuh")
    rows = make_store(zone, NOW).read(RES, "research")
    assert rows.num_rows == 2  # person B's Patient + Condition only; A gone from both sites
    assert len(set(rows.column("person_id").to_pylist())) == 1


def test_permit_after_deny_and_period_end(zone, tmp_path) -> None:
    later = (T1 + dt.timedelta(days=1)).isoformat()
    f = ndjson(
        tmp_path / "c.ndjson",
        [
            consent("w1", "h8", start=T1.isoformat()),
            consent("w2", "h8", kind="permit", start=later),
        ],
    )
    make_store(zone, NOW).import_consent(OP, f, "hallym")
    n = [
        make_store(zone, at).read(RES, "research", ["Patient"]).num_rows
        for at in (NOW, T1, T1 + dt.timedelta(days=2))
    ]
    assert n == [3, 2, 3]


def test_opt_in_purpose_needs_a_permit(zone, tmp_path) -> None:
    text = (Path(load_policy().source.replace("axhub/", "src/axhub/"))).read_text()
    opt_in = tmp_path / "policy.toml"
    opt_in.write_text(text.replace('ai_training = "permit"', 'ai_training = "deny"'))
    policy = load_policy(opt_in)
    f = ndjson(tmp_path / "c.ndjson", [consent("p1", "h8", kind="permit", purpose="ai-training")])
    f.write_text(
        f.read_text().replace(
            "http://terminology.hl7.org/CodeSystem/v3-ActReason",
            "https://axhub.dev/fhir/CodeSystem/purpose-of-use",
        )
    )
    store = make_store(zone, NOW, policy)
    assert store.read(RES, "ai_training", ["Patient"]).num_rows == 0
    store.import_consent(OP, f, "hallym")
    assert store.read(RES, "ai_training", ["Patient"]).num_rows == 1
    assert store.read(RES, "research", ["Patient"]).num_rows == 3


def test_reimport_is_idempotent_and_entered_in_error_retracts(zone, tmp_path) -> None:
    f = ndjson(tmp_path / "c.ndjson", [consent("w1", "h8")])
    store = make_store(zone, NOW)
    store.import_consent(OP, f, "hallym")
    again = store.import_consent(OP, f, "hallym")
    assert (again.records, again.duplicates) == (0, 1)
    wrong = consent("w1", "h8", status="entered-in-error")
    report = store.import_consent(OP, ndjson(tmp_path / "e.ndjson", [wrong]), "hallym")
    assert report.retracted == 1
    assert store.read(RES, "research", ["Patient"]).num_rows == 3


BAD = [
    ("{not json", "$", "not JSON"),
    (json.dumps({**consent("a", "h8"), "status": "actve"}), "status", "must be one of"),
    (
        json.dumps({**consent("a", "h8"), "patient": {"reference": "h8"}}),
        "patient.reference",
        "Patient/<id>",
    ),
    (json.dumps({**consent("a", "h8"), "dateTime": "yesterday"}), "dateTime", "not a FHIR"),
    (json.dumps({**consent("a", "h8"), "scope": {}}), "scope.coding", "consentscope"),
    (json.dumps({**consent("a", "h8"), "scope": "research"}), "scope.coding", "consentscope"),
    (json.dumps({**consent("a", "h8"), "patient": "h8"}), "patient.reference", "Patient/<id>"),
    (json.dumps({**consent("a", "h8"), "provision": None}), "provision", "missing provision"),
    (json.dumps(consent("a", "h8", kind="maybe")), "provision.type", "permit' or 'deny"),
    (
        json.dumps(consent("a", "h8", purpose="MARKETING")),
        "provision.purpose[0]",
        "unknown purpose",
    ),
    (json.dumps({"resourceType": "Patient", "id": "x"}), "resourceType", "Consent"),
]


@pytest.mark.parametrize(("line", "field", "needle"), BAD)
def test_malformed_consent_names_file_line_field_and_imports_nothing(
    zone, tmp_path, line, field, needle
) -> None:
    f = ndjson(tmp_path / "bad.ndjson", [consent("ok", "k1"), line])
    with pytest.raises(InputError) as exc:
        make_store(zone, NOW).import_consent(OP, f, "hallym")
    err = exc.value
    assert err.path == str(f) and err.line == 2 and err.field == field
    assert needle in str(err)
    assert make_store(zone, NOW).read(RES, "research", ["Patient"]).num_rows == 3


def test_conflicting_records_are_refused(zone, tmp_path) -> None:
    start = T1.isoformat()
    f = ndjson(
        tmp_path / "c.ndjson",
        [consent("a", "h8", start=start), consent("b", "h8", kind="permit", start=start)],
    )
    with pytest.raises(InputError, match=re.escape("conflicts with c.ndjson:1")) as exc:
        make_store(zone, NOW).import_consent(OP, f, "hallym")
    assert exc.value.line == 2
    store = make_store(zone, NOW)
    store.import_consent(
        OP, ndjson(tmp_path / "one.ndjson", [consent("a", "h8", start=start)]), "hallym"
    )
    other = ndjson(tmp_path / "two.ndjson", [consent("b", "h8", kind="permit", start=start)])
    with pytest.raises(
        InputError, match=re.escape("conflicts with stored consent from one.ndjson:1")
    ):
        store.import_consent(OP, other, "hallym")


def test_unknown_site_is_named_with_suggestions(zone, tmp_path) -> None:
    f = ndjson(tmp_path / "c.ndjson", [consent("a", "h8")])
    with pytest.raises(NotFoundError) as exc:
        make_store(zone, NOW).import_consent(OP, f, "halym")
    assert "halym" in str(exc.value) and exc.value.suggestions == ["hallym"]


# -- property: withdrawn consent is always excluded --------------------------------------------
@pytest.fixture(scope="module")
def big_zone(tmp_path_factory):
    """20 people at two sites, 10 of them linked across both."""
    from .conftest import condition, korean_patient

    rows, mapping = [], {"site": [], "patient_id": [], "person_id": []}
    for i in range(20):
        for site in ("knuh", "hallym") if i < 10 else ("hallym",):
            pid = f"{site[0]}{i}"
            rows.append(
                (
                    site,
                    korean_patient(pid, "이", f"010-0000-{i:04d}", f"M{i}", "1950-01-01", "퇴계동"),
                )
            )
            rows.append((site, condition(f"c{site}{i}", pid, "I10", "2024-01-01")))
            mapping["site"].append(site)
            mapping["patient_id"].append(pid)
            mapping["person_id"].append(f"R{i}")
    s = Settings(data_dir=tmp_path_factory.mktemp("big") / "data", secret_key="prop")
    s.data_dir.mkdir(parents=True)
    write_raw_zone(s.raw_zone_path, rows)
    store = make_store(s, NOW)
    store.deidentify(OP, pa.table(mapping))
    store.register_project(
        OP,
        Project(
            "p1",
            "DRB-1",
            frozenset({Purpose.RESEARCH}),
            frozenset({"Patient", "Condition"}),
            NOW + dt.timedelta(days=365),
        ),
    )
    return s


@hsettings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    withdrawals=st.dictionaries(st.integers(0, 19), st.integers(-5, 5), max_size=8),
    read_day=st.integers(-6, 6),
    data=st.data(),
)
def test_withdrawn_consent_is_always_excluded(
    big_zone, tmp_path_factory, withdrawals, read_day, data
) -> None:
    import duckdb

    from axhub.governance.registry import registry_path

    con = duckdb.connect(str(registry_path(big_zone)))
    con.execute("DELETE FROM consent")
    con.close()
    lines = []
    for i, day in withdrawals.items():
        site = data.draw(st.sampled_from(["knuh", "hallym"] if i < 10 else ["hallym"]))
        when = (NOW + dt.timedelta(days=day)).isoformat()
        lines.append((site, consent(f"w{i}", f"{site[0]}{i}", start=when)))
    store = make_store(big_zone, NOW)
    for site in ("knuh", "hallym"):
        mine = [c for s, c in lines if s == site]
        if mine:
            f = tmp_path_factory.mktemp("c") / f"{site}.ndjson"
            store.import_consent(OP, ndjson(f, mine), site)
    at = NOW + dt.timedelta(days=read_day)
    rows = make_store(big_zone, at).read(RES, "research")
    seen = set(rows.column("person_id").to_pylist())
    assert len(seen) == 20 - sum(1 for day in withdrawals.values() if day <= read_day)
    withdrawn_now = {i for i, day in withdrawals.items() if day <= read_day}
    # re-derive each withdrawn person's project pseudonym through a treatment read's zone id
    zone_ids = {pseudonym(KeyStore(big_zone).key("zone"), f"person:R{i}") for i in withdrawn_now}
    project_ids = {pseudonym(KeyStore(big_zone).key("project:p1"), z) for z in zone_ids}
    assert seen.isdisjoint(project_ids)


def test_consents_sent_through_ingest_are_imported_per_site(settings, tmp_path) -> None:
    from axhub.ingest import ingest

    from .conftest import korean_patient

    for site, pid in (("knuh", "k1"), ("hallym", "h7")):
        folder = tmp_path / site
        folder.mkdir()
        ndjson(
            folder / "Patient.000.ndjson",
            [korean_patient(pid, "김영희", "010-1", "M", "1948-03-15", "퇴계동")],
        )
        ndjson(folder / "Consent.000.ndjson", [consent(f"c-{site}", pid)])
        ingest(folder, site=site, settings=settings)
    store = make_store(settings, NOW)
    reports = store.import_consent_from_raw(OP)
    assert {s: r.records for s, r in reports.items()} == {"hallym": 1, "knuh": 1}
    bad = tmp_path / "bad"
    bad.mkdir()
    ndjson(bad / "Consent.000.ndjson", [{**consent("c-x", "k1"), "status": "actve"}])
    ingest(bad, site="knuh", settings=settings)
    with pytest.raises(InputError) as exc:
        store.import_consent_from_raw(OP)
    assert exc.value.path.endswith("Consent.000.ndjson") and exc.value.line == 1
    assert exc.value.field == "status"


def test_known_sites_follow_the_zone_as_it_changes(tmp_path) -> None:
    """known_sites is cached per zone file state: a site added later is seen at once."""
    import duckdb

    from axhub.governance.consent import known_sites

    settings = Settings(data_dir=tmp_path)
    assert known_sites(settings) == []
    write_raw_zone(settings.raw_zone_path, [("knuh", {"resourceType": "Patient", "id": "k1"})])
    assert known_sites(settings) == ["knuh"]
    assert known_sites(settings) == ["knuh"]  # from the cache
    con = duckdb.connect(str(settings.raw_zone_path))
    con.execute(
        "INSERT INTO resources VALUES ('phc', 'Patient', 'p1', '1', now(), '{}', 'f', 1, 'r2')"
    )
    con.close()
    assert known_sites(settings) == ["knuh", "phc"]
