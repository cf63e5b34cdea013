"""Golden end-to-end: the CLI on a tiny region reproduces the recorded output byte for byte.

Regenerate after an intended generator change with
``AXHUB_UPDATE_GOLDEN=1 .venv/bin/pytest tests/synth/test_golden.py`` and review the diff of
``tests/synth/golden/`` (the Patient file of each site is kept in full for a readable diff).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import orjson
import pyarrow.parquet as pq
from typer.testing import CliRunner

from axhub.cli.main import app

GOLDEN = Path(__file__).parent / "golden"
PEOPLE, SEED = 12, 20261126


def _content(path: Path) -> bytes:
    """File bytes; Parquet by its rows (its footer names the writer's library version)."""
    if path.suffix == ".parquet":
        rows = pq.read_table(path).to_pylist()
        return orjson.dumps(rows, default=str, option=orjson.OPT_SERIALIZE_NUMPY)
    return path.read_bytes()


def _hashes(root: Path) -> str:
    lines = [
        f"{hashlib.sha256(_content(p)).hexdigest()}  {p.relative_to(root)}"
        for p in sorted(root.rglob("*"))
        if p.is_file()
    ]
    return "\n".join(lines) + "\n"


def test_cli_output_matches_the_golden_region(tmp_path):
    out = tmp_path / "region"
    result = CliRunner().invoke(
        app, ["synth", "--people", str(PEOPLE), "--seed", str(SEED), "--out", str(out), "--quiet"]
    )
    assert result.exit_code == 0, result.output
    got = _hashes(out)
    patients = {
        site.name: (site / "Patient.000.ndjson").read_text(encoding="utf-8")
        for site in sorted((out / "sites").iterdir())
    }
    if os.environ.get("AXHUB_UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        (GOLDEN / "region.sha256").write_text(got)
        for site, text in patients.items():
            (GOLDEN / f"{site}.Patient.ndjson").write_text(text, encoding="utf-8")
    for site, text in patients.items():
        assert text == (GOLDEN / f"{site}.Patient.ndjson").read_text(encoding="utf-8"), site
    assert got == (GOLDEN / "region.sha256").read_text()
