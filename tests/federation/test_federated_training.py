"""FedAvg / FedProx rounds over the four site processes, and the comparison with central and
site-alone training (the package fixture's nodes; ``conftest.py``)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np

from axhub.federation.training import (
    LocalData,
    comparison,
    design,
    federated_train,
    harness_site_data,
    local_fit,
    pooled_scaling,
    sums,
)

if TYPE_CHECKING:
    from conftest import Federation

MODEL = "t2d_5y"
SEED = 20261126  # the Settings default seed the nodes run with


def site_rows(federation: Federation, sites: tuple[str, ...]) -> dict[str, LocalData]:
    """Each site's governed training rows, read as the experiment harness does."""
    return harness_site_data(
        {s: federation.nodes[s].data_dir for s in sites},
        MODEL,
        project_id=federation.project,
        researcher_id="r-harness",  # not the training researcher: the audit tells them apart
        seed=SEED,
    )


def governed_label_reads(federation: Federation, site: str, actor: str) -> int:
    """Allowed reads of the steward-imported outcomes for ai_training in the site's audit."""
    log = (federation.nodes[site].data_dir / "audit" / "audit.jsonl").read_text()
    return sum(
        e["kind"] == "read"
        and e["actor"] == actor
        and e["purpose"] == "ai_training"
        and e["detail"].get("resource_types") == ["research:outcomes"]
        for e in map(json.loads, log.splitlines())
    )


def test_fedavg_with_one_local_step_is_gradient_descent_on_the_union_of_sites(
    federation: Federation,
) -> None:
    two = ("knuh", "hallym")
    coord = federation.coordinator(only=two)
    model = federated_train(
        coord, MODEL, rounds=3, epochs=1, lr=0.5,
        project_id=federation.project, researcher_id=federation.researcher,
    )  # fmt: skip
    assert [r.sites for r in model.rounds] == [sorted(two)] * 4
    rows = site_rows(federation, two)
    parts = [rows[s] for s in two]
    mean, sd = pooled_scaling([sums(p) for p in parts])
    np.testing.assert_allclose(model.mean, mean)
    z = np.vstack([design(p.x[~p.test], mean, sd) for p in parts])
    y = np.concatenate([p.y[~p.test] for p in parts])
    w = np.zeros(z.shape[1])
    for _ in range(3):
        w = local_fit(z, y, w, epochs=1, lr=0.5, mu=0.0)
    np.testing.assert_allclose(model.weights, w, rtol=1e-9, atol=1e-12)
    for r in model.rounds:
        assert r.bytes_received < 4000 * len(two)  # weights and counts only
    # the sites read their labels through governance (steward-imported dataset, audited)
    assert all(governed_label_reads(federation, s, federation.researcher) >= 1 for s in two)


def test_training_needs_a_project_approved_for_ai_training(federation: Federation) -> None:
    got = federation.coordinator().train_step({"model_id": MODEL, "step": "stats"})
    assert got.answered == {} and all("HTTP 403" in v for v in got.refused.values())


def test_comparison_reports_auroc_of_each_method_and_site(federation: Federation) -> None:
    out = comparison(
        site_rows(federation, federation.sites), federation.coordinator(), MODEL,
        rounds=3, epochs=10, central_steps=100,
        project_id=federation.project, researcher_id=federation.researcher,
    )  # fmt: skip
    assert out["test_n"] > 0
    for name in ("fedavg", "fedprox", "centralised"):
        a = out[name]["auroc"]
        assert a is None or 0.0 <= a <= 1.0
    assert set(out["site_alone"]) == set(federation.sites)
    json.dumps(out)  # the report is plain JSON
