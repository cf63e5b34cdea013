"""One site of the federation: answers whitelisted aggregate queries through its own boundary.

A node holds its site's integrated zone and governance store (``GovernedStore``) and a small
node store ``<data_dir>/federation.sqlite`` with

* ``credentials``: SHA-256 of each bearer token the node accepts (the token itself is shown
  once when issued and never stored; tokens are 256-bit random, so a plain hash is enough);
* ``queries``: every query received, its state (``pending`` → ``approved``/``rejected`` by the
  site's data review committee, ``answered`` or ``refused``) and the released payload;
* ``cohorts``: for each answered query, truncated SHA-256 fingerprints of the project
  pseudonyms in its population, for the differencing rule.

Disclosure rules, in order (sources in ``../shared/reference/federation-linkage-privacy.md``):

1. minimum cohort: a population of fewer than ``min_cohort`` persons (default 10, the region's
   small-cell rule in ``governance.release``; DataSHIELD ``nfilter.subset``) is refused;
2. differencing: a population that differs from the population of an earlier answered query
   of the same project at this site by 1 to ``min_cohort - 1`` persons (symmetric difference)
   is refused, since subtracting the two answers would describe that small group (the attack
   DataSHIELD's subset filter and i2b2/SHRINE's repeat lockout (§2.3) defend against);
3. release: counts through ``GovernedStore.aggregate`` (small-cell and complementary
   suppression) or, when the query carries an epsilon, through ``GovernedStore.release_dp``
   (OpenDP Laplace, charged to the project's budget at this site).

Only the released payload leaves the node.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from axhub.config import Settings
from axhub.errors import InputError, NotFoundError, PolicyDenied
from axhub.federation.spec import Cohort, QuerySpec, district_names
from axhub.governance.access import GovernedStore
from axhub.governance.principals import Principal, Role
from axhub.governance.release import SUPPRESS_BELOW

log = logging.getLogger(__name__)

MIN_COHORT = SUPPRESS_BELOW  # 10: counts 1-9 are never released in the region
FINGERPRINT_CHARS = 16

SCHEMA = """
CREATE TABLE IF NOT EXISTS credentials (
    name TEXT PRIMARY KEY, sha256 TEXT NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS queries (
    query_id TEXT PRIMARY KEY, project_id TEXT NOT NULL, researcher_id TEXT NOT NULL,
    kind TEXT NOT NULL, spec TEXT NOT NULL, status TEXT NOT NULL, received TEXT NOT NULL,
    decided_by TEXT, decided_at TEXT, reason TEXT, payload TEXT);
CREATE TABLE IF NOT EXISTS cohorts (project_id TEXT NOT NULL, query_id TEXT NOT NULL,
    fp TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS cohorts_project ON cohorts (project_id, query_id);
"""

TYPES = {
    "count": ["Patient", "Condition"],
    "district": ["Patient", "Condition"],
    "mean": ["Patient", "Condition", "Observation"],
    "quantile": ["Patient", "Condition", "Observation"],
}


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NodeConfig:
    site: str
    min_cohort: int = MIN_COHORT
    require_approval: bool = False
    seed: int = 20261126


class NodeStore:
    """The node's own store: credentials, received queries and the cohort log."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / "federation.sqlite"
        with self._con() as con:
            con.executescript(SCHEMA)
        self.path.chmod(0o600)

    @contextmanager
    def _con(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=30)
        try:
            with con:
                yield con
        finally:
            con.close()

    # -- credentials -------------------------------------------------------------------------
    def issue_token(self, name: str) -> str:
        """A new bearer token for ``name`` (replacing its old one); only its hash is kept."""
        token = secrets.token_urlsafe(32)
        with self._con() as con:
            con.execute(
                "INSERT OR REPLACE INTO credentials VALUES (?, ?, ?)", (name, _hash(token), _now())
            )
        return token

    def authenticate(self, token: str) -> str | None:
        """The credential name a bearer token belongs to, or None."""
        digest = _hash(token)
        with self._con() as con:
            rows = con.execute("SELECT name, sha256 FROM credentials").fetchall()
        found = None
        for name, stored in rows:
            if hmac.compare_digest(stored, digest):
                found = name
        return found

    # -- queries -----------------------------------------------------------------------------
    def get(self, query_id: str) -> dict[str, Any] | None:
        with self._con() as con:
            row = con.execute(
                "SELECT query_id, project_id, researcher_id, kind, spec, status, received, "
                "decided_by, decided_at, reason, payload FROM queries WHERE query_id = ?",
                (query_id,),
            ).fetchone()
        if row is None:
            return None
        keys = [
            "query_id",
            "project_id",
            "researcher_id",
            "kind",
            "spec",
            "status",
            "received",
            "decided_by",
            "decided_at",
            "reason",
            "payload",
        ]
        out = dict(zip(keys, row, strict=True))
        out["spec"] = json.loads(out["spec"])
        out["payload"] = json.loads(out["payload"]) if out["payload"] else None
        return out

    def add(self, spec: QuerySpec, status: str) -> None:
        with self._con() as con:
            con.execute(
                "INSERT INTO queries (query_id, project_id, researcher_id, kind, spec, status, "
                "received) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    spec.query_id,
                    spec.project_id,
                    spec.researcher_id,
                    spec.kind,
                    json.dumps(spec.to_json()),
                    status,
                    _now(),
                ),
            )

    def set_status(
        self,
        query_id: str,
        status: str,
        *,
        reason: str | None = None,
        payload: dict[str, Any] | None = None,
        decided_by: str | None = None,
    ) -> None:
        with self._con() as con:
            con.execute(
                "UPDATE queries SET status = ?, reason = coalesce(?, reason), "
                "payload = coalesce(?, payload), decided_by = coalesce(?, decided_by), "
                "decided_at = CASE WHEN ? IS NULL THEN decided_at ELSE ? END WHERE query_id = ?",
                (
                    status,
                    reason,
                    json.dumps(payload) if payload is not None else None,
                    decided_by,
                    decided_by,
                    _now(),
                    query_id,
                ),
            )

    def list(self, status: str | None = None) -> list[dict[str, Any]]:
        with self._con() as con:
            ids = [
                r[0]
                for r in con.execute(
                    "SELECT query_id FROM queries WHERE ? IS NULL OR status = ? ORDER BY received",
                    (status, status),
                ).fetchall()
            ]
        return [q for q in (self.get(i) for i in ids) if q is not None]

    def decide(self, query_id: str, approve: bool, by: str) -> None:
        """The data review committee approves or rejects a pending query."""
        q = self.get(query_id)
        if q is None:
            known = [r["query_id"] for r in self.list("pending")]
            raise NotFoundError(f"no query {query_id!r} at this node", suggestions=known)
        if q["status"] != "pending":
            raise InputError(f"query {query_id!r} is {q['status']}, not pending", field="status")
        if not by.strip():
            raise InputError("name the committee member who decides", field="by")
        self.set_status(
            query_id,
            "approved" if approve else "rejected",
            decided_by=by,
            reason=None if approve else "rejected by the site's data review committee",
        )

    # -- cohort log --------------------------------------------------------------------------
    def differs_by_few(self, project_id: str, fps: set[str], min_cohort: int) -> str | None:
        """The earlier answered query whose population differs from ``fps`` by 1..min-1."""
        with self._con() as con:
            rows = con.execute(
                "SELECT query_id, fp FROM cohorts WHERE project_id = ?", (project_id,)
            ).fetchall()
        earlier: dict[str, set[str]] = {}
        for qid, fp in rows:
            earlier.setdefault(qid, set()).add(fp)
        for qid, prior in earlier.items():
            if 0 < len(prior ^ fps) < min_cohort:
                return qid
        return None

    def combination_leak(
        self, project_id: str, fps: set[str], universe: set[str], min_cohort: int
    ) -> str | None:
        """Whether this population, with every earlier answered population of the project and
        the site's whole population (its size is public), lets set algebra on the released
        counts single out fewer than ``min_cohort`` persons (``federation.disclosure``)."""
        from axhub.federation.disclosure import derivable_small_group

        with self._con() as con:
            rows = con.execute(
                "SELECT query_id, fp FROM cohorts WHERE project_id = ?", (project_id,)
            ).fetchall()
        if not rows:
            earlier_q, earlier_fp = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object)
            n_earlier = 0
        else:
            qids, fp_col = (np.asarray(c, dtype=object) for c in zip(*rows, strict=True))
            _, earlier_q = np.unique(qids, return_inverse=True)
            earlier_fp, n_earlier = fp_col, int(earlier_q.max()) + 1
        new_fp = np.asarray(sorted(fps), dtype=object)
        uni_fp = np.asarray(sorted(universe | fps), dtype=object)
        all_fp = np.concatenate([earlier_fp, new_fp, uni_fp])
        set_idx = np.concatenate(
            [
                earlier_q,
                np.full(new_fp.size, n_earlier, dtype=np.int64),
                np.full(uni_fp.size, n_earlier + 1, dtype=np.int64),
            ]
        )
        persons, person_idx = np.unique(all_fp.astype(str), return_inverse=True)
        member = np.zeros((persons.size, n_earlier + 2), dtype=bool)
        member[person_idx, set_idx] = True
        return derivable_small_group(member, min_cohort)

    def log_cohort(self, project_id: str, query_id: str, fps: set[str]) -> None:
        with self._con() as con:
            con.executemany(
                "INSERT INTO cohorts VALUES (?, ?, ?)",
                [(project_id, query_id, fp) for fp in sorted(fps)],
            )


class Node:
    """A site node: the governed store, the node store and the disclosure rules."""

    def __init__(self, settings: Settings, config: NodeConfig) -> None:
        self.settings, self.config = settings, config
        self.store = GovernedStore(settings)
        self.state = NodeStore(settings.data_dir)
        self._lock = threading.Lock()
        from axhub.federation.training import SiteTrainer

        self.trainer = SiteTrainer(
            self.store, config.site, seed=config.seed, min_rows=config.min_cohort
        )

    def train(self, body: dict[str, Any]) -> dict[str, Any]:
        """One training step, for a researcher whose project is approved for ai_training
        (the rows are read through this site's governed store under that project)."""
        me = Principal(
            str(body.get("researcher_id", "")),
            Role.RESEARCHER,
            project_id=str(body.get("project_id", "")) or None,
        )
        self.store.ensure(me, "ai_training", "aggregate", ["Patient"])
        with self._lock:
            return self.trainer.step(body, me)

    def submit(self, spec: QuerySpec) -> dict[str, Any]:
        """Receive a query: answer it now, or hold it for the committee."""
        with self._lock:
            existing = self.state.get(spec.query_id)
            if existing is None:
                status = "pending" if self.config.require_approval else "approved"
                self.state.add(spec, status)
        return self.status(spec.query_id)

    def status(self, query_id: str) -> dict[str, Any]:
        """The query's state; an approved query is run first."""
        with self._lock:
            q = self.state.get(query_id)
            if q is None:
                raise NotFoundError(f"no query {query_id!r} at site {self.config.site}")
            if q["status"] == "approved":
                spec = QuerySpec.from_json(q["spec"])
                try:
                    payload = self.run(spec)
                except PolicyDenied as exc:
                    self.state.set_status(query_id, "refused", reason=exc.message)
                else:
                    self.state.set_status(query_id, "answered", payload=payload)
                q = self.state.get(query_id)
                assert q is not None
                self.store.audit.append(
                    "manage",
                    actor=spec.researcher_id,
                    role="researcher",
                    purpose=spec.purpose,
                    outcome="ok" if q["status"] == "answered" else "denied",
                    reason=q["reason"] or "",
                    detail={
                        "federated_query": query_id,
                        "project_id": spec.project_id,
                        "kind": spec.kind,
                        "status": q["status"],
                        "approved_by": q["decided_by"] or "",
                    },
                )
        out = {"site": self.config.site, "query_id": query_id, "status": q["status"]}
        if q["status"] == "answered":
            out["result"] = q["payload"]
        elif q["reason"]:
            out["reason"] = q["reason"]
        return out

    # -- running a query ---------------------------------------------------------------------
    def run(self, spec: QuerySpec) -> dict[str, Any]:
        """Check the disclosure rules and release the aggregate (raises PolicyDenied)."""
        me = Principal(spec.researcher_id, Role.RESEARCHER, project_id=spec.project_id)
        types = TYPES[spec.kind]
        pop = spec.population_sql()
        persons = self.store.query(
            me, spec.purpose, f"SELECT DISTINCT person_id FROM ({pop})", types
        )
        fps = _fingerprints(persons.column("person_id").to_pylist())
        minimum = self.config.min_cohort
        if len(fps) < minimum:
            raise PolicyDenied(
                f"cohort below the minimum size of {minimum} at site {self.config.site}",
                reason="cohort_below_minimum",
            )
        earlier = self.state.differs_by_few(spec.project_id, fps, minimum)
        if earlier is not None:
            raise PolicyDenied(
                f"differencing: this population differs from earlier query {earlier!r} by "
                f"fewer than {minimum} persons at site {self.config.site}",
                reason="differencing",
            )
        universe = self.store.query(
            me, spec.purpose, f"SELECT DISTINCT person_id FROM ({Cohort().sql()})", types
        )
        leak = self.state.combination_leak(
            spec.project_id, fps, _fingerprints(universe.column("person_id").to_pylist()), minimum
        )
        if leak is not None:
            raise PolicyDenied(
                f"differencing: {leak} at site {self.config.site}", reason="differencing"
            )
        result = self._release(me, spec, pop, types)
        self.state.log_cohort(spec.project_id, spec.query_id, fps)
        log.info("site %s answered query %s (%s)", self.config.site, spec.query_id, spec.kind)
        return {
            "site": self.config.site,
            "kind": spec.kind,
            "method": "opendp-laplace" if spec.epsilon else "small-cell<10+complementary",
            "epsilon": spec.epsilon,
            **result,
        }

    def _release(
        self, me: Principal, spec: QuerySpec, pop: str, types: list[str]
    ) -> dict[str, Any]:
        s, purpose, eps = self.store, spec.purpose, spec.epsilon
        if spec.kind == "count":
            if eps:
                t = s.release_dp(
                    me,
                    purpose,
                    f"SELECT person_id, 'cohort' AS key FROM ({pop})",
                    partitions=["cohort"],
                    epsilon=eps,
                )
                return {"n": int(t.column("n")[0].as_py())}
            t = s.aggregate(
                me,
                purpose,
                f"SELECT 'cohort' AS r, 'n' AS c, count(DISTINCT person_id) AS n FROM ({pop})",
                row="r",
                col="c",
                resource_types=types,
            )
            return {"n": _cell(t, "r", "c", "cohort", "n")}
        if spec.kind == "district":
            if eps:
                t = s.release_dp(
                    me,
                    purpose,
                    f"SELECT person_id, district AS key FROM ({pop})",
                    partitions=district_names(),
                    epsilon=eps,
                )
                return {
                    "districts": [
                        {"district": k, "cohort": int(n), "total": None}
                        for k, n in zip(
                            t.column("key").to_pylist(), t.column("n").to_pylist(), strict=True
                        )
                    ]
                }
            sql = (
                "SELECT b.district, CASE WHEN c.person_id IS NULL THEN 'other' ELSE 'cohort' "
                f"END AS grp, count(*) AS n FROM ({Cohort().sql()}) b LEFT JOIN ({pop}) c "
                "ON c.person_id = b.person_id GROUP BY 1, 2"
            )
            t = s.aggregate(me, purpose, sql, row="district", col="grp", resource_types=types)
            rows = [r for r in t.column("district").to_pylist() if r != "(total)"]
            return {
                "districts": [
                    {
                        "district": d,
                        "cohort": _cell(t, "district", "grp", d, "cohort"),
                        "total": _cell(t, "district", "grp", d, "(total)"),
                    }
                    for d in sorted(set(rows))
                ]
            }
        if spec.kind == "mean":
            if eps:
                assert spec.bounds is not None
                lo, hi = int(spec.bounds[0]), int(spec.bounds[1])
                t = s.release_dp(
                    me,
                    purpose,
                    f"SELECT person_id, 'cohort' AS key, value FROM ({pop})",
                    partitions=["cohort"],
                    epsilon=eps,
                    bounds=(lo, hi),
                )
                return {"n": int(t.column("n")[0].as_py()), "mean": t.column("mean")[0].as_py()}
            value = "value"
            if spec.bounds is not None:
                value = f"least(greatest(value, {spec.bounds[0]!r}), {spec.bounds[1]!r})"
            t = s.query(
                me,
                purpose,
                f"SELECT count(*) AS n, avg({value}) AS mean, var_samp({value}) AS var "
                f"FROM ({pop})",
                types,
            )
            row = t.to_pylist()[0]
            return {"n": int(row["n"]), "mean": row["mean"], "var": row["var"]}
        # quantile: a histogram over public bins
        labels = spec.bin_labels()
        if eps:
            t = s.release_dp(
                me,
                purpose,
                f"SELECT person_id, {spec.bin_sql()} AS key FROM ({pop})",
                partitions=labels,
                epsilon=eps,
            )
            counts = dict(zip(t.column("key").to_pylist(), t.column("n").to_pylist(), strict=True))
        else:
            sql = (
                f"SELECT {spec.bin_sql()} AS bin, 'n' AS c, count(*) AS n FROM ({pop}) "
                "GROUP BY 1 HAVING bin IS NOT NULL"
            )
            t = s.aggregate(me, purpose, sql, row="bin", col="c", resource_types=types)
            counts = {b: _cell(t, "bin", "c", b, "n") for b in labels}
            counts = {b: (0 if b not in _labels(t, "bin") else v) for b, v in counts.items()}
        return {"bins": list(spec.bins), "histogram": [counts.get(b) for b in labels]}


def _fingerprints(person_ids: list[Any]) -> set[str]:
    """Truncated SHA-256 of project pseudonyms: what the cohort log keeps."""
    return {hashlib.sha256(str(p).encode()).hexdigest()[:FINGERPRINT_CHARS] for p in person_ids}


def _labels(t: pa.Table, row: str) -> set[str]:
    return {str(v) for v in t.column(row).to_pylist()}


def _cell(t: pa.Table, row: str, col: str, r: str, c: str) -> int | None:
    """One released cell (None when suppressed, 0 when the row or column is absent)."""
    for rr, cc, n in zip(
        t.column(row).to_pylist(), t.column(col).to_pylist(), t.column("n").to_pylist(), strict=True
    ):
        if rr == r and cc == c:
            return None if n is None else int(n)
    return 0
