"""``axhub governance ...`` and ``axhub consent import``: operator tasks at the boundary."""

from __future__ import annotations

import datetime as dt
import getpass
import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    import pyarrow as pa

    from axhub.governance.principals import Principal
    from axhub.governance.stewardship import StewardStore

governance_app = typer.Typer(
    help="De-identify the raw zone, register approved projects.", no_args_is_help=True
)
consent_app = typer.Typer(help="Consent records (FHIR R4 Consent).", no_args_is_help=True)

_DATA_DIR = typer.Option(None, "--data-dir", help="Data folder (default: the data_dir setting).")
_OPERATOR = typer.Option(None, "--operator", help="Operator id for the audit log (default: login).")


def _store(data_dir: Path | None) -> StewardStore:
    from axhub.cli.main import settings
    from axhub.governance.stewardship import StewardStore

    s = settings()
    if data_dir is not None:
        s = s.model_copy(update={"data_dir": data_dir})
    return StewardStore(s)


def _operator(operator: str | None) -> Principal:
    from axhub.governance.principals import Principal, Role

    return Principal(operator or getpass.getuser(), Role.OPERATOR)


def _read_table(path: Path, what: str = "mapping") -> pa.Table:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from axhub.errors import InputError

    if not path.exists():
        raise InputError(f"{what} file not found: {path}", path=str(path))
    if path.suffix == ".parquet":
        return pq.read_table(path)
    if path.suffix == ".csv":
        return pacsv.read_csv(path)
    raise InputError(f"{what} must be .parquet or .csv", path=str(path), field="suffix")


@governance_app.command("deidentify")
def deidentify_command(
    data_dir: Path | None = _DATA_DIR,
    mapping: Path | None = typer.Option(
        None,
        "--mapping",
        help="Linkage output (site, patient_id, person_id) as .parquet or .csv; without it each "
        "site patient keeps a site-level pseudonym.",
    ),
    operator: str | None = _OPERATOR,
) -> None:
    """Build the integrated zone (integrated.duckdb) from the raw zone by the allow-list."""
    from axhub.cli.main import handle_errors

    @handle_errors
    def run() -> None:
        store = _store(data_dir)
        table = _read_table(mapping) if mapping is not None else None
        report = store.deidentify(_operator(operator), table)
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))

    run()


@governance_app.command("research-import")
def research_import_command(
    dataset: str = typer.Argument(..., help="Dataset name, e.g. 'outcomes' or 'metabolomics'."),
    file: Path = typer.Argument(
        ..., help="Table keyed by site record (site, patient_id, ...) as .parquet or .csv."
    ),
    columns: str = typer.Option(
        ..., "--columns", help="Value columns to import, comma-separated (the allow-list)."
    ),
    provenance: str = typer.Option(
        ..., "--provenance", help="Where the data comes from (kept with the dataset and audited)."
    ),
    data_dir: Path | None = _DATA_DIR,
    operator: str | None = _OPERATOR,
) -> None:
    """Import research measurements keyed by site record into the integrated zone.

    Rows enter under the zone person pseudonym; identifier-like columns are refused; records
    the zone does not know are counted, not imported.  Projects read the dataset with scope
    ``research:<dataset>``."""
    from axhub.cli.main import handle_errors

    @handle_errors
    def run() -> None:
        table = _read_table(file, "research data")
        names = [c.strip() for c in columns.split(",") if c.strip()]
        report = _store(data_dir).import_research_data(
            _operator(operator), dataset, table, names, provenance=provenance
        )
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))

    run()


@governance_app.command("project-add")
def project_add_command(
    project_id: str = typer.Argument(..., help="Project id."),
    drb: str = typer.Option(..., "--drb", help="Data review committee approval id."),
    purpose: list[str] = typer.Option(..., "--purpose", help="Approved purpose (repeatable)."),
    scope: str = typer.Option(..., "--scope", help="Approved resource types, comma-separated."),
    expires: str = typer.Option(..., "--expires", help="End of the processing period (ISO date)."),
    epsilon: float = typer.Option(0.0, "--epsilon", help="Differential-privacy budget."),
    data_dir: Path | None = _DATA_DIR,
    operator: str | None = _OPERATOR,
) -> None:
    """Register a DRB-approved project (researchers name it as their project)."""
    from axhub.cli.main import handle_errors
    from axhub.errors import InputError
    from axhub.governance.principals import Project
    from axhub.governance.purposes import parse_purpose

    @handle_errors
    def run() -> None:
        try:
            end = dt.datetime.fromisoformat(expires)
        except ValueError:
            raise InputError(f"not an ISO date: {expires!r}", field="--expires") from None
        project = Project(
            project_id,
            drb,
            frozenset(parse_purpose(p) for p in purpose),
            frozenset(s.strip() for s in scope.split(",") if s.strip()),
            end if end.tzinfo else end.replace(tzinfo=dt.UTC),
            epsilon,
        )
        _store(data_dir).register_project(_operator(operator), project)
        typer.echo(f"project {project_id} registered until {project.expires.isoformat()}")

    run()


@governance_app.command("project-destroy-key")
def project_destroy_key_command(
    project_id: str = typer.Argument(..., help="An expired project."),
    data_dir: Path | None = _DATA_DIR,
    operator: str | None = _OPERATOR,
) -> None:
    """Destroy an expired project's pseudonym key (audited, with the key's fingerprint)."""
    from axhub.cli.main import handle_errors

    @handle_errors
    def run() -> None:
        fingerprint = _store(data_dir).destroy_project_key(_operator(operator), project_id)
        typer.echo(f"key of project {project_id} destroyed (fingerprint {fingerprint})")

    run()


@consent_app.command("import")
def consent_import_command(
    file: Path | None = typer.Argument(None, help="NDJSON file of FHIR R4 Consent resources."),
    site: str | None = typer.Option(None, "--site", help="Site the Consent file comes from."),
    from_raw: bool = typer.Option(
        False, "--from-raw", help="Import the Consent resources sites sent through ingest."
    ),
    data_dir: Path | None = _DATA_DIR,
    operator: str | None = _OPERATOR,
) -> None:
    """Import consent decisions; a file (or a site's raw Consents) with any bad record is
    rejected whole."""
    from axhub.cli.main import err_console, handle_errors
    from axhub.errors import InputError

    @handle_errors
    def run() -> None:
        store = _store(data_dir)
        try:
            if from_raw:
                reports = store.import_consent_from_raw(_operator(operator))
            elif file is not None and site is not None:
                reports = {site: store.import_consent(_operator(operator), file, site)}
            else:
                raise InputError("give FILE with --site SITE, or --from-raw", field="FILE")
        except InputError as exc:
            for line in exc.fields.get("problems", [])[1:]:
                err_console.print(line)
            raise
        for name, report in sorted(reports.items()):
            typer.echo(
                f"{name}: imported {report.records} consent records from {report.resources} "
                f"resources ({report.duplicates} already stored, {report.retracted} retracted, "
                f"skipped by status: {report.skipped_status or 'none'})"
            )
        if not reports:
            typer.echo("no Consent resources in the raw zone")

    run()


def register(app: typer.Typer) -> None:
    app.add_typer(governance_app, name="governance")
    app.add_typer(consent_app, name="consent")
