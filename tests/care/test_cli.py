"""``axhub care`` end to end through the CLI on a temporary data folder (SQLite)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from axhub.cli.main import app


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AXHUB_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("AXHUB_CARE_DB_URL", raising=False)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["care", *args])


def test_enrol_ingest_worklist_and_safety_refusals(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert run("enrol", "p-1", "--team", "north", "--condition", "hf").exit_code == 0
    refused = run("thresholds", "p-1", "--set", "glucose_low=60")
    assert refused.exit_code == 2 and "safety limits" in refused.output
    ok = run("thresholds", "p-1", "--set", "glucose_low=75", "--by", "nurse-kim")
    assert ok.exit_code == 0 and "* glucose_low" in ok.output
    f = tmp_path / "readings.ndjson"
    f.write_text(
        '{"reading_id":"a","person_id":"p-1","kind":"glucose","value":50,'
        '"effective_at":"2026-11-25T03:00:00+00:00"}\nnot json\n'
    )
    res = run("ingest", str(f))
    assert res.exit_code == 0
    assert json.loads(res.output) == {
        "received": 2, "stored": 1, "duplicates": 0, "quarantined": 1, "alerts": 1,
    }  # fmt: skip
    listed = json.loads(run("alerts", "--json").output)
    assert [(a["rule_id"], a["severity"]) for a in listed] == [("glucose.hypo_l2", "urgent")]
    snooze = run("snooze", str(listed[0]["id"]), "--minutes", "10", "--by", "nurse-kim")
    assert snooze.exit_code == 5 and "never be snoozed" in snooze.output
    assert run("resolve", str(listed[0]["id"]), "--by", "nurse-kim").exit_code == 0
    assert json.loads(run("alerts", "--json").output) == []
    assert (tmp_path / "care.sqlite").exists()
