"""The governance store ``<data_dir>/governance.duckdb``: projects, care-team rosters,
consent records and privacy-budget ledgers.  Holds pseudonymous keys only."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from axhub.config import Settings
from axhub.errors import InputError, NotFoundError
from axhub.governance.principals import Project
from axhub.governance.purposes import Purpose

SCHEMA = """
CREATE TABLE IF NOT EXISTS projects (
    project_id VARCHAR PRIMARY KEY, drb_approval_id VARCHAR NOT NULL, purposes VARCHAR[],
    scope VARCHAR[], expires TIMESTAMPTZ NOT NULL, epsilon_budget DOUBLE NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS care_team_roster (
    care_team VARCHAR NOT NULL, person_id VARCHAR NOT NULL, PRIMARY KEY (care_team, person_id));
CREATE TABLE IF NOT EXISTS consent (
    site_key VARCHAR NOT NULL, site VARCHAR NOT NULL, purpose VARCHAR NOT NULL,
    decision VARCHAR NOT NULL, effective_from TIMESTAMPTZ NOT NULL, effective_to TIMESTAMPTZ,
    recorded TIMESTAMPTZ NOT NULL, consent_key VARCHAR NOT NULL, source VARCHAR NOT NULL,
    import_run VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS privacy_spend (
    project_id VARCHAR NOT NULL, release_id VARCHAR NOT NULL, epsilon DOUBLE NOT NULL,
    spent_at TIMESTAMPTZ NOT NULL, description VARCHAR NOT NULL);
"""


def registry_path(settings: Settings) -> Path:
    return settings.data_dir / "governance.duckdb"


def connect(settings: Settings) -> duckdb.DuckDBPyConnection:
    """Open (and create) the governance store."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(registry_path(settings)))
    con.execute(SCHEMA)
    return con


def register_project(con: duckdb.DuckDBPyConnection, project: Project) -> None:
    """Add or replace a DRB-approved project (an operator action; audit it at the caller)."""
    if not project.drb_approval_id:
        raise InputError(
            "a project needs a data review committee approval id", field="drb_approval_id"
        )
    con.execute(
        "INSERT OR REPLACE INTO projects VALUES (?, ?, ?, ?, ?, ?)",
        [
            project.project_id,
            project.drb_approval_id,
            sorted(p.value for p in project.purposes),
            sorted(project.scope),
            project.expires,
            project.epsilon_budget,
        ],
    )


def get_project(con: duckdb.DuckDBPyConnection, project_id: str) -> Project | None:
    row = con.execute(
        "SELECT project_id, drb_approval_id, purposes, scope, expires, epsilon_budget "
        "FROM projects WHERE project_id = ?",
        [project_id],
    ).fetchone()
    if row is None:
        return None
    expires = row[4] if row[4].tzinfo else row[4].replace(tzinfo=dt.UTC)
    return Project(
        row[0],
        row[1],
        frozenset(Purpose(p) for p in row[2]),
        frozenset(row[3]),
        expires.astimezone(dt.UTC),
        float(row[5]),
    )


def require_project(con: duckdb.DuckDBPyConnection, project_id: str) -> Project:
    project = get_project(con, project_id)
    if project is None:
        known = [r[0] for r in con.execute("SELECT project_id FROM projects").fetchall()]
        raise NotFoundError(f"unknown project {project_id!r}", suggestions=known[:5])
    return project


def set_roster(con: duckdb.DuckDBPyConnection, care_team: str, person_ids: list[str]) -> None:
    """Replace a care team's roster of (pseudonymous) person ids."""
    con.execute("DELETE FROM care_team_roster WHERE care_team = ?", [care_team])
    con.executemany(
        "INSERT INTO care_team_roster VALUES (?, ?)",
        [(care_team, p) for p in sorted(set(person_ids))],
    )
