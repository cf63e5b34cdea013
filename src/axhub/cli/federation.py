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
_FLOWER_VENV = typer.Option(
    None, "--flower-venv", help="Venv holding Flower (default .venv-flower)."
)
_ROOT_CERTIFICATES = typer.Option(
    None,
    "--root-certificates",
    help="CA certificate (PEM) of the SuperLink's TLS certificate (Flower; without it the "
    "connection is plain gRPC, for loopback only).",
)


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
    research_region: Path | None = typer.Option(
        None,
        "--research-region",
        help="Synthetic region folder: the data steward imports its research tables "
        "(outcomes, questionnaire, panel) for this site's records into the integrated zone "
        "(the labels federated training reads through governance).",
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
        operator = Principal(getpass.getuser(), Role.OPERATOR)
        if rebuild or ingest_path is not None or not integrated_path(s).exists():
            StewardStore(s).deidentify(operator)
        if research_region is not None:
            from axhub.federation.training import import_site_research

            for name, r in import_site_research(s, research_region, site, operator).items():
                err_console.print(f"imported research dataset {name}: {r['persons']} persons")
        config = NodeConfig(
            site, min_cohort=min_cohort, require_approval=require_approval, seed=s.seed
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
    project: str = typer.Option(..., "--project", help="Project approved for ai_training."),
    researcher: str = typer.Option(..., "--researcher", help="Researcher id on the project."),
    runtime: str = typer.Option(
        "flower",
        "--runtime",
        help="flower: Flower deployment runtime (SuperLink and one SuperNode per site; FedAvg "
        "then FedProx in one run); http: the nodes' own /train rounds (one method, by --mu).",
    ),
    superlink: str = typer.Option(
        "127.0.0.1:9092", "--superlink", help="SuperLink HOST:PORT (runtime flower)."
    ),
    expected_sites: int = typer.Option(
        0,
        "--expected-sites",
        help="Start when this many SuperNodes are connected (0: as soon as --min-sites are).",
    ),
    min_sites: int = typer.Option(2, "--min-sites", help="Fewest sites a run starts with."),
    sites: Path | None = typer.Option(
        None, "--sites", help="TOML file: [[site]] name, url, token|token_env (runtime http)."
    ),
    model: str = typer.Option("t2d_5y", "--model", help="Model id (axhub.clinical.models)."),
    rounds: int = typer.Option(10, "--rounds", help="Training rounds (per strategy)."),
    epochs: int = typer.Option(20, "--epochs", help="Local gradient steps per round."),
    lr: float = typer.Option(0.5, "--lr", help="Gradient step size."),
    mu: float = typer.Option(
        0.1, "--mu", help="FedProx proximal weight (runtime http: 0 trains FedAvg)."
    ),
    timeout: float = typer.Option(
        120.0, "--timeout", help="Seconds to wait per site (per round with flower)."
    ),
    harness_site: list[str] = typer.Option(
        [],
        "--harness-site",
        help="SITE=DATA_DIR, repeated (synthetic evaluation only): read each site's governed "
        "rows to score the models on pooled held-out rows beside centralised and site-alone "
        "training.",
    ),
    flower_venv: Path | None = _FLOWER_VENV,
    root_certificates: Path | None = _ROOT_CERTIFICATES,
) -> None:
    """Train a logistic-regression model across the sites; print weights, round log and,
    with --harness-site, the AUROC comparison (JSON)."""
    from axhub.cli.main import handle_errors

    @handle_errors
    def run() -> None:
        from axhub.errors import InputError
        from axhub.federation.training import harness_site_data

        if runtime not in ("flower", "http"):
            raise InputError("--runtime must be flower or http", field="--runtime")
        if runtime == "http" and sites is None:
            raise InputError("--runtime http needs --sites", field="--sites")
        parts = None
        if harness_site:
            dirs = {}
            for item in harness_site:
                name, sep, folder = item.partition("=")
                if not sep or not name or not folder:
                    raise InputError("use SITE=DATA_DIR", field="--harness-site")
                dirs[name] = Path(folder)
            parts = harness_site_data(
                dirs, model, project_id=project, researcher_id=researcher, seed=_seed()
            )
        if runtime == "flower":
            from axhub.federation.flower import flower_comparison

            out = flower_comparison(
                parts,
                superlink,
                model,
                project_id=project,
                researcher_id=researcher,
                rounds=rounds,
                epochs=epochs,
                lr=lr,
                mu=mu,
                min_nodes=min_sites,
                expected_nodes=expected_sites,
                round_timeout=timeout,
                venv=flower_venv,
                root_certificates=root_certificates,
            )
            typer.echo(json.dumps(out, indent=1))
            return
        assert sites is not None
        from axhub.federation.coordinator import Coordinator, load_sites
        from axhub.federation.training import comparison, federated_train

        coordinator = Coordinator(load_sites(sites), timeout=timeout)
        if parts is not None:
            result = comparison(
                parts,
                coordinator,
                model,
                rounds=rounds,
                epochs=epochs,
                lr=lr,
                mu=mu,
                project_id=project,
                researcher_id=researcher,
            )
            typer.echo(json.dumps(result, indent=1))
            return
        m = federated_train(
            coordinator,
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
            "runtime": "http",
            "method": "fedprox" if mu > 0 else "fedavg",
            "features": list(m.features),
            "weights": [round(float(w), 6) for w in m.weights],
            "scaling_mean": [round(float(v), 6) for v in m.mean],
            "scaling_sd": [round(float(v), 6) for v in m.sd],
            "rounds": [r.__dict__ for r in m.rounds],
        }
        typer.echo(json.dumps(out, indent=1))

    run()


def _seed() -> int:
    from axhub.cli.main import settings

    return settings().seed


def _exec(cmd: list[str], env: dict[str, str]) -> None:
    """Replace this process by a Flower process (so signals reach it directly)."""
    import os
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(cmd[0], cmd, env)


@coordinator_app.command("superlink")
def superlink_command(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface for the Fleet/Control API."),
    port: int = typer.Option(9092, "--port", help="TCP port (Fleet and Control API)."),
    flower_venv: Path | None = _FLOWER_VENV,
    ssl_ca_certfile: Path | None = typer.Option(
        None, "--ssl-ca-certfile", help="CA certificate (PEM) for TLS; with the two below."
    ),
    ssl_certfile: Path | None = typer.Option(
        None, "--ssl-certfile", help="The SuperLink's TLS certificate (PEM)."
    ),
    ssl_keyfile: Path | None = typer.Option(
        None, "--ssl-keyfile", help="The SuperLink's TLS private key (PEM)."
    ),
) -> None:
    """Run Flower's SuperLink for federated training (runtime dependency installation off).

    With the three TLS files the sites and the coordinator connect over TLS; without them
    the SuperLink serves plain gRPC, for a single machine's loopback only."""
    from axhub.cli.main import handle_errors

    @handle_errors
    def run() -> None:
        from axhub.errors import InputError
        from axhub.federation import flower

        files = (ssl_ca_certfile, ssl_certfile, ssl_keyfile)
        if any(files) and not all(files):
            raise InputError(
                "TLS needs all three of --ssl-ca-certfile, --ssl-certfile and --ssl-keyfile",
                field="--ssl-certfile",
            )
        tls = None
        if ssl_ca_certfile and ssl_certfile and ssl_keyfile:
            tls = flower.ServerTLS(ssl_ca_certfile, ssl_certfile, ssl_keyfile)
        venv = flower.flower_venv(flower_venv)
        _exec(flower.superlink_command(venv, host, port, tls), flower.flower_env(venv))

    run()


@node_app.command("supernode")
def supernode_command(
    site: str = typer.Option(..., "--site", help="This site's id (knuh, hallym, phc, clinics)."),
    data_dir: Path = _DATA_DIR,
    superlink: str = typer.Option(
        "127.0.0.1:9092", "--superlink", help="The coordinator's SuperLink HOST:PORT."
    ),
    port: int = typer.Option(
        9094, "--port", help="Local port of the SuperNode's runtime API (one per node)."
    ),
    min_cohort: int = typer.Option(10, "--min-cohort", help="Fewest training rows trained on."),
    flower_venv: Path | None = _FLOWER_VENV,
    root_certificates: Path | None = _ROOT_CERTIFICATES,
) -> None:
    """Run this site's Flower SuperNode: its ClientApp trains on this site's governed rows
    and sends model arrays and row counts only."""
    from axhub.cli.main import handle_errors

    @handle_errors
    def run() -> None:
        from axhub.errors import NotFoundError
        from axhub.federation import flower
        from axhub.governance.deid import integrated_path

        if not integrated_path(_settings(data_dir)).exists():
            raise NotFoundError(
                "no integrated zone in the data folder (run `axhub node serve` first)",
                path=str(data_dir),
            )
        venv = flower.flower_venv(flower_venv)
        cmd = flower.supernode_command(
            venv,
            superlink,
            site=site,
            data_dir=data_dir,
            port=port,
            min_rows=min_cohort,
            seed=_seed(),
            root_certificates=root_certificates,
        )
        home = data_dir / "flower"  # the SuperNode's Flower state (installed app bundles)
        home.mkdir(parents=True, exist_ok=True)
        _exec(cmd, flower.flower_env(venv, home))

    run()


def register(app: typer.Typer) -> None:
    app.add_typer(node_app, name="node")
    app.add_typer(coordinator_app, name="coordinator")
