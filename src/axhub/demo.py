"""The demo run: the front door that walks the region through every capability built so far.

The demo is an explicit, ordered list of small steps (cumulus-etl style).  Each step reads what
earlier steps left in the run context, does its work through the library's public API, and
returns the lines it wants printed.  Printed output depends only on the settings and the seed,
so two runs with the same seed print the same text; timings go to the run manifest.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson

from axhub import __version__
from axhub.config import Settings

log = logging.getLogger(__name__)


@dataclass
class DemoContext:
    """What the steps share: settings, folders, and what each step produced."""

    settings: Settings
    people: int
    root: Path
    region: Path
    results: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def step_settings(self) -> Settings:
        """Settings pointed at the demo's own data folder."""
        return self.settings.model_copy(update={"data_dir": self.root})


@dataclass(frozen=True)
class Section:
    """A block of output: a title and rows of cells (the CLI renders it as a table)."""

    title: str
    columns: list[str]
    rows: list[list[Any]]
    note: str = ""


StepFn = Callable[[DemoContext], list[Section]]


@dataclass(frozen=True)
class Step:
    name: str
    run: StepFn


def _generate(ctx: DemoContext) -> list[Section]:
    from axhub.synth import generate

    manifest = generate(ctx.people, ctx.settings.seed, ctx.region)
    ctx.results["synth"] = manifest
    calib = manifest.get("calibration", {})
    rows = [
        ["people", f"{ctx.people:,}"],
        ["resources written", f"{manifest['resources_total']:,}"],
    ]
    share65 = calib.get("share_65", {})
    if share65:
        rows.append(["aged 65+", f"{share65['achieved']:.1%} (target {share65['target']:.1%})"])
    return [Section("synthetic region", ["item", "value"], rows)]


def _ingest(ctx: DemoContext) -> list[Section]:
    from axhub.ingest import ingest

    sites_dir = ctx.region / "sites"
    reports = []
    for site_dir in sorted(p for p in sites_dir.iterdir() if p.is_dir()):
        reports.append(
            (site_dir.name, ingest(site_dir, site=site_dir.name, settings=ctx.step_settings))
        )
    devices = ctx.region / "devices"
    if devices.is_dir() and any(devices.glob("*.ndjson*")):
        # home devices are lent and read by the public health centre (docs/synth.md)
        reports.append(
            ("phc home devices", ingest(devices, site="phc", settings=ctx.step_settings))
        )
    ctx.results["ingest"] = [r for _, r in reports]
    rows = []
    for label, r in reports:
        t = r.totals
        rows.append(
            [label, t.read, t.stored, t.duplicates, t.quarantined, "yes" if r.balanced else "NO"]
        )
    sections = [
        Section(
            "ingest (records read = stored + superseded + duplicates + deleted + quarantined)",
            ["site", "read", "stored", "duplicates", "quarantined", "balanced"],
            rows,
        )
    ]
    con = duckdb.connect(str(ctx.step_settings.raw_zone_path), read_only=True)
    try:
        by_type = con.execute(
            "PIVOT (SELECT resource_type, site FROM resources) ON site USING count(*) "
            "GROUP BY resource_type ORDER BY resource_type"
        ).fetchall()
        type_cols = [d[0] for d in con.description]
        by_district = con.execute(
            "PIVOT (SELECT coalesce(json_extract_string(resource, '$.address[0].district'), "
            "'(missing)') AS district, site FROM resources WHERE resource_type = 'Patient') "
            "ON site USING count(*) GROUP BY district ORDER BY district"
        ).fetchall()
        district_cols = [d[0] for d in con.description]
        quarantine = con.execute(
            "SELECT site, reason, count(*) FROM quarantine GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    finally:
        con.close()
    sections.append(
        Section("stored resources by type and site", type_cols, [list(r) for r in by_type])
    )
    sections.append(
        Section(
            "Patient records by district and site", district_cols, [list(r) for r in by_district]
        )
    )
    sections.append(
        Section(
            "quarantine",
            ["site", "reason", "lines"],
            [list(r) for r in quarantine],
            note="" if quarantine else "no line was quarantined",
        )
    )
    return sections


DEMO_OPERATOR_ID = "demo-operator"
DEMO_PROJECT_ID = "demo-region"


def _link(ctx: DemoContext) -> list[Section]:
    from axhub.governance.keys import KeyStore
    from axhub.governance.linkage.region import link_region

    result = link_region(ctx.region, KeyStore(ctx.step_settings).key("linkage"))
    ctx.results["links"] = result.links
    q = result.quality
    rows = [[site, n] for site, n in sorted(result.records_by_site.items())]
    rows.append(["regional person ids", len(set(result.links.column("person_id").to_pylist()))])
    return [
        Section(
            "privacy-preserving linkage: Patient records per record system",
            ["source", "records"],
            rows,
        ),
        Section(
            "linkage quality against the ground truth (pairs of site records)",
            ["precision", "recall", "F1"],
            [[f"{q.precision:.4f}", f"{q.recall:.4f}", f"{q.f1:.4f}"]],
        ),
    ]


def _deidentify(ctx: DemoContext) -> list[Section]:
    from axhub.governance.principals import Principal, Role
    from axhub.governance.stewardship import StewardStore

    operator = Principal(DEMO_OPERATOR_ID, Role.OPERATOR)
    store = StewardStore(ctx.step_settings)
    report = store.deidentify(operator, mapping=ctx.results["links"])
    ctx.results["deid"] = report
    rows = [
        [rt, report.resources_in.get(rt, 0), report.resources_out.get(rt, 0)]
        for rt in sorted(set(report.resources_in) | set(report.resources_out))
    ]
    return [
        Section(
            "integrated zone (de-identified, pseudonymous, linked)",
            ["resource type", "raw zone", "integrated zone"],
            rows,
            note=f"{report.persons:,} regional persons from {report.patients:,} site Patient "
            f"records ({report.linked_patients:,} linked across sites)",
        )
    ]


def _views(ctx: DemoContext) -> list[Section]:
    import datetime as dt

    import pyarrow.parquet as pq

    from axhub.governance.access import GovernedStore
    from axhub.governance.principals import Principal, Project, Role
    from axhub.governance.purposes import Purpose
    from axhub.governance.stewardship import StewardStore
    from axhub.views import library

    operator = Principal(DEMO_OPERATOR_ID, Role.OPERATOR)
    types = ["Patient", "Encounter", "Condition", "Observation", "MedicationRequest"]
    StewardStore(ctx.step_settings).register_project(
        operator,
        Project(
            DEMO_PROJECT_ID,
            "DRB-DEMO-0001",
            frozenset({Purpose.RESEARCH, Purpose.AI_TRAINING}),
            frozenset(types),
            dt.datetime(2099, 12, 31, tzinfo=dt.UTC),
            epsilon_budget=5.0,
        ),
    )
    researcher = Principal("demo-researcher", Role.RESEARCHER, project_id=DEMO_PROJECT_ID)
    store = GovernedStore(ctx.step_settings)
    out_dir = ctx.root / "views"
    out_dir.mkdir(exist_ok=True)
    rows = []
    tables = {}
    for name in library.names():
        table = store.run_view(researcher, "research", library.raw(name))
        pq.write_table(table, out_dir / f"{name}.parquet")
        tables[name] = table
        rows.append([name, table.num_rows, table.num_columns])
    ctx.results["views"] = tables
    return [
        Section(
            "SQL-on-FHIR views over the integrated zone (researcher on an approved project)",
            ["view", "rows", "columns"],
            rows,
            note=f"written to {out_dir.name}/ as Parquet",
        )
    ]


def _stroke(ctx: DemoContext) -> list[Section]:
    from axhub.clinical.demo_sections import stroke_demo_sections

    return stroke_demo_sections(ctx.step_settings, DEMO_PROJECT_ID, views=ctx.results.get("views"))


def _medsafety(ctx: DemoContext) -> list[Section]:
    import pyarrow as pa
    import pyarrow.compute as pc

    from axhub.medsafety import (
        check_population,
        regimens_from_view,
        select_older_polypharmacy,
        summarise,
    )
    from axhub.synth.records import POLYPHARMACY_65

    views = ctx.results["views"]
    baseline_year = int(str(ctx.results["synth"]["baseline_date"])[:4])
    people = views["patient_demographics"].group_by("patient_id").aggregate([("birth_year", "max")])
    ages = pa.table(
        {
            "person_id": people["patient_id"],
            "age": pc.subtract(pa.scalar(baseline_year), people["birth_year_max"]),
        }
    ).filter(pc.is_valid(pc.field("age")))
    regimens = regimens_from_view(views["medication_requests"])
    _, poly_ages = select_older_polypharmacy(regimens, ages, 65, 5)
    older, older_ages = select_older_polypharmacy(regimens, ages, 65, 1)
    findings = check_population(older, None, older_ages)
    poly_ids = pa.array(sorted(set(poly_ages["person_id"].to_pylist())), pa.string())
    in_poly = pc.is_in(findings["person_id"], value_set=poly_ids)
    rows = []
    for label, subset in (
        ("65+ on 5 or more active medicines", findings.filter(in_poly)),
        ("all 65+ on active medicines", findings),
    ):
        # high severity only: major or contraindicated (rank 3 and up), as the checker found them
        for r in summarise(subset, min_rank=3, top=8).to_pylist():
            other = r["other"] or "—"
            rows.append([label, r["drug"], other, r["severity"], r["evidence"], r["people"]])
    n_older = len(set(older_ages["person_id"].to_pylist()))
    share = len(poly_ids) / n_older if n_older else 0.0
    return [
        Section(
            "medication safety: most common high-severity findings in older people "
            "on 5 or more medicines",
            ["group", "drug", "with", "severity", "evidence", "people"],
            rows,
            note=("no major or contraindicated finding in these regimens. " if not rows else "")
            + f"{n_older:,} people aged 65+ on active medicines, {len(poly_ids):,} of them "
            f"({share:.0%}) on 5 or more (national claims: {POLYPHARMACY_65.value:.1%} of "
            "people 65+ with a claim, Cho 2023; the region models fewer conditions). "
            "High severity = major or contraindicated. evidence: known = cited knowledge row; "
            "predicted = mechanism rule; criterion = elderly criteria. "
            "No finding does not mean safe.",
        )
    ]


def _care(ctx: DemoContext) -> list[Section]:
    """Care at home: enrol the device cohort, replay a week of readings through the agents."""
    from axhub.agents.demo import care_demo_sections
    from axhub.governance.deid import ZONE_KEY
    from axhub.governance.keys import KeyStore
    from axhub.governance.pseudonym import pseudonym

    key = KeyStore(ctx.step_settings).key(ZONE_KEY)
    links = ctx.results["links"]
    id_col = "record_id" if "record_id" in links.column_names else "patient_id"
    regional = {
        p: str(r)
        for s, p, r in zip(
            links.column("site").to_pylist(),
            links.column(id_col).to_pylist(),
            links.column("person_id").to_pylist(),
            strict=True,
        )
        if s == "phc"
    }

    def person_ids(patients: list[str]) -> list[str]:
        # the integrated zone's person pseudonym, as de-identification computes it
        return [
            pseudonym(key, f"person:{regional[p]}" if p in regional else f"site:phc/{p}")
            for p in patients
        ]

    return care_demo_sections(ctx.step_settings, region=ctx.region, person_ids=person_ids)


STEPS: list[Step] = [
    Step("generate", _generate),
    Step("ingest", _ingest),
    Step("link", _link),
    Step("deidentify", _deidentify),
    Step("views", _views),
    Step("stroke", _stroke),
    Step("medsafety", _medsafety),
    Step("care", _care),
]


def _code_version() -> str:
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
        return f"{__version__}+{sha}"
    except (OSError, subprocess.CalledProcessError):
        return __version__


def _fingerprints(folder: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h = hashlib.sha256()
            with open(p, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            out[str(p.relative_to(folder))] = h.hexdigest()
    return out


def run_demo(
    settings: Settings,
    *,
    people: int | None = None,
    emit: Callable[[Section], None] | None = None,
) -> DemoContext:
    """Run every demo step on a fresh ``<data_dir>/demo`` folder and write the run manifest."""
    root = settings.data_dir / "demo"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    ctx = DemoContext(settings, people or settings.demo_people, root, root / "region")
    started = datetime.now(UTC)
    for step in STEPS:
        t0 = time.perf_counter()
        sections = step.run(ctx)
        ctx.timings[step.name] = round(time.perf_counter() - t0, 3)
        log.info("demo step %s finished in %.1f s", step.name, ctx.timings[step.name])
        if emit is not None:
            for s in sections:
                emit(s)
    manifest = {
        "run": "demo",
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "code_version": _code_version(),
        "settings": settings.public_dict(),
        "people": ctx.people,
        "steps": [s.name for s in STEPS],
        "timings_s": ctx.timings,
        "inputs": _fingerprints(ctx.region),
    }
    (root / "run-manifest.json").write_bytes(
        orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    )
    return ctx
