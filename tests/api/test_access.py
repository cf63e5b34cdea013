"""Access control: tokens, purposes, researchers off person-level data, care teams' rosters."""

from __future__ import annotations

import json

import pytest

from axhub.api.auth import token_path

PERSON_PATHS = ("summary", "scores", "medsafety")


def test_tokens_are_hashed_at_rest(demo) -> None:
    text = token_path(demo.settings).read_text()
    for token in demo.seed.tokens.values():
        assert token not in text
    rows = json.loads(text)
    assert all(len(r["sha256"]) == 64 for r in rows)
    assert oct(token_path(demo.settings).stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("what", PERSON_PATHS)
@pytest.mark.parametrize("label", ["researcher", "analyst"])
def test_researcher_and_analyst_never_reach_person_level(client, auth, demo, what, label) -> None:
    pid = demo.seed.enrolled["north-1"][0]
    resp = client.get(f"/api/v1/persons/{pid}/{what}", headers=auth(label))
    assert resp.status_code == 403
    assert resp.json()["error"]["type"] == "PolicyDenied"


def test_researcher_cannot_borrow_a_care_purpose(client, auth, demo) -> None:
    pid = demo.seed.enrolled["north-1"][0]
    resp = client.get(f"/api/v1/persons/{pid}/summary", headers=auth("researcher", "treatment"))
    assert resp.status_code == 403


@pytest.mark.parametrize("what", PERSON_PATHS)
def test_care_worker_sees_own_team_only(client, auth, demo, what) -> None:
    own = demo.seed.enrolled["north-1"][1]
    other = demo.seed.enrolled["south-1"][0]
    assert client.get(f"/api/v1/persons/{own}/{what}", headers=auth("care-worker")).status_code \
        == 200  # fmt: skip
    resp = client.get(f"/api/v1/persons/{other}/{what}", headers=auth("care-worker"))
    assert resp.status_code == 403
    assert "care team" in resp.json()["error"]["message"]
    south = client.get(f"/api/v1/persons/{other}/{what}", headers=auth("care-worker-south"))
    assert south.status_code == 200


def test_care_worker_worklist_holds_only_team_alerts(client, auth, demo) -> None:
    north = client.get("/api/v1/care/worklist", headers=auth("care-worker")).json()
    south = client.get("/api/v1/care/worklist", headers=auth("care-worker-south")).json()
    assert {a["person_id"] for a in north["alerts"]} <= set(demo.seed.enrolled["north-1"])
    assert {a["person_id"] for a in south["alerts"]} <= set(demo.seed.enrolled["south-1"])
    assert north["alerts"], "the seeded high BP person raises an alert"


def test_researcher_has_no_worklist(client, auth) -> None:
    assert client.get("/api/v1/care/worklist", headers=auth("researcher")).status_code == 403


def test_person_reads_are_audited(client, auth, demo) -> None:
    pid = demo.seed.enrolled["north-1"][2]
    audit = demo.settings.data_dir / "audit" / "audit.jsonl"
    before = len(audit.read_text().splitlines())
    assert client.get(f"/api/v1/persons/{pid}/summary", headers=auth("care-manager")).status_code \
        == 200  # fmt: skip
    new = [json.loads(x) for x in audit.read_text().splitlines()[before:]]
    reads = [e for e in new if e["kind"] == "read" and e["actor"] == "demo-cm-kim"]
    assert reads and pid in reads[-1]["subjects"]
    assert all("name" not in json.dumps(e.get("detail", {})) for e in new)


def test_scores_carry_title_unit_source_or_reason(client, auth, demo) -> None:
    from axhub.clinical.scores.table import SCORE_IDS

    pid = demo.seed.enrolled["north-1"][0]
    body = client.get(f"/api/v1/persons/{pid}/scores", headers=auth("care-manager")).json()
    assert [s["score"] for s in body["scores"]] == list(SCORE_IDS)
    for s in body["scores"]:
        assert s["title"] and s["source"] and s["unit"]
        assert (s["value"] is None) != (s["reason"] is None), s
