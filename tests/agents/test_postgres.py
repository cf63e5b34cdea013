"""The agents on the real PostgreSQL care store: scenarios and an approval across a restart."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pg8000.native
import pytest
from sqlalchemy import text

from axhub.agents import approvals
from axhub.care.models import Base
from axhub.care.store import CareStore

from .harness import TEAM, make_env, play
from .run_scenarios import load, mismatches

PG_HOST = os.environ.get("AXHUB_TEST_PG_HOST", "127.0.0.1")
PG_USER = os.environ.get("AXHUB_TEST_PG_USER", "postgres")
pytestmark = pytest.mark.service
#: one scenario of each kind (urgent and not) from every scenario file
SAMPLE = [
    "hypo-night-62", "bp-sudden-rise", "af-face-arm-ko", "stand-down-en", "hf-gain-3d",
    "dose-change-approved", "dose-change-en-apply-refused", "device-offline",
    "artefact-glucose-5000", "chest-pain-en",
]  # fmt: skip


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    try:
        socket.create_connection((PG_HOST, 5432), timeout=2).close()
        admin = pg8000.native.Connection(PG_USER, host=PG_HOST, database="test")
    except Exception as exc:
        msg = f"PostgreSQL at {PG_HOST}:5432 not reachable ({exc}); start it to run these tests"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip("SERVICE ABSENT: " + msg)
    name = f"axhub_agents_{uuid.uuid4().hex[:12]}"
    admin.run(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql+pg8000://{PG_USER}@{PG_HOST}:5432/{name}"
    finally:
        admin.run(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n", n=name
        )
        admin.run(f"DROP DATABASE IF EXISTS {name}")
        admin.close()


def _empty(url: str) -> None:
    store = CareStore.from_url(url)
    with store.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(text(f"DELETE FROM {table.name}"))
    store.close()


SCENARIOS = {s["id"]: s for s in load()}


@pytest.mark.parametrize("sid", SAMPLE)
def test_scenario_on_postgresql(sid: str, pg_url: str, tmp_path: Path) -> None:
    _empty(pg_url)
    sc: dict[str, Any] = SCENARIOS[sid]
    got = play(make_env(tmp_path, care_db_url=pg_url), sc)
    assert not mismatches(sc, got), (sid, mismatches(sc, got))


def test_pending_approval_survives_a_restart_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    _empty(pg_url)
    env = make_env(tmp_path, care_db_url=pg_url)
    play(env, SCENARIOS["dose-change-ko"])
    env.store.close()
    (a,) = approvals.pending(CareStore.from_url(pg_url), care_team=TEAM)
    assert (a.status, a.action["drug"]) == ("pending", "amlodipine")
