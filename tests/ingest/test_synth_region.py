"""Every site the generator writes ingests with nothing quarantined (tiny region)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from axhub.synth import generate

SITES = ("knuh", "hallym", "phc", "clinics")


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("region")
    generate(400, 11, out, gzip_output=True)  # big enough to enrol some home devices
    return out


def _lines(folder: Path) -> int:
    return sum(gzip.open(p).read().count(b"\n") for p in folder.glob("*.ndjson.gz"))


def test_every_generated_site_ingests_with_zero_quarantine(region, run, raw):
    for site in SITES:
        folder = region / "sites" / site
        report = run(folder, site=site)
        t = report.totals
        assert t.quarantined == 0, f"{site}: {t.quarantined} quarantined"
        assert t.read == t.stored == _lines(folder)
    truth = pq.read_table(region / "ground_truth" / "site_records.parquet").to_pylist()
    expected = sorted((r["site"], r["patient_id"]) for r in truth)
    stored = raw("SELECT site, id FROM resources WHERE resource_type = 'Patient' ORDER BY 1, 2")
    assert stored == expected


def test_generated_home_device_readings_ingest_with_zero_quarantine(region, run):
    folder = region / "devices"
    report = run(folder, site="phc")
    assert report.totals.quarantined == 0
    assert report.totals.read == report.totals.stored == _lines(folder) > 0
    assert [f.path for f in report.skipped] == ["readings.parquet"]
