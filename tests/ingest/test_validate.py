"""Line validation: the precise check names path and reason; the vectorised check agrees."""

from __future__ import annotations

import duckdb
import orjson
import pyarrow as pa
import pytest

from axhub.fhir.resource_types import is_reference
from axhub.ingest.rules import REQUIRED_ELEMENTS
from axhub.ingest.validate import Accepted, Problem, check, check_sql

from .conftest import observation, patient

BAD = [
    ('{"resourceType":"Patient","id":"p1"', "$", "invalid JSON"),
    ("[1, 2]", "$", "not a JSON object"),
    ('{"id":"p1"}', "$.resourceType", "missing resourceType"),
    ('{"resourceType":"Patinet","id":"p1"}', "$.resourceType", "did you mean Patient"),
    ('{"resourceType":"Patient"}', "$.id", "missing id"),
    ('{"resourceType":"Patient","id":"has space"}', "$.id", "not a FHIR id"),
    ('{"resourceType":"Patient","id":7}', "$.id", "not a FHIR id"),
    ('{"resourceType":"Patient","id":"p","meta":{"lastUpdated":"yesterday"}}',
     "$.meta.lastUpdated", "not a FHIR instant"),
    ('{"resourceType":"Patient","id":"p","meta":{"versionId":"a b"}}', "$.meta.versionId",
     "not a FHIR id"),
    ('{"resourceType":"Observation","id":"o","status":"final","subject":{"reference":"Patient/1"}}',
     "$.code", "Observation.code is required"),
    ('{"resourceType":"Condition","id":"c"}', "$.subject", "Condition.subject is required"),
    ('{"resourceType":"MedicationRequest","id":"m","status":"active","intent":"order",'
     '"subject":{"reference":"Patient/1"}}', "$.medication[x]", "medication[x] is required"),
    ('{"resourceType":"Condition","id":"c","subject":{"reference":"Patient 1"}}',
     "$.subject.reference", "malformed reference"),
    ('{"resourceType":"Condition","id":"c","subject":{"reference":"Pateint/1"}}',
     "$.subject.reference", "malformed reference"),
    ('{"resourceType":"Condition","id":"c","subject":{"reference":5}}',
     "$.subject.reference", "malformed reference"),
    ('{"resourceType":"Condition","id":"c","subject":{"reference":"Patient/1"},'
     '"evidence":[{"detail":[{"reference":"Patient/1"},{"reference":"urn:uuid:nope"}]}]}',
     "$.evidence[0].detail[1].reference", "malformed reference"),
    ('{"resourceType":"Patient","id":"p","x":NaN}', "$", "invalid JSON"),
]  # fmt: skip

GOOD = [
    orjson.dumps(patient("p-1.a")).decode(),
    orjson.dumps(observation("o1", "Patient/p1")).decode(),
    orjson.dumps(observation("o2", "urn:uuid:0b4b3a5e-6f7c-4c1e-9a57-2e8e1b6f4a10")).decode(),
    orjson.dumps(observation("o3", "http://fhir.example.org/r4/Patient/9/_history/2")).decode(),
    orjson.dumps(observation("o4", "Practitioner?identifier=http://x|1")).decode(),
    orjson.dumps(observation("o5", "#contained-1")).decode(),
    # escapes the vectorised check does not read; the precise check accepts them
    '{"resourceType":"Observation","id":"o6","status":"final","code":{},'
    '"subject":{"reference":"Patient\\/p1"}}',
    '{"resourceType":"Patient","id":"\\u0070"}',
    orjson.dumps(
        patient("p2", meta={"versionId": "3", "lastUpdated": "2024-01-02T03:04:05Z"})
    ).decode(),
    orjson.dumps(patient("p3", text={"div": "Infection: NaN is just text here"})).decode(),
]


@pytest.mark.parametrize(("line", "path", "reason"), BAD)
def test_precise_check_names_path_and_reason(line, path, reason):
    result = check(line)
    assert isinstance(result, Problem), result
    assert result.path == path
    assert reason in result.reason


@pytest.mark.parametrize("line", GOOD)
def test_precise_check_accepts_valid_resources(line):
    assert isinstance(check(line), Accepted)


def test_vectorised_check_flags_every_line_the_precise_check_rejects():
    lines = [line for line, _, _ in BAD] + GOOD
    table = pa.table(
        {
            "seq": list(range(len(lines))),
            "line": list(range(len(lines))),
            "path": pa.nulls(len(lines), pa.string()),
            "text": lines,
        }
    )
    con = duckdb.connect()
    con.register("src", table)
    flags = dict(con.execute(f"SELECT seq, bad FROM ({check_sql('src')})").fetchall())
    for i, line in enumerate(lines):
        if isinstance(check(line), Problem):
            assert flags[i], f"vectorised check passed a bad line: {line}"
    # lines with no escapes are passed without the precise check
    assert not flags[len(BAD)] and not flags[len(BAD) + 1]


def test_rules_are_data_with_their_reason():
    rule = next(r for r in REQUIRED_ELEMENTS if r.resource_type == "Observation")
    assert rule.path.startswith("$.") and "1..1" in rule.reason


@pytest.mark.parametrize(
    ("ref", "ok"),
    [("Patient/1", True), ("Patient/", False), ("patient/1", False), ("#", True),
     ("urn:oid:1.2.840.10008", True), ("urn:uuid:not-a-uuid", False),
     ("https://h.example/fhir/Encounter/e.1", True), ("Encounter?identifier=a|b", True)],
)  # fmt: skip
def test_reference_formats(ref, ok):
    assert is_reference(ref) is ok


def test_unguarded_check_flags_the_same_or_raises_for_the_guarded_retry():
    """The cheaper unguarded check agrees with the guarded one, or raises (never passes more)."""
    con = duckdb.connect()
    for lines in (GOOD, [line for line, _, _ in BAD] + GOOD):
        table = pa.table(
            {
                "seq": list(range(len(lines))),
                "line": list(range(len(lines))),
                "path": pa.nulls(len(lines), pa.string()),
                "text": lines,
            }
        )
        con.register("src", table)
        guarded = con.execute(f"SELECT seq, bad FROM ({check_sql('src')}) ORDER BY seq").fetchall()
        try:
            fast = con.execute(
                f"SELECT seq, bad FROM ({check_sql('src', guarded=False)}) ORDER BY seq"
            ).fetchall()
        except duckdb.Error:
            assert lines is not GOOD, "valid lines must pass the unguarded check"
            continue
        assert fast == guarded
