"""A tiny synthetic region split into four site nodes, each a real process on loopback."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from axhub.clinical.training import project_scope
from axhub.config import Settings
from axhub.federation.coordinator import Coordinator, Site
from axhub.federation.node import NodeStore
from axhub.federation.training import import_site_research
from axhub.governance.access import GovernedStore
from axhub.governance.principals import Principal, Project, Role
from axhub.governance.purposes import Purpose
from axhub.governance.stewardship import StewardStore
from axhub.ingest import ingest
from axhub.synth import generate

SITES = ("knuh", "hallym", "phc", "clinics")
APPROVAL_SITE = "phc"  # this site's data review committee approves each query by hand
PROJECT = "fed-2026"
RESEARCHER = "r-kim"
PEOPLE = 600
SEED = 11
EPSILON_BUDGET = 1.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SiteNode:
    name: str
    data_dir: Path
    port: int
    token: str
    region: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *extra: str) -> None:
        cmd = [
            sys.executable,
            "-c",
            "from axhub.cli.main import app; app()",
            "node",
            "serve",
            "--site",
            self.name,
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
            *extra,
        ]
        env = {**os.environ, "AXHUB_DUCKDB_THREADS": "1", "AXHUB_LOG_LEVEL": "WARNING"}
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def wait_up(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"node {self.name} exited: {err[-2000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"node {self.name} did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Federation:
    region: Path
    nodes: dict[str, SiteNode]
    patients: dict[str, int]  # site -> Patient records (ground truth)
    districts: dict[str, dict[str, int]] = field(default_factory=dict)  # site -> district -> n
    sites: tuple[str, ...] = SITES
    approval_site: str = APPROVAL_SITE
    project: str = PROJECT
    researcher: str = RESEARCHER

    def coordinator(self, timeout: float = 20.0, only: tuple[str, ...] = SITES) -> Coordinator:
        return Coordinator(
            [Site(n.name, n.url, n.token) for n in self.nodes.values() if n.name in only],
            timeout=timeout,
        )


def _prepare_site(region: Path, site: str, data_dir: Path) -> tuple[str, dict[str, int]]:
    s = Settings(data_dir=data_dir, duckdb_threads=1)
    ingest(region / "sites" / site, site=site, settings=s)
    steward = StewardStore(s)
    operator = Principal("op-test", Role.OPERATOR)
    steward.deidentify(operator)
    steward.register_project(
        operator,
        Project(
            PROJECT,
            f"DRB-{site.upper()}-2026-001",
            frozenset({Purpose.RESEARCH, Purpose.AI_TRAINING}),
            project_scope(),  # FHIR types and research:<dataset> (training reads both)
            dt.datetime(2099, 12, 31, tzinfo=dt.UTC),
            epsilon_budget=EPSILON_BUDGET,
        ),
    )
    import_site_research(s, region, site, operator)  # the steward's labels for this site
    me = Principal("test-truth", Role.RESEARCHER, project_id=PROJECT)
    sql = (
        "SELECT coalesce(resource->>'$.address[0].district', '(unknown)') AS d, count(*) AS n "
        "FROM resources WHERE resource_type = 'Patient' GROUP BY 1"
    )
    counts = GovernedStore(s).query(me, "research", sql, ["Patient"]).to_pylist()
    token = NodeStore(data_dir).issue_token("coordinator")
    return token, {r["d"]: int(r["n"]) for r in counts}


@pytest.fixture(scope="package")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    root = tmp_path_factory.mktemp("federation")
    region = root / "region"
    generate(PEOPLE, SEED, region)
    records = pq.read_table(region / "ground_truth" / "site_records.parquet").to_pylist()
    patients = {s: sum(r["site"] == s for r in records) for s in SITES}
    nodes: dict[str, SiteNode] = {}
    districts = {}

    def prepare_and_start(site: str) -> None:  # nodes start while other sites are prepared
        token, districts[site] = _prepare_site(region, site, root / site)
        nodes[site] = node = SiteNode(site, root / site, free_port(), token, region)
        node.start(*(["--require-approval"] if site == APPROVAL_SITE else []))

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(prepare_and_start, SITES))
        deadline = time.monotonic() + 60
        for node in nodes.values():
            node.wait_up(deadline)
        yield Federation(region, nodes, patients, districts)
    finally:
        for node in nodes.values():
            node.stop()
