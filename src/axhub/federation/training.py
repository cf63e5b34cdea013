"""Federated training of a logistic-regression risk model: FedAvg and FedProx over HTTP rounds.

Own rounds over the node API (no Flower; decision 0123).  Each round the coordinator sends
the global weights and each site runs ``local_epochs`` full-batch gradient steps on its own
training rows (FedProx adds ``mu/2 * ||w - w_global||^2``, Li et al., MLSys 2020; FedAvg is
``mu = 0``, McMahan et al., AISTATS 2017), returning only its weights and its row count;
the coordinator averages them weighted by rows.  Features are standardised with pooled means
and standard deviations computed first from per-site sums (an aggregate round); a missing
value becomes the pooled mean (0 after standardising).  A site that does not answer a round is
named in that round's log and left out of the average.

Training rows: the model's population, features and outcome are those of
``axhub.clinical.models.SPECS`` (e.g. ``t2d_5y``).  Outcomes of the synthetic region are a
research label input (``ground_truth/events.parquet`` through ``site_records.parquet``) that
the governed zone cannot join by design; each node builds its table from its own site's
records only, with ``axhub.clinical.research.load_region`` on a one-site view of the region
(the synthetic-data path of decision 0091).  Held-out persons (seeded hash of the person id,
``axhub.clinical.models.split``) are never trained on at any site.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from axhub.errors import InputError, NotFoundError, PolicyDenied

log = logging.getLogger(__name__)

L2 = 1e-3  # ridge penalty on the non-intercept weights (keeps tiny sites finite)


@dataclass(frozen=True)
class LocalData:
    """A site's (or the pooled) training and held-out rows; never leaves its process."""

    x: np.ndarray  # rows x features, NaN = missing
    y: np.ndarray  # bool outcome
    test: np.ndarray  # bool held-out mask
    features: tuple[str, ...]


def model_spec(model_id: str) -> Any:
    from axhub.clinical.models import SPECS

    if model_id not in SPECS:
        raise NotFoundError(f"no model {model_id!r}", suggestions=sorted(SPECS))
    return SPECS[model_id]


def training_table(region: Path, model_id: str, *, site: str | None, seed: int) -> LocalData:
    """The model's rows from one site's records (``site``) or from every site (None)."""
    from axhub.clinical.models import prepare, split
    from axhub.clinical.research import load_region

    spec = model_spec(model_id)
    if site is None:
        table = load_region(region).table
    else:
        if not (region / "sites" / site).is_dir():
            raise NotFoundError(f"no site {site!r} in the region", path=str(region / "sites"))
        with tempfile.TemporaryDirectory(prefix="axhub-site-") as tmp:
            one = Path(tmp)
            (one / "sites").mkdir()
            (one / "sites" / site).symlink_to((region / "sites" / site).resolve())
            (one / "ground_truth").symlink_to((region / "ground_truth").resolve())
            table = load_region(one).table
    table = prepare(table)
    con = duckdb.connect()
    try:
        con.register("t", table)
        table = con.sql(f"SELECT * FROM t WHERE {spec.population}").to_arrow_table()
    finally:
        con.close()
    missing = [f for f in spec.features if f not in table.column_names]
    if missing:
        raise InputError("training table lacks feature columns", field=", ".join(missing))
    x = np.column_stack(
        [
            np.asarray(table.column(f).cast(pa.float64()).to_numpy(zero_copy_only=False))
            for f in spec.features
        ]
    )
    y = np.asarray(table.column(spec.outcome).to_numpy(zero_copy_only=False), dtype=bool)
    ids = np.asarray(table.column("person_id").to_pylist())
    return LocalData(x, y, split(ids, seed), tuple(spec.features))


def sums(data: LocalData) -> dict[str, Any]:
    """Per-feature count, sum and sum of squares over the training rows (an aggregate)."""
    x = data.x[~data.test]
    ok = ~np.isnan(x)
    v = np.where(ok, x, 0.0)
    return {
        "n": int(x.shape[0]),
        "count": ok.sum(axis=0).tolist(),
        "sum": v.sum(axis=0).tolist(),
        "sumsq": (v * v).sum(axis=0).tolist(),
    }


def pooled_scaling(parts: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    count = np.sum([p["count"] for p in parts], axis=0).astype(float)
    s = np.sum([p["sum"] for p in parts], axis=0)
    ss = np.sum([p["sumsq"] for p in parts], axis=0)
    mean = np.divide(s, count, out=np.zeros_like(s), where=count > 0)
    var = np.divide(ss, count, out=np.zeros_like(s), where=count > 0) - mean**2
    sd = np.sqrt(np.maximum(var, 0.0))
    return mean, np.where(sd > 1e-12, sd, 1.0)


def design(x: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    z = np.nan_to_num((x - mean) / sd, nan=0.0)
    return np.column_stack([np.ones(x.shape[0]), z])


def local_fit(
    z: np.ndarray, y: np.ndarray, w0: np.ndarray, *, epochs: int, lr: float, mu: float
) -> np.ndarray:
    """Full-batch gradient descent on the logistic loss (+ ridge, + FedProx proximal term)."""
    w = w0.copy()
    yf = y.astype(float)
    n = max(z.shape[0], 1)
    for _ in range(epochs):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -30, 30)))
        grad = z.T @ (p - yf) / n + mu * (w - w0)
        grad[1:] += L2 * w[1:]
        w -= lr * grad
    return w


def predict(w: np.ndarray, x: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(design(x, mean, sd) @ w, -30, 30)))


class SiteTrainer:
    """The node side: answers ``stats``, ``fit`` and ``evaluate`` steps on its own rows."""

    def __init__(self, region: Path, site: str, *, seed: int, min_rows: int) -> None:
        self.region, self.site, self.seed, self.min_rows = region, site, seed, min_rows
        self._data: dict[str, LocalData] = {}

    def data(self, model_id: str) -> LocalData:
        if model_id not in self._data:
            self._data[model_id] = training_table(
                self.region, model_id, site=self.site, seed=self.seed
            )
        return self._data[model_id]

    def step(self, body: dict[str, Any]) -> dict[str, Any]:
        from axhub.clinical.evaluation import auroc

        model_id, kind = str(body.get("model_id", "")), body.get("step")
        data = self.data(model_id)
        n_train = int((~data.test).sum())
        if n_train < self.min_rows:
            raise PolicyDenied(
                f"fewer than {self.min_rows} training rows at site {self.site}",
                reason="cohort_below_minimum",
            )
        if kind == "stats":
            return {"site": self.site, "kind": "train-stats", **sums(data)}
        try:
            w = np.asarray(body["weights"], dtype=float)
            mean = np.asarray(body["mean"], dtype=float)
            sd = np.asarray(body["sd"], dtype=float)
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"bad training step: {exc}", field="weights") from None
        if w.shape != (len(data.features) + 1,) or mean.shape != sd.shape != (len(data.features),):
            raise InputError("weights or scaling have the wrong length", field="weights")
        if kind == "fit":
            z = design(data.x[~data.test], mean, sd)
            new = local_fit(
                z,
                data.y[~data.test],
                w,
                epochs=int(body.get("epochs", 20)),
                lr=float(body.get("lr", 0.5)),
                mu=float(body.get("mu", 0.0)),
            )
            return {"site": self.site, "kind": "train-fit", "n": n_train, "weights": new.tolist()}
        if kind == "evaluate":
            p = predict(w, data.x[data.test], mean, sd)
            y = data.y[data.test]
            score = auroc(y, p) if y.size >= self.min_rows else float("nan")
            return {
                "site": self.site,
                "kind": "train-evaluate",
                "n": int(y.size),
                "auroc": None if np.isnan(score) else round(float(score), 4),
            }
        raise InputError("step must be stats, fit or evaluate", field="step")


@dataclass
class RoundLog:
    round: int
    sites: list[str]
    missing: dict[str, str]
    seconds: float
    bytes_sent: int
    bytes_received: int


@dataclass
class FederatedModel:
    model_id: str
    features: tuple[str, ...]
    weights: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    mu: float
    rounds: list[RoundLog] = field(default_factory=list)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return predict(self.weights, x, self.mean, self.sd)


def federated_train(
    coordinator: Any,
    model_id: str,
    *,
    rounds: int = 10,
    epochs: int = 20,
    lr: float = 0.5,
    mu: float = 0.0,
    project_id: str = "",
    researcher_id: str = "",
) -> FederatedModel:
    """FedAvg (mu = 0) or FedProx (mu > 0) over the coordinator's sites."""
    import json

    spec = model_spec(model_id)
    base: dict[str, Any] = {
        "model_id": model_id,
        "project_id": project_id,
        "researcher_id": researcher_id,
    }
    t0 = time.perf_counter()
    body = {**base, "step": "stats"}
    got = coordinator.train_step(body)
    if not got.answered:
        raise PolicyDenied("no site answered the scaling round", sites=got.unreachable)
    mean, sd = pooled_scaling(list(got.answered.values()))
    model = FederatedModel(
        model_id, tuple(spec.features), np.zeros(len(spec.features) + 1), mean, sd, mu
    )
    model.rounds.append(
        RoundLog(
            0,
            sorted(got.answered),
            {**got.unreachable, **got.refused},
            time.perf_counter() - t0,
            len(json.dumps(body)) * len(coordinator.sites),
            sum(got.bytes_received.values()),
        )
    )
    for r in range(1, rounds + 1):
        t0 = time.perf_counter()
        body = {
            **base,
            "step": "fit",
            "weights": model.weights.tolist(),
            "mean": mean.tolist(),
            "sd": sd.tolist(),
            "epochs": epochs,
            "lr": lr,
            "mu": mu,
        }
        got = coordinator.train_step(body)
        if got.answered:
            n = np.array([p["n"] for p in got.answered.values()], dtype=float)
            ws = np.array([p["weights"] for p in got.answered.values()], dtype=float)
            model.weights = (n[:, None] * ws).sum(axis=0) / n.sum()
        model.rounds.append(
            RoundLog(
                r,
                sorted(got.answered),
                {**got.unreachable, **got.refused},
                time.perf_counter() - t0,
                len(json.dumps(body)) * len(coordinator.sites),
                sum(got.bytes_received.values()),
            )
        )
        log.info("round %d: %d sites", r, len(got.answered))
    return model


def comparison(
    region: Path,
    coordinator: Any,
    model_id: str,
    sites: list[str],
    *,
    seed: int,
    rounds: int = 10,
    epochs: int = 20,
    lr: float = 0.5,
    mu: float = 0.1,
    central_steps: int = 500,
    project_id: str = "",
    researcher_id: str = "",
) -> dict[str, Any]:
    """AUROC on the pooled held-out persons of FedAvg, FedProx, centralised training on pooled
    data and each site alone (an experiment on the synthetic region: the harness, not the
    coordinator, reads the pooled data)."""
    from axhub.clinical.evaluation import auroc

    pooled = training_table(region, model_id, site=None, seed=seed)
    xt, yt = pooled.x[pooled.test], pooled.y[pooled.test]
    out: dict[str, Any] = {
        "model_id": model_id,
        "test_n": int(yt.size),
        "test_events": int(yt.sum()),
    }

    def score(w: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> float | None:
        a = auroc(yt, predict(w, xt, mean, sd))
        return None if np.isnan(a) else round(float(a), 4)

    for name, m in (("fedavg", 0.0), ("fedprox", mu)):
        model = federated_train(
            coordinator,
            model_id,
            rounds=rounds,
            epochs=epochs,
            lr=lr,
            mu=m,
            project_id=project_id,
            researcher_id=researcher_id,
        )
        out[name] = {
            "auroc": score(model.weights, model.mean, model.sd),
            "rounds": [r.__dict__ for r in model.rounds],
        }
    mean, sd = pooled_scaling([sums(pooled)])
    zero = np.zeros(len(pooled.features) + 1)
    tr = ~pooled.test
    w = local_fit(
        design(pooled.x[tr], mean, sd), pooled.y[tr], zero, epochs=central_steps, lr=lr, mu=0.0
    )
    out["centralised"] = {"auroc": score(w, mean, sd), "train_n": int(tr.sum())}
    out["site_alone"] = {}
    for site in sites:
        d = training_table(region, model_id, site=site, seed=seed)
        m_, s_ = pooled_scaling([sums(d)])
        tr = ~d.test
        w = local_fit(design(d.x[tr], m_, s_), d.y[tr], zero, epochs=central_steps, lr=lr, mu=0.0)
        out["site_alone"][site] = {
            "auroc": score(w, m_, s_),
            "train_n": int(tr.sum()),
            "train_events": int(d.y[tr].sum()),
        }
    return out
