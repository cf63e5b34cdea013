"""De-identification at the site edge: raw zone -> integrated zone, vectorised in DuckDB.

Each allow-listed resource type is rebuilt by the SQL that ``allowlist.resource_sql``
compiles; a type not listed is dropped whole (counted).  Ids and references are replaced by
keyed pseudonyms (``pseudonym.register_sql``); references to the record's own patient become
``Patient/<person pseudonym>``.

Person linkage across sites is an input: a table ``(site, patient_id, person_id)`` from the
linkage unit.  A patient it does not cover keeps a site-level pseudonym.  The output is
``<data_dir>/integrated.duckdb``; the re-identification codebook goes to the key store
(``keys/reid.duckdb``), apart from the output.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from axhub.config import Settings
from axhub.errors import InputError, NotFoundError
from axhub.governance.allowlist import AllowList, load_allowlist, resource_sql
from axhub.governance.audit import AuditLog, Clock, utc_now
from axhub.governance.keys import KeyStore, codebook_path
from axhub.governance.pseudonym import register_sql

log = logging.getLogger(__name__)

ZONE_KEY = "zone"


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


# -- the build --------------------------------------------------------------------------------
@dataclass
class DeidReport:
    run_id: str
    allowlist_version: str
    allowlist_sha256: str
    resources_in: dict[str, int] = field(default_factory=dict)
    resources_out: dict[str, int] = field(default_factory=dict)
    dropped_types: dict[str, int] = field(default_factory=dict)
    orphans: dict[str, int] = field(default_factory=dict)
    persons: int = 0
    patients: int = 0
    linked_patients: int = 0
    mapping_unmatched: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def integrated_path(settings: Settings) -> Path:
    return settings.data_dir / "integrated.duckdb"


def _load_mapping(con: duckdb.DuckDBPyConnection, mapping: pa.Table | None) -> None:
    con.execute("CREATE TEMP TABLE _mapping (site VARCHAR, patient_id VARCHAR, person_id VARCHAR)")
    if mapping is None:
        return
    if "patient_id" not in mapping.column_names and "record_id" in mapping.column_names:
        # the linkage unit's output names the site's Patient.id ``record_id``
        mapping = mapping.rename_columns(
            ["patient_id" if c == "record_id" else c for c in mapping.column_names]
        )
    missing = {"site", "patient_id", "person_id"} - set(mapping.column_names)
    if missing:
        raise InputError(
            f"linkage mapping lacks columns {sorted(missing)}",
            field=",".join(sorted(missing)),
            reason="expected (site, patient_id, person_id)",
        )
    con.register("_mapping_in", mapping.select(["site", "patient_id", "person_id"]))
    con.execute(
        "INSERT INTO _mapping SELECT CAST(site AS VARCHAR), CAST(patient_id AS VARCHAR), "
        "CAST(person_id AS VARCHAR) FROM _mapping_in"
    )
    con.unregister("_mapping_in")
    bad = con.execute(
        "SELECT count(*) FROM _mapping WHERE site IS NULL OR patient_id IS NULL "
        "OR person_id IS NULL"
    ).fetchone()
    if bad and bad[0]:
        raise InputError(
            f"linkage mapping has {bad[0]} rows with an empty column",
            reason="site, patient_id and person_id are required",
        )
    clash = con.execute(
        "SELECT site, count(DISTINCT person_id) FROM _mapping GROUP BY site, patient_id "
        "HAVING count(DISTINCT person_id) > 1 LIMIT 1"
    ).fetchone()
    if clash:
        raise InputError(
            "linkage mapping gives one site patient several person ids",
            field="person_id",
            site=clash[0],
        )
    raw_sites = {r[0] for r in con.execute("SELECT DISTINCT site FROM raw.resources").fetchall()}
    for (site,) in con.execute("SELECT DISTINCT site FROM _mapping ORDER BY 1").fetchall():
        if site not in raw_sites:
            raise NotFoundError(
                f"linkage mapping names unknown site {site!r}",
                suggestions=difflib.get_close_matches(site, sorted(raw_sites)) or sorted(raw_sites),
                field="site",
            )


def deidentify(
    settings: Settings,
    audit: AuditLog,
    *,
    mapping: pa.Table | None = None,
    allowlist: AllowList | None = None,
    actor: str = "operator",
    clock: Clock = utc_now,
) -> DeidReport:
    """Rebuild the integrated zone from the raw zone; returns counts (no personal data)."""
    allowlist = allowlist or load_allowlist()
    raw_path = settings.raw_zone_path
    if not raw_path.exists():
        raise NotFoundError(
            f"no raw zone at {raw_path}: run `axhub ingest` first", path=str(raw_path)
        )
    started = time.perf_counter()
    report = DeidReport(uuid.uuid4().hex, allowlist.version, allowlist.sha256)
    out_path = integrated_path(settings)
    keys = KeyStore(settings)
    cb_path = codebook_path(settings)
    keys.ensure_dir()
    tmp_out = out_path.with_name(out_path.name + ".building")
    tmp_cb = cb_path.with_name(cb_path.name + ".building")
    for p in (tmp_out, tmp_cb):
        p.unlink(missing_ok=True)
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")  # would print into command output
        con.execute(f"ATTACH {_lit(str(raw_path))} AS raw (READ_ONLY)")
        register_sql(con, "zone_pseudo", keys.key(ZONE_KEY))
        _load_mapping(con, mapping)
        con.execute("""
            CREATE TEMP TABLE _patient_map AS
            SELECT p.site, p.id AS patient_id, m.person_id AS regional_id,
                   zone_pseudo('site:' || p.site || '/' || p.id) AS site_key,
                   zone_pseudo(CASE WHEN m.person_id IS NOT NULL THEN 'person:' || m.person_id
                                    ELSE 'site:' || p.site || '/' || p.id END) AS person_id
            FROM raw.resources p
            LEFT JOIN _mapping m ON m.site = p.site AND m.patient_id = p.id
            WHERE p.resource_type = 'Patient'
        """)
        row = con.execute(
            "SELECT count(*), count(regional_id), count(DISTINCT person_id) FROM _patient_map"
        ).fetchone()
        assert row is not None
        report.patients, report.linked_patients, report.persons = row
        unmatched = con.execute(
            "SELECT count(*) FROM _mapping m ANTI JOIN _patient_map p "
            "ON p.site = m.site AND p.patient_id = m.patient_id"
        ).fetchone()
        report.mapping_unmatched = unmatched[0] if unmatched else 0
        counts = con.execute(
            "SELECT resource_type, count(*) FROM raw.resources GROUP BY 1 ORDER BY 1"
        ).fetchall()
        report.resources_in = {t: n for t, n in counts}
        report.dropped_types = {t: n for t, n in counts if t not in allowlist.types}

        con.execute(f"ATTACH {_lit(str(tmp_out))} AS out")
        con.execute("""
            CREATE TABLE out.resources (
                site VARCHAR NOT NULL, resource_type VARCHAR NOT NULL, id VARCHAR NOT NULL,
                person_id VARCHAR, last_updated TIMESTAMPTZ, resource JSON NOT NULL,
                PRIMARY KEY (site, resource_type, id))
        """)
        for rtype in sorted(allowlist.types):
            if rtype not in report.resources_in:
                continue
            # in person order: a one-person read can skip other persons' segments by their
            # statistics (bench_governance.py, one-person read)
            con.execute(
                f"INSERT INTO out.resources SELECT * FROM ({resource_sql(allowlist, rtype)}) "
                "ORDER BY person_id"
            )
        out_counts = con.execute(
            "SELECT resource_type, count(*) FROM out.resources GROUP BY 1"
        ).fetchall()
        report.resources_out = {t: n for t, n in out_counts}
        report.orphans = {
            t: report.resources_in[t] - report.resources_out.get(t, 0)
            for t in allowlist.types
            if t in report.resources_in and report.resources_in[t] != report.resources_out.get(t, 0)
        }
        con.execute("""
            CREATE TABLE out.person_keys AS
            SELECT DISTINCT person_id, site, site_key FROM _patient_map ORDER BY person_id
        """)
        report.seconds = round(time.perf_counter() - started, 3)
        con.execute(
            "CREATE TABLE out.deid_runs (run_id VARCHAR, finished TIMESTAMPTZ, "
            "allowlist_version VARCHAR, allowlist_sha256 VARCHAR, report JSON)"
        )
        con.execute(
            "INSERT INTO out.deid_runs VALUES (?, ?, ?, ?, ?)",
            [
                report.run_id,
                clock(),
                allowlist.version,
                allowlist.sha256,
                json.dumps(report.to_dict()),
            ],
        )
        con.execute("DETACH out")
        con.execute(f"ATTACH {_lit(str(tmp_cb))} AS cb")
        con.execute(
            "CREATE TABLE cb.codebook AS SELECT person_id, site, patient_id, regional_id "
            "FROM _patient_map ORDER BY person_id"
        )
        con.execute("DETACH cb")
    finally:
        con.close()
    os.chmod(tmp_cb, 0o600)
    tmp_cb.replace(cb_path)
    tmp_out.replace(out_path)
    manifest = {
        **report.to_dict(),
        "finished": clock().isoformat(),
        "settings": settings.public_dict(),
        "output": str(out_path),
    }
    out_path.with_suffix(".manifest.json").write_text(json.dumps(manifest, indent=2))
    audit.append(
        "deidentify",
        actor=actor,
        role="operator",
        purpose="operations",
        detail={
            "run_id": report.run_id,
            "allowlist_sha256": allowlist.sha256,
            "resources_out": sum(report.resources_out.values()),
            "persons": report.persons,
        },
    )
    log.info(
        "de-identified %d resources for %d persons in %.1fs",
        sum(report.resources_out.values()),
        report.persons,
        report.seconds,
    )
    return report
