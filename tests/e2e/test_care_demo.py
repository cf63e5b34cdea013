"""End to end: the demo's care step enrols the device cohort and replays a week of readings."""

from __future__ import annotations

from pathlib import Path

import pytest

from axhub.config import Settings
from axhub.demo import STEPS, Section, run_demo


def test_care_step_reports_alerts_tasks_and_approvals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AXHUB_SECRET_KEY", "demo-secret-value")
    assert "care" in [s.name for s in STEPS]
    printed: list[Section] = []
    ctx = run_demo(Settings(data_dir=tmp_path), people=1500, emit=printed.append)
    care = {s.title.split(":")[0]: s for s in printed}
    head = care["care at home"]
    values = dict((str(k), v) for k, v in head.rows)
    assert values["readings received"] > 0
    assert (
        values["stored"] + values["duplicates"] + values["quarantined"]
        == values["readings received"]
    )
    assert values["agent runs"] > 0
    assert "open alerts by rule" in care and "open tasks by kind" in care
    (approval,) = care["pending approvals (clinician worklist)"].rows
    assert approval[2] == "review amlodipine"
    worklist = care["care-coordinator worklist (top 10)"]
    assert worklist.rows and "pending approvals" in worklist.note
    levels = [r[4] for r in worklist.rows]
    assert levels == sorted(levels, key=lambda x: x.startswith("low")), levels
    # the enrolled ids are the integrated zone's pseudonyms (32 hex), never phc ids
    from axhub.care.store import CareStore

    ids = [e.person_id for e in CareStore.open(ctx.step_settings).enrolments()]
    assert ids and all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    import duckdb

    con = duckdb.connect(str(ctx.root / "integrated.duckdb"), read_only=True)
    zone = {r[0] for r in con.execute("SELECT DISTINCT person_id FROM resources").fetchall()}
    con.close()
    assert set(ids) <= zone  # the same pseudonyms as the integrated zone
