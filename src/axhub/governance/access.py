"""The one governed access path to the integrated zone.

Every read goes through ``GovernedStore``: it resolves the principal's project, asks the
policy (``ensure_allowed`` audits the decision and raises on deny), applies consent and the
care relationship as SQL filters at query time, re-keys pseudonyms per project for
pseudonymous access, writes an audit record of what was returned, and hands back Arrow
tables.  Nothing downstream opens the stores another way (a test scans the code).
Operator actions (de-identification, consent import, projects, rosters, key destruction) live
in ``stewardship.StewardStore``, a subclass only operator tools build.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from axhub.config import Settings
from axhub.errors import EngineError, InputError, NotFoundError, PolicyDenied
from axhub.governance import registry
from axhub.governance.audit import AuditLog, Clock, utc_now
from axhub.governance.consent import (
    check_site,
    excluded_persons_sql,
    known_sites,
)
from axhub.governance.deid import integrated_path
from axhub.governance.keys import KeyStore, codebook_path
from axhub.governance.policy import AccessRequest, Decision, Policy, ensure_allowed, load_policy
from axhub.governance.principals import Principal, Role
from axhub.governance.pseudonym import PSEUDONYM_CHARS, forget_sql, register_sql
from axhub.governance.purposes import CARE_PURPOSES, AccessLevel, Purpose
from axhub.governance.release import PrivacyBudget, dp_counts, dp_means, suppressed_arrow
from axhub.governance.research_data import scope_item, zone_table

COLUMNS = "site, resource_type, id, person_id, last_updated, resource"
MAX_LABELS = (
    40  # distinct values per label column in a released aggregate (dsBase nfilter.levels.max)
)


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _prefixed(alias: str) -> str:
    return ", ".join(f"{alias}.{c}" for c in COLUMNS.split(", "))


class GovernedStore:
    """Reads of the integrated zone for a principal and a purpose."""

    def __init__(
        self,
        settings: Settings,
        *,
        audit: AuditLog | None = None,
        policy: Policy | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.audit = audit or AuditLog.open(settings, clock=clock)
        self.policy = policy or load_policy()
        self._gov_lock = threading.RLock()  # DuckDB: no reader attached while a writer is
        registry.connect(settings).close()  # create the governance store once

    # -- decisions ---------------------------------------------------------------------------
    def request(
        self,
        principal: Principal,
        purpose: str,
        action: str,
        resource_types: Sequence[str] | None = None,
    ) -> AccessRequest:
        project = None
        if principal.project_id:
            with self._registry() as con:
                project = registry.get_project(con, principal.project_id)
        return AccessRequest(
            principal,
            purpose,
            action,
            self.clock(),
            tuple(resource_types) if resource_types is not None else None,
            project,
        )

    def ensure(
        self,
        principal: Principal,
        purpose: str,
        action: str,
        resource_types: Sequence[str] | None = None,
    ) -> tuple[AccessRequest, Decision]:
        if principal.role is Role.CLINICIAN and principal.site:
            check_site(principal.site, known_sites(self.settings))
        req = self.request(principal, purpose, action, resource_types)
        return req, ensure_allowed(req, self.policy, self.audit)

    @contextmanager
    def _registry(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The governance store, read-write; one user at a time within this store."""
        with self._gov_lock:
            con = registry.connect(self.settings)
            try:
                yield con
            finally:
                con.close()

    # -- the governed relation ---------------------------------------------------------------
    def _open(
        self, req: AccessRequest, decision: Decision, persons: Sequence[str] | None
    ) -> duckdb.DuckDBPyConnection:
        """A private in-memory session holding table ``governed`` and nothing else."""
        path = integrated_path(self.settings)
        if not path.exists():
            raise NotFoundError(
                f"no integrated zone at {path}: run `axhub governance deidentify`", path=str(path)
            )
        purpose = Purpose(req.purpose)
        p = req.principal
        con = duckdb.connect()
        sql = ""
        try:
            con.execute(f"ATTACH {_lit(str(path))} AS integ (READ_ONLY)")
            # Copy what the read needs from the governance store (persons excluded by consent,
            # the care team's roster), then let go of it: writers wait only this long.
            with self._gov_lock:
                con.execute(
                    f"ATTACH {_lit(str(registry.registry_path(self.settings)))} AS gov (READ_ONLY)"
                )
                excluded = excluded_persons_sql(purpose, self.policy.consent_defaults[purpose])
                sql = f"CREATE TEMP TABLE _excluded AS {excluded}"
                con.execute(sql, {"now": req.now})
                sql = "CREATE TEMP TABLE _roster AS SELECT person_id FROM gov.care_team_roster "
                sql += "WHERE care_team = $team"
                con.execute(sql, {"team": p.care_team or ""})
                con.execute("DETACH gov")
            where = []
            types = req.resource_types
            if req.project is not None and decision.level is AccessLevel.PSEUDONYMOUS:
                scoped = set(types) if types is not None else set(req.project.scope)
                types = tuple(sorted(scoped & req.project.scope))
            if types is not None:
                where.append(f"r.resource_type IN ({', '.join(map(_lit, types)) or 'NULL'})")
            if purpose in CARE_PURPOSES and p.role is Role.CLINICIAN:
                where.append(
                    "(r.person_id IS NULL OR r.person_id IN (SELECT person_id FROM "
                    f"integ.person_keys WHERE site = {_lit(p.site or '')}))"
                )
            elif purpose in CARE_PURPOSES:
                where.append(
                    "(r.person_id IS NULL OR r.person_id IN (SELECT person_id FROM _roster))"
                )
            if persons is not None:
                ids = pa.table({"person_id": pa.array(list(persons), pa.string())})
                con.register("_persons", ids)
                where.append("r.person_id IN (SELECT person_id FROM _persons)")
            sql = (
                f"CREATE TEMP TABLE governed AS SELECT {_prefixed('r')} "
                "FROM integ.resources r ANTI JOIN _excluded x ON x.person_id = r.person_id"
                + (f" WHERE {' AND '.join(where)}" if where else "")
            )
            con.execute(sql)
            if decision.level is AccessLevel.PSEUDONYMOUS:
                assert req.project is not None
                self._rekey(con, KeyStore(self.settings).key(f"project:{req.project.project_id}"))
            elif decision.level is AccessLevel.AGGREGATE:
                self._rekey(con, secrets.token_bytes(32))  # labels can never carry pseudonyms
            con.execute("DETACH integ")
        except duckdb.Error as exc:
            con.close()
            raise EngineError(f"governed read failed: {exc}", sql=sql) from None
        except BaseException:
            con.close()
            raise
        return con

    @staticmethod
    def _rekey(con: duckdb.DuckDBPyConnection, key: bytes) -> None:
        """Replace every zone pseudonym (ids, person ids, references) by one under ``key``."""
        register_sql(con, "project_pseudo", key)
        tok = rf"\b[0-9a-f]{{{PSEUDONYM_CHARS}}}\b"
        con.execute(f"""
            UPDATE governed SET
              id = project_pseudo(id),
              person_id = project_pseudo(person_id),
              resource = list_reduce(
                  list_transform(list_distinct(regexp_extract_all(resource::VARCHAR, '{tok}')),
                                 lambda t: struct_pack(a := t, b := project_pseudo(t))),
                  lambda acc, x: replace(acc, x.a, x.b), resource::VARCHAR)::JSON
        """)
        forget_sql(con, "project_pseudo")

    def _caller_result(
        self, con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, object] | None = None
    ) -> pa.Table:
        """Run caller SQL over view ``resources`` in a session locked to the governed rows."""
        con.execute("CREATE TEMP VIEW resources AS SELECT * FROM governed")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        try:
            return con.sql(sql, params=dict(params or {})).to_arrow_table()
        except duckdb.Error as exc:
            raise EngineError(f"query over governed data failed: {exc}", sql=sql) from None

    def _result(self, con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
        try:
            return con.sql(sql).to_arrow_table()
        except duckdb.Error as exc:
            raise EngineError(f"query over governed data failed: {exc}", sql=sql) from None

    # -- reads -------------------------------------------------------------------------------
    def read(
        self,
        principal: Principal,
        purpose: str,
        resource_types: Sequence[str] | None = None,
        *,
        persons: Sequence[str] | None = None,
    ) -> pa.Table:
        """Person-level rows ``(site, resource_type, id, person_id, last_updated, resource)``."""
        req, decision = self.ensure(principal, purpose, "read", resource_types)
        con = self._open(req, decision, persons)
        try:
            table = self._result(con, f"SELECT {COLUMNS} FROM governed ORDER BY 1, 2, 3")
        finally:
            con.close()
        self._audit_read(req, decision, "read", table.num_rows, persons)
        return table

    def read_dataset(self, principal: Principal, purpose: str, dataset: str) -> pa.Table:
        """A steward-imported research dataset ``(person_id, <columns>)`` for a project.

        Pseudonymous access only: the project's scope must hold ``research:<dataset>``;
        persons excluded by consent for the purpose vanish; ``person_id`` is re-keyed with
        the project key, so it equals the ``patient_id`` of the project's governed views.
        """
        table_name = zone_table(dataset)
        req, decision = self.ensure(principal, purpose, "read", [scope_item(dataset)])
        if decision.level is not AccessLevel.PSEUDONYMOUS or req.project is None:
            raise PolicyDenied(
                "research datasets are read pseudonymously, by an approved project",
                decision=decision,
            )
        path = integrated_path(self.settings)
        if not path.exists():
            raise NotFoundError(
                f"no integrated zone at {path}: run `axhub governance deidentify`", path=str(path)
            )
        con = duckdb.connect()
        sql = ""
        try:
            con.execute(f"ATTACH {_lit(str(path))} AS integ (READ_ONLY)")
            known = [
                r[0]
                for r in con.execute(
                    "SELECT table_name FROM duckdb_tables() WHERE database_name = 'integ' "
                    "AND starts_with(table_name, 'research_') AND table_name <> 'research_datasets'"
                ).fetchall()
            ]
            if table_name not in known:
                raise NotFoundError(
                    f"no research dataset {dataset!r} in the integrated zone",
                    field="dataset",
                    suggestions=[k.removeprefix("research_") for k in sorted(known)],
                )
            with self._gov_lock:
                con.execute(
                    f"ATTACH {_lit(str(registry.registry_path(self.settings)))} AS gov (READ_ONLY)"
                )
                excluded = excluded_persons_sql(
                    Purpose(req.purpose), self.policy.consent_defaults[Purpose(req.purpose)]
                )
                sql = f"CREATE TEMP TABLE _excluded AS {excluded}"
                con.execute(sql, {"now": req.now})
                con.execute("DETACH gov")
            register_sql(
                con,
                "project_pseudo",
                KeyStore(self.settings).key(f"project:{req.project.project_id}"),
            )
            sql = (
                f"SELECT project_pseudo(d.person_id) AS person_id, d.* EXCLUDE (person_id) "
                f"FROM integ.{table_name} d ANTI JOIN _excluded x ON x.person_id = d.person_id"
            )
            con.execute(f"CREATE TEMP TABLE governed_dataset AS {sql}")
            forget_sql(con, "project_pseudo")
            con.execute("DETACH integ")
            table = self._result(con, "SELECT * FROM governed_dataset ORDER BY ALL")
        except duckdb.Error as exc:
            raise EngineError(f"governed dataset read failed: {exc}", sql=sql) from None
        finally:
            con.close()
        self._audit_read(req, decision, "read", table.num_rows, None)
        return table

    def export(
        self,
        principal: Principal,
        purpose: str,
        out: Path,
        resource_types: Sequence[str] | None = None,
    ) -> int:
        """Write the governed rows to a Parquet file; audited as an export.  Returns rows."""
        import pyarrow.parquet as pq

        req, decision = self.ensure(principal, purpose, "export", resource_types)
        con = self._open(req, decision, None)
        try:
            table = self._result(con, f"SELECT {COLUMNS} FROM governed ORDER BY 1, 2, 3")
        finally:
            con.close()
        pq.write_table(table, out)
        self._audit_read(req, decision, "export", table.num_rows, None)
        return table.num_rows

    def record_agent_action(
        self,
        agent: Principal,
        purpose: str,
        action: str,
        *,
        subjects: Sequence[str] = (),
        detail: dict[str, object] | None = None,
    ) -> None:
        """Audit one step an agent took (a tool call, a message, an escalation)."""
        if agent.role is not Role.AGENT:
            raise InputError("only agents record agent actions", field="role")
        self.audit.append(
            "agent",
            actor=agent.principal_id,
            role=agent.role.value,
            purpose=purpose,
            subjects=list(subjects),
            detail={
                "action": action,
                "on_behalf_of": agent.on_behalf_of or "",
                "care_team": agent.care_team or "",
                **(detail or {}),
            },
        )

    def run_view(
        self,
        principal: Principal,
        purpose: str,
        view: dict[str, object],
        resource_types: Sequence[str] | None = None,
    ) -> pa.Table:
        """Run a SQL-on-FHIR ViewDefinition over the governed rows of its resource type."""
        from axhub.engine.duckdb import DuckDBEngine

        if resource_types is None and isinstance(view.get("resource"), str):
            resource_types = [str(view["resource"])]
        table = self.read(principal, purpose, resource_types)
        engine = DuckDBEngine(threads=self.settings.duckdb_threads)
        try:
            engine.register_resources("governed_resources", table)
            return engine.run_view(view, "governed_resources")
        finally:
            engine.close()

    def query(
        self,
        principal: Principal,
        purpose: str,
        sql: str,
        resource_types: Sequence[str] | None = None,
    ) -> pa.Table:
        """Run a read-only SELECT over ``resources`` (the governed rows) and return Arrow.

        The session holds nothing but the governed rows: other files cannot be opened.
        """
        req, decision = self.ensure(principal, purpose, "read", resource_types)
        con = self._open(req, decision, None)
        try:
            table = self._caller_result(con, sql)
        finally:
            con.close()
        self._audit_read(req, decision, "read", table.num_rows, None, query=sql)
        return table

    def aggregate(
        self,
        principal: Principal,
        purpose: str,
        sql: str,
        *,
        row: str,
        col: str,
        count: str = "n",
        resource_types: Sequence[str] | None = None,
    ) -> pa.Table:
        """A released 2-D count table: the SELECT's (row, col, count) after suppression."""
        req, decision = self.ensure(principal, purpose, "aggregate", resource_types)
        con = self._open(req, decision, None)
        try:
            raw = self._caller_result(con, sql)
        finally:
            con.close()
        for name in (row, col):
            values = (
                [str(v) for v in raw.column(name).to_pylist()] if name in raw.column_names else []
            )
            if len(set(values)) > MAX_LABELS:
                raise InputError(
                    f"aggregate column {name!r} has more than {MAX_LABELS} labels", field=name
                )
            if any(
                len(v) == PSEUDONYM_CHARS and all(c in "0123456789abcdef" for c in v)
                for v in values
            ):
                raise PolicyDenied(f"aggregate column {name!r} holds pseudonymous ids", field=name)
        released = suppressed_arrow(raw, row, col, count)
        hidden = sum(v is None for v in released.column(count).to_pylist())
        self.audit.append(
            "release",
            actor=principal.principal_id,
            role=principal.role.value,
            purpose=req.purpose,
            policy_id=decision.policy_id,
            detail={
                "cells": released.num_rows,
                "suppressed": hidden,
                "method": "small-cell<10+complementary",
                "query_sha256": _sha(sql),
            },
        )
        return released

    def release_dp(
        self,
        principal: Principal,
        purpose: str,
        sql: str,
        *,
        partitions: Sequence[str],
        epsilon: float,
        bounds: tuple[int, int] | None = None,
    ) -> pa.Table:
        """Differentially private per-partition counts (and means of ``value`` with bounds).

        ``sql`` selects ``person_id, key`` (and ``value`` for means) from ``resources``; each
        person counts once (first row); keys outside ``partitions`` are dropped.
        """
        req, decision = self.ensure(principal, purpose, "release")
        if req.project is None:
            raise PolicyDenied(
                "a differentially private release needs a registered project "
                "holding a privacy budget",
                purpose=purpose,
            )
        con = self._open(req, decision, None)
        try:
            con.register("_keys", pa.table({"key": pa.array(list(partitions), pa.string())}))
            value = (
                "sum(CAST(round(least(greatest(value, $lo), $hi)) AS BIGINT))" if bounds else "0"
            )
            params = {"lo": bounds[0], "hi": bounds[1]} if bounds else {}
            q = (
                f"WITH per AS (SELECT * FROM ({sql}) QUALIFY row_number() OVER "
                f"(PARTITION BY person_id ORDER BY key) = 1) "
                f"SELECT k.key, count(per.person_id) AS n, coalesce({value}, 0) AS s "
                f"FROM _keys k LEFT JOIN per ON per.key = k.key GROUP BY k.key ORDER BY k.key"
            )
            true = self._caller_result(con, q, params)
        finally:
            con.close()
        with self._registry() as rcon:
            budget = PrivacyBudget(rcon, req.project.project_id, req.project.epsilon_budget)
            release_id = budget.charge(epsilon, f"{len(partitions)} partitions", req.now)
        counts = true.column("n").to_numpy()
        out: dict[str, object] = {"key": true.column("key")}
        if bounds:
            n, means = dp_means(counts, true.column("s").to_numpy(), bounds, epsilon)
            out["n"], out["mean"] = pa.array(n), pa.array(np.round(means, 2))
        else:
            out["n"] = pa.array(dp_counts(counts, epsilon))
        self.audit.append(
            "release",
            actor=principal.principal_id,
            role=principal.role.value,
            purpose=req.purpose,
            policy_id=decision.policy_id,
            detail={
                "release_id": release_id,
                "epsilon": epsilon,
                "partitions": len(partitions),
                "mechanism": "opendp-laplace",
                "project_id": req.project.project_id,
                "query_sha256": _sha(sql),
            },
        )
        return pa.table(out)

    # -- re-identification -------------------------------------------------------------------
    def reidentify(self, principal: Principal, purpose: str, person_ids: Sequence[str]) -> pa.Table:
        """Site records ``(person_id, site, patient_id)`` behind zone pseudonyms; care only."""
        req, decision = self.ensure(principal, purpose, "reidentify")
        if Purpose(req.purpose) not in CARE_PURPOSES:
            raise PolicyDenied(
                "re-identification is allowed for care purposes only", decision=decision
            )
        path = codebook_path(self.settings)
        con = duckdb.connect(str(path), read_only=True)
        try:
            con.register("_ask", pa.table({"person_id": pa.array(list(person_ids), pa.string())}))
            scope = ""
            if principal.role is Role.CLINICIAN:
                scope = f" AND c.site = {_lit(principal.site or '')}"
            table = self._result(
                con,
                "SELECT c.person_id, c.site, c.patient_id FROM codebook c "
                f"SEMI JOIN _ask a ON a.person_id = c.person_id{scope} "
                "ORDER BY 1, 2, 3",
            )
        finally:
            con.close()
        if principal.role is not Role.CLINICIAN:
            allowed = self.read(principal, purpose, ["Patient"], persons=list(person_ids))
            ok = set(allowed.column("person_id").to_pylist())
            table = table.filter(pa.array([p in ok for p in table.column("person_id").to_pylist()]))
        self.audit.append(
            "reidentify",
            actor=principal.principal_id,
            role=principal.role.value,
            purpose=req.purpose,
            policy_id=decision.policy_id,
            subjects=list(person_ids),
            detail={"records": table.num_rows},
        )
        return table

    # -- audit -------------------------------------------------------------------------------
    def _audit_read(
        self,
        req: AccessRequest,
        decision: Decision,
        kind: str,
        rows: int,
        persons: Sequence[str] | None,
        query: str | None = None,
    ) -> None:
        p = req.principal
        detail: dict[str, object] = {"rows": rows, "level": decision.level.value}
        if query is not None:
            detail["query_sha256"] = _sha(query)
        if req.resource_types is not None:
            detail["resource_types"] = sorted(req.resource_types)
        if req.project is not None:
            detail["project_id"] = req.project.project_id
        self.audit.append(
            kind,
            actor=p.principal_id,
            role=p.role.value,
            purpose=req.purpose,
            policy_id=decision.policy_id,
            subjects=list(persons or ()),
            detail=detail,
        )
