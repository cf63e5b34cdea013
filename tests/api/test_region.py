"""District indicators and cohort counts: released with small-cell suppression only."""

from __future__ import annotations

import pytest

from axhub.fhir.districts import DISTRICTS


def released_counts(body: dict) -> list[int | None]:
    out = []
    for d in body["districts"]:
        out += [d.get("numerator"), d.get("denominator"), d.get("count")]
    return out


@pytest.mark.parametrize("key", ["hypertension", "htn_untreated", "no_encounter"])
def test_indicator_covers_25_districts_and_hides_small_cells(client, auth, key) -> None:
    resp = client.get(f"/api/v1/region/indicators/{key}", headers=auth("analyst"))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert {d["district"] for d in body["districts"]} == {d.name_ko for d in DISTRICTS}
    assert not [n for n in released_counts(body) if n is not None and 1 <= n <= 9]
    rates = [d["rate"] for d in body["districts"] if d["rate"] is not None]
    assert rates == sorted(rates, reverse=True), "ordered district chart: highest first"
    assert set(body["areas"]) == {"dong", "eup_myeon"}
    for area in body["areas"].values():
        assert area["numerator"] is None or area["numerator"] == 0 or area["numerator"] >= 10


def test_released_cells_add_up(client, auth) -> None:
    body = client.get("/api/v1/region/indicators/hypertension", headers=auth("analyst")).json()
    shown = [d for d in body["districts"] if d["denominator"] is not None]
    assert body["region"]["denominator"] >= sum(d["denominator"] for d in shown)


def test_care_worker_cannot_release_region_statistics(client, auth) -> None:
    resp = client.get("/api/v1/region/indicators/hypertension", headers=auth("care-worker"))
    assert resp.status_code == 403


def test_cohort_counts_are_released(client, auth) -> None:
    everyone = client.post("/api/v1/cohorts/count", headers=auth("researcher"), json={}).json()
    older = client.post(
        "/api/v1/cohorts/count", headers=auth("researcher"),
        json={"age_min": 65, "conditions": ["hypertension"]},
    ).json()  # fmt: skip
    assert everyone["total"] is not None and everyone["total"] > older["total"] > 0
    assert not [n for n in released_counts(older) if n is not None and 1 <= n <= 9]


def test_cohort_unknown_condition_suggests(client, auth) -> None:
    resp = client.post(
        "/api/v1/cohorts/count", headers=auth("researcher"), json={"conditions": ["diabetis"]}
    )
    assert resp.status_code == 404
    assert "diabetes" in resp.json()["error"]["fields"]["suggestions"]


def test_release_is_audited(client, auth, demo) -> None:
    import json

    audit = demo.settings.data_dir / "audit" / "audit.jsonl"
    before = len(audit.read_text().splitlines())
    client.post("/api/v1/cohorts/count", headers=auth("researcher"), json={"sex": "female"})
    new = [json.loads(x) for x in audit.read_text().splitlines()[before:]]
    assert any(e["kind"] == "release" and e["actor"] == "demo-r-jung" for e in new)
