"""Bundle unpacking: urn:uuid references resolved, dangling ones reported with their path."""

from __future__ import annotations

import orjson

from axhub.fhir.bundle import parse_delete_url, unpack

U1 = "urn:uuid:11111111-1111-4111-8111-111111111111"
U2 = "urn:uuid:22222222-2222-4222-8222-222222222222"
U9 = "urn:uuid:99999999-9999-4999-8999-999999999999"


def _bundle(*entries, kind="transaction"):
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def test_urn_uuid_references_become_type_slash_id():
    b = _bundle(
        {"fullUrl": U1, "resource": {"resourceType": "Patient", "id": "p1"}},
        {"fullUrl": U2, "resource": {"resourceType": "Condition", "subject": {"reference": U1}}},
    )
    out = unpack(b)
    assert not out.problems
    cond = orjson.loads(out.resources[1].text)
    assert cond["subject"]["reference"] == "Patient/p1"
    # an entry without id takes the uuid of its fullUrl
    assert cond["id"] == U2.removeprefix("urn:uuid:")
    assert out.resources[1].path == "$.entry[1].resource"


def test_dangling_urn_uuid_is_a_problem_with_the_reference_path():
    b = _bundle(
        {"fullUrl": U1, "resource": {"resourceType": "Patient", "id": "p1"}},
        {"resource": {"resourceType": "Condition", "id": "c1",
                      "evidence": [{"detail": [{"reference": U9}]}]}},
    )  # fmt: skip
    out = unpack(b)
    assert [r.path for r in out.resources] == ["$.entry[0].resource"]
    (problem,) = out.problems
    assert problem.path == "$.entry[1].resource.evidence[0].detail[0].reference"
    assert "dangling" in problem.reason and U9 in problem.reason


def test_delete_requests_and_entries_without_resource():
    b = _bundle(
        {"request": {"method": "DELETE", "url": "Patient/p9"}},
        {"request": {"method": "DELETE", "url": "Patient?identifier=x"}},
        {"request": {"method": "GET", "url": "Patient/p1"}},
        kind="batch",
    )
    out = unpack(b)
    assert [(d.resource_type, d.id) for d in out.deletions] == [("Patient", "p9")]
    assert [p.path for p in out.problems] == ["$.entry[1].request.url", "$.entry[2]"]
    assert out.records == 3


def test_parse_delete_url_accepts_absolute_and_history_urls():
    assert parse_delete_url("https://x.org/fhir/Observation/o1") == ("Observation", "o1")
    assert parse_delete_url("Observation/o1/_history/3") == ("Observation", "o1")
    assert parse_delete_url("Nonsense/o1") is None
