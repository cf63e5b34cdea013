"""Federated training of a logistic-regression risk model: FedAvg and FedProx.

Two runtimes share this module's maths and the site's data path: **Flower** in deployment mode
(``axhub.federation.flower``; SuperLink at the coordinator, one SuperNode per site; decision
0127) and the node's own HTTP rounds (``federated_train`` over ``POST /train``; decision 0123,
kept as the exact, dependency-free path).  Each round every site runs ``local_epochs``
full-batch gradient steps on its own training rows (FedProx adds ``mu/2 * ||w - w_global||^2``,
Li et al., MLSys 2020; FedAvg is ``mu = 0``, McMahan et al., AISTATS 2017), returning only its
weights and its row count; the server averages them weighted by rows.  Features are
standardised with pooled means and standard deviations computed first from per-site sums (an
aggregate round); a missing value becomes the pooled mean (0 after standardising).  A site that
does not answer a round is named in that round's log and left out of the average.

Training rows (decision 0126): the model's population, features and outcome are those of
``axhub.clinical.models.SPECS`` (e.g. ``t2d_5y``), read at each site through its own
``GovernedStore`` exactly as the hub's models are (``clinical.training.governed_training_table``:
governed features joined with the research datasets the site's data steward imported, purpose
``ai_training``, the researcher's project).  Held-out rows (seeded hash of the project
pseudonym, ``axhub.clinical.models.split``) are never trained on at their site.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pyarrow as pa

from axhub.errors import InputError, NotFoundError, PolicyDenied

if TYPE_CHECKING:
    from axhub.config import Settings
    from axhub.governance.access import GovernedStore
    from axhub.governance.principals import Principal

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


def local_data(table: pa.Table, model_id: str, *, seed: int) -> LocalData:
    """The model's population, feature matrix, outcome and held-out mask from a training
    table (the columns of ``axhub.clinical.research.research_table``)."""
    from axhub.clinical.models import prepare, split

    spec = model_spec(model_id)
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
    ).reshape(table.num_rows, len(spec.features))
    y = np.asarray(table.column(spec.outcome).to_numpy(zero_copy_only=False), dtype=bool)
    ids = np.asarray(table.column("person_id").to_pylist())
    return LocalData(x, y, split(ids, seed), tuple(spec.features))


def needs_metabolomics(model_id: str) -> bool:
    from axhub.clinical.research import METABOLITES

    return bool(set(model_spec(model_id).features) & set(METABOLITES))


def governed_local_data(
    store: GovernedStore, principal: Principal, model_id: str, *, seed: int
) -> LocalData:
    """A site's rows through its own governance boundary (decision 0126): governed features
    joined with the research datasets its data steward imported (outcomes, questionnaire,
    metabolomics where the model needs it), read for ``ai_training`` under the principal's
    project (``axhub.clinical.training.governed_training_table``, as the hub's models)."""
    from axhub.clinical.training import governed_training_table

    data = governed_training_table(
        store, principal, "ai_training", metabolomics=needs_metabolomics(model_id)
    )
    return local_data(data.table, model_id, seed=seed)


def import_site_research(
    settings: Settings, region: Path, site: str, operator: Principal
) -> dict[str, dict[str, Any]]:
    """The data steward's bootstrap at one site for the synthetic region: the region's research
    tables (``axhub.clinical.research.import_tables``) restricted to **this site's records**,
    imported into this site's integrated zone (``StewardStore.import_research_data``).  Needs
    the site's de-identified zone; returns each dataset's import report."""
    import pyarrow.compute as pc

    from axhub.clinical.research import import_tables
    from axhub.governance.stewardship import StewardStore

    store = StewardStore(settings)
    out = {}
    for t in import_tables(region):
        mine = t.table.filter(pc.equal(t.table.column("site"), site))
        if mine.num_rows == 0:
            continue
        r = store.import_research_data(
            operator, t.dataset, mine, list(t.columns), provenance=t.provenance
        )
        out[t.dataset] = r.to_dict()
    return out


def pool(parts: list[LocalData]) -> LocalData:
    """The union of sites' rows (site records; the experiment's "pooled" data)."""
    return LocalData(
        np.vstack([p.x for p in parts]),
        np.concatenate([p.y for p in parts]),
        np.concatenate([p.test for p in parts]),
        parts[0].features,
    )


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
    """The node side: answers ``stats``, ``fit`` and ``evaluate`` steps on its own governed
    rows (the same code serves the HTTP rounds and the Flower ClientApp)."""

    def __init__(self, store: GovernedStore, site: str, *, seed: int, min_rows: int) -> None:
        self.store, self.site, self.seed, self.min_rows = store, site, seed, min_rows
        self._data: dict[tuple[str, str, str], LocalData] = {}

    def data(self, model_id: str, principal: Principal) -> LocalData:
        key = (model_id, principal.project_id or "", principal.principal_id)
        if key not in self._data:
            self._data[key] = governed_local_data(self.store, principal, model_id, seed=self.seed)
        return self._data[key]

    def checked(self, model_id: str, principal: Principal) -> LocalData:
        """The rows, refused below the minimum training size."""
        data = self.data(model_id, principal)
        if int((~data.test).sum()) < self.min_rows:
            raise PolicyDenied(
                f"fewer than {self.min_rows} training rows at site {self.site}",
                reason="cohort_below_minimum",
            )
        return data

    def step(self, body: dict[str, Any], principal: Principal) -> dict[str, Any]:
        from axhub.clinical.evaluation import auroc

        model_id, kind = str(body.get("model_id", "")), body.get("step")
        data = self.checked(model_id, principal)
        n_train = int((~data.test).sum())
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


def centralised_and_alone(
    parts: dict[str, LocalData], *, lr: float = 0.5, central_steps: int = 500
) -> tuple[LocalData, dict[str, Any], Callable[[np.ndarray, np.ndarray, np.ndarray], float | None]]:
    """The comparison's baselines on the sites' governed rows, read by the experiment harness
    (never by the coordinator): centralised training on the pooled rows and each site alone,
    scored on the pooled held-out rows; returns the pooled data, the results and the scorer."""
    from axhub.clinical.evaluation import auroc

    pooled = pool(list(parts.values()))
    xt, yt = pooled.x[pooled.test], pooled.y[pooled.test]

    def score(w: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> float | None:
        a = auroc(yt, predict(w, xt, mean, sd))
        return None if np.isnan(a) else round(float(a), 4)

    out: dict[str, Any] = {"test_n": int(yt.size), "test_events": int(yt.sum())}
    mean, sd = pooled_scaling([sums(pooled)])
    zero = np.zeros(len(pooled.features) + 1)
    tr = ~pooled.test
    w = local_fit(
        design(pooled.x[tr], mean, sd), pooled.y[tr], zero, epochs=central_steps, lr=lr, mu=0.0
    )
    out["centralised"] = {"auroc": score(w, mean, sd), "train_n": int(tr.sum())}
    out["site_alone"] = {}
    for site, d in sorted(parts.items()):
        m_, s_ = pooled_scaling([sums(d)])
        tr = ~d.test
        w = local_fit(design(d.x[tr], m_, s_), d.y[tr], zero, epochs=central_steps, lr=lr, mu=0.0)
        out["site_alone"][site] = {
            "auroc": score(w, m_, s_),
            "train_n": int(tr.sum()),
            "train_events": int(d.y[tr].sum()),
        }
    return pooled, out, score


def comparison(
    parts: dict[str, LocalData],
    coordinator: Any,
    model_id: str,
    *,
    rounds: int = 10,
    epochs: int = 20,
    lr: float = 0.5,
    mu: float = 0.1,
    central_steps: int = 500,
    project_id: str = "",
    researcher_id: str = "",
) -> dict[str, Any]:
    """AUROC on the pooled held-out rows of FedAvg and FedProx in HTTP rounds, centralised
    training on pooled data and each site alone (``parts``: each site's governed rows, read by
    the experiment harness with the site's own store; the coordinator never sees them)."""
    _, base, score = centralised_and_alone(parts, lr=lr, central_steps=central_steps)
    out: dict[str, Any] = {"model_id": model_id, "runtime": "http"}
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
    return {**out, **base}


def harness_site_data(
    data_dirs: dict[str, Path], model_id: str, *, project_id: str, researcher_id: str, seed: int
) -> dict[str, LocalData]:
    """Each site's governed rows, read by an experiment harness that has every site's data
    folder (synthetic evaluation only: a real union cannot pool them; that is the point)."""
    from axhub.config import Settings
    from axhub.governance.access import GovernedStore
    from axhub.governance.principals import Principal, Role

    me = Principal(researcher_id, Role.RESEARCHER, project_id=project_id)
    return {
        site: governed_local_data(
            GovernedStore(Settings(data_dir=d, duckdb_threads=1)), me, model_id, seed=seed
        )
        for site, d in sorted(data_dirs.items())
    }
