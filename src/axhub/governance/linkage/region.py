"""End to end on a synthetic region folder: each site encodes, the linkage unit links,
and the result is scored against ``ground_truth/site_records.parquet``.

This is what the demo and ``axhub link evaluate`` run. The sites' step and the linkage unit's
step are separate functions on purpose: only the encodings cross from one to the other.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from axhub.errors import InputError
from axhub.governance.linkage.bloom import EncodingConfig, encode
from axhub.governance.linkage.evaluation import LinkageQuality, evaluate
from axhub.governance.linkage.identifiers import (
    normalise,
    patients_from_ndjson,
    patients_from_raw_zone,
    site_patient_files,
)
from axhub.governance.linkage.matching import LinkConfig, link
from axhub.governance.linkage.presets import REGION_ENCODING, REGION_LINK

log = logging.getLogger(__name__)


@dataclass
class RegionLinkage:
    """Links, quality and timings of one run over a region folder."""

    links: pa.Table
    quality: LinkageQuality
    records_by_site: dict[str, int]
    seconds: dict[str, float] = field(default_factory=dict)


SOURCE_SEPARATOR = "/"


def split_by_source(site: str, table: pa.Table) -> dict[str, pa.Table]:
    """One table per record system of a site: a site whose Patients name several managing
    organisations (the clinics group) is split into ``site/organisation`` parts, because
    each part keeps its own records and one person may have a record in several parts."""
    sources = pc.unique(table.column("source").fill_null("")).to_pylist()
    if len(sources) <= 1:
        return {site: table}
    parts = {}
    for source in sorted(sources):  # a handful of organisations per site
        name = f"{site}{SOURCE_SEPARATOR}{source.rpartition('/')[2] or 'none'}"
        parts[name] = table.filter(pc.equal(table.column("source").fill_null(""), source))
    return parts


def site_of(partitions: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The site part of ``site/organisation`` record-system names."""
    split = pc.split_pattern(partitions, SOURCE_SEPARATOR, max_splits=1)
    return pc.list_element(split, 0)


def encode_region_sites(
    region: Path, secret: bytes | str, config: EncodingConfig = REGION_ENCODING
) -> dict[str, pa.Table]:
    """Site side, for every ``sites/<site>/`` folder: Patients → normalised → encodings,
    one encodings table per record system (see ``split_by_source``)."""
    site_dirs = sorted(p for p in (region / "sites").glob("*") if p.is_dir())
    if not site_dirs:
        raise InputError("no site folders in region", path=str(region / "sites"))
    out = {}
    for site_dir in site_dirs:  # one vectorised pass per site (four sites)
        files = site_patient_files(site_dir)
        if not files:
            raise InputError("site has no Patient NDJSON", path=str(site_dir))
        table = normalise(patients_from_ndjson(files))
        for name, part in split_by_source(site_dir.name, table).items():
            out[name] = encode(part, secret, config)
    return out


def region_truth(region: Path) -> pa.Table:
    """``(site, patient_id, person_id)`` ground truth of a synthetic region."""
    path = region / "ground_truth" / "site_records.parquet"
    if not path.exists():
        raise InputError("region has no linkage ground truth", path=str(path))
    return pq.read_table(path, columns=["site", "patient_id", "person_id"])


def _records_by_site(encodings: dict[str, pa.Table]) -> dict[str, int]:
    out: dict[str, int] = {}
    for name, table in encodings.items():
        site = name.partition(SOURCE_SEPARATOR)[0]
        out[site] = out.get(site, 0) + table.num_rows
    return out


def link_region(
    region: Path,
    secret: bytes | str,
    encoding: EncodingConfig = REGION_ENCODING,
    linking: LinkConfig = REGION_LINK,
) -> RegionLinkage:
    """Encode every site, link, and score against the region's ground truth."""
    t0 = time.perf_counter()
    encodings = encode_region_sites(region, secret, encoding)
    t1 = time.perf_counter()
    links = link(encodings, linking)
    links = links.set_column(0, "site", site_of(links.column("site")))
    t2 = time.perf_counter()
    quality = evaluate(links, region_truth(region))
    log.info("region linkage: %s", quality)
    return RegionLinkage(
        links=links,
        quality=quality,
        records_by_site=_records_by_site(encodings),
        seconds={"encode": t1 - t0, "link": t2 - t1},
    )


def encode_raw_zone_sites(
    con: duckdb.DuckDBPyConnection, secret: bytes | str, config: EncodingConfig = REGION_ENCODING
) -> dict[str, pa.Table]:
    """Site side over the raw zone's ``resources`` table: one encodings table per record
    system of every site that has Patients."""
    sites = [
        r[0]
        for r in con.sql(
            "SELECT DISTINCT site FROM resources WHERE resource_type = 'Patient' ORDER BY site"
        ).fetchall()
    ]
    if not sites:
        raise InputError("raw zone holds no Patient", field="resources")
    out = {}
    for site in sites:  # one vectorised pass per site
        table = normalise(patients_from_raw_zone(con, site))
        for name, part in split_by_source(site, table).items():
            out[name] = encode(part, secret, config)
    return out


def link_raw_zone(
    con: duckdb.DuckDBPyConnection,
    secret: bytes | str,
    encoding: EncodingConfig = REGION_ENCODING,
    linking: LinkConfig = REGION_LINK,
) -> pa.Table:
    """``(site, record_id = Patient.id, person_id)`` for every Patient in the raw zone."""
    links = link(encode_raw_zone_sites(con, secret, encoding), linking)
    return links.set_column(0, "site", site_of(links.column("site")))
