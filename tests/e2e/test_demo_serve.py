"""`axhub demo` ends serving the dashboard over the demo region and prints its address."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_serves_the_dashboard_and_prints_the_address(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "AXHUB_DATA_DIR": str(tmp_path),
        "AXHUB_SERVE_PORT": str(port),
        "AXHUB_DEMO_PEOPLE": "300",
    }
    env.pop("AXHUB_NO_SERVE", None)
    axhub = Path(sys.executable).with_name("axhub")
    out_path = tmp_path / "demo.out"
    with open(out_path, "w") as out:
        proc = subprocess.Popen([str(axhub), "demo"], stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + 300
            url = None
            while time.monotonic() < deadline and proc.poll() is None:
                m = re.search(r"axhub dashboard: (http://\S+)", out_path.read_text())
                if m:
                    url = m.group(1)
                    try:
                        if httpx.get(url, timeout=2, follow_redirects=True).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                time.sleep(0.5)
            text = out_path.read_text()
            assert url == f"http://127.0.0.1:{port}/web/", text[-2000:]
            page = httpx.get(url, timeout=5, follow_redirects=True)
            assert page.status_code == 200
            assert "demo sign-in tokens" in text
            assert httpx.get(f"http://127.0.0.1:{port}/docs", timeout=5).status_code == 200
        finally:
            proc.terminate()
            proc.wait(timeout=30)
