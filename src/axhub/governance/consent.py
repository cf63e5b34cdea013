"""Consent: FHIR R4 Consent import and the query-time consent filter.

Records are stored per (site patient, purpose) under the site-level pseudonym ``site_key``
(stable when the cross-site linkage is re-run) and applied at query time by a SQL anti-join
through ``integrated.person_keys``: a withdrawal at any site removes the person from that
purpose's reads from its effective time on.  When several records are in force for one
(site patient, purpose), the one with the latest effective time wins; across a person's
sites, deny wins.  With no record in force the policy's default for the purpose applies
(``[consent]`` in the policy table: "permit" = opt-out, "deny" = opt-in).

Import is all-or-nothing: a withdrawal silently skipped would leave a person in research
views, so one bad record rejects the file, naming file, line and field for every problem.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from axhub.config import Settings
from axhub.errors import InputError, NotFoundError
from axhub.governance.deid import ZONE_KEY
from axhub.governance.keys import KeyStore
from axhub.governance.pseudonym import pseudonym
from axhub.governance.purposes import Purpose, purpose_from_coding

STATUSES = frozenset({"draft", "proposed", "active", "rejected", "inactive", "entered-in-error"})
SCOPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"
SCOPES = frozenset({"patient-privacy", "research", "treatment", "adr"})


@dataclass(frozen=True)
class ConsentRecord:
    """One decision for one site patient and purpose, with where it came from."""

    site: str
    patient_id: str
    purpose: Purpose
    decision: str  # permit | deny
    effective_from: dt.datetime
    effective_to: dt.datetime | None
    recorded: dt.datetime
    consent_id: str
    source: str  # file name:line
    where: Loc = field(compare=False, default=("", 0))


@dataclass
class ConsentImportReport:
    run_id: str
    resources: int = 0
    records: int = 0
    duplicates: int = 0
    skipped_status: dict[str, int] = field(default_factory=dict)
    retracted: int = 0


Loc = tuple[str, int]  # (source file, line)


@dataclass
class _Problems:
    items: list[tuple[Loc, str, str]] = field(default_factory=list)

    def add(self, loc: Loc, field_path: str, message: str) -> None:
        self.items.append((loc, field_path, message))

    def raise_if_any(self) -> None:
        if not self.items:
            return
        (path, line), fpath, msg = self.items[0]
        listing = [f"{p}:{ln}: {fp}: {m}" for (p, ln), fp, m in self.items[:50]]
        raise InputError(
            f"{len(self.items)} bad consent record(s); first: {msg}",
            path=path,
            line=line,
            field=fpath,
            problems=listing,
        )


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _time(value: Any, line: Loc, fpath: str, problems: _Problems) -> dt.datetime | None:
    if not isinstance(value, str):
        problems.add(line, fpath, "missing or not a string")
        return None
    padded = {4: value + "-01-01", 7: value + "-01"}.get(len(value), value)  # YYYY, YYYY-MM
    try:
        parsed = dt.datetime.fromisoformat(padded)
    except ValueError:
        problems.add(line, fpath, f"not a FHIR dateTime: {value!r}")
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _provision(
    prov: Any, fpath: str, line: Loc, problems: _Problems, base: str | None
) -> list[tuple[str, list[Purpose] | None, dict[str, Any]]]:
    """(decision, purposes or None for all, period) for a provision and its nested ones."""
    if not isinstance(prov, dict):
        problems.add(line, fpath, "missing provision")
        return []
    decision = prov.get("type", base)
    if decision not in ("permit", "deny"):
        problems.add(line, f"{fpath}.type", f"must be 'permit' or 'deny', got {decision!r}")
        return []
    purposes: list[Purpose] | None = None
    if "purpose" in prov:
        purposes = []
        raw = prov["purpose"]
        for i, coding in enumerate(raw if isinstance(raw, list) else [raw]):
            c = coding if isinstance(coding, dict) else {}
            purpose = purpose_from_coding(c.get("system"), c.get("code"))
            if purpose is None:
                problems.add(
                    line,
                    f"{fpath}.purpose[{i}]",
                    f"unknown purpose coding {c.get('system')}|{c.get('code')}",
                )
            else:
                purposes.append(purpose)
    out = [(decision, purposes, _as_dict(prov.get("period")))]
    for j, sub in enumerate(_as_list(prov.get("provision"))):
        out += _provision(
            sub,
            f"{fpath}.provision[{j}]",
            line,
            problems,
            "deny" if decision == "permit" else "permit",
        )
    return out


Parsed = tuple[list[ConsentRecord], dict[str, int], set[str]]


def parse_consents(path: Path, site: str) -> Parsed:
    """Parse an NDJSON file of FHIR R4 Consent resources (see ``parse_consent_lines``)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read consent file: {exc}", path=str(path)) from None
    return parse_consent_lines(((str(path), n, t) for n, t in enumerate(lines, 1)), site)


def parse_consent_lines(lines: Iterable[tuple[str, int, str]], site: str) -> Parsed:
    """Parse FHIR R4 Consent resources given as (source file, line, JSON text).

    Returns the active records, counts of skipped statuses and the ids of Consents marked
    entered-in-error.  Raises InputError naming every bad record (file, line, field path).
    """
    problems = _Problems()
    records: list[ConsentRecord] = []
    skipped: dict[str, int] = {}
    retracted: set[str] = set()
    for src, line_no, text in lines:
        n: Loc = (src, line_no)
        if not text.strip():
            continue
        try:
            res = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.add(n, "$", f"not JSON: {exc.msg} at column {exc.colno}")
            continue
        if not isinstance(res, dict) or res.get("resourceType") != "Consent":
            problems.add(n, "resourceType", "expected a Consent resource")
            continue
        cid = res.get("id")
        if not isinstance(cid, str) or not cid:
            problems.add(n, "id", "missing id")
            continue
        status = res.get("status")
        if status not in STATUSES:
            problems.add(n, "status", f"must be one of {sorted(STATUSES)}, got {status!r}")
            continue
        scope_codes = {
            c.get("code")
            for c in _as_list(_as_dict(res.get("scope")).get("coding"))
            if isinstance(c, dict) and c.get("system") == SCOPE_SYSTEM
        }
        if not scope_codes & SCOPES:
            problems.add(n, "scope.coding", f"needs a {SCOPE_SYSTEM} code")
        ref = _as_dict(res.get("patient")).get("reference")
        if not isinstance(ref, str) or not ref.startswith("Patient/") or len(ref) <= 8:
            problems.add(n, "patient.reference", f"must be 'Patient/<id>', got {ref!r}")
            continue
        recorded = _time(res.get("dateTime"), n, "dateTime", problems)
        provisions = _provision(res.get("provision"), "provision", n, problems, None)
        if recorded is None or status != "active":
            if status == "entered-in-error":
                retracted.add(cid)
            elif status != "active":
                skipped[status] = skipped.get(status, 0) + 1
            continue
        covered: set[Purpose] = set()
        expanded = []
        for decision, purposes, period in reversed(provisions):  # nested ones first
            todo = [
                p for p in (purposes if purposes is not None else list(Purpose)) if p not in covered
            ]
            covered.update(todo)
            expanded.append((decision, todo, period))
        for decision, todo, period in expanded:
            start = (
                _time(period["start"], n, "provision.period.start", problems)
                if "start" in period
                else recorded
            )
            end = (
                _time(period["end"], n, "provision.period.end", problems)
                if "end" in period
                else None
            )
            if start and end and end <= start:
                problems.add(n, "provision.period", "end is not after start")
            if start is None:
                continue
            records += [
                ConsentRecord(
                    site,
                    ref[8:],
                    p,
                    decision,
                    start,
                    end,
                    recorded,
                    cid,
                    f"{Path(src).name}:{line_no}",
                    n,
                )
                for p in todo
            ]
    problems.raise_if_any()
    seen: dict[tuple[str, Purpose, dt.datetime], ConsentRecord] = {}
    for rec in records:
        key = (rec.patient_id, rec.purpose, rec.effective_from)
        other = seen.setdefault(key, rec)
        if other.decision != rec.decision:
            problems.add(
                rec.where,
                "provision.type",
                f"conflicts with {other.source}: {other.decision} vs {rec.decision} for "
                f"{rec.purpose.value} from the same time",
            )
    problems.raise_if_any()
    return records, skipped, retracted


#: known_sites per zone file, keyed by the file's and its write-ahead log's identity, size and
#: modification time: opening the zone costs ~25 ms, and every clinician's read asks.
_SITES: dict[tuple[object, ...], list[str]] = {}


def _file_state(path: Path) -> tuple[object, ...] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    wal = path.with_name(path.name + ".wal")
    w = wal.stat() if wal.exists() else None
    return (str(path), st.st_ino, st.st_size, st.st_mtime_ns,
            w and (w.st_ino, w.st_size, w.st_mtime_ns))  # fmt: skip


def known_sites(settings: Settings) -> list[str]:
    """Sites present in the integrated zone (or the raw zone before de-identification)."""
    from axhub.governance.deid import integrated_path

    for path, sql in (
        (integrated_path(settings), "SELECT DISTINCT site FROM person_keys"),
        (settings.raw_zone_path, "SELECT DISTINCT site FROM resources"),
    ):
        state = _file_state(path)
        if state is None:
            continue
        cached = _SITES.get(state)
        if cached is not None:
            return list(cached)
        con = duckdb.connect(str(path), read_only=True)
        try:
            sites = sorted(r[0] for r in con.execute(sql).fetchall())
        finally:
            con.close()
        if len(_SITES) > 64:
            _SITES.clear()
        _SITES[state] = sites
        return list(sites)
    return []


def raw_consent_lines(settings: Settings) -> dict[str, list[tuple[str, int, str]]]:
    """Consent resources in the raw zone per site, with the file and line they came from."""
    path = settings.raw_zone_path
    if not path.exists():
        raise NotFoundError(f"no raw zone at {path}: run `axhub ingest` first", path=str(path))
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(
            "SELECT site, source_file, source_line, CAST(resource AS VARCHAR) FROM resources "
            "WHERE resource_type = 'Consent' ORDER BY 1, 2, 3"
        ).fetchall()
    finally:
        con.close()
    out: dict[str, list[tuple[str, int, str]]] = {}
    for site, src, line, text in rows:
        out.setdefault(site, []).append((str(src), int(line or 0), text))
    return out


def check_site(site: str, sites: list[str]) -> None:
    if site not in sites:
        raise NotFoundError(
            f"unknown site {site!r}" + ("" if sites else " (no zone holds any site yet)"),
            suggestions=difflib.get_close_matches(site, sites) or sites,
            field="site",
        )


def store_consents(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    records: list[ConsentRecord],
    retracted: set[str],
    site: str,
    run_id: str,
) -> tuple[int, int, int]:
    """Write parsed records into the governance store; returns (new, duplicates, retracted).

    A record that contradicts a stored one (same site patient, purpose and effective time,
    other decision) raises InputError naming both sources.
    """
    key = KeyStore(settings).key(ZONE_KEY)
    rows = [
        (
            pseudonym(key, f"site:{site}/{r.patient_id}"),
            site,
            r.purpose.value,
            r.decision,
            r.effective_from,
            r.effective_to,
            r.recorded,
            pseudonym(key, f"{site}/Consent/{r.consent_id}"),
            r.source,
        )
        for r in records
    ]
    con.execute("BEGIN")
    try:
        gone = 0
        for cid in sorted(retracted):
            ck = pseudonym(key, f"{site}/Consent/{cid}")
            hit = con.execute("SELECT count(*) FROM consent WHERE consent_key = ?", [ck]).fetchone()
            gone += hit[0] if hit else 0
            con.execute("DELETE FROM consent WHERE consent_key = ?", [ck])
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _incoming (site_key VARCHAR, site VARCHAR, "
            "purpose VARCHAR, decision VARCHAR, effective_from TIMESTAMPTZ, "
            "effective_to TIMESTAMPTZ, recorded TIMESTAMPTZ, consent_key VARCHAR, source VARCHAR)"
        )
        if rows:
            con.executemany("INSERT INTO _incoming VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        clash = con.execute("""
            SELECT i.source, c.source, i.purpose FROM _incoming i JOIN consent c
              ON c.site_key = i.site_key AND c.purpose = i.purpose
             AND c.effective_from = i.effective_from AND c.decision <> i.decision
            LIMIT 1""").fetchone()
        if clash:
            line = int(clash[0].rsplit(":", 1)[1])
            raise InputError(
                f"consent at {clash[0]} conflicts with stored consent from {clash[1]} "
                f"for {clash[2]} at the same effective time",
                path=clash[0].rsplit(":", 1)[0],
                line=line,
                field="provision.type",
            )
        dup = con.execute("""
            SELECT count(*) FROM _incoming i SEMI JOIN consent c
              ON c.site_key = i.site_key AND c.purpose = i.purpose
             AND c.effective_from = i.effective_from AND c.decision = i.decision""").fetchone()
        con.execute(
            """
            INSERT INTO consent SELECT i.*, ? FROM _incoming i ANTI JOIN consent c
              ON c.site_key = i.site_key AND c.purpose = i.purpose
             AND c.effective_from = i.effective_from AND c.decision = i.decision""",
            [run_id],
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    duplicates = dup[0] if dup else 0
    return len(rows) - duplicates, duplicates, gone


def excluded_persons_sql(purpose: Purpose, default: str) -> str:
    """SQL (parameter ``$now``) selecting person ids a read for ``purpose`` must leave out.

    ``gov`` is the governance store and ``integ`` the integrated zone, both attached.
    Opt-out (default permit): persons with a deny in force at any of their sites.
    Opt-in (default deny): persons without a permit in force, or with a deny in force.
    """
    current = f"""
        SELECT pk.person_id, ct.decision
        FROM (SELECT site_key, arg_max(decision, (effective_from, recorded)) AS decision
              FROM gov.consent
              WHERE purpose = '{purpose.value}' AND effective_from <= $now
                AND (effective_to IS NULL OR effective_to > $now)
              GROUP BY site_key) ct
        JOIN integ.person_keys pk ON pk.site_key = ct.site_key"""
    if default == "permit":
        return f"SELECT person_id FROM ({current}) WHERE decision = 'deny'"
    return f"""
        SELECT person_id FROM integ.person_keys
        EXCEPT
        SELECT person_id FROM ({current}) GROUP BY person_id
        HAVING bool_and(decision = 'permit')"""
