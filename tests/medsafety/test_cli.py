"""``axhub medsafety`` through the real CLI."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from axhub.cli.main import app


def test_check_json_one_object_per_finding() -> None:
    result = CliRunner().invoke(
        app,
        ["medsafety", "check", "--drugs", "warfarin,simvastatin", "--foods", "홍삼,자몽", "--json"],
    )
    assert result.exit_code == 0, result.output
    start = result.stdout.index("[")
    findings = json.loads(result.stdout[start : result.stdout.rindex("]") + 1])
    assert {(f["drug"], f["food"]) for f in findings} == {
        ("simvastatin", "grapefruit"),
        ("warfarin", "red_ginseng"),
    }
    assert all(f["evidence"] in {"known", "predicted"} and f["sources"] for f in findings)


def test_check_text_never_says_safe_and_names_sources() -> None:
    result = CliRunner().invoke(
        app, ["medsafety", "check", "--drugs", "metformin", "--foods", "녹차", "--age", "70"]
    )
    assert result.exit_code == 0, result.output
    assert "No known or predicted interaction found" in result.stdout
    assert "does not mean they are safe" in result.stdout


def test_unknown_drug_fails_with_did_you_mean_unless_keep_going() -> None:
    result = CliRunner().invoke(app, ["medsafety", "check", "--drugs", "메트폴,warfarin"])
    assert result.exit_code == 3
    assert "did you mean" in result.output and "metformin" in result.output
    kept = CliRunner().invoke(
        app, ["medsafety", "check", "--drugs", "메트폴,warfarin", "--keep-going"]
    )
    assert kept.exit_code == 0 and "did you mean" in kept.stdout


def test_evaluate_prints_the_cold_start_figure() -> None:
    result = CliRunner().invoke(app, ["medsafety", "evaluate"])
    assert result.exit_code == 0, result.output
    assert "cold start, major/contraindicated recovered" in result.stdout


def test_population_command_filters_older_polypharmacy(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pyarrow as pa
    import pyarrow.parquet as pq

    drugs = ["simvastatin", "clarithromycin", "amlodipine", "metformin", "aspirin"]
    reg = pa.table(
        {
            "person_id": ["old5"] * 5 + ["old2"] * 2 + ["young5"] * 5,
            "drug": drugs + drugs[:2] + drugs,
        }
    )
    ages = pa.table({"person_id": ["old5", "old2", "young5"], "age": [81, 90, 40]})
    pq.write_table(reg, tmp_path / "reg.parquet")
    pq.write_table(ages, tmp_path / "ages.parquet")
    out = tmp_path / "findings.parquet"
    result = CliRunner().invoke(
        app,
        [
            "medsafety",
            "population",
            "--regimens",
            str(tmp_path / "reg.parquet"),
            "--ages",
            str(tmp_path / "ages.parquet"),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "people aged 65+ on >= 5 medicines: 1" in result.stdout
    assert "simvastatin + clarithromycin" in result.stdout
    assert set(pq.read_table(out)["person_id"].to_pylist()) == {"old5"}
