"""Model registry: each trained model version as a folder of files, addressed by its hash.

Layout: ``<data_dir>/models/<model_id>/<version>/`` with ``model.onnx`` (the edge model),
``model.pkl`` (the server scikit-learn pipeline, pickled; load only files this hub wrote),
``manifest.json`` (seed, spec, features, input lineage hashes: enough to train again),
``card.json`` and ``card.md``.  The version is the first 12 hex digits of the parameter hash,
so training twice from the same manifest gives the same version (the folder is rewritten
with identical content).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from axhub.clinical.cards import card_json, card_markdown
from axhub.clinical.models import SPECS, TrainResult, incremental_auroc, train
from axhub.clinical.onnx_export import to_onnx
from axhub.config import Settings
from axhub.errors import InputError, IntegrityError, NotFoundError

log = logging.getLogger(__name__)

FILES = ("model.onnx", "model.pkl", "manifest.json", "card.json", "card.md")


@dataclass(frozen=True)
class ModelVersion:
    model_id: str
    version: str
    path: Path

    def card(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.path / "card.json").read_text(encoding="utf-8"))
        return data

    def manifest(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.path / "manifest.json").read_text(encoding="utf-8"))
        return data

    def onnx_path(self) -> Path:
        return self.path / "model.onnx"

    def load_pipeline(self) -> Any:
        with open(self.path / "model.pkl", "rb") as fh:
            return pickle.load(fh)


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


class ModelRegistry:
    def __init__(self, settings: Settings) -> None:
        self.root = settings.data_dir / "models"

    def save(self, result: TrainResult) -> ModelVersion:
        onnx = to_onnx(
            result.pipeline,
            result.features,
            model_id=result.spec.model_id,
            model_hash=result.model_hash,
        )
        onnx_sha = hashlib.sha256(onnx).hexdigest()
        card = card_json(result, onnx_sha256=onnx_sha, onnx_bytes=len(onnx))
        version = result.model_hash[:12]
        path = self.root / result.spec.model_id / version
        path.mkdir(parents=True, exist_ok=True)
        (path / "model.onnx").write_bytes(onnx)
        with open(path / "model.pkl", "wb") as fh:
            pickle.dump(result.pipeline, fh, protocol=5)
        manifest = result.manifest() | {"onnx_sha256": onnx_sha}
        (path / "manifest.json").write_text(_dump(manifest), encoding="utf-8")
        (path / "card.json").write_text(_dump(card), encoding="utf-8")
        (path / "card.md").write_text(card_markdown(card), encoding="utf-8")
        (path / "registered.txt").write_text(dt.datetime.now(dt.UTC).isoformat() + "\n")
        log.info("registered %s %s", result.spec.model_id, version)
        return ModelVersion(result.spec.model_id, version, path)

    def versions(self, model_id: str | None = None) -> list[ModelVersion]:
        if not self.root.is_dir():
            return []
        out = []
        for mdir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            if model_id is not None and mdir.name != model_id:
                continue
            for vdir in sorted(p for p in mdir.iterdir() if (p / "card.json").is_file()):
                out.append(ModelVersion(mdir.name, vdir.name, vdir))
        out.sort(key=lambda v: ((v.path / "registered.txt").read_text(), v.version))
        return out

    def get(self, ref: str) -> ModelVersion:
        """``model_id`` (latest version) or ``model_id@version``."""
        model_id, _, version = ref.partition("@")
        found = self.versions(model_id)
        if version:
            found = [v for v in found if v.version.startswith(version)]
        if not found:
            known = sorted({v.model_id for v in self.versions()})
            raise NotFoundError(f"no registered model {ref!r}", suggestions=known)
        return found[-1]


@dataclass(frozen=True)
class TrainReport:
    versions: list[ModelVersion]
    skipped: dict[str, str]  # model id -> reason (e.g. too few events in a small region)


def train_region(
    table: pa.Table,
    lineage: dict[str, str],
    settings: Settings,
    *,
    models: Sequence[str] = ("t2d_5y", "t2d_5y_metabolome", "ckd_kf_5y", "stroke_5y"),
    seed: int | None = None,
    n_boot: int = 500,
) -> TrainReport:
    """Train, evaluate and register each model on a research table (from ``load_region``).

    A model that cannot be trained on this table (one outcome class in a split) is skipped
    with its reason; the others are still registered.
    """
    seed = settings.seed if seed is None else seed
    unknown = [m for m in models if m not in SPECS]
    if unknown:
        raise NotFoundError(f"unknown model {unknown[0]!r}", suggestions=sorted(SPECS))
    reg = ModelRegistry(settings)
    out, skipped = [], {}
    for model_id in models:
        try:
            if model_id == "t2d_5y_metabolome":
                result, _, _ = incremental_auroc(table, seed=seed, n_boot=n_boot)
            else:
                result = train(table, SPECS[model_id], seed=seed, n_boot=n_boot)
        except InputError as exc:
            log.warning("model %s not trained: %s", model_id, exc.message)
            skipped[model_id] = exc.message
            continue
        result.lineage.update(lineage)
        out.append(reg.save(result))
    return TrainReport(out, skipped)


def retrain(version: ModelVersion, table: pa.Table, lineage: dict[str, str]) -> TrainResult:
    """Train again from a registered manifest; fails unless inputs and parameters match."""
    manifest = version.manifest()
    changed = sorted(k for k, v in manifest["lineage"].items() if k in lineage and lineage[k] != v)
    if changed:
        raise InputError(
            "training inputs differ from the manifest's lineage hashes", field=", ".join(changed)
        )
    model_id = manifest["model_id"]
    if model_id == "t2d_5y_metabolome":
        result, _, _ = incremental_auroc(table, seed=int(manifest["seed"]), n_boot=50)
    else:
        result = train(table, SPECS[model_id], seed=int(manifest["seed"]), n_boot=50)
    if result.model_hash != manifest["model_hash"]:
        raise IntegrityError(
            f"retrained {model_id} differs from the registered model",
            expected=manifest["model_hash"][:12],
            got=result.model_hash[:12],
        )
    return result
