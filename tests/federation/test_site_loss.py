"""Losing a site: killed mid-query, hung past the timeout, killed mid-training-round.

Runs last (file order) and leaves two nodes dead, so no other test depends on what follows.
"""

from __future__ import annotations

import math
import os
import signal
import threading
from typing import TYPE_CHECKING, Any

from axhub.federation.coordinator import Coordinator, FederatedResult, new_query_id
from axhub.federation.spec import QuerySpec
from axhub.federation.training import federated_train

if TYPE_CHECKING:
    from conftest import Federation

AUTO = ("knuh", "hallym", "clinics")
MODEL = "t2d_5y"


def spec() -> QuerySpec:
    return QuerySpec(new_query_id(), "fed-2026", "r-kim", "count")


def test_a_site_killed_mid_query_gives_a_partial_result_naming_it(
    federation: Federation,
) -> None:
    victim = federation.nodes["hallym"]
    assert victim.proc is not None
    os.kill(victim.proc.pid, signal.SIGSTOP)  # the query reaches a site that stops answering
    killer = threading.Timer(1.5, lambda: os.kill(victim.proc.pid, signal.SIGKILL))  # type: ignore[union-attr]
    killer.start()
    try:
        r = federation.coordinator(timeout=15, only=AUTO).submit(spec())
    finally:
        killer.join()
    victim.proc.wait(timeout=10)
    assert r.partial and "hallym" in r.unreachable
    assert set(r.answered) == set(AUTO) - {"hallym"}
    assert r.combined["n"] == sum(p["n"] for p in r.answered.values())
    down = federation.coordinator(timeout=5, only=AUTO).submit(spec())
    assert down.unreachable["hallym"].startswith("unreachable")
    assert set(down.to_json()["sites_unreachable"]) == {"hallym"}
    stopped = federation.nodes["knuh"]
    assert stopped.proc is not None
    os.kill(stopped.proc.pid, signal.SIGSTOP)  # hangs: the coordinator gives up after its timeout
    try:
        hung = federation.coordinator(timeout=2, only=("knuh", "clinics")).submit(spec())
    finally:
        os.kill(stopped.proc.pid, signal.SIGCONT)
    assert hung.unreachable == {"knuh": "timed out after 2 s"}
    assert set(hung.answered) == {"clinics"}


class KillingCoordinator(Coordinator):
    """Kills one site's process while the second fit round is in flight."""

    def __init__(self, inner: Coordinator, pid: int) -> None:
        super().__init__(inner.sites, timeout=10)
        self.pid, self.fits = pid, 0

    def train_step(self, body: dict[str, Any]) -> FederatedResult:
        if body["step"] == "fit":
            self.fits += 1
            if self.fits == 2:
                threading.Timer(0.05, os.kill, (self.pid, signal.SIGKILL)).start()
        return super().train_step(body)


def test_a_site_killed_mid_round_is_left_out_and_named(federation: Federation) -> None:
    victim = federation.nodes["clinics"]
    assert victim.proc is not None
    alive = ("knuh", "phc", "clinics")  # hallym was killed by the test above
    coord = KillingCoordinator(federation.coordinator(only=alive), victim.proc.pid)
    model = federated_train(
        coord, MODEL, rounds=4, epochs=5,
        project_id=federation.project, researcher_id=federation.researcher,
    )  # fmt: skip
    victim.proc.wait(timeout=10)
    assert "clinics" in model.rounds[1].sites
    for r in model.rounds[3:]:
        assert "clinics" not in r.sites and r.missing["clinics"].startswith("unreachable")
        assert len(r.sites) == len(alive) - 1
    assert all(math.isfinite(v) for v in model.weights)
