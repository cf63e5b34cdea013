"""FedAvg / FedProx rounds over the four site processes, and the comparison with central and
site-alone training (the package fixture's nodes; ``conftest.py``)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np

from axhub.federation.training import (
    comparison,
    design,
    federated_train,
    local_fit,
    pooled_scaling,
    sums,
    training_table,
)

if TYPE_CHECKING:
    from conftest import Federation

MODEL = "t2d_5y"
SEED = 20261126  # the Settings default seed the nodes run with


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
    parts = [training_table(federation.region, MODEL, site=s, seed=SEED) for s in two]
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


def test_training_needs_a_project_approved_for_ai_training(federation: Federation) -> None:
    got = federation.coordinator().train_step({"model_id": MODEL, "step": "stats"})
    assert got.answered == {} and all("HTTP 403" in v for v in got.refused.values())


def test_comparison_reports_auroc_of_each_method_and_site(federation: Federation) -> None:
    out = comparison(
        federation.region, federation.coordinator(), MODEL, list(federation.sites),
        seed=SEED, rounds=3, epochs=10, central_steps=100,
        project_id=federation.project, researcher_id=federation.researcher,
    )  # fmt: skip
    assert out["test_n"] > 0
    for name in ("fedavg", "fedprox", "centralised"):
        a = out[name]["auroc"]
        assert a is None or 0.0 <= a <= 1.0
    assert set(out["site_alone"]) == set(federation.sites)
    json.dumps(out)  # the report is plain JSON
