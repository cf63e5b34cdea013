"""Run by ``test_flower.py`` with the Flower venv's python: calls the ClientApp's handlers
with real Flower messages and contexts (no SuperLink, no SuperNode) and prints one JSON object.

    .venv-flower/bin/python tests/federation/flower_handlers_check.py SITE DIR PROJECT RESEARCHER
"""

from __future__ import annotations

import json
import sys

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MessageType, RecordDict
from flwr.supercore.task_identity import TaskIdentity

from axhub.federation import flower_app


def main() -> None:
    site, data_dir, project, researcher = sys.argv[1:5]
    TaskIdentity.run_id, TaskIdentity.node_id, TaskIdentity.task_id = 1, 7, 1  # as in a run
    ctx = Context(1, 7, {"site": site, "data-dir": data_dir}, RecordDict(), {})
    cfg = {"model": "t2d_5y", "project": project, "researcher": researcher, "epochs": 5}
    ask = Message(RecordDict({"config": ConfigRecord(cfg)}), 7, f"{MessageType.QUERY}.scaling")
    reply = flower_app.scaling(ask, ctx)
    stats = {k: v.numpy() for k, v in reply.content["stats"].items()}
    n = int(reply.content["metrics"]["num-examples"])
    cached = flower_app.ROWS in ctx.state
    mean = stats["sum"] / np.maximum(stats["count"], 1)
    sd = np.sqrt(np.maximum(stats["sumsq"] / np.maximum(stats["count"], 1) - mean**2, 1e-12))
    w0 = np.zeros(mean.size + 1)
    fit_cfg = {**cfg, "mean": mean.tolist(), "sd": sd.tolist(), "proximal-mu": 0.1}
    train = Message(
        RecordDict({"arrays": ArrayRecord([w0]), "config": ConfigRecord(fit_cfg)}),
        7,
        MessageType.TRAIN,
    )
    out = flower_app.train(train, ctx)
    w = out.content["arrays"].to_numpy_ndarrays()[0]
    denied = Message(
        RecordDict({"config": ConfigRecord({**cfg, "project": "no-such-project"})}),
        7,
        f"{MessageType.QUERY}.scaling",
    )
    try:
        flower_app.scaling(denied, Context(1, 7, dict(ctx.node_config), RecordDict(), {}))
        refused = ""
    except Exception as exc:  # the ClientApp raises; Flower turns it into an error reply
        refused = type(exc).__name__
    print(
        json.dumps(
            {
                "site": str(reply.content["site"]["site"]),
                "n": n,
                "stats_keys": sorted(stats),
                "rows_kept_in_state": cached,
                "weights": w.tolist(),
                "train_n": int(out.content["metrics"]["num-examples"]),
                "reply_bytes": flower_app.payload_bytes(out.content),
                "refused": refused,
            }
        )
    )


if __name__ == "__main__":
    main()
