"""Model cards (Mitchell M, et al. Model Cards for Model Reporting. FAT* 2019) as JSON and Markdown.

A card holds: model id and version, intended use, population, features, outcome, metrics on
held-out people, subgroup results, the published comparators on the same people, limits, and
data lineage (sha256 of every input file, the training manifest and the model files).
"""

from __future__ import annotations

import math
from typing import Any

from axhub import __version__
from axhub.clinical.models import TrainResult


def _num(v: Any) -> Any:
    if isinstance(v, float):
        return None if math.isnan(v) else round(v, 6)
    if isinstance(v, dict):
        return {k: _num(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_num(x) for x in v]
    return v


def card_json(result: TrainResult, *, onnx_sha256: str, onnx_bytes: int) -> dict[str, Any]:
    spec = result.spec
    return _num(
        {
            "model_id": spec.model_id,
            "version": result.model_hash[:12],
            "title": spec.title,
            "model_hash": result.model_hash,
            "axhub_version": __version__,
            "intended_use": spec.intended_use,
            "not_for": "individual diagnosis or treatment decisions without clinical review",
            "population": spec.population_text,
            "population_filter": spec.population,
            "outcome": spec.outcome,
            "outcome_text": spec.outcome_text,
            "algorithm": "median imputation + standardisation + L2 logistic regression "
            "(scikit-learn); lab features with a measured indicator",
            "features": result.features,
            "seed": result.seed,
            "counts": result.population,
            "metrics": result.metrics,
            "subgroups": result.subgroups,
            "comparators": result.comparators,
            "extra": result.extra,
            "limits": list(spec.limits),
            "lineage": {
                "inputs": result.lineage,
                "onnx_sha256": onnx_sha256,
                "onnx_bytes": onnx_bytes,
            },
        }
    )


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def card_markdown(card: dict[str, Any]) -> str:
    m = card["metrics"]
    lines = [
        f"# Model card: {card['title']} (`{card['model_id']}` {card['version']})",
        "",
        f"**Intended use.** {card['intended_use']} Not for {card['not_for']}.",
        "",
        f"**Population.** {card['population']} (`{card['population_filter']}`).",
        "",
        f"**Outcome.** `{card['outcome']}`: {card['outcome_text']}.",
        "",
        f"**Algorithm.** {card['algorithm']}. Seed {card['seed']}.",
        "",
        f"**Features ({len(card['features'])}).** " + ", ".join(f"`{f}`" for f in card["features"]),
        "",
        "## Held-out performance",
        "",
        "| n | events | AUROC (95 % CI) | calibration intercept | slope | Brier |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| {m['n']} | {m['events']} | {_fmt(m['auroc'])} ({_fmt(m['auroc_lo'])}–"
        f"{_fmt(m['auroc_hi'])}) | {_fmt(m.get('calibration_intercept'))} | "
        f"{_fmt(m.get('calibration_slope'))} | {_fmt(m.get('brier'), 4)} |",
        "",
        "Counts: " + ", ".join(f"{k} {v}" for k, v in card["counts"].items()) + ".",
        "",
        "## Subgroups",
        "",
        "| dimension | group | n | events | AUROC (95 % CI) | Brier |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for s in card["subgroups"]:
        lines.append(
            f"| {s['dimension']} | {s['group']} | {s['n']} | {s['events']} | "
            f"{_fmt(s['auroc'])} ({_fmt(s['auroc_lo'])}–{_fmt(s['auroc_hi'])}) | "
            f"{_fmt(s.get('brier'), 4)} |"
        )
    if card["comparators"]:
        lines += [
            "",
            "## Published equations on the same held-out people",
            "",
            "| equation | computable | AUROC equation | AUROC model (same people) | note |",
            "| --- | --- | --- | --- | --- |",
        ]
        for c in card["comparators"]:
            pub = c.get("published", {})
            mod = c.get("model_same_people", {})
            lines.append(
                f"| `{c['score_id']}` ({c['source']}) | {c['computable']}/{c['of']} | "
                f"{_fmt(pub.get('auroc'))} | {_fmt(mod.get('auroc'))} | "
                f"{c.get('horizon', '')} {c.get('note', '')} |"
            )
    inc = card.get("extra", {}).get("incremental_auroc")
    if inc:
        lines += [
            "",
            "## Incremental AUROC of the metabolome panel",
            "",
            f"{inc['method']}; {inc['n']} people, {inc['events']} events. "
            f"Metabolome-augmented {_fmt(inc['auroc_metabolome'])}, "
            f"clinical only {_fmt(inc['auroc_clinical'])}, difference "
            f"{_fmt(inc['delta_auroc'])} (paired bootstrap 95 % CI {_fmt(inc['delta_lo'])} to "
            f"{_fmt(inc['delta_hi'])}).",
        ]
    lines += ["", "## Limits", ""] + [f"- {x}" for x in card["limits"]]
    lines += ["", "## Data lineage (sha256)", ""]
    for k, v in card["lineage"]["inputs"].items():
        lines.append(f"- `{k}`: `{v}`")
    lines.append(
        f"- ONNX model: `{card['lineage']['onnx_sha256']}` ({card['lineage']['onnx_bytes']} bytes)"
    )
    lines.append(f"- model parameters: `{card['model_hash']}`")
    return "\n".join(lines) + "\n"
