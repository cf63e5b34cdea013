"""Worklist, alerts, tasks, approvals and device intake through the API."""

from __future__ import annotations

import datetime as dt

SEVERITY = {"info": 0, "warning": 1, "urgent": 2, "emergency": 3}


def test_worklist_is_ranked_most_severe_first(client, auth) -> None:
    body = client.get("/api/v1/care/worklist", headers=auth("care-manager")).json()
    ranks = [SEVERITY[a["severity"]] for a in body["alerts"]]
    assert ranks == sorted(ranks, reverse=True)
    assert [a["rank"] for a in body["alerts"]] == list(range(1, len(ranks) + 1))
    assert body["approvals"] and body["approvals"][0]["rationale"]


def test_approve_and_reject(client, auth, demo) -> None:
    from axhub.care.models import Approval

    pid = demo.seed.enrolled["north-1"][3]
    from axhub.api.hub import Hub

    hub: Hub = client.app.state.hub
    with hub.care.session() as s:
        a, b = (
            Approval(person_id=pid, action_class="message", rationale="test a"),
            Approval(person_id=pid, action_class="message", rationale="test b"),
        )
        s.add_all([a, b])
        s.flush()
        ids = a.id, b.id
    # a care worker may not decide; a reject needs a reason
    url = f"/api/v1/care/approvals/{ids[0]}"
    assert client.post(url, headers=auth("care-worker"), json={"decision": "approved"}
                       ).status_code == 403  # fmt: skip
    assert client.post(url, headers=auth("care-manager"), json={"decision": "rejected"}
                       ).status_code == 422  # fmt: skip
    ok = client.post(url, headers=auth("care-manager"), json={"decision": "approved"})
    assert ok.status_code == 200 and ok.json()["status"] == "approved"
    assert ok.json()["decided_by"] == "demo-cm-kim"
    again = client.post(url, headers=auth("care-manager"), json={"decision": "rejected",
                                                                 "reason": "x"})  # fmt: skip
    assert again.status_code == 422
    rej = client.post(f"/api/v1/care/approvals/{ids[1]}", headers=auth("care-manager"),
                      json={"decision": "rejected", "reason": "called already"})  # fmt: skip
    assert rej.json()["decision_reason"] == "called already"
    pending = client.get("/api/v1/care/approvals?status=pending", headers=auth("care-manager"))
    assert not {ids[0], ids[1]} & {a["id"] for a in pending.json()}


def test_other_team_cannot_touch_an_alert(client, auth) -> None:
    alerts = client.get("/api/v1/care/worklist", headers=auth("care-manager")).json()["alerts"]
    aid = alerts[0]["id"]
    resp = client.post(f"/api/v1/care/alerts/{aid}", headers=auth("care-worker-south"),
                       json={"action": "acknowledge"})  # fmt: skip
    assert resp.status_code == 404


def test_urgent_alerts_cannot_be_snoozed_but_warnings_can(client, auth) -> None:
    alerts = client.get("/api/v1/care/worklist", headers=auth("care-manager")).json()["alerts"]
    warning = next(a for a in alerts if a["severity"] in ("warning", "info"))
    ok = client.post(f"/api/v1/care/alerts/{warning['id']}", headers=auth("care-manager"),
                     json={"action": "snooze", "minutes": 30, "reason": "calling"})  # fmt: skip
    assert ok.status_code == 200 and ok.json()["snoozed_until"]
    long = client.post(f"/api/v1/care/alerts/{warning['id']}", headers=auth("care-manager"),
                       json={"action": "snooze", "minutes": 9000})  # fmt: skip
    assert long.status_code == 403


def observation(pid: str, sbp: float, at: dt.datetime) -> dict:
    return {
        "resourceType": "Observation", "id": f"obs-{at:%H%M%S}", "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                  "observation-category", "code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": at.isoformat(),
        "component": [
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
             "valueQuantity": {"value": sbp, "unit": "mmHg", "system": "http://unitsofmeasure.org",
                               "code": "mm[Hg]"}},
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
             "valueQuantity": {"value": 80, "unit": "mmHg", "system": "http://unitsofmeasure.org",
                               "code": "mm[Hg]"}},
        ],
    }  # fmt: skip


def test_device_observation_intake(client, auth, demo) -> None:
    pid = demo.seed.enrolled["north-1"][4]
    at = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=5)
    obs = observation(pid, 128, at)
    first = client.post("/api/v1/care/observations", headers=auth("device-gateway"), json=obs)
    assert first.status_code == 201, first.text
    assert first.json()["stored"] == 1
    dup = client.post("/api/v1/care/observations", headers=auth("device-gateway"), json=obs)
    assert dup.status_code == 200 and dup.json()["duplicates"] == 1
    bad = dict(obs, component=[], id="bad")
    resp = client.post("/api/v1/care/observations", headers=auth("device-gateway"), json=bad)
    assert resp.status_code == 422 and resp.json()["error"]["fields"]["problems"]
    assert client.post("/api/v1/care/observations", headers=auth("researcher"),
                       json=obs).status_code == 403  # fmt: skip


def test_tasks_of_the_team(client, auth, demo) -> None:
    from axhub.care.tasks import create_task

    pid = demo.seed.enrolled["north-1"][5]
    hub = client.app.state.hub
    task = create_task(hub.care, person_id=pid, kind="call", title="Call about BP",
                       due_at=dt.datetime.now(dt.UTC))  # fmt: skip
    listed = client.get("/api/v1/care/tasks", headers=auth("care-worker")).json()
    assert task.id in {t["id"] for t in listed}
    south = client.get("/api/v1/care/tasks", headers=auth("care-worker-south")).json()
    assert task.id not in {t["id"] for t in south}
    done = client.post(f"/api/v1/care/tasks/{task.id}", headers=auth("care-worker"),
                       json={"status": "done"})  # fmt: skip
    assert done.json()["status"] == "done"


def test_gateway_cannot_post_for_another_team(client, auth, demo) -> None:
    pid = demo.seed.enrolled["south-1"][1]
    at = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=3)
    resp = client.post("/api/v1/care/observations", headers=auth("device-gateway"),
                       json=observation(pid, 130, at))  # fmt: skip
    assert resp.status_code == 403
