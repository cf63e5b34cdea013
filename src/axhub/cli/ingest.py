"""``axhub ingest PATH --site NAME``: load a site's FHIR files into the raw zone (thin wrapper)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from axhub.ingest import IngestReport, ingest
from axhub.ingest.sources import discover


def summary_table(report: IngestReport) -> Table:
    """One row per file read, a total row, and the files recognised but not ingested."""
    table = Table(title=f"ingest run {report.run_id} · site {report.site}", expand=False)
    for col in ("file", "read", "stored", "superseded", "duplicates", "deleted", "quarantined"):
        table.add_column(
            col,
            justify="left" if col == "file" else "right",
            min_width=8 if col == "file" else None,
            overflow="fold",
        )
    rows = [(f.path, f) for f in report.files] + [("[bold]total[/]", report.totals)]
    for i, (name, f) in enumerate(rows):
        table.add_row(
            name, f"{f.read:,}", f"{f.stored:,}", f"{f.superseded:,}", f"{f.duplicates:,}",
            f"{f.deleted:,}", f"{f.quarantined:,}",
            end_section=i == len(rows) - 2,
        )  # fmt: skip
    return table


def ingest_command(
    path: Path = typer.Argument(..., help="A site's export: a folder or one file."),
    site: str = typer.Option(..., "--site", help="Site id, e.g. knuh, hallym, phc, clinics."),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Folder of the raw zone (default: the data_dir setting)."
    ),
) -> None:
    """Ingest FHIR bulk NDJSON (plain or .gz) and Bundles into the raw zone.

    Every record is stored, kept as an older version, counted as a duplicate, applied as a
    deletion, or quarantined with its file, line, JSON path and reason.
    """
    from axhub.cli.main import handle_errors, settings

    @handle_errors
    def run() -> None:
        s = settings()
        if data_dir is not None:
            s = s.model_copy(update={"data_dir": data_dir})
        console = Console()
        files = [p for p, src in discover(path) if src.holds_resources] if path.exists() else []
        total = sum(p.stat().st_size for p in files)
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=total < 64 * 1024 * 1024,
        ) as bar:
            task = bar.add_task("ingest", total=total)
            done: dict[str, int] = {}

            def progress(name: str, offset: int) -> None:
                done[name] = offset
                bar.update(task, completed=min(sum(done.values()), total), description=name)

            report = ingest(path, site=site, settings=s, progress=progress)
        console.print(summary_table(report))
        for f in report.skipped:
            console.print(f"recognised, not ingested: {f.path} ({f.source})")
        for f in report.files:
            if f.note:
                console.print(f"{f.path}: {f.note}")
        console.print(report.equation())
        console.print(f"raw zone: {report.raw_zone}")
        if report.totals.quarantined:
            console.print(
                f"[yellow]{report.totals.quarantined:,} record(s) quarantined[/]: "
                f"SELECT * FROM quarantine WHERE run_id = '{report.run_id}'"
            )

    run()


def register(app: typer.Typer) -> None:
    """Attach ``axhub ingest`` to the root app."""
    app.command("ingest")(ingest_command)
