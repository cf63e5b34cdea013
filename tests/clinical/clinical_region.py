"""A small synthetic region shared by the clinical model/pathway tests (built once per run).

generate → ingest every site → de-identify with the true linkage → register a project.
"""

from __future__ import annotations

import atexit
import datetime as dt
import shutil
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from axhub.config import Settings

PEOPLE = 2000
SEED = 5
PROJECT = "clin-test"


@dataclass(frozen=True)
class Region:
    region: Path
    settings: Settings
    research: pa.Table  # load_region(...).table
    lineage: dict[str, str]


@cache
def region() -> Region:
    from axhub.clinical.demo_sections import demo_project
    from axhub.clinical.research import load_region
    from axhub.governance.principals import Principal, Project, Role
    from axhub.governance.purposes import Purpose
    from axhub.governance.stewardship import StewardStore
    from axhub.ingest import ingest
    from axhub.synth import generate

    root = Path(tempfile.mkdtemp(prefix="axhub-clinical-"))
    atexit.register(shutil.rmtree, root, True)
    out = root / "region"
    generate(PEOPLE, SEED, out)
    settings = Settings(data_dir=root / "data", seed=SEED)
    for site in sorted(p for p in (out / "sites").iterdir() if p.is_dir()):
        ingest(site, site=site.name, settings=settings)
    store = StewardStore(settings)
    op = Principal("op-test", Role.OPERATOR)
    mapping = pq.read_table(out / "ground_truth" / "site_records.parquet")
    store.deidentify(op, mapping.select(["site", "patient_id", "person_id"]))
    store.register_project(
        op,
        Project(
            PROJECT,
            "DRB-TEST-1",
            frozenset({Purpose.RESEARCH, Purpose.AI_TRAINING}),
            frozenset({"Patient", "Condition", "Observation", "MedicationRequest", "Encounter"}),
            dt.datetime(2099, 1, 1, tzinfo=dt.UTC),
            1.0,
        ),
    )
    store.register_project(op, demo_project())
    data = load_region(out)
    return Region(out, settings, data.table, data.lineage)
