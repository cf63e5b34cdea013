"""``axhub views`` end to end through the CLI (in-process)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pyarrow.parquet as pq
from typer.testing import CliRunner

from axhub.cli.main import app
from axhub.config import Settings
from axhub.views.conformance import default_suite_dir


def test_views_list_shows_the_bundled_views() -> None:
    result = CliRunner().invoke(app, ["views", "list"])
    assert result.exit_code == 0, result.output
    for name in ("patient_demographics", "conditions", "observations"):
        assert name in result.output


def test_views_run_writes_parquet(region: Settings, tmp_path: Path) -> None:
    out = tmp_path / "pat.parquet"
    args = ["views", "run", "patient_demographics", "--data-dir", str(region.data_dir)]
    result = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert pq.read_table(out).num_rows > 0


def test_views_run_unknown_view_exits_with_suggestion(region: Settings) -> None:
    args = ["views", "run", "patients", "--data-dir", str(region.data_dir)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 3
    assert "did you mean" in result.output


def test_views_sql_prints_engine_sql() -> None:
    duck = CliRunner().invoke(app, ["views", "sql", "encounters"])
    spark = CliRunner().invoke(app, ["views", "sql", "encounters", "--engine", "spark"])
    assert duck.exit_code == 0 and spark.exit_code == 0
    assert "json_extract" in duck.output and "variant_get" in spark.output


def test_conformance_report_matches_the_spec_schema(tmp_path: Path) -> None:
    """The CLI report on three suite files (the whole suite runs in tests/conformance)."""
    suite = tmp_path / "suite"
    suite.mkdir()
    files = ("basic.json", "validate.json", "row_index.json")
    for name in files:
        shutil.copy(default_suite_dir() / name, suite / name)
    out = tmp_path / "test_report.json"
    args = ["views", "conformance", "--suite", str(suite), "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    schema = json.loads(
        (default_suite_dir() / "schema" / "test-report.schema.json").read_text(encoding="utf-8")
    )
    jsonschema.validate(report, schema)
    assert sorted(report) == sorted(files)
    assert sum(len(f["tests"]) for f in report.values()) == 11 + 5 + 9
    assert all(t["result"]["passed"] for f in report.values() for t in f["tests"])
