"""Query engines: ``DuckDBEngine`` (embedded default) and ``SparkEngine`` (scale-out).

``create_engine(name, settings)`` is the one place an engine is chosen by name.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import TYPE_CHECKING

from axhub.errors import NotFoundError

if TYPE_CHECKING:
    from axhub.config import Settings
    from axhub.engine.base import Engine

ENGINES = ("duckdb", "spark")


def create_engine(name: str, settings: Settings, *, path: Path | None = None) -> Engine:
    """An engine by name; DuckDB opens ``path`` (or memory), Spark uses ``spark_master``."""
    if name == "duckdb":
        from axhub.engine.duckdb import DuckDBEngine

        return DuckDBEngine.from_settings(settings, path)
    if name == "spark":
        from axhub.engine.spark import SparkEngine

        return SparkEngine.from_settings(settings)
    raise NotFoundError(
        f"unknown engine {name!r}",
        suggestions=difflib.get_close_matches(name, ENGINES, n=1) or list(ENGINES),
    )
