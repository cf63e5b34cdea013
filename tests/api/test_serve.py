"""``axhub serve`` serves the app over HTTP on the settings' data folder; ``axhub tokens``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
from typer.testing import CliRunner

from axhub.cli.main import app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_tokens_issue_list_revoke(tmp_path) -> None:
    runner = CliRunner()
    d = str(tmp_path)
    out = runner.invoke(app, ["tokens", "issue", "nurse", "--role", "care_worker", "--user",
                              "cw-1", "--team", "t1", "--purpose", "care_at_home",
                              "--data-dir", d])  # fmt: skip
    assert out.exit_code == 0, out.output
    token = out.output.strip()
    assert token.startswith("axh_")
    listed = runner.invoke(app, ["tokens", "list", "--data-dir", d]).output
    assert "nurse\tcw-1\tcare_worker\tt1\tcare_at_home" in listed and token not in listed
    bad = runner.invoke(app, ["tokens", "issue", "x", "--role", "doctor", "--user", "u",
                              "--purpose", "treatment", "--data-dir", d])  # fmt: skip
    assert bad.exit_code == 2
    assert "revoked 1" in runner.invoke(app, ["tokens", "revoke", "nurse", "--data-dir", d]).output


def test_serve_answers_over_http(demo) -> None:
    port = free_port()
    env = dict(os.environ, AXHUB_DATA_DIR=str(demo.settings.data_dir),
               AXHUB_SECRET_KEY="api-test-secret")  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-c", "from axhub.cli.main import app; app()", "serve", "--port",
         str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(150):
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        token = demo.seed.tokens["care-manager"]
        resp = httpx.get(f"{url}/api/v1/care/worklist",
                         headers={"Authorization": f"Bearer {token}"}, timeout=30)  # fmt: skip
        assert resp.status_code == 200 and resp.json()["care_team"] == "north-1"
        assert httpx.get(f"{url}/openapi.json", timeout=10).json()["info"]["title"] == "axhub"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
