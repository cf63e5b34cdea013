"""``axhub node ...`` (one site of the federation) and ``axhub coordinator ...``."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from axhub.config import Settings

node_app = typer.Typer(
    help="A federation site node: serve aggregate queries from this site's own data.",
    no_args_is_help=True,
)
coordinator_app = typer.Typer(
    help="Send federated queries to the site nodes and combine their answers.",
    no_args_is_help=True,
)

_DATA_DIR = typer.Option(..., "--data-dir", help="This site's data folder.")


def _settings(data_dir: Path) -> Settings:
    from axhub.cli.main import settings

    return settings().model_copy(update={"data_dir": data_dir})


@node_app.command("serve")
def serve_command(
    site: str = typer.Option(..., "--site", help="This site's id (knuh, hallym, phc, clinics)."),
    data_dir: Path = _DATA_DIR,
    port: int = typer.Option(8710, "--port", help="TCP port."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    ingest_path: Path | None = typer.Option(
        None, "--ingest", help="Ingest this site's FHIR NDJSON folder into the raw zone first."
    ),
    rebuild: bool = typer.Option(
        False, "--rebuild", help="Rebuild the integrated zone from the raw zone before serving."
    ),
    require_approval: bool = typer.Option(
        False, "--require-approval", help="Hold every query until the committee approves it."
    ),
    min_cohort: int = typer.Option(10, "--min-cohort", help="Smallest population answered."),
    training_region: Path | None = typer.Option(
        None,
        "--training-region",
        help="Synthetic region folder: this site's records and the ground-truth outcomes "
        "(research label input) for federated training.",
    ),
) -> None:
    """Serve this site: raw zone -> integrated zone (de-identified) -> governed aggregates."""
    from axhub.cli.main import err_console, handle_errors

    @handle_errors
    def run() -> None:
        import uvicorn

        from axhub.errors import InputError
        from axhub.federation.node import Node, NodeConfig
        from axhub.federation.server import create_app
        from axhub.governance.deid import integrated_path
        from axhub.governance.principals import Principal, Role
        from axhub.governance.stewardship import StewardStore

        if min_cohort < 1:
            raise InputError("--min-cohort must be at least 1", field="min_cohort")
        s = _settings(data_dir)
        if ingest_path is not None:
            from axhub.ingest import ingest

            report = ingest(ingest_path, site=site, settings=s)
            err_console.print(f"ingested {ingest_path} for {site}: run {report.run_id}")
        if rebuild or ingest_path is not None or not integrated_path(s).exists():
            StewardStore(s).deidentify(Principal(getpass.getuser(), Role.OPERATOR))
        config = NodeConfig(
            site,
            min_cohort=min_cohort,
            require_approval=require_approval,
            training_region=training_region,
            seed=s.seed,
        )
        node = Node(s, config)
        err_console.print(f"node {site} listening on http://{host}:{port}")
        uvicorn.run(create_app(node), host=host, port=port, log_level="warning")

    run()


@node_app.command("token")
def token_command(
    data_dir: Path = _DATA_DIR,
    name: str = typer.Option("coordinator", "--name", help="Who the token is for."),
) -> None:
    """Issue a bearer token (printed once; only its SHA-256 is stored at the node)."""
    from axhub.cli.main import handle_errors

    @handle_errors
    def run() -> None:
        from axhub.federation.node import NodeStore

        typer.echo(NodeStore(data_dir).issue_token(name))

    run()


@node_app.command("pending")
def pending_command(data_dir: Path = _DATA_DIR) -> None:
    """List queries waiting for the data review committee (JSON lines)."""
    from axhub.cli.main import handle_errors

    @handle_errors
    def run() -> None:
        from axhub.federation.node import NodeStore

        for q in NodeStore(data_dir).list("pending"):
            typer.echo(json.dumps({k: q[k] for k in ("query_id", "project_id", "spec")}))

    run()


def _decide(query_id: str, data_dir: Path, by: str, approve: bool) -> None:
    from axhub.cli.main import handle_errors

    @handle_errors
    def run() -> None:
        from axhub.federation.node import NodeStore
        from axhub.governance.audit import AuditLog

        NodeStore(data_dir).decide(query_id, approve, by)
        AuditLog.open(_settings(data_dir)).append(
            "manage",
            actor=by,
            role="data_review_committee",
            purpose="operations",
            detail={"federated_query": query_id, "decision": "approve" if approve else "reject"},
        )
        typer.echo(f"{query_id}: {'approved' if approve else 'rejected'} by {by}")

    run()


_BY = typer.Option(..., "--by", help="Committee member recording the decision.")
_QUERY_ID = typer.Argument(..., help="The query id (q-...) the coordinator printed.")


@node_app.command("approve")
def approve_command(query_id: str = _QUERY_ID, data_dir: Path = _DATA_DIR, by: str = _BY) -> None:
    """Approve a pending query (it runs when the coordinator next asks)."""
    _decide(query_id, data_dir, by, True)


@node_app.command("reject")
def reject_command(query_id: str = _QUERY_ID, data_dir: Path = _DATA_DIR, by: str = _BY) -> None:
    """Reject a pending query."""
    _decide(query_id, data_dir, by, False)


_SITES = typer.Option(..., "--sites", help="TOML file: [[site]] name, url, token|token_env.")


@coordinator_app.command("query")
def query_command(
    sites: Path = _SITES,
    project: str = typer.Option(..., "--project", help="Project id registered at each site."),
    researcher: str = typer.Option(..., "--researcher", help="Researcher id on the project."),
    kind: str = typer.Option("count", "--kind", help="count, district, mean or quantile."),
    condition: list[str] = typer.Option([], "--condition", help="KCD-8 group (any of)."),
    sex: str | None = typer.Option(None, "--sex", help="female or male."),
    age_min: int | None = typer.Option(None, "--age-min", help="Youngest age (in 2026)."),
    age_max: int | None = typer.Option(None, "--age-max", help="Oldest age (in 2026)."),
    district: list[str] = typer.Option([], "--district", help="Hangul district name."),
    measure: str | None = typer.Option(None, "--measure", help="LOINC code (mean, quantile)."),
    bounds: str | None = typer.Option(None, "--bounds", help="low,high (public)."),
    bins: str | None = typer.Option(None, "--bins", help="Comma-separated bin edges."),
    epsilon: float | None = typer.Option(None, "--epsilon", help="OpenDP noise (budgeted)."),
    timeout: float = typer.Option(30.0, "--timeout", help="Seconds to wait per site."),
) -> None:
    """Send a query to every site and print the combined, partial-aware result (JSON)."""
    from axhub.cli.main import handle_errors

    @handle_errors
    def run() -> None:
        from axhub.federation.coordinator import Coordinator, load_sites, new_query_id
        from axhub.federation.spec import QuerySpec

        body = {
            "query_id": new_query_id(),
            "project_id": project,
            "researcher_id": researcher,
            "kind": kind,
            "cohort": {
                "conditions": condition,
                "sex": sex,
                "age_min": age_min,
                "age_max": age_max,
                "districts": district,
            },
            "measure": measure,
            "bounds": [float(x) for x in bounds.split(",")] if bounds else None,
            "bins": [float(x) for x in bins.split(",")] if bins else [],
            "epsilon": epsilon,
        }
        spec = QuerySpec.from_json(body)
        result = Coordinator(load_sites(sites), timeout=timeout).submit(spec)
        typer.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=1))

    run()


@coordinator_app.command("collect")
def collect_command(
    query_id: str = _QUERY_ID,
    sites: Path = _SITES,
    timeout: float = typer.Option(30.0, "--timeout", help="Seconds to wait per site."),
) -> None:
    """Ask every site again for a query (after committee approvals) and combine."""
    from axhub.cli.main import handle_errors

    @handle_errors
    def run() -> None:
        from axhub.federation.coordinator import Coordinator, load_sites

        result = Coordinator(load_sites(sites), timeout=timeout).collect(query_id)
        typer.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=1))

    run()


@coordinator_app.command("train")
def train_command(
    sites: Path = _SITES,
    project: str = typer.Option(..., "--project", help="Project approved for ai_training."),
    researcher: str = typer.Option(..., "--researcher", help="Researcher id on the project."),
    model: str = typer.Option("t2d_5y", "--model", help="Model id (axhub.clinical.models)."),
    rounds: int = typer.Option(10, "--rounds", help="Training rounds after the scaling round."),
    epochs: int = typer.Option(20, "--epochs", help="Local gradient steps per round."),
    lr: float = typer.Option(0.5, "--lr", help="Gradient step size."),
    mu: float = typer.Option(0.0, "--mu", help="FedProx proximal weight (0 = FedAvg)."),
    timeout: float = typer.Option(120.0, "--timeout", help="Seconds to wait per site."),
) -> None:
    """Train a logistic-regression model across the sites; print weights and round log."""
    from axhub.cli.main import handle_errors

    @handle_errors
    def run() -> None:
        from axhub.federation.coordinator import Coordinator, load_sites
        from axhub.federation.training import federated_train

        m = federated_train(
            Coordinator(load_sites(sites), timeout=timeout),
            model,
            rounds=rounds,
            epochs=epochs,
            lr=lr,
            mu=mu,
            project_id=project,
            researcher_id=researcher,
        )
        out = {
            "model_id": m.model_id,
            "method": "fedprox" if mu > 0 else "fedavg",
            "features": list(m.features),
            "weights": [round(float(w), 6) for w in m.weights],
            "scaling_mean": [round(float(v), 6) for v in m.mean],
            "scaling_sd": [round(float(v), 6) for v in m.sd],
            "rounds": [r.__dict__ for r in m.rounds],
        }
        typer.echo(json.dumps(out, indent=1))

    run()


def register(app: typer.Typer) -> None:
    app.add_typer(node_app, name="node")
    app.add_typer(coordinator_app, name="coordinator")
