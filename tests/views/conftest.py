"""A tiny synthetic region ingested into a raw zone, shared by the views tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from axhub.config import Settings


@pytest.fixture(scope="session")
def region(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """40 synthetic people, every site ingested; returns Settings pointing at the data dir."""
    from axhub.ingest import ingest
    from axhub.synth import generate

    root = tmp_path_factory.mktemp("views-region")
    generate(40, 5, root / "synth")
    settings = Settings(data_dir=root / "data")
    for site_dir in sorted((root / "synth" / "sites").iterdir()):
        ingest(site_dir, site=site_dir.name, settings=settings)
    return settings


@pytest.fixture(scope="session")
def spark_engine() -> Iterator[object]:
    """The one local SparkSession of the test run (getOrCreate shares it across areas)."""
    from axhub.engine.spark import SparkEngine

    yield SparkEngine(master="local[2]", conf={"spark.sql.shuffle.partitions": "2"})
