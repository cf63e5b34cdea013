"""Run a ViewDefinition over the raw zone on DuckDB or Spark and write Parquet or CSV.

DuckDB reads ``<data_dir>/raw.duckdb`` (table ``resources``) directly. Spark reads a Parquet
export of the same table, partitioned by resource type (``<data_dir>/exports/resources``),
refreshed when the raw zone is newer than the export.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from axhub.config import Settings
from axhub.engine import create_engine
from axhub.engine.duckdb import DuckDBEngine
from axhub.errors import NotFoundError
from axhub.views import library
from axhub.views.model import ViewDefinition

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ViewRun:
    name: str
    engine: str
    rows: int
    out: Path
    seconds: float


def resolve(name_or_path: str) -> ViewDefinition:
    """A bundled view by name, or a ViewDefinition JSON file by path."""
    path = Path(name_or_path)
    if path.suffix == ".json" and path.is_file():
        return ViewDefinition.load(path)
    return library.load(name_or_path)


def raw_zone(settings: Settings) -> Path:
    path = settings.raw_zone_path
    if not path.is_file():
        raise NotFoundError(
            f"no raw zone at {path}: run `axhub ingest` first (or pass --data-dir)",
            path=str(path),
        )
    return path


def spark_export(settings: Settings) -> Path:
    """The Parquet export of the raw zone for Spark, rebuilt when the raw zone changed."""
    raw = raw_zone(settings)
    out = settings.data_dir / "exports" / "resources"
    marker = out / "_axhub_export"
    if marker.is_file() and marker.stat().st_mtime >= raw.stat().st_mtime:
        return out
    if out.exists():
        for f in sorted(out.rglob("*"), reverse=True):
            f.unlink() if f.is_file() else f.rmdir()
    eng = DuckDBEngine.from_settings(settings, raw, read_only=True)
    try:
        n = eng.export_resources(out)
    finally:
        eng.close()
    marker.write_text(f"{n}\n", encoding="utf-8")
    log.info("exported %d resources for Spark to %s", n, out)
    return out


def run_view(
    view: str | ViewDefinition,
    *,
    engine: str,
    settings: Settings,
    fmt: str = "parquet",
    out: Path | None = None,
) -> ViewRun:
    vd = resolve(view) if isinstance(view, str) else view
    name = vd.name or vd.resource.lower()
    out = out or settings.data_dir / "views" / f"{name}.{fmt}"
    started = time.perf_counter()
    eng: Any
    if engine == "spark":
        export = spark_export(settings)
        eng = create_engine("spark", settings)
        eng.register_parquet("resources", export)
        rows = eng.write_view(vd, out, fmt)
    else:
        if engine == "duckdb":
            eng = DuckDBEngine.from_settings(settings, raw_zone(settings), read_only=True)
        else:
            eng = create_engine(engine, settings)
        try:
            rows = eng.write_view(vd, out, fmt)
        finally:
            eng.close()
    return ViewRun(name, engine, rows, out, time.perf_counter() - started)
