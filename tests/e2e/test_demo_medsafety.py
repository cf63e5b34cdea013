"""The demo's medication-safety section on the default region prints high-severity findings."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from axhub.cli.main import app
from axhub.config import Settings

TITLE = "medication safety: most common high-severity findings in older people"


def test_default_demo_region_shows_high_severity_findings(tmp_path, monkeypatch) -> None:
    """Default people and seed: the section lists major/contraindicated rows, with counts."""
    monkeypatch.setenv("AXHUB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AXHUB_SECRET_KEY", "demo-secret-value")
    monkeypatch.setenv("AXHUB_NO_SERVE", "1")
    assert Settings().demo_people == 5000  # the default region this test is about
    result = CliRunner().invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    section = result.stdout.split(TITLE)[1].split("care at home")[0]
    rows = [
        line
        for line in section.splitlines()
        if line.startswith("│") and "65+ on 5 or more active medicines" in line
    ]
    assert rows, section  # at least one finding among older people on >= 5 medicines
    for line in rows:
        cells = [c.strip() for c in line.strip("│").split("│")]
        assert cells[3] in {"major", "contraindicated"}, line
        assert int(cells[5].replace(",", "")) >= 1, line
    assert "no major or contraindicated finding" not in section
    polypharmacy = re.search(r"([\d,]+) of them \((\d+)%\) on 5 or more", section)
    assert polypharmacy and int(polypharmacy.group(1).replace(",", "")) > 0, section
