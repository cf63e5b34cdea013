"""``axhub synth --people N --seed S --out DIR``: write the synthetic Chuncheon region (thin)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table


def synth_command(
    people: int | None = typer.Option(
        None, "--people", help="People in the region (default: the demo_people setting, 5,000)."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Seed (default: the seed setting)."),
    out: Path = typer.Option(Path("axhub-synth"), "--out", help="Output folder."),
    gzip_output: bool = typer.Option(False, "--gzip", help="Write .ndjson.gz files."),
    quiet: bool = typer.Option(False, "--quiet", help="Print only the summary line."),
    second_clinic_rate: float = typer.Option(
        0.0,
        "--second-clinic-rate",
        help="Share of clinic users also registered at a second clinic (two Patient records "
        "for one person in the clinics export). Default 0.",
    ),
) -> None:
    """Generate the synthetic region: per-site FHIR NDJSON, devices, metabolomics, ground truth.

    Same people and seed give byte-identical output (layout: docs/synth.md).

    Prints the calibration report, also written to DIR/manifest.json.
    """
    from axhub.cli.main import handle_errors, settings
    from axhub.synth import generate
    from axhub.synth.report import format_report

    @handle_errors
    def run() -> None:
        s = settings()
        n = s.demo_people if people is None else people
        manifest = generate(
            n,
            s.seed if seed is None else seed,
            out,
            gzip_output=gzip_output,
            second_clinic_rate=second_clinic_rate,
        )
        console = Console()
        if not quiet:
            table = Table(title=f"synthetic region · {n:,} people · seed {manifest['seed']}")
            types = ["Patient", "Encounter", "Observation", "Condition", "MedicationRequest"]
            table.add_column("site")
            for t in types:
                table.add_column(t, justify="right")
            for site, counts in manifest["counts"].items():
                table.add_row(site, *(f"{counts[t]:,}" for t in types))
            console.print(table)
            typer.echo(format_report(manifest["calibration"]))
        typer.echo(
            f"wrote {manifest['resources_total']:,} resources to {out} in "
            f"{manifest['seconds']:.1f} s (devices: {manifest['devices']['enrolled']:,} enrolled, "
            f"metabolomics: {manifest['metabolomics']['people']:,} people)"
        )

    run()


def register(app: typer.Typer) -> None:
    """Attach ``axhub synth`` to the root app."""
    app.command("synth")(synth_command)
