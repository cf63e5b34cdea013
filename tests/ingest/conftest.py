"""Fixtures for the ingest tests: a raw zone in a temporary folder and small file writers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import orjson
import pytest

from axhub.config import Settings
from axhub.ingest import IngestReport, ingest


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", ingest_batch_lines=1000)


@pytest.fixture
def run(settings: Settings) -> Callable[..., IngestReport]:
    def _run(path: Path, site: str = "knuh") -> IngestReport:
        report = ingest(path, site=site, settings=settings)
        assert report.balanced, report.equation()
        return report

    return _run


@pytest.fixture
def raw(settings: Settings) -> Callable[[str], list[tuple]]:
    def _query(sql: str) -> list[tuple]:
        con = duckdb.connect(str(settings.raw_zone_path), read_only=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    return _query


def patient(pid: str, **extra: object) -> dict:
    return {"resourceType": "Patient", "id": pid, "gender": "female", **extra}


def observation(oid: str, subject: str = "Patient/p1", **extra: object) -> dict:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
        "subject": {"reference": subject},
        **extra,
    }


def ndjson(path: Path, *docs: object) -> Path:
    """Write NDJSON: dicts are serialised, bytes/str written as they are."""
    path.parent.mkdir(parents=True, exist_ok=True)
    out = bytearray()
    for d in docs:
        if isinstance(d, bytes):
            out += d
        elif isinstance(d, str):
            out += d.encode()
        else:
            out += orjson.dumps(d)
        out += b"\n"
    path.write_bytes(bytes(out))
    return path
