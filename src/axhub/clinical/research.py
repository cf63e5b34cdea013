"""Research inputs of the synthetic region that the governed zone does not hold (one loader).

The integrated zone holds FHIR resources only.  Model training on the synthetic region also
needs three research inputs that are not FHIR and that the governance boundary does not cover
yet: the ground-truth 5-year outcomes (``ground_truth/events.parquet``), the metabolomics
research panel (``metabolomics/panel.parquet``, keyed by KNUH patient id) and the FINDRISC
questionnaire items of the true person table (physical activity, vegetables, family history).
Outcomes are keyed by the generator's person id, which the governed zone replaces with keyed
pseudonyms on purpose, so the governed feature table cannot be joined to them.

This module is the one place that reads those files.  To give them the same features as the
governed path, it runs the *same bundled views* and the *same* :func:`build_features` over the
region's site NDJSON exports (in an in-memory engine) and maps each site record to its person
through ``ground_truth/site_records.parquet`` (the true linkage).  It is for synthetic data
only; with real data the outcomes would be linked inside the integrated zone by the operator
and training would read :func:`axhub.clinical.features.governed_features`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from axhub.clinical.features import DEFAULT_INDEX_DATE, VIEWS, FeatureReport, build_features
from axhub.errors import InputError, NotFoundError

log = logging.getLogger(__name__)

EVENTS = ("stroke", "diabetes", "kidney_failure", "death")
METABOLITES = (
    "leucine_umol_l",
    "isoleucine_umol_l",
    "valine_umol_l",
    "tyrosine_umol_l",
    "phenylalanine_umol_l",
    "glycine_umol_l",
)
RESOURCE_TYPES = {
    "patient_demographics": "Patient",
    "conditions": "Condition",
    "observations": "Observation",
    "medication_requests": "MedicationRequest",
}


@dataclass(frozen=True)
class ResearchData:
    """Features joined with outcomes (and the metabolomics panel where measured)."""

    table: pa.Table  # one row per person: features, outcome_<event>, metabolites, FINDRISC items
    lineage: dict[str, str]  # input file -> sha256 (data lineage for the model card)
    report: FeatureReport


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _site_resources(con: duckdb.DuckDBPyConnection, site_dir: Path, rtype: str) -> pa.Table:
    files = sorted(site_dir.glob(f"{rtype}.*.ndjson")) + sorted(
        site_dir.glob(f"{rtype}.*.ndjson.gz")
    )
    if not files:
        return pa.table(
            {
                "resource_type": pa.array([], pa.string()),
                "id": pa.array([], pa.string()),
                "resource": pa.array([], pa.string()),
            }
        )
    listing = "[" + ", ".join(_lit(str(f)) for f in files) + "]"
    return con.sql(
        f"SELECT {_lit(rtype)} AS resource_type, json_extract_string(json, '$.id') AS id, "
        f"json AS resource FROM read_ndjson_objects({listing})"
    ).to_arrow_table()


def region_views(region: Path) -> tuple[dict[str, pa.Table], dict[str, str]]:
    """The bundled view tables over every site's export, keyed by ground-truth person id."""
    from axhub.engine.duckdb import DuckDBEngine
    from axhub.views import library

    sites_dir = region / "sites"
    truth = region / "ground_truth" / "site_records.parquet"
    if not sites_dir.is_dir() or not truth.is_file():
        raise NotFoundError(
            "not a synthetic region folder (needs sites/ and ground_truth/)", path=str(region)
        )
    lineage = {"ground_truth/site_records.parquet": file_sha256(truth)}
    mapping = pq.read_table(truth).select(["site", "patient_id", "person_id"])
    parts: dict[str, list[pa.Table]] = {v: [] for v in VIEWS}
    con = duckdb.connect()
    engine = DuckDBEngine()
    try:
        for site_dir in sorted(p for p in sites_dir.iterdir() if p.is_dir()):
            for f in sorted(site_dir.glob("*.ndjson*")):
                if f.name.split(".")[0] in RESOURCE_TYPES.values():
                    lineage[str(f.relative_to(region))] = file_sha256(f)
            for view in VIEWS:
                resources = _site_resources(con, site_dir, RESOURCE_TYPES[view])
                engine.register_resources("site_resources", resources)
                out = engine.run_view(library.raw(view), "site_resources")
                parts[view].append(
                    out.append_column("site", pa.array([site_dir.name] * out.num_rows, pa.string()))
                    if "site" not in out.column_names
                    else out.set_column(
                        out.column_names.index("site"),
                        "site",
                        pa.array([site_dir.name] * out.num_rows, pa.string()),
                    )
                )
        con.register("m", mapping)
        views: dict[str, pa.Table] = {}
        for view, tables in parts.items():
            con.register("t", pa.concat_tables(tables, promote_options="permissive"))
            views[view] = con.sql(
                "SELECT t.* EXCLUDE (patient_id), m.person_id AS patient_id FROM t "
                "JOIN m ON m.site = t.site AND m.patient_id = t.patient_id"
            ).to_arrow_table()
            con.unregister("t")
    finally:
        engine.close()
        con.close()
    return views, lineage


def load_region(region: Path, *, index_date: dt.date = DEFAULT_INDEX_DATE) -> ResearchData:
    """Features of every person in the region with outcomes, metabolites and FINDRISC items."""
    views, lineage = region_views(region)
    report = FeatureReport()
    features = build_features(views, index_date=index_date, report=report)
    gt = region / "ground_truth"
    events_path, persons_path = gt / "events.parquet", gt / "persons.parquet"
    panel_path = region / "metabolomics" / "panel.parquet"
    for p in (events_path, persons_path):
        if not p.is_file():
            raise NotFoundError("ground-truth file missing", path=str(p))
        lineage[str(p.relative_to(region))] = file_sha256(p)
    con = duckdb.connect()
    try:
        con.register("f", features)
        con.register("e", pq.read_table(events_path))
        persons = pq.read_table(persons_path)
        need = {
            "person_id",
            "physically_inactive",
            "no_daily_vegetables",
            "family_history_diabetes",
        }
        if not need <= set(persons.column_names):
            raise InputError(
                "persons.parquet lacks FINDRISC items",
                path=str(persons_path),
                field=", ".join(sorted(need - set(persons.column_names))),
            )
        con.register("p", persons.select(sorted(need)))
        outcome_cols = ", ".join(
            f"bool_or(e.event = {_lit(ev)}) AS outcome_{ev}, "
            f"min(e.date) FILTER (WHERE e.event = {_lit(ev)}) AS date_{ev}"
            for ev in EVENTS
        )
        if panel_path.is_file():
            lineage[str(panel_path.relative_to(region))] = file_sha256(panel_path)
            con.register("panel", pq.read_table(panel_path))
            con.register("m", pq.read_table(gt / "site_records.parquet"))
            metab = (
                "SELECT m.person_id, "
                + ", ".join(f"any_value(panel.{c}) AS {c}" for c in METABOLITES)
                + " FROM panel JOIN m ON m.site = panel.site AND m.patient_id = panel.patient_id "
                "GROUP BY 1"
            )
        else:
            metab = "SELECT NULL::VARCHAR AS person_id, " + ", ".join(
                f"NULL::DOUBLE AS {c}" for c in METABOLITES
            )
        table = con.sql(f"""
            WITH ev AS (SELECT person_id, {outcome_cols} FROM e GROUP BY 1),
                 mt AS ({metab})
            SELECT f.*,
                   {", ".join(f"coalesce(ev.outcome_{x}, false) AS outcome_{x}" for x in EVENTS)},
                   {", ".join(f"ev.date_{x}" for x in EVENTS)},
                   NOT p.physically_inactive AS physically_active,
                   NOT p.no_daily_vegetables AS daily_veg_fruit,
                   p.family_history_diabetes,
                   {", ".join(f"mt.{c}" for c in METABOLITES)}
            FROM f LEFT JOIN ev USING (person_id) LEFT JOIN p USING (person_id)
            LEFT JOIN mt USING (person_id)
            ORDER BY f.person_id
        """).to_arrow_table()
    finally:
        con.close()
    log.info("research table: %d persons", table.num_rows)
    return ResearchData(table, dict(sorted(lineage.items())), report)
