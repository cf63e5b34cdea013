"""``axhub synth`` end to end through the CLI."""

from __future__ import annotations

import orjson
from typer.testing import CliRunner

from axhub.cli.main import app


def test_synth_command_writes_region_and_prints_calibration(tmp_path):
    out = tmp_path / "region"
    result = CliRunner().invoke(app, ["synth", "--people", "600", "--seed", "4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "sourced anchors" in result.output
    assert "65+" in result.output
    assert "퇴계동" in result.output
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    assert manifest["people"] == 600 and manifest["seed"] == 4
    assert (out / "sites/knuh/Patient.000.ndjson").exists()


def test_synth_gzip_flag(tmp_path):
    out = tmp_path / "gz"
    result = CliRunner().invoke(
        app, ["synth", "--people", "300", "--seed", "4", "--out", str(out), "--gzip", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    assert (out / "sites/phc/Observation.000.ndjson.gz").exists()
    assert not (out / "sites/phc/Observation.000.ndjson").exists()


def test_synth_rejects_bad_people_count(tmp_path):
    result = CliRunner().invoke(app, ["synth", "--people", "-5", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "people must be at least 1" in result.output


def test_synth_defaults_come_from_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("AXHUB_DEMO_PEOPLE", "77")
    monkeypatch.setenv("AXHUB_SEED", "123")
    out = tmp_path / "region"
    result = CliRunner().invoke(app, ["synth", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    assert (manifest["people"], manifest["seed"]) == (77, 123)
