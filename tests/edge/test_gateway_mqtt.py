"""Forwarding over MQTT QoS 1 to the Mosquitto broker at 127.0.0.1:1883, into the care
store through the hub's MQTT intake; a resend after a crash is dropped by reading id."""

from __future__ import annotations

import socket
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from axhub.care.models import Reading
from axhub.care.mqtt import MqttIntake
from axhub.care.store import CareStore
from axhub.edge.buffer import Buffer
from axhub.edge.gateway import Gateway
from axhub.edge.transport import LinkDown, MqttTransport, transport_for

from .test_gateway_http import _line

HOST, PORT = "127.0.0.1", 1883


def _count(store: CareStore) -> int:
    with store.session() as s:
        return int(s.scalar(select(func.count()).select_from(Reading)) or 0)


@pytest.mark.service
def test_forward_over_mqtt_qos1(tmp_path: Path) -> None:
    try:
        socket.create_connection((HOST, PORT), timeout=2).close()
    except OSError:
        pytest.fail("Mosquitto at 127.0.0.1:1883 not reachable (service test)")
    store = CareStore.from_url(f"sqlite:///{tmp_path / 'hub.sqlite'}")
    store.enrol("p-1", care_team="north-1")
    topic = f"axhub-test/{uuid.uuid4().hex[:8]}"
    buf = tmp_path / "edge.sqlite"
    transport = MqttTransport(HOST, PORT, topic=topic)
    gw = Gateway(Buffer(buf), transport, clock=lambda: 0.0)
    for i in range(30):
        gw.receive(_line(f"m-{i}", "p-1", 100 + i, device_id="gluco-1"))
    with MqttIntake(store, host=HOST, port=PORT, topic=topic + "/#",
                    client_id=f"edge-test-{uuid.uuid4().hex[:8]}") as intake:  # fmt: skip
        res = gw.forward()
        assert res.sent == 30 and gw.status()["pending"] == 0
        # a crash after PUBACK but before the "sent" mark: the same readings go again
        gw.buffer.db.execute("UPDATE readings SET status = 'pending' WHERE seq <= 10")
        assert gw.forward().sent == 10
        end = time.monotonic() + 20
        while intake.stats.messages < 40 and time.monotonic() < end:
            time.sleep(0.05)
        assert intake.stats.messages == 40
    transport.close()
    assert _count(store) == 30 and intake.stats.duplicates == 10
    gw.buffer.close()
    store.close()


def test_broker_down_is_a_link_failure(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = transport_for(f"mqtt://127.0.0.1:{port}/x/y")
    assert isinstance(t, MqttTransport) and t.topic == "x/y"
    with pytest.raises(LinkDown):
        t.send([("d", "{}")])
