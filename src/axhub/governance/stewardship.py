"""Operator (data steward) actions at the governance boundary.

``StewardStore`` is a ``GovernedStore`` that can also rebuild the integrated zone, import
consent, register projects, keep care-team rosters and destroy expired project keys.  Each
action is decided by the policy (purpose ``operations``) and audited.  Readers get a plain
``GovernedStore``; only operator tools (the CLI, the demo, the care service for rosters)
build a ``StewardStore``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from axhub.errors import InputError
from axhub.governance import registry
from axhub.governance.access import GovernedStore
from axhub.governance.consent import (
    ConsentImportReport,
    Parsed,
    check_site,
    known_sites,
    parse_consent_lines,
    parse_consents,
    raw_consent_lines,
    store_consents,
)
from axhub.governance.deid import DeidReport, deidentify
from axhub.governance.keys import KeyStore
from axhub.governance.principals import Principal, Project
from axhub.governance.research_data import ResearchImportReport, publish, require_zone, stage


class StewardStore(GovernedStore):
    """Reads plus the operator actions that change the governed data or its rules."""

    def deidentify(self, operator: Principal, mapping: pa.Table | None = None) -> DeidReport:
        """Rebuild the integrated zone; staged research datasets are published again."""
        self.ensure(operator, "operations", "deidentify")
        report = deidentify(
            self.settings,
            self.audit,
            mapping=mapping,
            actor=operator.principal_id,
            clock=self.clock,
        )
        for r in publish(self.settings):
            self._audit_research(operator, r, "republish")
        return report

    def import_research_data(
        self,
        operator: Principal,
        dataset: str,
        table: pa.Table,
        columns: Sequence[str],
        *,
        provenance: str,
    ) -> ResearchImportReport:
        """Import a table keyed by site record ``(site, patient_id, *columns)`` as ``dataset``.

        ``columns`` is the allow-list of value columns (identifier-like names are refused).
        The rows enter the integrated zone under the zone person pseudonym; site records the
        zone does not know are counted in the report (and the audit), not published.
        """
        self.ensure(operator, "operations", "import_research_data")
        require_zone(self.settings)
        run_id = uuid.uuid4().hex
        stage(
            self.settings,
            dataset,
            table,
            list(columns),
            provenance=provenance,
            run_id=run_id,
            clock=self.clock,
        )
        (report,) = publish(self.settings, only=dataset)
        self._audit_research(operator, report, "import")
        return report

    def _audit_operation(self, kind: str, operator: Principal, detail: dict[str, Any]) -> None:
        """One audit entry for a steward's operation (purpose ``operations``)."""
        self.audit.append(
            kind,
            actor=operator.principal_id,
            role=operator.role.value,
            purpose="operations",
            detail=detail,
        )

    def _audit_research(self, operator: Principal, r: ResearchImportReport, step: str) -> None:
        self._audit_operation(
            "research-import",
            operator,
            {
                "step": step,
                "run_id": r.run_id,
                "dataset": r.dataset,
                "columns": r.columns,
                "provenance": r.provenance,
                "sha256": r.sha256,
                "rows_in": r.rows_in,
                "records": r.records,
                "linked_records": r.linked_records,
                "unlinked_records": r.unlinked_records,
                "unknown_records": r.unknown_records,
                "persons": r.persons,
                "rows_out": r.rows_out,
            },
        )

    def import_consent(self, operator: Principal, path: Path, site: str) -> ConsentImportReport:
        """Import one site's FHIR Consent NDJSON file (all-or-nothing)."""
        self.ensure(operator, "operations", "import_consent")
        check_site(site, known_sites(self.settings))
        parsed = parse_consents(Path(path), site)
        return self._store_consents(operator, site, parsed, Path(path).name)

    def import_consent_from_raw(self, operator: Principal) -> dict[str, ConsentImportReport]:
        """Import the Consent resources each site sent through ingest (raw zone), per site."""
        self.ensure(operator, "operations", "import_consent")
        return {
            site: self._store_consents(operator, site, parse_consent_lines(lines, site), "raw")
            for site, lines in raw_consent_lines(self.settings).items()
        }

    def _store_consents(
        self, operator: Principal, site: str, parsed: Parsed, source: str
    ) -> ConsentImportReport:
        records, skipped, retracted = parsed
        run_id = uuid.uuid4().hex
        with self._registry() as con:
            new, dups, gone = store_consents(con, self.settings, records, retracted, site, run_id)
        report = ConsentImportReport(
            run_id=run_id,
            resources=len({r.consent_id for r in records}),
            records=new,
            duplicates=dups,
            skipped_status=skipped,
            retracted=gone,
        )
        self._audit_operation(
            "consent-import",
            operator,
            {
                "run_id": run_id,
                "site": site,
                "records": new,
                "duplicates": dups,
                "retracted": gone,
                "source": source,
            },
        )
        return report

    def register_project(self, operator: Principal, project: Project) -> None:
        self.ensure(operator, "operations", "manage")
        with self._registry() as con:
            registry.register_project(con, project)
        self._audit_operation(
            "manage",
            operator,
            {
                "project_id": project.project_id,
                "drb_approval_id": project.drb_approval_id,
                "expires": project.expires.isoformat(),
            },
        )

    def destroy_project_key(self, operator: Principal, project_id: str) -> str:
        """End of a project's processing period: destroy its pseudonym key, audited.

        Allowed only once the project has expired (its reads are already refused).
        """
        self.ensure(operator, "operations", "manage")
        with self._registry() as con:
            project = registry.require_project(con, project_id)
        now = self.clock()
        if now < project.expires:
            raise InputError(
                f"project {project_id!r} is in its processing period until "
                f"{project.expires.isoformat()}; its key is destroyed after that",
                field="project_id",
            )
        fingerprint = KeyStore(self.settings).destroy(f"project:{project_id}")
        self._audit_operation(
            "manage",
            operator,
            {
                "action": "destroy-key",
                "project_id": project_id,
                "key_fingerprint": fingerprint,
            },
        )
        return fingerprint

    def set_roster(self, operator: Principal, care_team: str, person_ids: Sequence[str]) -> None:
        self.ensure(operator, "operations", "manage")
        with self._registry() as con:
            registry.set_roster(con, care_team, list(person_ids))
        self._audit_operation(
            "manage",
            operator,
            {"care_team": care_team, "persons": len(set(person_ids))},
        )
