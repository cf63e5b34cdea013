"""``axhub audit verify|export``: check the tamper-evident audit log, export FHIR AuditEvents."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from axhub.config import Settings

audit_app = typer.Typer(
    help="Tamper-evident audit log: verify the chain, export AuditEvents.", no_args_is_help=True
)


def _settings(data_dir: Path | None) -> Settings:
    from axhub.cli.main import settings

    s = settings()
    return s.model_copy(update={"data_dir": data_dir}) if data_dir is not None else s


@audit_app.command("verify")
def verify_command(
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Data folder (default: setting)."
    ),
) -> None:
    """Recompute the hash chain and check the signed head; name the first bad entry."""
    from axhub.cli.main import handle_errors
    from axhub.governance.audit import AuditLog

    @handle_errors
    def run() -> None:
        report = AuditLog.open(_settings(data_dir)).verify()
        typer.echo(f"audit log intact: {report.entries} entries, head {report.head_hash}")

    run()


@audit_app.command("export")
def export_command(
    out: Path | None = typer.Option(None, "--out", help="NDJSON file to write (default: stdout)."),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Data folder (default: setting)."
    ),
) -> None:
    """Write the audit log as FHIR R4 AuditEvent NDJSON (verifies the chain first)."""
    from axhub.cli.main import err_console, handle_errors
    from axhub.governance.audit import AuditLog

    @handle_errors
    def run() -> None:
        log = AuditLog.open(_settings(data_dir))
        log.verify()
        if out is None:
            n = log.export_fhir(sys.stdout)
        else:
            with open(out, "w", encoding="utf-8") as fh:
                n = log.export_fhir(fh)
        err_console.print(f"exported {n} AuditEvent resources")

    run()


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
