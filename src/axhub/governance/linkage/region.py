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

import pyarrow as pa
import pyarrow.parquet as pq

from axhub.errors import InputError
from axhub.governance.linkage.bloom import EncodingConfig, encode
from axhub.governance.linkage.evaluation import LinkageQuality, evaluate
from axhub.governance.linkage.identifiers import (
    normalise,
    patients_from_ndjson,
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


def encode_region_sites(
    region: Path, secret: bytes | str, config: EncodingConfig = REGION_ENCODING
) -> dict[str, pa.Table]:
    """Site side, for every ``sites/<site>/`` folder: Patients → normalised → encodings."""
    site_dirs = sorted(p for p in (region / "sites").glob("*") if p.is_dir())
    if not site_dirs:
        raise InputError("no site folders in region", path=str(region / "sites"))
    out = {}
    for site_dir in site_dirs:  # one vectorised pass per site (four sites)
        files = site_patient_files(site_dir)
        if not files:
            raise InputError("site has no Patient NDJSON", path=str(site_dir))
        out[site_dir.name] = encode(normalise(patients_from_ndjson(files)), secret, config)
    return out


def region_truth(region: Path) -> pa.Table:
    """``(site, patient_id, person_id)`` ground truth of a synthetic region."""
    path = region / "ground_truth" / "site_records.parquet"
    if not path.exists():
        raise InputError("region has no linkage ground truth", path=str(path))
    return pq.read_table(path, columns=["site", "patient_id", "person_id"])


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
    t2 = time.perf_counter()
    quality = evaluate(links, region_truth(region))
    log.info("region linkage: %s", quality)
    return RegionLinkage(
        links=links,
        quality=quality,
        records_by_site={s: t.num_rows for s, t in encodings.items()},
        seconds={"encode": t1 - t0, "link": t2 - t1},
    )
