"""``axhub scores`` end to end through the CLI (CSV and Parquet; bad input)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from scores_population import population
from typer.testing import CliRunner

from axhub.cli.main import app
from axhub.clinical.scores import SCORE_IDS


def test_csv_in_csv_out(tmp_path: Path) -> None:
    src = tmp_path / "people.csv"
    src.write_text(
        "person_id,sex,age_years,total_chol_mgdl,hdl_mgdl,sbp_mmhg,bp_treated,smoker_current,"
        "diabetes,race_black\n"
        "p1,female,55,213,50,120,no,no,no,yes\n"
        "p2,male,55,5.2,50,120,no,no,no,\n",
        encoding="utf-8",
    )
    out = tmp_path / "scores.csv"
    result = CliRunner().invoke(app, ["scores", "--input", str(src), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "scored 2 rows" in result.stdout
    assert "implausible values excluded (rows per column): total_chol_mgdl 1" in result.stdout
    t = pacsv.read_csv(out)
    assert t.column_names[0] == "person_id"
    for sid in SCORE_IDS:
        assert sid in t.column_names and f"{sid}_reason" in t.column_names
    pce = t.column("pce_ascvd_10y").to_pylist()
    assert round(pce[0] * 100, 1) == 3.0 and pce[1] is None
    assert "looks like mmol/L" in t.column("pce_ascvd_10y_reason")[1].as_py()


def test_parquet_in_parquet_out(tmp_path: Path) -> None:
    src = tmp_path / "people.parquet"
    pq.write_table(population(1000, seed=3), src)
    out = tmp_path / "out.data"
    result = CliRunner().invoke(
        app,
        [
            "scores",
            "-i",
            str(src),
            "-o",
            str(out),
            "--format",
            "parquet",
            "--kdm-reference",
            str(src),
        ],
    )
    assert result.exit_code == 0, result.output
    t = pq.read_table(out)
    assert t.num_rows == 1000
    assert t.column("kdm_bioage").null_count < 1000


def test_bad_input_names_file_and_column(tmp_path: Path) -> None:
    src = tmp_path / "bad.csv"
    src.write_text("person_id,sbp_mmhg\np1,120\np2,high\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["scores", "-i", str(src), "-o", str(tmp_path / "o.csv")])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "bad.csv" in text and "sbp_mmhg" in text and "line=3" in text
    missing = CliRunner().invoke(app, ["scores", "-i", str(tmp_path / "no.csv"), "-o", "x.csv"])
    assert missing.exit_code == 2 and "no.csv" in " ".join(missing.output.split())
