"""End to end against the real hub API: a device posts to the gateway's listener, the
gateway's run loop forwards over HTTP to `/api/v1/care/observations` (uvicorn, bearer token,
governance policy) into the care store; a person unknown to the hub is quarantined there."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from pathlib import Path

import uvicorn
from sqlalchemy import select

from axhub.api.app import create_app
from axhub.api.hub import Hub
from axhub.care.models import Reading
from axhub.config import Settings
from axhub.edge.buffer import Buffer
from axhub.edge.gateway import Gateway
from axhub.edge.listener import serve_devices
from axhub.edge.transport import HttpTransport
from axhub.governance.principals import Principal, Role


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(cond, seconds: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + seconds
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def test_device_to_gateway_to_hub_api(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "hub")
    hub = Hub.open(settings)
    token = hub.tokens.issue(Principal("gateway-042", Role.CARE_WORKER, care_team="north-1"),
                             ["care_at_home"], label="home-042")  # fmt: skip
    hub.care.enrol("p-1", care_team="north-1")
    port = _port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, hub=hub), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    gw = Gateway(Buffer(tmp_path / "edge.sqlite"), HttpTransport(f"http://127.0.0.1:{port}", token),
                 backoff_base_s=0.1, backoff_cap_s=0.2)  # fmt: skip
    devices = serve_devices(gw, "127.0.0.1", 0)
    stop = threading.Event()
    loop = threading.Thread(target=gw.run, args=(stop,), kwargs={"poll_s": 0.05}, daemon=True)
    loop.start()  # the hub is not up yet: the loop backs off
    try:
        for rid, person, value in (("g-1", "p-1", 50), ("g-2", "p-1", 110), ("g-3", "p-9", 99)):
            body = json.dumps({"reading_id": rid, "person_id": person, "kind": "glucose",
                               "value": value, "device_id": "gluco-1",
                               "effective_at": "2026-11-25T03:00:00+09:00"}).encode()  # fmt: skip
            req = urllib.request.Request(
                f"http://127.0.0.1:{devices.server_address[1]}/readings", data=body, method="POST"
            )
            with urllib.request.urlopen(req, timeout=10) as resp:
                assert resp.status == 202
        _wait(lambda: gw.status()["attempts"] >= 1)
        assert gw.status()["pending"] == 3 and gw.link_up is False
        assert [a["rule_id"] for a in gw.buffer.local_alerts()] == ["glucose.hypo_l2"]

        threading.Thread(target=server.run, daemon=True).start()
        _wait(lambda: gw.status()["pending"] == 0)
        st = gw.status()
        assert st["sent"] == 2 and st["rejected_by_hub"] == 1 and gw.link_up is True
        with hub.care.session() as s:
            assert sorted(s.scalars(select(Reading.reading_id))) == ["g-1", "g-2"]
        (why,) = gw.buffer.db.execute(
            "SELECT last_error FROM readings WHERE status = 'rejected'"
        ).fetchone()
        assert "not enrolled" in why
    finally:
        stop.set()
        loop.join(5)
        devices.shutdown()
        server.should_exit = True
