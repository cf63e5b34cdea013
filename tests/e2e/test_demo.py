"""End to end: the demo through the real CLI on a tiny region."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from axhub.cli.main import app


def _run(tmp_path, monkeypatch, people: int = 300) -> str:
    monkeypatch.setenv("AXHUB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AXHUB_SECRET_KEY", "demo-secret-value")
    monkeypatch.setenv("AXHUB_NO_SERVE", "1")
    result = CliRunner().invoke(app, ["demo", "--people", str(people)])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_demo_prints_counts_and_is_stable_for_a_seed(tmp_path, monkeypatch) -> None:
    first = _run(tmp_path, monkeypatch)
    second = _run(tmp_path, monkeypatch)
    assert first == second, "demo output must be stable for a fixed seed"
    for heading in (
        "synthetic region",
        "ingest",
        "stored resources by type and site",
        "Patient records by district and site",
        "quarantine",
    ):
        assert heading in first
    for site in ("knuh", "hallym", "phc", "clinics"):
        assert site in first
    assert "no line was quarantined" in first
    for heading in (
        "linkage quality against the ground truth",
        "integrated zone",
        "SQL-on-FHIR views over the integrated zone",
    ):
        assert heading in first
    for view in (
        "patient_demographics",
        "conditions",
        "observations",
        "medication_requests",
        "encounters",
    ):
        assert view in first
    assert "NO" not in first.split("ingest")[1].split("stored resources")[0]


def test_demo_linkage_quality_is_reported_and_high(tmp_path, monkeypatch) -> None:
    out = _run(tmp_path, monkeypatch, people=400)
    block = out.split("linkage quality against the ground truth")[1].split("integrated zone")[0]
    numbers = [float(x) for x in block.split() if x.replace(".", "", 1).isdigit()]
    assert len(numbers) == 3 and min(numbers) >= 0.95, block
    views = tmp_path / "demo" / "views"
    assert {p.stem for p in views.glob("*.parquet")} >= {"patient_demographics", "observations"}


def test_demo_writes_a_manifest_without_secrets(tmp_path, monkeypatch) -> None:
    _run(tmp_path, monkeypatch, people=200)
    manifest_path = tmp_path / "demo" / "run-manifest.json"
    text = manifest_path.read_text()
    manifest = json.loads(text)
    assert "demo-secret-value" not in text
    assert "secret_key" not in manifest["settings"]
    assert manifest["code_version"].startswith("0.")
    assert manifest["inputs"], "input fingerprints are recorded"
    assert all(len(h) == 64 for h in manifest["inputs"].values())
    assert manifest["people"] == 200
