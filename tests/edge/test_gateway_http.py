"""The gateway over real HTTP: `axhub edge push / run --once / status` against a local hub
server that wraps the care store's intake, a refused connection, and the device listener."""

from __future__ import annotations

import json
import socket
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from axhub.care.intake import ingest_observation
from axhub.care.models import Reading
from axhub.care.store import CareStore
from axhub.cli.main import app
from axhub.edge.buffer import Buffer
from axhub.edge.gateway import Gateway
from axhub.edge.listener import serve_devices
from axhub.edge.transport import INTAKE_PATH, HttpTransport

runner = CliRunner()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[tuple[str, CareStore, list[str]]]:
    """A minimal hub: POST /care/observations -> the real intake; records auth headers."""
    store = CareStore.from_url(f"sqlite:///{tmp_path / 'hub.sqlite'}")
    store.enrol("p-1", care_team="north-1")
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(self.headers.get("Authorization") or "")
            assert self.path == INTAKE_PATH
            assert self.headers.get("X-Purpose-Of-Use") == "care_at_home"
            body = self.rfile.read(int(self.headers["Content-Length"]))
            res = ingest_observation(store, body)
            data = json.dumps(res.to_dict()).encode()
            self.send_response(res.http_status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", store, seen
    server.shutdown()
    store.close()


def _line(rid: str, person: str, value: float, **extra: Any) -> str:
    return json.dumps({"reading_id": rid, "person_id": person, "kind": "glucose",
                       "value": value, "unit": "mg/dL",
                       "effective_at": "2026-11-25T03:00:00+09:00", **extra})  # fmt: skip


def test_cli_push_forward_status_over_http(tmp_path: Path, hub, monkeypatch) -> None:
    url, store, seen = hub
    buf = tmp_path / "edge.sqlite"
    data = tmp_path / "readings.ndjson"
    rows = [_line("g-1", "p-1", 48), _line("g-2", "p-1", 110), _line("g-1", "p-1", 48),
            _line("g-3", "p-9", 100), "{not json"]  # fmt: skip
    data.write_text("\n".join(rows) + "\n")
    out = runner.invoke(app, ["edge", "push", str(data), "--buffer", str(buf)])
    assert out.exit_code == 0, out.output
    assert "2단계 저혈당" in out.output and "Level 2 hypoglycaemia" in out.output
    assert json.loads(out.output.strip().splitlines()[-1]) == {
        "received": 5, "new": 3, "duplicates": 1, "quarantined": 1, "alerts": 1}  # fmt: skip

    # the hub is down: nothing is lost, the retry is scheduled
    down = f"http://127.0.0.1:{_free_port()}"
    out = runner.invoke(app, ["edge", "run", "--hub", down, "--buffer", str(buf), "--once"])
    assert out.exit_code == 0, out.output
    res = json.loads(out.output)
    assert res["sent"] == 0 and res["failures"] == 1 and "unreachable" in res["last_error"]

    # back up: the retry waits for its time, so make it due, then everything goes
    b = Buffer(buf)
    b.db.execute("UPDATE readings SET next_try = 0")
    b.close()
    monkeypatch.setenv("AXHUB_EDGE_TOKEN", "tok-123")
    out = runner.invoke(app, ["edge", "run", "--hub", url, "--buffer", str(buf), "--once"])
    assert out.exit_code == 0, out.output
    res = json.loads(out.output)
    assert res["sent"] == 2 and res["rejected_by_hub"] == 1  # p-9 is not enrolled at the hub
    assert seen and all(h == "Bearer tok-123" for h in seen)
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Reading)) == 2

    out = runner.invoke(app, ["edge", "status", "--buffer", str(buf), "--alerts"])
    st = json.loads(out.output)
    assert st["pending"] == 0 and st["sent"] == 2 and st["rejected_by_hub"] == 1
    assert st["device_duplicates"] == 1 and st["quarantined_locally"] == 1
    assert [a["rule_id"] for a in st["alerts"]] == ["glucose.hypo_l2"]
    b = Buffer(buf)
    (why,) = b.db.execute("SELECT last_error FROM readings WHERE status = 'rejected'").fetchone()
    b.close()
    assert "not enrolled" in why  # the hub's reason is kept with the row


def test_the_api_error_shape_gives_the_reason() -> None:
    from axhub.edge.transport import _problem

    api = {"error": {"fields": {"problems": [{"reason": "person not enrolled (or withdrawn)"}]}}}
    assert _problem(json.dumps(api).encode()) == "person not enrolled (or withdrawn)"
    assert _problem(b"<html>") == "quarantined"


def test_a_resend_after_a_lost_ack_is_a_duplicate_at_the_hub(tmp_path: Path, hub) -> None:
    url, store, _ = hub
    ingest_observation(store, _line("g-7", "p-1", 120))  # the hub stored it, the ack was lost
    gw = Gateway(Buffer(tmp_path / "e.sqlite"), HttpTransport(url), clock=lambda: 0.0)
    gw.receive(_line("g-7", "p-1", 120))
    res = gw.forward()
    assert (res.sent, res.duplicates_at_hub) == (1, 1)
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Reading)) == 1


def test_devices_post_to_the_listener(tmp_path: Path) -> None:
    gw = Gateway(Buffer(tmp_path / "e.sqlite"), None)
    server = serve_devices(gw, "127.0.0.1", 0)
    port = server.server_address[1]
    try:
        body_in = _line("g-1", "p-1", 40).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/readings", data=body_in, method="POST"
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.status == 202
            body = json.loads(resp.read())
        assert body["new"] == 1 and body["alerts"][0]["rule_id"] == "glucose.hypo_l2"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5) as resp:
            assert json.loads(resp.read())["pending"] == 1
    finally:
        server.shutdown()
