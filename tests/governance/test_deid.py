"""De-identification: allow-list only, no direct identifiers, keyed pseudonyms, linkage input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from axhub.config import Settings
from axhub.errors import ConfigError, InputError, NotFoundError
from axhub.governance.allowlist import load_allowlist, resource_sql
from axhub.governance.audit import AuditLog
from axhub.governance.deid import deidentify, integrated_path
from axhub.governance.keys import KeyStore, codebook_path
from axhub.governance.pseudonym import pseudonym, register_sql

from .conftest import MAPPING, NOW, REGION, write_raw_zone

ALLOW = load_allowlist()


def zone_rows(settings: Settings) -> list[dict]:
    con = duckdb.connect(str(integrated_path(settings)), read_only=True)
    try:
        rel = con.sql("SELECT site, resource_type, id, person_id, resource FROM resources")
        return rel.to_arrow_table().to_pylist()
    finally:
        con.close()


def identifier_needles(raw: duckdb.DuckDBPyConnection) -> list[str]:
    """Direct identifiers of every raw Patient: names, phones, MRNs/ids, birth dates, roads."""
    sql = """
        WITH p AS (SELECT id, resource AS r FROM resources WHERE resource_type = 'Patient')
        SELECT DISTINCT v FROM (
            SELECT unnest(json_extract_string(r, '$.name[*].family')) AS v FROM p
            UNION ALL SELECT unnest(json_extract_string(r, '$.name[*].text')) FROM p
            UNION ALL SELECT unnest(json_extract_string(r, '$.name[*].given[*]')) FROM p
            UNION ALL SELECT unnest(json_extract_string(r, '$.telecom[*].value')) FROM p
            UNION ALL SELECT unnest(json_extract_string(r, '$.identifier[*].value')) FROM p
            UNION ALL SELECT id FROM p
            UNION ALL SELECT json_extract_string(r, '$.birthDate') FROM p
            UNION ALL SELECT unnest(json_extract_string(r, '$.address[*].line[*]')) FROM p
            UNION ALL SELECT unnest(json_extract_string(r, '$.address[*].postalCode')) FROM p
        ) WHERE v IS NOT NULL AND length(v) >= 2
    """
    return [r[0] for r in raw.execute(sql).fetchall()]


def scan_zone_for(path: Path, needles: list[str]) -> list[tuple[str, str]]:
    """(table, needle) for every needle found in any column of any table of the zone."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        # A needle counts when it stands as a token (not inside a code or a hex pseudonym).
        con.execute("CREATE TEMP TABLE needles (v VARCHAR, pattern VARCHAR)")
        con.executemany(
            "INSERT INTO needles VALUES (?, ?)",
            [(n, f"(^|[^0-9A-Za-z]){re.escape(n)}($|[^0-9A-Za-z])") for n in needles],
        )
        hits = []
        tables = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = 'integrated'"
            ).fetchall()
        ]
        assert "resources" in tables and "person_keys" in tables
        for t in tables:
            cols = [
                r[0]
                for r in con.execute(
                    f"SELECT column_name FROM duckdb_columns() WHERE table_name = '{t}' "
                    "AND database_name = 'integrated'"
                ).fetchall()
            ]
            text = " || ' ' || ".join(f"coalesce(CAST(\"{c}\" AS VARCHAR), '')" for c in cols)
            hits += [
                (t, r[0])
                for r in con.execute(
                    f"WITH x AS MATERIALIZED (SELECT {text} AS txt FROM integrated.{t}) "
                    "SELECT DISTINCT n.v FROM x JOIN needles n "
                    "ON contains(x.txt, n.v) AND regexp_matches(x.txt, n.pattern)"
                ).fetchall()
            ]
        return hits
    finally:
        con.close()


def test_korean_region_has_no_direct_identifiers(region, audit) -> None:
    deidentify(region, audit, mapping=pa.table(MAPPING))
    raw = duckdb.connect(str(region.raw_zone_path), read_only=True)
    needles = identifier_needles(raw)
    raw.close()
    assert {"김영희", "010-1234-5678", "KN0001", "1948-03-15", "중앙로 12"} <= set(needles)
    assert scan_zone_for(integrated_path(region), needles) == []
    # the free text of notes and codes is gone too
    text = json.dumps([r["resource"] for r in zone_rows(region)], ensure_ascii=False)
    assert "보호자" not in text and "자유 기술" not in text and "환자 이름" not in text


def test_synthea_sample_has_no_direct_identifiers(shared_dir, settings, audit) -> None:
    from axhub.ingest import ingest

    ingest(shared_dir / "data" / "synthea-sample", site="knuh", settings=settings)
    report = deidentify(settings, audit)
    assert report.patients == 13 and report.persons == 13
    assert report.dropped_types.get("DocumentReference", 0) > 0  # free-text notes dropped whole
    assert report.resources_out["Condition"] > 0 and report.resources_out["Encounter"] > 0
    raw = duckdb.connect(str(settings.raw_zone_path), read_only=True)
    needles = identifier_needles(raw)
    raw.close()
    assert len(needles) > 13 * 4
    assert scan_zone_for(integrated_path(settings), needles) == []
    # every row of a patient-owned type carries its person's pseudonym
    rows = zone_rows(settings)
    persons = {r["person_id"] for r in rows if r["resource_type"] == "Patient"}
    assert {r["person_id"] for r in rows if r["resource_type"] == "Condition"} <= persons


def test_rules_per_field(region, audit) -> None:
    deidentify(region, audit, mapping=pa.table(MAPPING))
    rows = zone_rows(region)
    patients = [json.loads(r["resource"]) for r in rows if r["resource_type"] == "Patient"]
    assert {p["birthDate"] for p in patients} == {"1948-03", "1952-11"}
    assert {json.dumps(p["address"], ensure_ascii=False) for p in patients} == {
        '[{"district": "퇴계동", "city": "춘천시"}]',
        '[{"district": "신북읍", "city": "춘천시"}]',
    }
    assert all(set(p) <= {"resourceType", "id", "gender", "birthDate", "address"} for p in patients)
    cond = next(json.loads(r["resource"]) for r in rows if r["resource_type"] == "Condition")
    assert set(cond["code"]) == {"coding"} and "display" not in cond["subject"]
    assert cond["onsetDateTime"][:4] in {"2023", "2024", "2025"}


def test_linkage_mapping_gives_one_person_across_sites(region, audit) -> None:
    report = deidentify(region, audit, mapping=pa.table(MAPPING))
    assert (report.patients, report.linked_patients, report.persons) == (3, 3, 2)
    assert report.orphans == {"Condition": 1} and report.dropped_types == {"DocumentReference": 1}
    rows = zone_rows(region)
    key = KeyStore(region).key("zone")
    person_a = pseudonym(key, "person:R-0001")
    a_rows = [r for r in rows if r["person_id"] == person_a]
    assert {r["site"] for r in a_rows} == {"knuh", "hallym"}
    conds = [json.loads(r["resource"]) for r in a_rows if r["resource_type"] == "Condition"]
    assert {c["subject"]["reference"] for c in conds} == {f"Patient/{person_a}"}
    # the codebook maps pseudonyms back to site records and lives in the key store only
    cb = duckdb.connect(str(codebook_path(region)), read_only=True)
    back = cb.execute(
        "SELECT site, patient_id FROM codebook WHERE person_id = ? ORDER BY 1", [person_a]
    ).fetchall()
    cb.close()
    assert back == [("hallym", "h7"), ("knuh", "k1")]
    assert codebook_path(region).parent != integrated_path(region).parent
    assert oct(codebook_path(region).stat().st_mode & 0o777) == "0o600"


def test_two_records_of_one_person_at_one_site_give_one_patient(region, audit) -> None:
    # h7 and h8 both linked to R-0001 at hallym (as when one person has a record at two
    # clinics of the clinics group): one Patient per (site, person), both persons' Conditions
    # kept and pointing at it.
    mapping = dict(MAPPING, person_id=["R-0001", "R-0001", "R-0001"])
    report = deidentify(region, audit, mapping=pa.table(mapping))
    assert report.persons == 1
    rows = zone_rows(region)
    patients = [r for r in rows if r["resource_type"] == "Patient"]
    assert sorted(r["site"] for r in patients) == ["hallym", "knuh"]
    person = pseudonym(KeyStore(region).key("zone"), "person:R-0001")
    conds = [json.loads(r["resource"]) for r in rows if r["resource_type"] == "Condition"]
    assert len(conds) == 3
    assert {c["subject"]["reference"] for c in conds} == {f"Patient/{person}"}


def test_linkage_output_shape_is_accepted(region, audit) -> None:
    links = pa.table(MAPPING).rename_columns(["site", "record_id", "person_id"])
    report = deidentify(region, audit, mapping=links)
    assert (report.linked_patients, report.persons) == (3, 2)


def test_without_mapping_each_site_patient_is_its_own_person(region, audit) -> None:
    report = deidentify(region, audit)
    assert report.persons == 3 and report.linked_patients == 0


@pytest.mark.parametrize(
    ("mapping", "error", "needle"),
    [
        (
            {"site": ["knhu"], "patient_id": ["k1"], "person_id": ["R1"]},
            NotFoundError,
            "unknown site 'knhu'",
        ),
        (
            {"site": ["knuh", "knuh"], "patient_id": ["k1", "k1"], "person_id": ["R1", "R2"]},
            InputError,
            "several person ids",
        ),
        ({"site": ["knuh"], "patient": ["k1"], "person_id": ["R1"]}, InputError, "patient_id"),
    ],
)
def test_bad_linkage_mapping(region, audit, mapping, error, needle) -> None:
    with pytest.raises(error) as exc:
        deidentify(region, audit, mapping=pa.table(mapping))
    assert needle in str(exc.value)
    if error is NotFoundError:
        assert "knuh" in exc.value.suggestions


def test_bad_allowlist_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "allow.toml"
    path.write_text('[types.Patient]\nname = "keep"\n')
    with pytest.raises(ConfigError, match="may not be kept"):
        load_allowlist(path)
    path.write_text('[types.Patient]\ngender = "kep"\n')
    with pytest.raises(ConfigError, match="unknown transform"):
        load_allowlist(path)


# -- property: output paths are a subset of the allow-list ------------------------------------
json_scalar = st.one_of(st.text(max_size=8), st.integers(), st.booleans(), st.none())
json_value = st.recursive(
    json_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(
                [
                    "text",
                    "coding",
                    "system",
                    "code",
                    "display",
                    "reference",
                    "value",
                    "name",
                    "district",
                    "line",
                ]
            ),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=12,
)


def paths(value, prefix=""):
    if isinstance(value, dict):
        for k, v in value.items():
            p = f"{prefix}.{k}" if prefix else k
            yield p
            yield from paths(v, p)
    elif isinstance(value, list):
        for v in value:
            yield from paths(v, prefix)


def covered(path: str, allowed: set[str]) -> bool:
    parts = path.split(".")
    return path in allowed or any(
        ".".join(parts[:i]) + ".*" in allowed for i in range(1, len(parts))
    )


@pytest.fixture(scope="module")
def sql_session():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA raw")
    con.execute(
        "CREATE TABLE raw.resources (site VARCHAR, resource_type VARCHAR, id VARCHAR, "
        "last_updated TIMESTAMPTZ, resource JSON)"
    )
    con.execute(
        "CREATE TEMP TABLE _patient_map AS SELECT 's' AS site, 'p1' AS patient_id, "
        "'0123456789abcdef0123456789abcdef' AS person_id"
    )
    register_sql(con, "zone_pseudo", b"k" * 32)
    yield con
    con.close()


@hsettings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rtype=st.sampled_from(sorted(ALLOW.types)),
    fields=st.dictionaries(
        st.sampled_from(
            sorted(
                {f for t in ALLOW.types.values() for f in t}
                | {"name", "telecom", "identifier", "text", "note", "extension"}
            )
        ),
        json_value,
        max_size=8,
    ),
)
def test_deidentified_output_is_within_the_allowlist(sql_session, rtype, fields) -> None:
    con = sql_session
    resource = {"resourceType": rtype, "id": "x1", **fields}
    if ALLOW.owners.get(rtype) not in (None, "id"):
        resource[ALLOW.owners[rtype]] = {"reference": "Patient/p1", "display": "Kim"}
    con.execute("DELETE FROM raw.resources")
    con.execute(
        "INSERT INTO raw.resources VALUES ('s', ?, ?, ?, ?)",
        [rtype, "p1" if rtype == "Patient" else "x1", NOW, json.dumps(resource)],
    )
    out = con.execute(resource_sql(ALLOW, rtype)).fetchall()
    assert len(out) == 1
    doc = json.loads(out[0][5])
    allowed = ALLOW.paths(rtype)
    bad = [p for p in paths(doc) if not covered(p, allowed)]
    assert bad == []
    assert "Kim" not in json.dumps(doc)


def test_pseudonym_sql_matches_python_and_differs_by_key() -> None:
    con = duckdb.connect()
    register_sql(con, "a_pseudo", b"project-a-key")
    register_sql(con, "b_pseudo", b"project-b-key")
    values = ["knuh/Patient/1", "김영희", "", "x" * 200]
    got = con.execute("SELECT a_pseudo(v), b_pseudo(v) FROM unnest(?) t(v)", [values]).fetchall()
    for v, (a, b) in zip(values, got, strict=True):
        assert a == pseudonym(b"project-a-key", v) and b == pseudonym(b"project-b-key", v)
        assert a != b and len(a) == 32


@given(
    value=st.text(min_size=1, max_size=40),
    k1=st.binary(min_size=16, max_size=80),
    k2=st.binary(min_size=16, max_size=80),
)
def test_pseudonyms_stable_per_key_and_different_across_keys(value, k1, k2) -> None:
    assert pseudonym(k1, value) == pseudonym(k1, value)
    if k1 != k2:
        assert pseudonym(k1, value) != pseudonym(k2, value)


def test_project_keys_differ_and_key_files_are_private(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    ks = KeyStore(s)
    a, b = ks.key("project:a"), ks.key("project:b")
    assert a != b and ks.key("project:a") == a and len(a) == 32
    assert oct(ks.directory.stat().st_mode & 0o777) == "0o700"
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in ks.directory.glob("*.key"))


def test_rerun_is_deterministic(region) -> None:
    audit = AuditLog.open(region, clock=lambda: NOW)
    deidentify(region, audit, mapping=pa.table(MAPPING))
    first = sorted(json.dumps(r, sort_keys=True) for r in zone_rows(region))
    write_raw_zone(region.data_dir / "unused.duckdb", REGION[:1])
    deidentify(region, audit, mapping=pa.table(MAPPING))
    assert sorted(json.dumps(r, sort_keys=True) for r in zone_rows(region)) == first
    assert [e["kind"] for e in audit.entries()] == ["deidentify", "deidentify"]


def test_scan_finds_a_planted_identifier(region, audit) -> None:
    deidentify(region, audit, mapping=pa.table(MAPPING))
    con = duckdb.connect(str(integrated_path(region)))
    con.execute(
        "UPDATE resources SET resource = json_merge_patch(resource, "
        "'{\"note\": \"call 010-1234-5678\"}') WHERE resource_type = 'Condition'"
    )
    con.close()
    hits = scan_zone_for(integrated_path(region), ["010-1234-5678", "김영희", "234"])
    assert hits == [("resources", "010-1234-5678")]


@pytest.mark.slow
def test_synthetic_region_end_to_end_has_no_direct_identifiers(settings, audit, tmp_path) -> None:
    """axhub synth -> ingest every site -> de-identify with the true linkage -> scan."""
    import pyarrow.parquet as pq

    from axhub.ingest import ingest
    from axhub.synth import generate

    out = tmp_path / "region"
    generate(120, 7, out)
    sites = sorted(p.name for p in (out / "sites").iterdir())
    assert sites == ["clinics", "hallym", "knuh", "phc"]
    for site in sites:
        ingest(out / "sites" / site, site=site, settings=settings)
    truth = pq.read_table(out / "ground_truth" / "site_records.parquet")
    report = deidentify(settings, audit, mapping=truth.select(["site", "patient_id", "person_id"]))
    assert report.linked_patients == report.patients and report.mapping_unmatched == 0
    assert report.persons == len(set(truth.column("person_id").to_pylist()))
    raw = duckdb.connect(str(settings.raw_zone_path), read_only=True)
    needles = identifier_needles(raw)
    needles += [
        r[0]
        for r in raw.execute(
            "SELECT DISTINCT unnest(json_extract_string(resource, '$.address[*].text')) "
            "FROM resources WHERE resource_type = 'Patient'"
        ).fetchall()
    ]
    raw.close()
    assert any(n.startswith("010-") for n in needles) and any(n.startswith("K00") for n in needles)
    assert scan_zone_for(integrated_path(settings), needles) == []
    rows = zone_rows(settings)
    loc = next(json.loads(r["resource"]) for r in rows if r["resource_type"] == "Location")
    assert set(loc["address"]) <= {"district", "city", "state", "country"}
    assert loc["address"]["district"]


def test_objects_where_strings_belong_are_dropped(sql_session) -> None:
    con = sql_session
    resource = {
        "resourceType": "Patient",
        "id": "p1",
        "birthDate": {"text": "1948-03-15 김영희"},
        "address": [{"district": {"name": "김영희"}, "city": "춘천시"}],
        "maritalStatus": {
            "coding": [
                {"system": {"name": "김영희"}, "code": ["x", "김영희"], "display": "Married"}
            ]
        },
    }
    con.execute("DELETE FROM raw.resources")
    con.execute(
        "INSERT INTO raw.resources VALUES ('s', 'Patient', 'p1', ?, ?)",
        [NOW, json.dumps(resource, ensure_ascii=False)],
    )
    doc = json.loads(con.execute(resource_sql(ALLOW, "Patient")).fetchall()[0][5])
    assert "김영희" not in json.dumps(doc, ensure_ascii=False)
    assert doc["address"] == [{"city": "춘천시"}]
    assert doc["maritalStatus"] == {"coding": [{"display": "Married"}]}
    assert "birthDate" not in doc
