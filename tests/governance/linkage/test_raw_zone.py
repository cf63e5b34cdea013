"""Linkage straight from the raw zone (ingested site exports) equals linkage from NDJSON."""

from __future__ import annotations

from pathlib import Path

import duckdb

from axhub.config import Settings
from axhub.governance.linkage import evaluate
from axhub.governance.linkage.region import link_raw_zone, link_region, region_truth
from axhub.ingest import ingest
from axhub.synth import generate


def test_raw_zone_linkage_matches_ndjson_linkage(tmp_path: Path, secret: str) -> None:
    region = tmp_path / "region"
    generate(1200, 5, region)
    settings = Settings(data_dir=tmp_path / "data")
    for site_dir in sorted((region / "sites").iterdir()):
        ingest(site_dir, site=site_dir.name, settings=settings)
    con = duckdb.connect(str(settings.raw_zone_path), read_only=True)
    links = link_raw_zone(con, secret)
    con.close()
    quality = evaluate(links, region_truth(region))
    assert quality.f1 >= 0.97, str(quality)
    from_files = link_region(region, secret)
    assert quality == from_files.quality
    assert links.num_rows == from_files.links.num_rows
