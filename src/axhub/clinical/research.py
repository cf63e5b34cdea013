"""Research inputs of the synthetic region that are not FHIR: the data steward's bootstrap.

Model training also needs three research inputs that are not FHIR: the ground-truth 5-year
outcomes (``ground_truth/events.parquet``), the metabolomics research panel
(``metabolomics/panel.parquet``, keyed by KNUH patient id) and the FINDRISC questionnaire items
of the true person table (physical activity, vegetables, family history).

* :func:`import_tables` is the **data steward's step** for the synthetic region: it turns those
  files into tables keyed by site record ``(site, patient_id, ...)``, the shape a follow-up
  registry would send, for ``StewardStore.import_research_data``.  The hub's models then read
  them through the governed store (:mod:`axhub.clinical.training`, decision 0099).
* :func:`load_region` is the direct path (decision 0091): the *same bundled views* and the
  *same* :func:`build_features` over the region's site NDJSON exports, records mapped to persons
  with ``ground_truth/site_records.parquet``.  It serves the federation's one-site nodes and is
  the reference the governed path is tested against; the hub's own training does not use it.
* :func:`research_table` joins features with outcomes, questionnaire items and the panel; both
  paths end there.
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


QUESTIONNAIRE = ("physically_inactive", "no_daily_vegetables", "family_history_diabetes")


def research_table(
    features: pa.Table, events: pa.Table, questionnaire: pa.Table, panel: pa.Table | None
) -> pa.Table:
    """Features joined with outcomes, FINDRISC items and the panel, all keyed by ``person_id``.

    ``events`` is ``(person_id, event, date)`` (a person without a row had none of the events
    in follow-up), ``questionnaire`` ``(person_id, *QUESTIONNAIRE)``, ``panel``
    ``(person_id, *METABOLITES)`` or None.  The direct and the governed path both end here.
    """
    for name, t, cols in (
        ("events", events, ("person_id", "event", "date")),
        ("questionnaire", questionnaire, ("person_id", *QUESTIONNAIRE)),
        ("panel", panel, ("person_id", *METABOLITES)),
    ):
        if t is not None and (missing := [c for c in cols if c not in t.column_names]):
            raise InputError(f"{name} table lacks columns", field=", ".join(missing))
    con = duckdb.connect()
    try:
        con.register("f", features)
        con.register("e", events.select(["person_id", "event", "date"]))
        con.register("p", questionnaire.select(["person_id", *QUESTIONNAIRE]))
        outcome_cols = ", ".join(
            f"bool_or(e.event = {_lit(ev)}) AS outcome_{ev}, "
            f"min(e.date) FILTER (WHERE e.event = {_lit(ev)}) AS date_{ev}"
            for ev in EVENTS
        )
        if panel is not None:
            con.register("panel", panel.select(["person_id", *METABOLITES]))
            metab = (
                "SELECT person_id, "
                + ", ".join(f"any_value({c} ORDER BY {c}) AS {c}" for c in METABOLITES)
                + " FROM panel GROUP BY 1"
            )
        else:
            metab = "SELECT NULL::VARCHAR AS person_id, " + ", ".join(
                f"NULL::DOUBLE AS {c}" for c in METABOLITES
            )
        return con.sql(f"""
            WITH ev AS (SELECT person_id, {outcome_cols} FROM e GROUP BY 1),
                 q AS (SELECT person_id, max(physically_inactive) AS physically_inactive,
                              max(no_daily_vegetables) AS no_daily_vegetables,
                              max(family_history_diabetes) AS family_history_diabetes
                       FROM p GROUP BY 1),
                 mt AS ({metab})
            SELECT f.*,
                   {", ".join(f"coalesce(ev.outcome_{x}, false) AS outcome_{x}" for x in EVENTS)},
                   {", ".join(f"ev.date_{x}" for x in EVENTS)},
                   NOT q.physically_inactive AS physically_active,
                   NOT q.no_daily_vegetables AS daily_veg_fruit,
                   q.family_history_diabetes,
                   {", ".join(f"mt.{c}" for c in METABOLITES)}
            FROM f LEFT JOIN ev USING (person_id) LEFT JOIN q USING (person_id)
            LEFT JOIN mt USING (person_id)
            ORDER BY f.person_id
        """).to_arrow_table()
    finally:
        con.close()


def _truth(region: Path, lineage: dict[str, str]) -> tuple[pa.Table, pa.Table, pa.Table | None]:
    """Ground-truth events, FINDRISC items (by person) and the panel (by site record)."""
    gt = region / "ground_truth"
    events_path, persons_path = gt / "events.parquet", gt / "persons.parquet"
    panel_path = region / "metabolomics" / "panel.parquet"
    for p in (events_path, persons_path):
        if not p.is_file():
            raise NotFoundError("ground-truth file missing", path=str(p))
        lineage[str(p.relative_to(region))] = file_sha256(p)
    persons = pq.read_table(persons_path)
    if missing := set(QUESTIONNAIRE) - set(persons.column_names):
        raise InputError(
            "persons.parquet lacks FINDRISC items",
            path=str(persons_path),
            field=", ".join(sorted(missing)),
        )
    panel = None
    if panel_path.is_file():
        lineage[str(panel_path.relative_to(region))] = file_sha256(panel_path)
        panel = pq.read_table(panel_path)
    return pq.read_table(events_path), persons.select(["person_id", *QUESTIONNAIRE]), panel


def load_region(region: Path, *, index_date: dt.date = DEFAULT_INDEX_DATE) -> ResearchData:
    """Direct path (synthetic data only): features of every person with outcomes, metabolites
    and FINDRISC items, keyed by the generator's person id.  The hub's models train on the
    governed path (:func:`axhub.clinical.training.governed_training_table`); this one remains
    for the federation's one-site nodes and as the reference the governed path is tested
    against."""
    views, lineage = region_views(region)
    report = FeatureReport()
    features = build_features(views, index_date=index_date, report=report)
    events, questionnaire, panel = _truth(region, lineage)
    if panel is not None:
        con = duckdb.connect()
        try:
            con.register("panel", panel)
            con.register("m", pq.read_table(region / "ground_truth" / "site_records.parquet"))
            panel = con.sql(
                "SELECT m.person_id, panel.* EXCLUDE (site, patient_id) FROM panel "
                "JOIN m ON m.site = panel.site AND m.patient_id = panel.patient_id"
            ).to_arrow_table()
        finally:
            con.close()
    table = research_table(features, events, questionnaire, panel)
    log.info("research table: %d persons", table.num_rows)
    return ResearchData(table, dict(sorted(lineage.items())), report)


@dataclass(frozen=True)
class ImportTable:
    """One research table keyed by site record, as the data steward imports it."""

    dataset: str
    table: pa.Table  # (site, patient_id, *columns)
    columns: tuple[str, ...]
    provenance: str


def import_tables(region: Path) -> list[ImportTable]:
    """The data steward's bootstrap for the synthetic region: the research tables keyed by
    **site record** ``(site, patient_id, ...)`` that ``StewardStore.import_research_data``
    brings into the integrated zone.

    The generator keys its outcomes and questionnaire items by its own person id; a real
    follow-up registry or study database would send them keyed by the hospital's record.  This
    step plays that registry: it writes each person's rows once per site record of the person
    (``ground_truth/site_records.parquet``).  No feature, no linkage and no person id leaves
    this function: the hub links records to persons itself, through its own linkage.
    """
    lineage: dict[str, str] = {}
    events, questionnaire, panel = _truth(region, lineage)
    truth = region / "ground_truth" / "site_records.parquet"
    if not truth.is_file():
        raise NotFoundError("ground-truth file missing", path=str(truth))
    source = ", ".join(f"{k} sha256:{v[:16]}" for k, v in sorted(lineage.items()))
    con = duckdb.connect()
    try:
        con.register("m", pq.read_table(truth).select(["site", "patient_id", "person_id"]))
        con.register("e", events.select(["person_id", "event", "date"]))
        con.register("q", questionnaire)
        by_record = (
            "SELECT m.site, m.patient_id, t.* EXCLUDE (person_id) FROM {t} t "
            "JOIN m USING (person_id) ORDER BY ALL"
        )
        out = [
            ImportTable(
                "outcomes",
                con.sql(by_record.format(t="e")).to_arrow_table(),
                ("event", "date"),
                f"synthetic region follow-up (ground truth; {source})",
            ),
            ImportTable(
                "questionnaire",
                con.sql(by_record.format(t="q")).to_arrow_table(),
                QUESTIONNAIRE,
                f"synthetic region FINDRISC questionnaire items ({source})",
            ),
        ]
    finally:
        con.close()
    if panel is not None:
        cols = tuple(c for c in ("sample_date", *METABOLITES) if c in panel.column_names)
        out.append(
            ImportTable(
                "metabolomics",
                panel.select(["site", "patient_id", *cols]),
                cols,
                "synthetic region metabolomics research panel (metabolomics/panel.parquet, "
                f"umol/L; {source})",
            )
        )
    return out
