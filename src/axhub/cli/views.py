"""``axhub views``: list, run and check SQL-on-FHIR v2 views (thin wrapper over axhub.views)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

views_app = typer.Typer(help="SQL-on-FHIR v2 views on DuckDB or Spark.", no_args_is_help=True)

ENGINE_HELP = "Engine: duckdb (default) or spark."


@views_app.command("list")
def list_command() -> None:
    """List the bundled views (name, resource, columns, title)."""
    from axhub.cli.main import handle_errors
    from axhub.views import library

    @handle_errors
    def run() -> None:
        table = Table(title="bundled views")
        for col in ("name", "resource", "columns", "title"):
            table.add_column(col)
        for name in library.names():
            vd = library.load(name)
            table.add_row(name, vd.resource, str(len(vd.columns)), vd.title or "")
        Console().print(table)

    run()


@views_app.command("run")
def run_command(
    name: str = typer.Argument(..., help="A bundled view name, or a ViewDefinition .json file."),
    engine: str = typer.Option("duckdb", "--engine", help=ENGINE_HELP),
    fmt: str = typer.Option("parquet", "--format", help="parquet or csv."),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Folder of the raw zone (default: the data_dir setting)."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Output file (Spark: folder). Default DATA_DIR/views/NAME.FORMAT."
    ),
) -> None:
    """Run a view over the raw zone and write it as Parquet or CSV."""
    from axhub.cli.main import handle_errors, settings
    from axhub.views.run import run_view

    @handle_errors
    def run() -> None:
        s = settings()
        if data_dir is not None:
            s = s.model_copy(update={"data_dir": data_dir})
        result = run_view(name, engine=engine, settings=s, fmt=fmt, out=out)
        typer.echo(
            f"{result.name}: {result.rows:,} rows -> {result.out} "
            f"({result.engine}, {result.seconds:.1f}s)"
        )

    run()


@views_app.command("sql")
def sql_command(
    name: str = typer.Argument(..., help="A bundled view name, or a ViewDefinition .json file."),
    engine: str = typer.Option("duckdb", "--engine", help=ENGINE_HELP),
) -> None:
    """Print the SQL a view compiles to (reading table `resources`)."""
    from axhub.cli.main import handle_errors
    from axhub.engine import ENGINES
    from axhub.errors import NotFoundError
    from axhub.views.compiler import compile_view
    from axhub.views.run import resolve

    @handle_errors
    def run() -> None:
        if engine not in ENGINES:
            raise NotFoundError(f"unknown engine {engine!r}", suggestions=list(ENGINES))
        if engine == "spark":
            from axhub.engine.spark import SparkDialect

            dialect = SparkDialect()
        else:
            from axhub.engine.duckdb import DuckDBDialect

            dialect = DuckDBDialect()  # type: ignore[assignment]
        typer.echo(compile_view(resolve(name), dialect, "resources").sql)

    run()


@views_app.command("conformance")
def conformance_command(
    engine: str = typer.Option("duckdb", "--engine", help=ENGINE_HELP),
    out: Path = typer.Option(Path("test_report.json"), "--out", help="Report file to write."),
    suite: Path | None = typer.Option(
        None, "--suite", help="Folder of the suite's *.json files (default: the vendored copy)."
    ),
) -> None:
    """Run the SQL-on-FHIR v2 conformance suite; write test_report.json (the spec's format)."""
    from axhub.cli.main import handle_errors, settings
    from axhub.engine import create_engine
    from axhub.views.conformance import report, run_suite

    @handle_errors
    def run() -> None:
        s = settings()
        eng = create_engine(engine, s)
        outcomes = run_suite(eng, suite)
        out.write_text(json.dumps(report(outcomes), indent=2) + "\n", encoding="utf-8")
        table = Table(title=f"SQL-on-FHIR v2 conformance on {engine}")
        for col in ("file", "passed", "tests"):
            table.add_column(col, justify="left" if col == "file" else "right")
        files: dict[str, list[bool]] = {}
        for o in outcomes:
            files.setdefault(o.file, []).append(o.passed)
        for f, results in files.items():
            table.add_row(f, str(sum(results)), str(len(results)))
        console = Console()
        console.print(table)
        for o in outcomes:
            if not o.passed:
                console.print(f"[red]FAIL[/] {o.file} · {o.title}: {o.error}")
        passed = sum(o.passed for o in outcomes)
        console.print(f"{passed}/{len(outcomes)} passed; report: {out}")

    run()


def register(app: typer.Typer) -> None:
    """Attach ``axhub views`` to the root app."""
    app.add_typer(views_app, name="views")
