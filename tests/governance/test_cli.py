"""The governance commands end to end through the CLI."""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from axhub.cli.main import app
from axhub.governance.deid import integrated_path

from .conftest import MAPPING
from .test_consent import consent, ndjson

runner = CliRunner()


@pytest.fixture
def env(region, monkeypatch):
    monkeypatch.setenv("AXHUB_SECRET_KEY", "cli-secret")
    return region


def run(*args: str):
    return runner.invoke(app, list(args))


def test_deidentify_consent_and_audit_through_the_cli(env, tmp_path) -> None:
    d = str(env.data_dir)
    mapping = tmp_path / "links.parquet"
    pq.write_table(pa.table(MAPPING), mapping)
    r = run(
        "governance", "deidentify", "--data-dir", d, "--mapping", str(mapping), "--operator", "op-7"
    )
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["persons"] == 2 and report["resources_out"] == {"Condition": 3, "Patient": 3}
    con = duckdb.connect(str(integrated_path(env)), read_only=True)
    assert con.execute("SELECT count(*) FROM resources").fetchone() == (6,)
    con.close()

    f = ndjson(tmp_path / "c.ndjson", [consent("w1", "h8")])
    r = run("consent", "import", str(f), "--site", "hallym", "--data-dir", d)
    assert r.exit_code == 0, r.output
    assert "hallym: imported 1 consent records" in r.stdout

    r = run(
        "governance",
        "project-add",
        "p9",
        "--drb",
        "DRB-9",
        "--purpose",
        "research",
        "--scope",
        "Patient,Condition",
        "--expires",
        "2030-01-01",
        "--data-dir",
        d,
    )
    assert r.exit_code == 0, r.output

    r = run("audit", "verify", "--data-dir", d)
    assert r.exit_code == 0 and "audit log intact: 6 entries" in r.stdout
    out = tmp_path / "audit.ndjson"
    r = run("audit", "export", "--out", str(out), "--data-dir", d)
    assert r.exit_code == 0
    events = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(events) == 6 and events[0]["agent"][0]["who"]["identifier"]["value"] == "op-7"


def test_cli_errors_are_clear(env, tmp_path) -> None:
    d = str(env.data_dir)
    run("governance", "deidentify", "--data-dir", d)
    bad = ndjson(tmp_path / "bad.ndjson", [consent("a", "h8"), "{oops"])
    r = run("consent", "import", str(bad), "--site", "hallym", "--data-dir", d)
    assert r.exit_code == 2 and "bad.ndjson" in r.output and "line=2" in r.output
    r = run("consent", "import", str(bad), "--site", "hallymm", "--data-dir", d)
    assert r.exit_code == 3 and "did you mean: hallym" in r.output
    r = run(
        "governance",
        "project-add",
        "p",
        "--drb",
        "D",
        "--purpose",
        "reserch",
        "--scope",
        "Patient",
        "--expires",
        "2030-01-01",
        "--data-dir",
        d,
    )
    assert r.exit_code == 3 and "research" in r.output
    log = env.data_dir / "audit" / "audit.jsonl"
    lines = log.read_text().splitlines()
    log.write_text("\n".join([lines[1], lines[0], *lines[2:]]) + "\n")
    r = run("audit", "verify", "--data-dir", d)
    assert r.exit_code == 7 and "line 1" in r.output and "expected 1" in r.output
    r = run("audit", "export", "--data-dir", d)
    assert r.exit_code == 7


def test_a_steward_imports_research_data_through_the_cli(env, tmp_path) -> None:
    from .test_research_data import OUTCOMES

    d = str(env.data_dir)
    mapping = tmp_path / "links.parquet"
    pq.write_table(pa.table(MAPPING), mapping)
    r = run("governance", "deidentify", "--data-dir", d, "--mapping", str(mapping))
    assert r.exit_code == 0, r.output
    data = tmp_path / "outcomes.parquet"
    pq.write_table(OUTCOMES, data)
    args = ["governance", "research-import", "outcomes", str(data), "--data-dir", d]
    r = run(*args, "--columns", "event,date", "--provenance", "registry 2030", "--operator", "st")
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert (report["records"], report["unknown_records"], report["persons"]) == (5, 2, 2)
    assert "김영희" not in r.stdout  # the name column is not imported, nor echoed

    r = run(*args, "--columns", "event,name", "--provenance", "x")
    assert r.exit_code != 0 and "name" in r.output  # identifier-like column refused, named
    r = run("governance", "research-import", "outcomes", str(tmp_path / "no.csv"),
            "--columns", "event", "--provenance", "x", "--data-dir", d)  # fmt: skip
    assert r.exit_code != 0 and "research data file not found" in r.output
