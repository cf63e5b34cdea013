"""Care fixtures: the store on SQLite and on the real PostgreSQL, and the Mosquitto broker.

PostgreSQL (127.0.0.1:5432, trust auth) gets one fresh database per test session, dropped at
the end; tables are emptied before each test.  Outside CI an absent PostgreSQL or Mosquitto
skips those tests with a loud reason; under ``CI=true`` it fails them.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pg8000.native
import pytest
from sqlalchemy import text

from axhub.care.models import Base
from axhub.care.store import CareStore

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_HOST = os.environ.get("AXHUB_TEST_PG_HOST", "127.0.0.1")
PG_USER = os.environ.get("AXHUB_TEST_PG_USER", "postgres")
MQTT_HOST, MQTT_PORT = "127.0.0.1", 1883
#: a fixed daytime instant (12:00 in Seoul) so no test depends on the wall clock
NOON_KST = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


def _absent(what: str, why: str) -> None:
    msg = f"{what} not reachable ({why}); start it to run these tests"
    if IN_CI:
        pytest.fail(msg + " [CI=true: an absent service is a failure]")
    pytest.skip("SERVICE ABSENT: " + msg)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    if not _port_open(PG_HOST, 5432):
        _absent(f"PostgreSQL at {PG_HOST}:5432", "port closed")
    name = f"axhub_care_{uuid.uuid4().hex[:12]}"
    try:
        admin = pg8000.native.Connection(PG_USER, host=PG_HOST, database="test")
    except Exception as exc:
        _absent("PostgreSQL database 'test'", str(exc))
    admin.run(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql+pg8000://{PG_USER}@{PG_HOST}:5432/{name}"
    finally:
        admin.run(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n", n=name
        )
        admin.run(f"DROP DATABASE IF EXISTS {name}")
        admin.close()


@pytest.fixture(scope="session")
def _pg_store(pg_url: str) -> Iterator[CareStore]:
    store = CareStore.from_url(pg_url)
    yield store
    store.close()


def _empty(store: CareStore) -> None:
    with store.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(text(f"DELETE FROM {table.name}"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.service)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CareStore]:
    """The care store on each backend (the same test runs on both)."""
    if request.param == "sqlite":
        s = CareStore.from_url(f"sqlite:///{tmp_path / 'care.sqlite'}")
        yield s
        s.close()
    else:
        pg: CareStore = request.getfixturevalue("_pg_store")
        _empty(pg)
        yield pg


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[CareStore]:
    """SQLite only: for rule tables where the backend does not matter."""
    s = CareStore.from_url(f"sqlite:///{tmp_path / 'care.sqlite'}")
    yield s
    s.close()


@pytest.fixture
def broker() -> tuple[str, int]:
    if not _port_open(MQTT_HOST, MQTT_PORT):
        _absent("Mosquitto at 127.0.0.1:1883", "port closed")
    return MQTT_HOST, MQTT_PORT
