"""``axhub ingest`` through the CLI: summary names read, stored and quarantined."""

from __future__ import annotations

from typer.testing import CliRunner

from axhub.cli.main import app

from .conftest import ndjson, patient


def test_cli_ingest_prints_summary_and_equation(tmp_path):
    src = ndjson(tmp_path / "export" / "Patient.000.ndjson", patient("p1"), patient("p2"), "{x")
    result = CliRunner().invoke(
        app, ["ingest", str(src.parent), "--site", "knuh", "--data-dir", str(tmp_path / "d")]
    )
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "records read 3 = stored 2 + superseded 0 + duplicates 0 + deleted 0 + " in out
    assert "quarantined 1" in out
    for column in ("read", "stored", "quarantined"):
        assert column in out
    assert (tmp_path / "d" / "raw.duckdb").is_file()


def test_cli_ingest_bad_site_exits_with_input_error(tmp_path):
    result = CliRunner().invoke(
        app, ["ingest", str(tmp_path), "--site", "Bad Site", "--data-dir", str(tmp_path / "d")]
    )
    assert result.exit_code == 2
    assert "site" in result.output
