"""``axhub link evaluate --region DIR``: privacy-preserving linkage of a synthetic region,
scored against its ground truth (thin: the work is in ``axhub.governance.linkage``)."""

from __future__ import annotations

from pathlib import Path

import typer

link_app = typer.Typer(
    name="link",
    help="Privacy-preserving record linkage across sites (hardened Bloom-filter encodings).",
    no_args_is_help=True,
)


@link_app.command("evaluate")
def evaluate_command(
    region: Path = typer.Option(..., "--region", help="Synthetic region folder (axhub synth)."),
    threshold: float | None = typer.Option(
        None, "--threshold", help="Dice threshold (default: the region preset, 0.76)."
    ),
) -> None:
    """Encode every site's Patients, link the encodings, print precision, recall and F1.

    The linkage secret is the ``linkage`` key of the key store (derived from
    AXHUB_SECRET_KEY, or a key file under DATA_DIR/keys).
    """
    from dataclasses import replace

    from axhub.cli.main import handle_errors, settings
    from axhub.governance.keys import KeyStore
    from axhub.governance.linkage.presets import REGION_LINK
    from axhub.governance.linkage.region import link_region

    @handle_errors
    def run() -> None:
        s = settings()
        linking = REGION_LINK if threshold is None else replace(REGION_LINK, threshold=threshold)
        result = link_region(region, KeyStore(s).key("linkage"), linking=linking)
        sites = ", ".join(f"{k} {v:,}" for k, v in sorted(result.records_by_site.items()))
        typer.echo(f"records: {sites}")
        typer.echo(
            f"linkage quality: {result.quality}  "
            f"(encode {result.seconds['encode']:.1f} s, link {result.seconds['link']:.1f} s)"
        )
        typer.echo(f"regional person ids: {len(set(result.links['person_id'].to_pylist())):,}")

    run()


def register(app: typer.Typer) -> None:
    app.add_typer(link_app, name="link")
