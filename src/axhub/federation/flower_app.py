"""The Flower app: a ClientApp run by each site's SuperNode and a ServerApp run by the SuperLink.

Imported only inside the Flower runtime (``.venv-flower``, where ``flwr`` is installed; the
main venv cannot hold Flower's pins, decision 0127).  The work is done by plain functions of
``axhub.federation.flower`` (tested without Flower); this module only turns Flower messages
into arrays and configs and back.

* ClientApp (one per SuperNode, i.e. per site; ``--node-config`` names the site and its data
  folder):
  - ``query`` "scaling": per-feature count, sum and sum of squares of the site's training rows;
  - ``train``: local gradient steps from the global weights (FedProx's ``proximal-mu`` from
    the strategy's config), replying with the new weights and ``num-examples``.
  Rows are read through the site's ``GovernedStore`` under the researcher's project, purpose
  ``ai_training`` (the policy decides and audits it); they never leave the SuperNode process.
* ServerApp: a scaling round, then ``flwr.serverapp.strategy.FedAvg`` and ``FedProx`` one after
  the other in the same run, each for ``rounds`` rounds; it writes the final weights and the
  round log (sites answered and missing, seconds, payload bytes) as JSON to ``out``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from flwr.app import (
    Array,
    ArrayRecord,
    ConfigRecord,
    Context,
    Message,
    MessageType,
    MetricRecord,
    RecordDict,
)
from flwr.clientapp import ClientApp
from flwr.common.serde import recorddict_to_proto
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg, FedProx

from axhub.federation import flower as logic
from axhub.federation.training import LocalData

clientapp = ClientApp()
serverapp = ServerApp()


def payload_bytes(content: RecordDict) -> int:
    """Size of a message's content as Flower serialises it (protobuf), not wire bytes."""
    return int(recorddict_to_proto(content).ByteSize())


def _plain(record: Any) -> dict[str, Any]:
    return {k: v for k, v in record.items()}


# -- ClientApp (site side) ------------------------------------------------------------------------
ROWS = "axhub-rows"  # the site's rows, kept in the SuperNode's run state (never sent)


def _rows(msg: Message, context: Context) -> tuple[str, dict[str, Any], LocalData]:
    """Policy check every time; rows read once per run and kept in ``context.state``, which
    Flower keeps at the SuperNode ("will never leave the system it's running from")."""
    cfg = _plain(msg.content["config"])
    node = dict(context.node_config)
    key = f"{cfg.get('model')}|{cfg.get('project')}|{cfg.get('researcher')}"
    cached = None
    state = context.state
    if ROWS in state and str(state[f"{ROWS}-key"]["key"]) == key:
        arrays = state[ROWS]
        cached = LocalData(
            arrays["x"].numpy(),
            arrays["y"].numpy().astype(bool),
            arrays["test"].numpy().astype(bool),
            tuple(str(f) for f in state[f"{ROWS}-key"]["features"]),
        )
    site, data = logic.client_rows(node, cfg, cached)
    if cached is None:
        state[ROWS] = ArrayRecord(
            {
                "x": Array(data.x),
                "y": Array(data.y.astype(np.uint8)),
                "test": Array(data.test.astype(np.uint8)),
            }
        )
        state[f"{ROWS}-key"] = ConfigRecord({"key": key, "features": list(data.features)})
    return site, cfg, data


@clientapp.query("scaling")
def scaling(msg: Message, context: Context) -> Message:
    site, _, data = _rows(msg, context)
    stats = logic.client_scaling(data)
    arrays = ArrayRecord(
        {k: Array(np.asarray(stats[k], dtype=np.float64)) for k in ("count", "sum", "sumsq")}
    )
    return Message(
        RecordDict(
            {
                "stats": arrays,
                "metrics": MetricRecord({"num-examples": int(stats["n"])}),
                "site": ConfigRecord({"site": site}),
            }
        ),
        reply_to=msg,
    )


@clientapp.train()
def train(msg: Message, context: Context) -> Message:
    site, cfg, data = _rows(msg, context)
    w0 = msg.content["arrays"].to_numpy_ndarrays()[0]
    w, n = logic.client_fit(data, cfg, w0)
    return Message(
        RecordDict(
            {
                "arrays": ArrayRecord([w]),
                "metrics": MetricRecord({"num-examples": n}),
                "site": ConfigRecord({"site": site}),
            }
        ),
        reply_to=msg,
    )


# -- ServerApp (coordinator side) -----------------------------------------------------------------
class PollingGrid:
    """The ServerApp's grid, pulling replies every ``poll`` seconds instead of Flower's 3 s
    (``push_messages``/``pull_messages`` are the Grid's public API); all else delegated."""

    def __init__(self, grid: Grid, poll: float = 0.2) -> None:
        self._grid, self._poll = grid, poll

    def __getattr__(self, name: str) -> Any:
        return getattr(self._grid, name)

    def send_and_receive(
        self, messages: Iterable[Message], *, timeout: float | None = None
    ) -> Iterable[Message]:
        ids = set(self._grid.push_messages(messages))
        end = time.monotonic() + (timeout if timeout is not None else 0.0)
        out: list[Message] = []
        while ids and (timeout is None or time.monotonic() < end):
            got = list(self._grid.pull_messages(ids))
            out.extend(got)
            ids.difference_update(m.metadata.reply_to_message_id for m in got)
            if ids:
                time.sleep(self._poll)
        return out


class _Recording:
    """Records, per training round, the sites that answered or failed, seconds and bytes."""

    sites: dict[int, str]
    rounds: list[dict[str, Any]]

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        msgs = list(super().configure_train(server_round, arrays, config, grid))  # type: ignore[misc]
        self._t0 = time.perf_counter()
        self._asked = [m.metadata.dst_node_id for m in msgs]
        self._sent = sum(payload_bytes(m.content) for m in msgs)
        return msgs

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        replies = list(replies)
        ok = [r for r in replies if not r.has_error()]
        answered = {r.metadata.src_node_id for r in ok}
        failed = {r.metadata.src_node_id: str(r.error.reason) for r in replies if r.has_error()}
        missing = {
            self.sites.get(n, str(n)): failed.get(n, "no reply before the round timeout")
            for n in self._asked
            if n not in answered
        }
        self.rounds.append(
            {
                "round": server_round,
                "sites": sorted(str(r.content["site"]["site"]) for r in ok),
                "missing": dict(sorted(missing.items())),
                "seconds": round(time.perf_counter() - self._t0, 3),
                "bytes_sent": self._sent,
                "bytes_received": sum(payload_bytes(r.content) for r in ok),
            }
        )
        return super().aggregate_train(server_round, ok)  # type: ignore[misc]


class RecordingFedAvg(_Recording, FedAvg):
    pass


class RecordingFedProx(_Recording, FedProx):
    pass


def _scaling_round(grid: Any, cfg: dict[str, Any], timeout: float) -> dict[str, Any]:
    nodes = logic.wait_for_nodes(lambda: list(grid.get_node_ids()), cfg)
    t0 = time.perf_counter()
    content = RecordDict({"config": ConfigRecord(logic.base_config(cfg))})
    msgs = [Message(content, n, f"{MessageType.QUERY}.scaling") for n in nodes]
    replies = list(grid.send_and_receive(msgs, timeout=timeout))
    ok = [r for r in replies if not r.has_error()]
    parts, sites = [], {}
    for r in ok:
        stats = {k: v.numpy().tolist() for k, v in r.content["stats"].items()}
        parts.append({"n": int(r.content["metrics"]["num-examples"]), **stats})
        sites[r.metadata.src_node_id] = str(r.content["site"]["site"])
    answered = {r.metadata.src_node_id for r in ok}
    failed = {r.metadata.src_node_id: str(r.error.reason) for r in replies if r.has_error()}
    missing = {
        str(n): failed.get(n, "no reply before the round timeout")
        for n in nodes
        if n not in answered
    }
    return {
        "parts": parts,
        "sites": sites,
        "log": {
            "round": 0,
            "sites": sorted(sites.values()),
            "missing": missing,
            "seconds": round(time.perf_counter() - t0, 3),
            "bytes_sent": sum(payload_bytes(m.content) for m in msgs),
            "bytes_received": sum(payload_bytes(r.content) for r in ok),
        },
    }


@serverapp.main()
def main(grid: Grid, context: Context) -> None:
    run_server(PollingGrid(grid), dict(context.run_config))


def run_server(grid: Any, cfg: dict[str, Any]) -> None:
    """The ServerApp: scaling round, FedAvg, FedProx; the result JSON to ``cfg["out"]``."""
    timeout = float(cfg.get("round-timeout", 60.0))
    t_run = time.perf_counter()
    # the first read of each site's governed rows takes longest: the scaling round waits longer
    scaling_out = _scaling_round(grid, cfg, max(2 * timeout, 60.0))
    if not scaling_out["parts"]:
        logic.write_result(
            Path(str(cfg["out"])),
            {"error": "no site answered the scaling round", "scaling": scaling_out["log"]},
        )
        return
    mean, sd = logic.pooled_scaling(scaling_out["parts"])
    n_features = mean.size
    out: dict[str, Any] = {
        "runtime": "flower",
        "model_id": cfg["model"],
        "mean": mean.tolist(),
        "sd": sd.tolist(),
        "scaling": scaling_out["log"],
    }
    train_config = ConfigRecord(
        {**logic.base_config(cfg), "mean": mean.tolist(), "sd": sd.tolist()}
    )
    min_nodes = int(cfg.get("min-nodes", 2))
    for name, strategy in (
        ("fedavg", RecordingFedAvg(**logic.strategy_args(min_nodes))),
        (
            "fedprox",
            RecordingFedProx(
                **logic.strategy_args(min_nodes), proximal_mu=float(cfg.get("mu", 0.1))
            ),
        ),
    ):
        strategy.sites, strategy.rounds = scaling_out["sites"], []
        result = strategy.start(
            grid=grid,
            initial_arrays=ArrayRecord([np.zeros(n_features + 1)]),
            num_rounds=int(cfg.get("rounds", 3)),
            timeout=timeout,
            train_config=ConfigRecord(_plain(train_config)),
        )
        out[name] = {
            "weights": result.arrays.to_numpy_ndarrays()[0].tolist(),
            "rounds": strategy.rounds,
        }
    out["seconds"] = round(time.perf_counter() - t_run, 3)
    logic.write_result(Path(str(cfg["out"])), out)
