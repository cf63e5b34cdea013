"""Federated training with Flower in deployment mode (no Ray, no simulation; decision 0127).

Processes, all from the Flower venv (``.venv-flower``, made by ``make setup``; Flower's pins on
fastapi, starlette, uvicorn and protobuf conflict with the main venv):

* the coordinator side runs a **SuperLink** (``axhub coordinator superlink``:
  ``flower-superlink --insecure --disable-runtime-dependency-installation``; one HTTP port for
  the Fleet and Control APIs);
* each site runs a **SuperNode** beside its node (``axhub node supernode``:
  ``flower-supernode --superlink HOST:PORT --node-config "site=... data-dir=..."``); its
  ClientApp (``axhub.federation.flower_app``) reads the site's rows through the site's own
  ``GovernedStore`` and sends back model arrays and row counts only;
* ``axhub coordinator train --runtime flower`` submits the app (``flwr run``) whose ServerApp
  runs a scaling round, then FedAvg and FedProx (``flwr.serverapp.strategy``) in the same run,
  and writes the weights and the round log as JSON; the command then scores them.

Runtime dependency installation is disabled on the SuperLink and never allowed on the
SuperNodes: the app's code must already be installed at each site (it is axhub itself; the
app bundle only holds ``pyproject.toml``).  The plain functions below are the ClientApp's and
ServerApp's work, usable (and tested) without Flower.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from axhub.errors import ConfigError, InputError, PolicyDenied
from axhub.federation.training import (
    LocalData,
    SiteTrainer,
    centralised_and_alone,
    design,
    local_fit,
    pooled_scaling,
    sums,
)

if TYPE_CHECKING:
    from axhub.governance.principals import Principal

__all__ = ["pooled_scaling"]

APP_NAME = "axhub-fedtrain"
CONNECTION = "axhub"
FLOWER_VENV_ENV = "AXHUB_FLOWER_VENV"

APP_PYPROJECT = """\
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "{name}"
version = "1.0.0"
description = "axhub federated training of the clinical risk models (FedAvg, FedProx)"
license = "Apache-2.0"
dependencies = ["flwr>=1.42,<2"]

[tool.flwr.app]
publisher = "axhub"

[tool.flwr.app.components]
serverapp = "axhub.federation.flower_app:serverapp"
clientapp = "axhub.federation.flower_app:clientapp"

[tool.flwr.app.config]
model = "t2d_5y"
project = ""
researcher = ""
rounds = 3
epochs = 20
lr = 0.5
mu = 0.1
min-nodes = 2
expected-nodes = 0
connect-timeout = 60.0
round-timeout = 60.0
out = ""
"""


# -- the ClientApp's work (at the site, inside its SuperNode) -------------------------------------
_TRAINERS: dict[str, SiteTrainer] = {}


def _site(node_config: dict[str, Any]) -> tuple[str, SiteTrainer]:
    """The site's trainer over its own governed store, from the SuperNode's node-config."""
    from axhub.config import Settings
    from axhub.federation.node import MIN_COHORT
    from axhub.governance.access import GovernedStore

    site, data_dir = node_config.get("site"), node_config.get("data-dir")
    if not site or not data_dir:
        raise ConfigError("the SuperNode's --node-config must set site and data-dir")
    key = str(Path(str(data_dir)).resolve())
    if key not in _TRAINERS:
        settings = Settings(data_dir=Path(key), duckdb_threads=1)
        _TRAINERS[key] = SiteTrainer(
            GovernedStore(settings),
            str(site),
            seed=int(node_config.get("seed", settings.seed)),
            min_rows=int(node_config.get("min-rows", MIN_COHORT)),
        )
    return str(site), _TRAINERS[key]


def authorise(node_config: dict[str, Any], cfg: dict[str, Any]) -> tuple[str, Principal]:
    """The site's policy decides (purpose ``ai_training``, the researcher's project) and audits,
    as for the node's HTTP rounds; raises PolicyDenied."""
    from axhub.governance.principals import Principal, Role

    site, trainer = _site(node_config)
    me = Principal(
        str(cfg.get("researcher", "")), Role.RESEARCHER, project_id=str(cfg.get("project")) or None
    )
    trainer.store.ensure(me, "ai_training", "aggregate", ["Patient"])
    return site, me


def client_rows(
    node_config: dict[str, Any], cfg: dict[str, Any], cached: LocalData | None = None
) -> tuple[str, LocalData]:
    """The site's training rows for the run's model after the policy check; ``cached`` are the
    rows this site read earlier in the same run (kept in the SuperNode's run state)."""
    site, me = authorise(node_config, cfg)
    _, trainer = _site(node_config)
    if cached is None:
        cached = trainer.data(str(cfg.get("model", "")), me)
    if int((~cached.test).sum()) < trainer.min_rows:
        raise PolicyDenied(
            f"fewer than {trainer.min_rows} training rows at site {site}",
            reason="cohort_below_minimum",
        )
    return site, cached


def client_scaling(data: LocalData) -> dict[str, Any]:
    """Scaling round at a site: per-feature count, sum and sum of squares (an aggregate)."""
    return sums(data)


def client_fit(data: LocalData, cfg: dict[str, Any], w0: np.ndarray) -> tuple[np.ndarray, int]:
    """A training round at a site: ``epochs`` gradient steps from the global weights (FedProx
    when the strategy's config carries ``proximal-mu``); the new weights and the row count."""
    mean = np.asarray(cfg["mean"], dtype=float)
    sd = np.asarray(cfg["sd"], dtype=float)
    if w0.shape != (len(data.features) + 1,) or mean.shape != (len(data.features),):
        raise InputError("weights or scaling have the wrong length", field="arrays")
    tr = ~data.test
    w = local_fit(
        design(data.x[tr], mean, sd),
        data.y[tr],
        np.asarray(w0, dtype=float),
        epochs=int(cfg.get("epochs", 20)),
        lr=float(cfg.get("lr", 0.5)),
        mu=float(cfg.get("proximal-mu", 0.0)),
    )
    return w, int(tr.sum())


# -- the ServerApp's work (at the coordinator, inside the SuperLink's ServerApp process) -----------
def base_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """What every site needs to know about the run (no data)."""
    return {
        "model": str(cfg.get("model", "")),
        "project": str(cfg.get("project", "")),
        "researcher": str(cfg.get("researcher", "")),
        "epochs": int(cfg.get("epochs", 20)),
        "lr": float(cfg.get("lr", 0.5)),
    }


def strategy_args(min_nodes: int) -> dict[str, Any]:
    """Every connected site trains each round; a round goes on with the sites that answered
    (at least ``min_nodes`` must be connected when it starts); evaluation is not federated (the
    harness scores the final weights on the pooled held-out rows)."""
    return {
        "fraction_train": 1.0,
        "fraction_evaluate": 0.0,
        "min_train_nodes": min_nodes,
        "min_evaluate_nodes": 0,
        "min_available_nodes": min_nodes,
    }


def wait_for_nodes(
    node_ids: Callable[[], list[int]], cfg: dict[str, Any], *, sleep: float = 0.5
) -> list[int]:
    """The connected SuperNodes once ``expected-nodes`` are there, or after ``connect-timeout``
    seconds with at least ``min-nodes`` (raises when fewer are connected)."""
    expected = int(cfg.get("expected-nodes", 0))
    minimum = int(cfg.get("min-nodes", 2))
    deadline = time.monotonic() + float(cfg.get("connect-timeout", 60.0))
    while True:
        ids = sorted(node_ids())
        if expected and len(ids) >= expected:
            return ids
        if time.monotonic() >= deadline:
            if len(ids) < minimum:
                raise PolicyDenied(f"only {len(ids)} sites connected, fewer than {minimum}")
            return ids
        if not expected and len(ids) >= minimum:
            return ids
        time.sleep(sleep)


def write_result(path: Path, obj: dict[str, Any]) -> None:
    """Write the run's result atomically (the harness polls for it)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj), encoding="utf-8")
    tmp.replace(path)


# -- processes ------------------------------------------------------------------------------------
def flower_venv(venv: Path | None = None) -> Path:
    """The venv that holds Flower and axhub (``make setup`` creates ``.venv-flower``)."""
    if venv is None:
        env = os.environ.get(FLOWER_VENV_ENV)
        if env:
            venv = Path(env)
        else:
            # the main venv's python lives in <repo>/.venv/bin; the Flower venv beside it
            venv = Path(sys.prefix).resolve().parent / ".venv-flower"
            if not (venv / "bin" / "flwr").exists():
                venv = Path(__file__).resolve().parents[3] / ".venv-flower"
    if not (venv / "bin" / "flwr").exists():
        raise ConfigError(
            f"no Flower runtime at {venv} (run `make setup`, or set {FLOWER_VENV_ENV})",
            path=str(venv),
        )
    return venv


def flower_env(venv: Path, home: Path | None = None) -> dict[str, str]:
    """Environment for Flower's processes: its bin first on PATH (SuperNodes spawn
    ``flower-superexec`` and ``flwr-clientapp``), FLWR_HOME for the CLI's connections."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    env.setdefault("FLWR_SUPEREXEC_TASK_POLL_INTERVAL", "0.2")  # default 1 s per hop
    # Flower's telemetry and update check call out to the internet by default: a site's
    # training must not (and here they would stall each process on the blocked network).
    env["FLWR_TELEMETRY_ENABLED"] = "0"
    env["FLWR_DISABLE_UPDATE_CHECK"] = "1"
    if home is not None:
        env["FLWR_HOME"] = str(home)
    return env


@dataclass(frozen=True)
class ServerTLS:
    """The SuperLink's TLS files (PEM): the CA certificate, its own certificate and key."""

    ca: Path
    cert: Path
    key: Path

    def __post_init__(self) -> None:
        _pem(self.ca, "--ssl-ca-certfile")
        _pem(self.cert, "--ssl-certfile")
        _pem(self.key, "--ssl-keyfile")


def _pem(path: Path, option: str) -> Path:
    if not path.is_file():
        raise InputError(f"TLS file not found: {path}", path=str(path), field=option)
    return path


def _transport(tls: ServerTLS | None) -> list[str]:
    """Without TLS files the SuperLink serves plain gRPC (``--insecure``: loopback only)."""
    if tls is None:
        return ["--insecure"]
    return ["--ssl-ca-certfile", str(tls.ca), "--ssl-certfile", str(tls.cert),
            "--ssl-keyfile", str(tls.key)]  # fmt: skip


def superlink_command(venv: Path, host: str, port: int, tls: ServerTLS | None = None) -> list[str]:
    return [
        str(venv / "bin" / "flower-superlink"),
        *_transport(tls),
        "--disable-runtime-dependency-installation",
        "--host",
        host,
        "--port",
        str(port),
    ]


def supernode_command(
    venv: Path,
    superlink: str,
    *,
    site: str,
    data_dir: Path,
    port: int,
    min_rows: int | None = None,
    seed: int | None = None,
    root_certificates: Path | None = None,
) -> list[str]:
    """``flower-supernode`` for one site; ``port`` is its local runtime API (one per node).
    With ``root_certificates`` (the CA that signed the SuperLink's certificate) it connects
    over TLS, else in plain gRPC."""
    if any(c in site for c in " \"'=") or any(c in str(data_dir) for c in " \"'"):
        raise InputError("site and data folder must not contain spaces or quotes", field="site")
    cfg = f'site="{site}" data-dir="{data_dir.resolve()}"'
    if min_rows is not None:
        cfg += f" min-rows={int(min_rows)}"
    if seed is not None:
        cfg += f" seed={int(seed)}"
    security = (
        ["--insecure"]
        if root_certificates is None
        else ["--root-certificates", str(_pem(root_certificates, "--root-certificates"))]
    )
    return [
        str(venv / "bin" / "flower-supernode"),
        *security,
        "--superlink",
        superlink,
        "--port",
        str(port),
        "--node-config",
        cfg,
        "--max-wait-time",
        "600",
    ]


def write_app(directory: Path) -> Path:
    """The Flower app bundle's folder: only ``pyproject.toml`` (the code is installed axhub)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pyproject.toml").write_text(APP_PYPROJECT.format(name=APP_NAME))
    return directory


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return json.dumps(str(v))


def run_app(
    superlink: str,
    run_config: dict[str, Any],
    *,
    venv: Path | None = None,
    timeout: float = 600.0,
    root_certificates: Path | None = None,
) -> dict[str, Any]:
    """Submit the app to the SuperLink (``flwr run``), wait for the ServerApp's result.

    ``root_certificates``: the CA of the SuperLink's TLS certificate (else plain gRPC)."""
    venv = flower_venv(venv)
    security = (
        "insecure = true"
        if root_certificates is None
        else "root-certificates = "
        + json.dumps(str(_pem(root_certificates, "--root-certificates").resolve()))
    )
    with tempfile.TemporaryDirectory(prefix="axhub-flower-") as tmp:
        root = Path(tmp)
        home = root / "flwr-home"
        home.mkdir()
        (home / "config.toml").write_text(
            f'[superlink]\ndefault = "{CONNECTION}"\n\n'
            f'[superlink.{CONNECTION}]\naddress = "{superlink}"\n{security}\n'
        )
        app = write_app(root / "app")
        out = root / "result.json"
        overrides = " ".join(
            f"{k}={_toml_value(v)}" for k, v in {**run_config, "out": str(out)}.items()
        )
        cmd = [
            str(venv / "bin" / "flwr"),
            "run",
            str(app),
            CONNECTION,
            "--run-config",
            overrides,
            "--format",
            "json",
        ]
        wait_for_port(superlink, timeout=60.0)
        env = flower_env(venv, home)
        submitted = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        try:
            reply = json.loads(submitted.stdout)
        except ValueError:
            reply = {}
        if submitted.returncode != 0 or not reply.get("success"):
            raise ConfigError(
                f"flwr run failed: {reply.get('error-message') or submitted.stderr[-1500:]}"
            )
        run_id = reply.get("run-id")
        deadline = time.monotonic() + timeout
        next_check = time.monotonic() + 10.0
        while not out.exists():
            now = time.monotonic()
            if now > deadline:
                raise ConfigError(f"the Flower run {run_id} gave no result within {timeout:g} s")
            if now >= next_check:
                status = run_status(venv, env, run_id)
                if status.startswith("finished") and not out.exists():
                    raise ConfigError(f"the Flower run {run_id} ended without a result: {status}")
                next_check = now + 10.0
            time.sleep(0.25)
        result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    result["run_id"] = run_id
    return result


def run_status(venv: Path, env: dict[str, str], run_id: Any) -> str:
    """A run's status at the SuperLink (``flwr ls --run-id``), or "" when unknown."""
    got = subprocess.run(
        [str(venv / "bin" / "flwr"), "ls", CONNECTION, "--run-id", str(run_id), "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    try:
        runs = json.loads(got.stdout).get("runs") or []
    except ValueError:
        return ""
    return str(runs[0].get("status", "")) if runs else ""


def wait_for_port(address: str, *, timeout: float) -> None:
    """Until ``host:port`` accepts TCP connections (the SuperLink has started)."""
    import socket

    host, _, port = address.rpartition(":")
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise ConfigError(f"no SuperLink at {address}") from None
            time.sleep(0.2)


def flower_comparison(
    parts: dict[str, LocalData] | None,
    superlink: str,
    model_id: str,
    *,
    project_id: str,
    researcher_id: str,
    rounds: int = 3,
    epochs: int = 20,
    lr: float = 0.5,
    mu: float = 0.1,
    min_nodes: int = 2,
    expected_nodes: int = 0,
    round_timeout: float = 60.0,
    central_steps: int = 500,
    venv: Path | None = None,
    root_certificates: Path | None = None,
) -> dict[str, Any]:
    """One Flower run (FedAvg and FedProx), scored with centralised training on pooled data
    and each site alone on the pooled held-out rows (``parts``: each site's governed rows, read
    by the experiment harness; None = only the federated run, unscored)."""
    t0 = time.perf_counter()
    fed = run_app(
        superlink,
        {
            "model": model_id,
            "project": project_id,
            "researcher": researcher_id,
            "rounds": rounds,
            "epochs": epochs,
            "lr": lr,
            "mu": mu,
            "min-nodes": min_nodes,
            "expected-nodes": expected_nodes,
            "round-timeout": round_timeout,
        },
        venv=venv,
        root_certificates=root_certificates,
    )
    fed["wall_seconds"] = round(time.perf_counter() - t0, 3)
    if "error" in fed:
        raise PolicyDenied(str(fed["error"]), scaling=fed.get("scaling"))
    if parts is None:
        return fed
    _, base, score = centralised_and_alone(parts, lr=lr, central_steps=central_steps)
    mean, sd = np.asarray(fed["mean"]), np.asarray(fed["sd"])
    for name in ("fedavg", "fedprox"):
        fed[name]["auroc"] = score(np.asarray(fed[name]["weights"]), mean, sd)
    return {**fed, **base}
