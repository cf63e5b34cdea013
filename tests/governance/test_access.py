"""The governed store: who sees what, per-project pseudonyms, re-identification, audit."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re

import pyarrow as pa
import pytest

from axhub.errors import EngineError, InputError, NotFoundError, PolicyDenied
from axhub.governance.keys import KeyStore
from axhub.governance.principals import Principal, Project, Role
from axhub.governance.pseudonym import pseudonym
from axhub.governance.purposes import Purpose
from axhub.governance.stewardship import StewardStore

from .conftest import MAPPING, NOW

OP = Principal("op-1", Role.OPERATOR)
RES_A = Principal("r-lee", Role.RESEARCHER, project_id="pa")
RES_B = Principal("r-cho", Role.RESEARCHER, project_id="pb")


def project(pid: str, days: int = 30, budget: float = 1.0) -> Project:
    return Project(
        pid,
        f"DRB-{pid}",
        frozenset({Purpose.RESEARCH}),
        frozenset({"Patient", "Condition"}),
        NOW + dt.timedelta(days=days),
        budget,
    )


@pytest.fixture
def store(region) -> StewardStore:
    s = StewardStore(region, clock=lambda: NOW)
    s.deidentify(OP, pa.table(MAPPING))
    s.register_project(OP, project("pa"))
    s.register_project(OP, project("pb"))
    return s


def zone_person(store: StewardStore, regional: str) -> str:
    return pseudonym(KeyStore(store.settings).key("zone"), f"person:{regional}")


def test_clinician_sees_persons_with_a_record_at_their_site(store) -> None:
    knuh = store.read(Principal("dr-kim", Role.CLINICIAN, site="knuh"), "treatment")
    a = zone_person(store, "R-0001")
    assert set(knuh.column("person_id").to_pylist()) == {a}
    assert set(knuh.column("site").to_pylist()) == {"knuh", "hallym"}  # the linked record too
    hallym = store.read(Principal("dr-han", Role.CLINICIAN, site="hallym"), "treatment")
    assert len(set(hallym.column("person_id").to_pylist())) == 2


def test_unknown_site_is_refused_with_suggestions(store) -> None:
    with pytest.raises(NotFoundError) as exc:
        store.read(Principal("dr-x", Role.CLINICIAN, site="kunh"), "treatment")
    assert exc.value.suggestions == ["knuh"]


def test_care_team_sees_its_roster_only(store) -> None:
    worker = Principal("cw-park", Role.CARE_WORKER, care_team="team-3")
    assert store.read(worker, "care_at_home").num_rows == 0
    b = zone_person(store, "R-0002")
    store.set_roster(OP, "team-3", [b])
    rows = store.read(worker, "care_at_home")
    assert set(rows.column("person_id").to_pylist()) == {b} and rows.num_rows == 2


def test_research_pseudonyms_are_per_project_and_consistent_within(store) -> None:
    a_rows = store.read(RES_A, "research")
    b_rows = store.read(RES_B, "research")
    zone_ids = {zone_person(store, "R-0001"), zone_person(store, "R-0002")}
    pa_ids = set(a_rows.column("person_id").to_pylist())
    pb_ids = set(b_rows.column("person_id").to_pylist())
    assert len(pa_ids) == len(pb_ids) == 2
    assert pa_ids.isdisjoint(pb_ids) and pa_ids.isdisjoint(zone_ids)
    assert set(a_rows.column("id").to_pylist()).isdisjoint(b_rows.column("id").to_pylist())
    for row in a_rows.to_pylist():
        doc = json.loads(row["resource"])
        text = row["resource"]
        assert not any(z in text for z in zone_ids)  # no zone pseudonym survives re-keying
        if row["resource_type"] == "Condition":
            assert doc["subject"]["reference"] == f"Patient/{row['person_id']}"
        else:
            assert doc["id"] == row["person_id"] == row["id"]
    # stable: the same project gets the same pseudonyms on every read
    assert set(store.read(RES_A, "research").column("person_id").to_pylist()) == pa_ids


def test_research_is_limited_to_project_scope(store) -> None:
    with pytest.raises(PolicyDenied, match="outside project"):
        store.read(RES_A, "research", ["Encounter"])
    assert set(store.read(RES_A, "research").column("resource_type").to_pylist()) == {
        "Patient",
        "Condition",
    }


def test_expired_project_is_denied_and_audited(store) -> None:
    store.register_project(OP, project("old", days=-1))
    with pytest.raises(PolicyDenied) as exc:
        store.read(Principal("r-old", Role.RESEARCHER, project_id="old"), "research")
    assert "DRB-old" in str(exc.value) and "expired" in str(exc.value)
    last = list(store.audit.entries())[-1]
    assert last["outcome"] == "deny" and last["policy_id"] == "research.approved-project"


def test_public_health_gets_aggregates_only(store) -> None:
    ph = Principal("ph-1", Role.PUBLIC_HEALTH_ANALYST)
    with pytest.raises(PolicyDenied):
        store.read(ph, "public_health_statistics")
    table = store.aggregate(
        ph,
        "public_health_statistics",
        "SELECT resource->'address'->0->>'district' AS district, resource->>'gender' AS sex, "
        "count(*) AS n FROM resources WHERE resource_type = 'Patient' GROUP BY ALL",
        row="district",
        col="sex",
    )
    cells = {(r["district"], r["sex"]): r["n"] for r in table.to_pylist()}
    assert cells[("(total)", "(total)")] is None  # 3 records: small, hidden
    assert all(v is None or v == 0 for v in cells.values())
    with pytest.raises(PolicyDenied, match="pseudonymous ids"):
        store.aggregate(
            ph,
            "public_health_statistics",
            "SELECT person_id AS who, 'x' AS k, count(*) AS n FROM resources GROUP BY ALL",
            row="who",
            col="k",
        )


def test_query_session_cannot_open_other_files(store) -> None:
    raw = str(store.settings.raw_zone_path)
    for sql in (f"SELECT * FROM read_json_auto('{raw}')", f"ATTACH '{raw}' AS r"):
        with pytest.raises(EngineError):
            store.query(RES_A, "research", sql)
    leaked = store.query(RES_A, "research", "SELECT getvariable('project_pseudo_ipad') AS k")
    assert leaked.column("k").to_pylist() == [None]  # key material was removed
    sql = "SELECT count(*) AS n FROM resources"
    out = store.query(RES_A, "research", sql)
    assert out.column("n").to_pylist() == [6]  # 3 Patient + 3 Condition rows
    last = list(store.audit.entries())[-1]
    assert last["detail"]["query_sha256"] == hashlib.sha256(sql.encode()).hexdigest()


def test_reidentification_is_care_only_and_audited(store) -> None:
    a = zone_person(store, "R-0001")
    doc = Principal("dr-kim", Role.CLINICIAN, site="knuh")
    table = store.reidentify(doc, "treatment", [a])
    assert table.to_pylist() == [{"person_id": a, "site": "knuh", "patient_id": "k1"}]
    entry = list(store.audit.entries())[-1]
    assert entry["kind"] == "reidentify" and entry["subjects"] == [a]
    for principal, purpose in (
        (RES_A, "research"),
        (doc, "quality_improvement"),
        (Principal("ag", Role.AGENT, care_team="t", on_behalf_of="x"), "care_at_home"),
    ):
        with pytest.raises(PolicyDenied):
            store.reidentify(principal, purpose, [a])
    worker = Principal("cw", Role.CARE_WORKER, care_team="t9")
    assert store.reidentify(worker, "care_at_home", [a]).num_rows == 0  # not on the roster
    store.set_roster(OP, "t9", [a])
    assert store.reidentify(worker, "care_at_home", [a]).num_rows == 2


def test_differential_privacy_budget_is_enforced_and_persisted(store) -> None:
    sql = (
        "SELECT person_id, resource->'address'->0->>'district' AS key FROM resources "
        "WHERE resource_type = 'Patient'"
    )
    out = store.release_dp(
        RES_A, "research", sql, partitions=["퇴계동", "신북읍", "효자동"], epsilon=0.6
    )
    assert out.column("key").to_pylist() == sorted(["퇴계동", "신북읍", "효자동"])
    assert all(n >= 0 for n in out.column("n").to_pylist())
    again = StewardStore(store.settings, clock=lambda: NOW)  # a new process sees the ledger
    with pytest.raises(PolicyDenied, match=re.escape("spent 0.6 of 1")):
        again.release_dp(RES_A, "research", sql, partitions=["퇴계동"], epsilon=0.5)
    means = again.release_dp(
        RES_A,
        "research",
        "SELECT person_id, 'all' AS key, 50 AS value FROM resources",
        partitions=["all"],
        epsilon=0.4,
        bounds=(0, 120),
    )
    assert 0 <= means.column("mean").to_pylist()[0] <= 120
    releases = [e for e in again.audit.entries() if e["kind"] == "release"]
    assert [e["detail"]["epsilon"] for e in releases] == [0.6, 0.4]


def test_audit_holds_no_direct_identifiers(store) -> None:
    store.read(Principal("dr-kim", Role.CLINICIAN, site="knuh"), "treatment")
    store.reidentify(
        Principal("dr-kim", Role.CLINICIAN, site="knuh"),
        "treatment",
        [zone_person(store, "R-0001")],
    )
    text = store.audit.path.read_text()
    for needle in ("김영희", "010-1234-5678", "KN0001", "1948-03-15", 'k1"', "R-0001"):
        assert needle not in text
    assert store.audit.verify().entries > 5


def test_export_is_pseudonymous_and_audited(store, tmp_path) -> None:
    import pyarrow.parquet as pq

    out = tmp_path / "extract.parquet"
    assert store.export(RES_A, "research", out, ["Condition"]) == 3
    table = pq.read_table(out)
    assert set(table.column("resource_type").to_pylist()) == {"Condition"}
    assert set(table.column("person_id").to_pylist()) == set(
        store.read(RES_A, "research", ["Condition"]).column("person_id").to_pylist()
    )
    assert zone_person(store, "R-0001") not in out.read_bytes().decode("latin-1")
    assert any(e["kind"] == "export" and e["detail"]["rows"] == 3 for e in store.audit.entries())
    with pytest.raises(PolicyDenied):
        store.export(
            Principal("ph", Role.PUBLIC_HEALTH_ANALYST),
            "public_health_statistics",
            tmp_path / "x.parquet",
        )


def test_agent_actions_are_audited(store) -> None:
    agent = Principal("agent-bp", Role.AGENT, care_team="t1", on_behalf_of="cm-choi")
    a = zone_person(store, "R-0001")
    store.record_agent_action(
        agent, "care_at_home", "escalate", subjects=[a], detail={"alert": "bp-severe"}
    )
    last = list(store.audit.entries())[-1]
    assert last["kind"] == "agent" and last["subjects"] == [a]
    assert last["detail"]["on_behalf_of"] == "cm-choi"
    with pytest.raises(InputError):
        store.record_agent_action(RES_A, "research", "read")
    with pytest.raises(InputError):
        store.record_agent_action(agent, "care_at_home", "message", detail={"phone": "010"})


def test_views_run_over_governed_rows_only(store) -> None:
    view = {
        "resourceType": "ViewDefinition",
        "resource": "Patient",
        "status": "active",
        "select": [
            {
                "column": [
                    {"path": "id", "name": "pid"},
                    {"path": "birthDate", "name": "birth"},
                    {"path": "address.first().district", "name": "district"},
                ]
            }
        ],
    }
    out = store.run_view(RES_A, "research", view)
    assert out.num_rows == 3
    assert set(out.column("birth").to_pylist()) == {"1948-03", "1952-11"}
    assert set(out.column("pid").to_pylist()) == set(
        store.read(RES_A, "research", ["Patient"]).column("person_id").to_pylist()
    )
    with pytest.raises(PolicyDenied):
        store.run_view(
            Principal("ph", Role.PUBLIC_HEALTH_ANALYST), "public_health_statistics", view
        )


def test_concurrent_reads_and_operator_writes_in_one_process(store) -> None:
    import threading

    errors: list[str] = []
    doc = Principal("dr-kim", Role.CLINICIAN, site="knuh")

    def reader() -> None:
        try:
            for _ in range(4):
                assert store.read(doc, "treatment").num_rows == 4
        except Exception as exc:  # collected and asserted below
            errors.append(repr(exc))

    def writer() -> None:
        try:
            for i in range(6):
                store.register_project(OP, project(f"w{i}"))
        except Exception as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=reader) for _ in range(3)]
    threads.append(threading.Thread(target=writer))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.audit.verify().entries > 30


def test_project_key_is_destroyed_only_after_the_processing_period(region, tmp_path) -> None:
    from axhub.config import Settings
    from axhub.errors import ConfigError

    s = Settings(data_dir=region.data_dir)  # no master secret: random key files
    live = StewardStore(s, clock=lambda: NOW)
    live.deidentify(OP, pa.table(MAPPING))
    live.register_project(OP, project("pa"))
    live.read(RES_A, "research")  # creates the project key
    key_file = s.data_dir / "keys" / "project_pa.key"
    assert key_file.exists()
    with pytest.raises(InputError, match="processing period"):
        live.destroy_project_key(OP, "pa")
    later = StewardStore(s, clock=lambda: NOW + dt.timedelta(days=31))
    fingerprint = later.destroy_project_key(OP, "pa")
    assert not key_file.exists() and len(fingerprint) == 16
    last = list(later.audit.entries())[-1]
    assert last["detail"] == {
        "action": "destroy-key",
        "project_id": "pa",
        "key_fingerprint": fingerprint,
    }
    with pytest.raises(PolicyDenied):
        later.read(RES_A, "research")  # expired: no new key is ever made
    assert not key_file.exists()
    with pytest.raises(ConfigError, match="rotate the secret"):
        KeyStore(Settings(data_dir=tmp_path, secret_key="s")).destroy("project:pa")
