"""``axhub agents``: tools, the approval worklist, a clinician's decision, the team worklist."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from axhub.agents import approvals
from axhub.agents.care_agents import Report
from axhub.cli.main import app

from .harness import TEAM, at, enrol, make_env


def test_approval_worklist_and_decision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AXHUB_DATA_DIR", str(tmp_path))
    env = make_env(tmp_path)
    person = enrol(env, {"id": "cli-1", "medications": ["amlodipine"], "language": "en"})
    env.agents.home_message(Report(person, at("1 10:00"), "Can I stop my amlodipine?"))
    runner = CliRunner()

    tools = runner.invoke(app, ["agents", "tools"])
    assert tools.exit_code == 0
    line = next(x for x in tools.stdout.splitlines() if x.startswith("apply_medication_change"))
    assert "clinical" in line and "needs clinician approval" in line

    listed = runner.invoke(app, ["agents", "approvals", "--team", TEAM])
    assert listed.exit_code == 0 and "1 pending" in listed.stdout
    assert f"#1 {person} review amlodipine" in listed.stdout

    no_reason = runner.invoke(
        app, ["agents", "decide", "1", "--reject", "--by", "dr-park", "--site", "phc",
              "--reason", " "],
    )  # fmt: skip
    assert no_reason.exit_code == 2
    done = runner.invoke(
        app, ["agents", "decide", "1", "--reject", "--by", "dr-park", "--site", "phc",
              "--reason", "keep the dose"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert done.stdout.strip() == "#1 rejected by dr-park"
    assert approvals.pending(env.store) == []

    work = runner.invoke(
        app, ["agents", "worklist", "--team", TEAM, "--on-behalf-of", "nurse-kim",
              "--language", "en"],
    )  # fmt: skip
    assert work.exit_code == 0, work.output
    assert f"Team {TEAM}:" in work.stdout and "0 pending approvals" in work.stdout
