"""``axhub link evaluate`` end to end through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from axhub.cli.main import app
from axhub.synth import generate


def test_link_evaluate_prints_quality(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AXHUB_DATA_DIR", str(tmp_path / "data"))
    generate(1500, 3, tmp_path / "region")
    result = CliRunner().invoke(app, ["link", "evaluate", "--region", str(tmp_path / "region")])
    assert result.exit_code == 0, result.output
    assert "linkage quality: precision" in result.output
    f1 = float(result.output.split("F1 ")[1].split()[0])
    assert f1 >= 0.95


def test_link_evaluate_names_missing_region(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AXHUB_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(app, ["link", "evaluate", "--region", str(tmp_path / "nope")])
    assert result.exit_code == 2
