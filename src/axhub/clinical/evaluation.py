"""Evaluation metrics for risk models on held-out people (NumPy, vectorised).

* AUROC: Mann–Whitney U from mid-ranks (Hanley JA, McNeil BJ. Radiology 1982;143:29–36), with
  a percentile bootstrap CI over people (Efron B, Tibshirani R. An Introduction to the
  Bootstrap, 1993).
* Calibration slope and intercept: logistic recalibration of the outcome on logit(p) — slope
  from ``y ~ a + b·logit(p)``, intercept (calibration-in-the-large) from ``y ~ a + offset(logit
  p)`` (Cox DR. Biometrika 1958;45:562–565; Steyerberg EW. Clinical Prediction Models, 2nd ed.
  2019, ch. 15).
* Brier score: mean squared difference of probability and outcome (Brier GW. Mon Weather Rev
  1950;78:1–3).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

EPS = 1e-12


def auroc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (NaN when only one class is present)."""
    y = np.asarray(y, dtype=bool)
    n1 = int(y.sum())
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def auroc_ci(
    y: np.ndarray, score: np.ndarray, *, n_boot: int = 500, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """AUROC with a percentile bootstrap confidence interval (resampling people)."""
    y = np.asarray(y, dtype=bool)
    score = np.asarray(score, dtype=float)
    point = auroc(y, score)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, y.size, size=(n_boot, y.size))
    ranks = rankdata(score[idx], axis=1)
    yy = y[idx]
    n1 = yy.sum(axis=1)
    n0 = y.size - n1
    with np.errstate(invalid="ignore", divide="ignore"):
        stats = ((ranks * yy).sum(axis=1) - n1 * (n1 + 1) / 2.0) / (n1 * n0)
    stats = stats[np.isfinite(stats)]
    if stats.size == 0:
        return point, float("nan"), float("nan")
    a = (1.0 - level) / 2.0
    return point, float(np.quantile(stats, a)), float(np.quantile(stats, 1.0 - a))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def _newton(x: np.ndarray, y: np.ndarray, offset: np.ndarray, iters: int = 50) -> np.ndarray:
    """Maximum-likelihood logistic regression coefficients for design ``x`` with an offset."""
    beta = np.zeros(x.shape[1])
    for _ in range(iters):
        eta = x @ beta + offset
        mu = 1.0 / (1.0 + np.exp(-eta))
        w = mu * (1 - mu) + EPS
        grad = x.T @ (y - mu)
        hess = (x * w[:, None]).T @ x
        step = np.linalg.solve(hess + EPS * np.eye(x.shape[1]), grad)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10:
            break
    return beta


def calibration(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """(calibration intercept, calibration slope); ideal (0, 1)."""
    y = np.asarray(y, dtype=float)
    lp = _logit(p)
    if y.sum() == 0 or y.sum() == y.size:
        return float("nan"), float("nan")
    ones = np.ones((y.size, 1))
    slope = _newton(np.column_stack([ones, lp]), y, np.zeros(y.size))[1]
    intercept = _newton(ones, y, lp)[0]
    return float(intercept), float(slope)


def brier(y: np.ndarray, p: np.ndarray) -> float:
    y = np.asarray(y, dtype=float)
    return float(np.mean((np.asarray(p, dtype=float) - y) ** 2))


def summary(
    y: np.ndarray, p: np.ndarray, *, n_boot: int = 500, seed: int = 0, probability: bool = True
) -> dict[str, float | int]:
    """Every metric for one set of predictions (calibration only for probabilities)."""
    y = np.asarray(y, dtype=bool)
    point, lo, hi = auroc_ci(y, p, n_boot=n_boot, seed=seed)
    out: dict[str, float | int] = {
        "n": int(y.size),
        "events": int(y.sum()),
        "auroc": point,
        "auroc_lo": lo,
        "auroc_hi": hi,
    }
    if probability:
        ci, cs = calibration(y, p)
        out.update(
            {
                "calibration_intercept": ci,
                "calibration_slope": cs,
                "brier": brier(y, p),
                "observed_rate": float(y.mean()) if y.size else float("nan"),
                "mean_predicted": float(np.mean(p)) if y.size else float("nan"),
            }
        )
    return out
