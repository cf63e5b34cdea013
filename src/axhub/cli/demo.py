"""``axhub demo``: the front door (thin wrapper over :mod:`axhub.demo`)."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from axhub.demo import Section, run_demo


def render(console: Console, section: Section) -> None:
    console.print(f"\n[bold]{section.title}[/]", soft_wrap=True)
    table = Table()
    for i, col in enumerate(section.columns):
        table.add_column(str(col), justify="left" if i == 0 else "right")
    for row in section.rows:
        table.add_row(*[f"{v:,}" if isinstance(v, int) else str(v) for v in row])
    console.print(table)
    if section.note:
        console.print(section.note)


def demo_command(
    people: int = typer.Option(
        0, "--people", help="People in the demo region (default: the demo_people setting)."
    ),
) -> None:
    """Generate a synthetic region, run each capability on it, then serve the dashboard.

    Set AXHUB_NO_SERVE=1 to finish without serving (scripts and CI).
    """
    from axhub.cli.main import handle_errors, settings

    @handle_errors
    def run() -> None:
        s = settings()
        console = Console(width=120)
        ctx = run_demo(s, people=people or None, emit=lambda sec: render(console, sec))
        console.print(f"run manifest: {ctx.root / 'run-manifest.json'}")
        if s.no_serve:
            return
        from axhub.api.server import serve

        # the dashboard over the demo region; Ctrl-C stops it (AXHUB_NO_SERVE=1 skips this)
        serve(
            s.model_copy(update={"data_dir": ctx.root}),
            host=s.serve_host,
            port=s.serve_port,
            seed_demo=True,
            announce=console.print,
        )

    run()


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)
