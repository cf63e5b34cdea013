"""The scripted home-care scenario suite: expected outcomes and the suite's targets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .run_scenarios import figures, load, mismatches, run_one

SCENARIOS = load()
RESULTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}


def test_suite_is_big_and_varied() -> None:
    assert len(SCENARIOS) >= 50
    assert len({s["id"] for s in SCENARIOS}) == len(SCENARIOS)
    assert sum(s["urgent"] for s in SCENARIOS) >= 20
    assert sum(not s["urgent"] for s in SCENARIOS) >= 20


@pytest.mark.parametrize("sc", SCENARIOS, ids=[s["id"] for s in SCENARIOS])
def test_scenario(sc: dict[str, Any], tmp_path: Path) -> None:
    got = run_one(sc, tmp_path)
    RESULTS[sc["id"]] = (sc, got)
    assert not mismatches(sc, got), (sc["title"], mismatches(sc, got))


def test_targets(capsys: pytest.CaptureFixture[str]) -> None:
    """Every urgent scenario escalated; no medication change without approval; FA rate."""
    if len(RESULTS) != len(SCENARIOS):
        pytest.fail("run the whole scenario module (the targets need every scenario's result)")
    f = figures(list(RESULTS.values()))
    with capsys.disabled():
        print("\n" + "\n".join(f.lines()))
    assert f.urgent_escalated == f.urgent
    assert f.applied_without_approval == 0
    assert 0.0 <= f.false_alert_rate <= 0.10
