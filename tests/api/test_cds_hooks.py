"""CDS Hooks 2.0: discovery, patient-view and order-sign cards checked against the spec."""

from __future__ import annotations

import uuid

import pytest

INDICATORS = {"info", "warning", "critical"}
ACTION_TYPES = {"create", "update", "delete"}


def assert_card(card: dict) -> None:
    """The CDS Hooks 2.0 Card attributes (https://cds-hooks.hl7.org/2.0/#card-attributes)."""
    assert isinstance(card["summary"], str) and 0 < len(card["summary"]) < 140
    assert card["indicator"] in INDICATORS
    assert isinstance(card["source"]["label"], str) and card["source"]["label"]
    uuid.UUID(card["uuid"])
    assert set(card) <= {"uuid", "summary", "detail", "indicator", "source", "suggestions",
                         "selectionBehavior", "overrideReasons", "links"}  # fmt: skip
    if "detail" in card:
        assert isinstance(card["detail"], str)
    if card.get("suggestions"):
        assert card["selectionBehavior"] in ("at-most-one", "any")
        for s in card["suggestions"]:
            assert isinstance(s["label"], str) and s["label"]
            uuid.UUID(s["uuid"])
            for a in s.get("actions", []):
                assert a["type"] in ACTION_TYPES
                assert isinstance(a["description"], str)
                if a["type"] == "delete":
                    assert "/" in a["resourceId"]
    for link in card.get("links", []):
        assert link["label"] and link["url"].startswith("http")
        assert link["type"] in ("absolute", "smart")


def test_discovery(client) -> None:
    body = client.get("/cds-services").json()
    hooks = {s["hook"]: s for s in body["services"]}
    assert set(hooks) == {"patient-view", "order-sign"}
    for s in body["services"]:
        assert s["id"] and s["description"]


def call(client, auth, service: str, hook: str, context: dict, label: str = "care-manager"):
    return client.post(
        f"/cds-services/{service}", headers=auth(label, "treatment"),
        json={"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context},
    )  # fmt: skip


def test_patient_view_cards_follow_the_spec_and_the_scores(client, auth, demo) -> None:
    seen = 0
    for pid in demo.seed.enrolled["north-1"]:
        resp = call(client, auth, "axhub-patient-view", "patient-view",
                    {"patientId": pid, "userId": "Practitioner/1"})  # fmt: skip
        assert resp.status_code == 200, resp.text
        cards = resp.json()["cards"]
        scores = client.get(f"/api/v1/persons/{pid}/scores", headers=auth("care-manager")).json()
        gaps = scores["pathway"]["gaps"]
        assert sum(c["summary"].startswith("Care gap") for c in cards) == len(gaps)
        if scores["pathway"]["risk_tier"]:
            assert any("ASCVD" in c["summary"] for c in cards)
        for c in cards:
            assert_card(c)
        seen += len(cards)
    assert seen > 0


def test_patient_view_is_governed(client, auth, demo) -> None:
    other = demo.seed.enrolled["south-1"][0]
    resp = call(client, auth, "axhub-patient-view", "patient-view", {"patientId": other})
    assert resp.status_code == 403


def draft(*names: str) -> dict:
    return {
        "resourceType": "Bundle", "type": "collection",
        "entry": [{"resource": {
            "resourceType": "MedicationRequest", "id": f"draft-{i}", "status": "draft",
            "intent": "order", "medicationCodeableConcept": {"text": n},
        }} for i, n in enumerate(names)],
    }  # fmt: skip


def test_order_sign_drug_drug_and_drug_food(client, auth, demo) -> None:
    pid = demo.seed.enrolled["north-1"][0]
    context = {"patientId": pid, "draftOrders": draft("simvastatin", "clarithromycin")}
    resp = call(client, auth, "axhub-order-sign", "order-sign", context)
    assert resp.status_code == 200, resp.text
    cards = resp.json()["cards"]
    for c in cards:
        assert_card(c)
    critical = [c for c in cards if c["indicator"] == "critical"]
    assert critical and "simvastatin + clarithromycin" in critical[0]["summary"]
    ids = {a["resourceId"] for s in critical[0]["suggestions"] for a in s["actions"]}
    assert ids <= {"MedicationRequest/draft-0", "MedicationRequest/draft-1"} and ids
    assert any("grapefruit" in c["summary"] and c["indicator"] == "warning" for c in cards)


def test_order_sign_without_new_problem_has_no_drug_drug_card(client, auth, demo) -> None:
    pid = demo.seed.enrolled["north-1"][0]
    context = {"patientId": pid, "draftOrders": draft("amlodipine")}
    cards = call(client, auth, "axhub-order-sign", "order-sign", context).json()["cards"]
    assert not [c for c in cards if "simvastatin" in c["summary"]]


@pytest.mark.parametrize(
    ("context", "field"),
    [({"draftOrders": {"resourceType": "Bundle"}}, "context.patientId"),
     ({"patientId": "x1", "draftOrders": []}, "context.draftOrders")],
)  # fmt: skip
def test_order_sign_bad_context(client, auth, context, field) -> None:
    resp = call(client, auth, "axhub-order-sign", "order-sign", context)
    assert resp.status_code == 422
    assert resp.json()["error"]["fields"]["field"] == field


def test_unknown_service_and_wrong_hook(client, auth) -> None:
    assert call(client, auth, "nope", "patient-view", {}).status_code == 404
    assert call(client, auth, "axhub-order-sign", "patient-view", {}).status_code == 422
