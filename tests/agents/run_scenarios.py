"""Run the scripted home-care scenarios and print the suite's figures.

    .venv/bin/python -m tests.agents.run_scenarios

Each scenario runs in a fresh care store and governance folder: readings go through intake →
monitoring → agents, messages to the home-care agent, sweeps through the periodic rules.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .harness import make_env, play

SCENARIOS = Path(__file__).resolve().parent / "scenarios"


def load() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for f in sorted(SCENARIOS.glob("*.json")):
        for i, sc in enumerate(json.loads(f.read_text(encoding="utf-8"))):
            for key in ("id", "title", "urgent", "events", "expect"):
                if key not in sc:
                    raise ValueError(f"{f.name}: scenario [{i}] has no {key!r}")
            sc["file"] = f.name
            out.append(sc)
    return out


def run_one(sc: dict[str, Any], tmp: Path) -> dict[str, Any]:
    return play(make_env(tmp), sc)


def mismatches(sc: dict[str, Any], got: dict[str, Any]) -> list[str]:
    bad = []
    for key, want in sc["expect"].items():
        have = got[key]
        if key in ("tasks", "templates"):
            if want == [] and have:
                bad.append(f"{key}: expected none, got {have}")
            elif not set(want) <= set(have):
                bad.append(f"{key}: expected {want} among {have}")
        elif have != want:
            bad.append(f"{key}: expected {want!r}, got {have!r}")
    return bad


@dataclass(frozen=True)
class Figures:
    scenarios: int
    urgent: int
    urgent_escalated: int
    non_urgent: int
    false_escalations: int
    non_urgent_with_task: int
    applied_without_approval: int
    failed: int

    @property
    def false_alert_rate(self) -> float:
        return self.false_escalations / self.non_urgent if self.non_urgent else 0.0

    def lines(self) -> list[str]:
        return [
            f"scenarios: {self.scenarios} ({self.urgent} urgent, {self.non_urgent} not urgent)",
            f"urgent scenarios escalated: {self.urgent_escalated}/{self.urgent} "
            f"({self.urgent_escalated / max(self.urgent, 1):.0%})",
            f"medication changes applied without a clinician's approval: "
            f"{self.applied_without_approval}",
            f"false-alert rate (escalations in non-urgent scenarios): {self.false_escalations}/"
            f"{self.non_urgent} = {self.false_alert_rate:.1%}",
            f"non-urgent scenarios that produced a care-team task: {self.non_urgent_with_task}/"
            f"{self.non_urgent}",
            f"scenarios not matching their expected outcome: {self.failed}",
        ]


def figures(results: list[tuple[dict[str, Any], dict[str, Any]]]) -> Figures:
    urgent = [(s, g) for s, g in results if s["urgent"]]
    calm = [(s, g) for s, g in results if not s["urgent"]]
    return Figures(
        scenarios=len(results),
        urgent=len(urgent),
        urgent_escalated=sum(g["escalation"] is not None for _, g in urgent),
        non_urgent=len(calm),
        false_escalations=sum(g["escalation"] is not None for _, g in calm),
        non_urgent_with_task=sum(bool(g["tasks"]) for _, g in calm),
        applied_without_approval=sum(g["applied_without_approval"] for _, g in results),
        failed=sum(bool(mismatches(s, g)) for s, g in results),
    )


def main() -> None:
    results = []
    for sc in load():
        with tempfile.TemporaryDirectory() as tmp:
            got = run_one(sc, Path(tmp))
        bad = mismatches(sc, got)
        print(f"{'ok  ' if not bad else 'FAIL'} {sc['id']}: {'; '.join(bad)}")
        results.append((sc, got))
    print("\n".join(figures(results).lines()))


if __name__ == "__main__":
    main()
