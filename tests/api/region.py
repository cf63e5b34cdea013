"""A small region for the API and browser tests, built once per test run.

generate → ingest every site → de-identify with the true linkage → seed the demo care teams
and tokens (``axhub.api.seed``).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from axhub.api.seed import SeedReport
from axhub.config import Settings

PEOPLE = 500
SEED = 11


@dataclass(frozen=True)
class Region:
    settings: Settings
    seed: SeedReport


@cache
def region() -> Region:
    import pyarrow.parquet as pq

    from axhub.api.seed import seed_demo
    from axhub.governance.principals import Principal, Role
    from axhub.governance.stewardship import StewardStore
    from axhub.ingest import ingest
    from axhub.synth import generate

    root = Path(tempfile.mkdtemp(prefix="axhub-api-"))
    atexit.register(shutil.rmtree, root, True)
    out = root / "region"
    generate(PEOPLE, SEED, out)
    settings = Settings(data_dir=root / "data", seed=SEED, secret_key="api-test-secret")
    for site in sorted(p for p in (out / "sites").iterdir() if p.is_dir()):
        ingest(site, site=site.name, settings=settings)
    mapping = pq.read_table(out / "ground_truth" / "site_records.parquet")
    StewardStore(settings).deidentify(
        Principal("op-test", Role.OPERATOR), mapping.select(["site", "patient_id", "person_id"])
    )
    return Region(settings, seed_demo(settings))
