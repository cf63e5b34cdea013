"""Research measurements keyed by site record, brought into the integrated zone by the steward.

Outcome labels (follow-up events), a metabolomics panel or questionnaire items are not FHIR;
they arrive as a table keyed by **site record** ``(site, patient_id, <columns>)``.  The data
steward imports such a table as a named *dataset* (``StewardStore.import_research_data``):

* the value columns are an allow-list the caller names; a column named like a direct
  identifier (name, phone, address, MRN, resident number, ...) is refused, and so is a text
  value shaped like a phone number, a resident registration number or an e-mail address;
* the table is staged in ``<data_dir>/research_staging.duckdb`` (steward side, next to the raw
  zone: it holds site record ids) and published into the integrated zone as
  ``research_<dataset>(person_id, <columns>)`` under the **zone person pseudonym**, through the
  re-identification codebook the de-identification wrote (the same ``_patient_map``: a linked
  record gets its person's pseudonym, an unlinked record its site-level one);
* site records the codebook does not know are counted and reported, never silently dropped;
  unlinked records are counted too;
* every de-identification rebuild publishes the staged datasets again (the zone is rebuilt
  whole, and the linkage may have changed).

Readers get a dataset only through ``GovernedStore.read_dataset`` (project scope item
``research:<dataset>``, consent applied, project pseudonyms).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from axhub.config import Settings
from axhub.errors import InputError, NotFoundError
from axhub.governance.audit import Clock
from axhub.governance.deid import integrated_path
from axhub.governance.keys import codebook_path

log = logging.getLogger(__name__)

SCOPE_PREFIX = "research:"
KEY_COLUMNS = ("site", "patient_id")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
# Column names that carry (or are) direct identifiers; refused whatever the caller says.
IDENTIFIER_COLUMN = re.compile(
    r"(^|_)(name|names|surname|phone|tel|telecom|mobile|fax|email|e_mail|"
    r"address|addr|street|postal|postcode|zip|mrn|identifier|ident|ssn|rrn|resident|"
    r"passport|licen[cs]e|account|birth|birthdate|dob|photo|ip|url|person|patient|site|"
    r"note|notes|text|comment|comments)(_|$)"
)
# Text values shaped like direct identifiers (Korean phone numbers, resident registration
# numbers, e-mail addresses).
IDENTIFIER_VALUE = (
    r"(0\d{1,2}-?\d{3,4}-?\d{4})|(\d{6}-?[1-8]\d{6})|([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[a-z]{2,})"
)
_TYPES = (
    pa.types.is_boolean,
    pa.types.is_integer,
    pa.types.is_floating,
    pa.types.is_decimal,
    pa.types.is_date,
    pa.types.is_timestamp,
    pa.types.is_string,
    pa.types.is_large_string,
)


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def staging_path(settings: Settings) -> Path:
    return settings.data_dir / "research_staging.duckdb"


def scope_item(dataset: str) -> str:
    """The project scope item that lets a project read ``dataset``."""
    return SCOPE_PREFIX + dataset


def zone_table(dataset: str) -> str:
    check_name(dataset)
    return f"research_{dataset}"


def check_name(dataset: str) -> None:
    if not _NAME.match(dataset):
        raise InputError(
            f"dataset name {dataset!r} must be lowercase letters, digits and _ (max 41)",
            field="dataset",
        )


@dataclass
class ResearchImportReport:
    """Counts of one published dataset (no personal data)."""

    run_id: str
    dataset: str
    columns: list[str]
    provenance: str
    sha256: str
    rows_in: int = 0
    records: int = 0  # distinct site records in the input
    linked_records: int = 0  # records of a person the linkage covers
    unlinked_records: int = 0  # records kept under their site-level pseudonym
    unknown_records: int = 0  # records the zone does not know (not published; reported)
    unknown_rows: int = 0
    persons: int = 0
    rows_out: int = 0
    unknown_by_site: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_table(table: pa.Table, columns: list[str]) -> pa.Table:
    """The key columns plus the allow-listed ``columns``, after the identifier checks."""
    if not columns:
        raise InputError("name at least one value column to import", field="columns")
    for c in KEY_COLUMNS:
        if c not in table.column_names:
            raise InputError(
                f"research table lacks key column {c!r}",
                field=c,
                reason="a research table is keyed by site record (site, patient_id)",
            )
    for c in columns:
        if c not in table.column_names:
            raise NotFoundError(
                f"research table has no column {c!r}",
                field=c,
                suggestions=difflib.get_close_matches(c, table.column_names)
                or sorted(table.column_names),
            )
        if not _NAME.match(c) or IDENTIFIER_COLUMN.search(c):
            raise InputError(
                f"column {c!r} is named like a direct identifier or key; it may not enter the "
                "integrated zone",
                field=c,
            )
        if not any(t(table.schema.field(c).type) for t in _TYPES):
            raise InputError(
                f"column {c!r} has type {table.schema.field(c).type}; import numbers, "
                "booleans, dates, timestamps or short codes",
                field=c,
            )
    if len(set(columns)) != len(columns):
        raise InputError("a value column is named twice", field="columns")
    out = table.select([*KEY_COLUMNS, *columns])
    text = [c for c in columns if pa.types.is_string(out.schema.field(c).type)]
    if text:
        con = duckdb.connect()
        try:
            con.register("t", out)
            for c in text:
                row = con.execute(
                    f'SELECT count(*) FROM t WHERE regexp_matches("{c}", ?)', [IDENTIFIER_VALUE]
                ).fetchone()
                if row and row[0]:
                    raise InputError(
                        f"column {c!r} holds {row[0]} values shaped like a phone number, "
                        "resident registration number or e-mail address",
                        field=c,
                    )
        finally:
            con.close()
    return out


def _table_sha256(table: pa.Table) -> str:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


def stage(
    settings: Settings,
    dataset: str,
    table: pa.Table,
    columns: list[str],
    *,
    provenance: str,
    run_id: str,
    clock: Clock,
) -> str:
    """Keep the checked site-keyed table on the steward side; returns its sha256."""
    check_name(dataset)
    if not provenance.strip():
        raise InputError("say where the dataset comes from (provenance)", field="provenance")
    checked = check_table(table, columns)
    digest = _table_sha256(checked)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(staging_path(settings)))
    try:
        con.execute(
            "CREATE TABLE IF NOT EXISTS datasets (dataset VARCHAR PRIMARY KEY, columns VARCHAR[], "
            "provenance VARCHAR, run_id VARCHAR, imported TIMESTAMPTZ, sha256 VARCHAR)"
        )
        con.register("_in", checked)
        con.execute("BEGIN")
        con.execute(
            f"CREATE OR REPLACE TABLE ds_{dataset} AS SELECT CAST(site AS VARCHAR) AS site, "
            "CAST(patient_id AS VARCHAR) AS patient_id, * EXCLUDE (site, patient_id) FROM _in"
        )
        con.execute("DELETE FROM datasets WHERE dataset = ?", [dataset])
        con.execute(
            "INSERT INTO datasets VALUES (?, ?, ?, ?, ?, ?)",
            [dataset, columns, provenance, run_id, clock(), digest],
        )
        con.execute("COMMIT")
    finally:
        con.close()
    return digest


def require_zone(settings: Settings) -> None:
    zone, cb = integrated_path(settings), codebook_path(settings)
    if not zone.exists() or not cb.exists():
        raise NotFoundError(
            "no integrated zone yet: run de-identification before importing research data",
            path=str(zone),
        )


def publish(settings: Settings, only: str | None = None) -> list[ResearchImportReport]:
    """Map staged datasets to zone person pseudonyms and write them to the integrated zone."""
    require_zone(settings)
    zone, cb, staged = integrated_path(settings), codebook_path(settings), staging_path(settings)
    if not staged.exists():
        return []
    reports = []
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH {_lit(str(staged))} AS st (READ_ONLY)")
        con.execute(f"ATTACH {_lit(str(cb))} AS cb (READ_ONLY)")
        con.execute(f"ATTACH {_lit(str(zone))} AS integ")
        con.execute(
            "CREATE TABLE IF NOT EXISTS integ.research_datasets (dataset VARCHAR PRIMARY KEY, "
            "columns VARCHAR[], provenance VARCHAR, run_id VARCHAR, imported TIMESTAMPTZ, "
            "sha256 VARCHAR, report JSON)"
        )
        rows = con.execute(
            "SELECT dataset, columns, provenance, run_id, imported, sha256 FROM st.datasets "
            + ("WHERE dataset = ? " if only else "")
            + "ORDER BY 1",
            [only] if only else [],
        ).fetchall()
        for dataset, columns, provenance, run_id, imported, digest in rows:
            r = ResearchImportReport(run_id, dataset, list(columns), provenance, digest)
            cols = ", ".join(f'd."{c}"' for c in columns)
            con.execute(f"""
                CREATE OR REPLACE TEMP TABLE _m AS
                SELECT d.*, c.person_id AS _person, c.regional_id AS _regional
                FROM st.ds_{dataset} d LEFT JOIN cb.codebook c
                  ON c.site = d.site AND c.patient_id = d.patient_id
            """)
            stats = con.execute("""
                SELECT count(*),
                       count(DISTINCT (site, patient_id)),
                       count(DISTINCT (site, patient_id)) FILTER (WHERE _regional IS NOT NULL),
                       count(DISTINCT (site, patient_id))
                           FILTER (WHERE _person IS NOT NULL AND _regional IS NULL),
                       count(DISTINCT (site, patient_id)) FILTER (WHERE _person IS NULL),
                       count(*) FILTER (WHERE _person IS NULL),
                       count(DISTINCT _person)
                FROM _m
            """).fetchone()
            assert stats is not None
            (
                r.rows_in,
                r.records,
                r.linked_records,
                r.unlinked_records,
                r.unknown_records,
                r.unknown_rows,
                r.persons,
            ) = (int(v) for v in stats)
            r.unknown_by_site = {
                str(s): int(n)
                for s, n in con.execute(
                    "SELECT site, count(DISTINCT patient_id) FROM _m WHERE _person IS NULL "
                    "GROUP BY 1 ORDER BY 1"
                ).fetchall()
            }
            con.execute("BEGIN")
            con.execute(
                f"CREATE OR REPLACE TABLE integ.research_{dataset} AS "
                f"SELECT DISTINCT d._person AS person_id, {cols} FROM _m d "
                "WHERE d._person IS NOT NULL ORDER BY ALL"
            )
            out = con.execute(f"SELECT count(*) FROM integ.research_{dataset}").fetchone()
            r.rows_out = int(out[0]) if out else 0
            con.execute("DELETE FROM integ.research_datasets WHERE dataset = ?", [dataset])
            con.execute(
                "INSERT INTO integ.research_datasets VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    dataset,
                    list(columns),
                    provenance,
                    run_id,
                    imported,
                    digest,
                    json.dumps(r.to_dict()),
                ],
            )
            con.execute("COMMIT")
            if r.unknown_records:
                log.warning(
                    "dataset %s: %d site records unknown to the zone were not published",
                    dataset,
                    r.unknown_records,
                )
            reports.append(r)
    finally:
        con.close()
    return reports
