"""MQTT end to end through the real Mosquitto broker (QoS 1): duplicates and out-of-order
delivery, a store outage, and readings sent while the intake was down - 0 lost, 0 doubled."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import orjson
import paho.mqtt.client as mqtt
import pytest
from sqlalchemy import func, select

from axhub.care import alerts
from axhub.care import mqtt as care_mqtt
from axhub.care.intake import quarantine_count
from axhub.care.models import Reading, utcnow
from axhub.care.mqtt import MqttIntake, publish_readings
from axhub.care.store import CareStore

from .readings import reading

pytestmark = pytest.mark.service


def _count(store: CareStore) -> tuple[int, int]:
    with store.session() as s:
        n = s.scalar(select(func.count()).select_from(Reading)) or 0
        distinct = s.scalar(select(func.count(func.distinct(Reading.reading_id)))) or 0
    return int(n), int(distinct)


def _wait_for(pred, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


@pytest.fixture
def names(broker: tuple[str, int]) -> Iterator[tuple[str, str]]:
    """A unique topic and client id; the persistent session is removed afterwards."""
    tag = uuid.uuid4().hex[:10]
    client_id = f"axhub-test-{tag}"
    yield f"axhub/test/{tag}/readings", client_id
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    c.connect(*broker, clean_start=True)
    c.disconnect()


def _payloads(n: int, persons: int) -> list[bytes]:
    now = utcnow()
    return [
        orjson.dumps(reading("glucose", 60 + (i * 37) % 200, person=f"p-{i % persons}",
                             at=now - timedelta(minutes=i), rid=f"dev/{i}"))
        for i in range(n)
    ]  # fmt: skip


def test_duplicates_and_out_of_order_over_mosquitto(
    store: CareStore, broker: tuple[str, int], names: tuple[str, str]
) -> None:
    topic, client_id = names
    for p in range(20):
        store.enrol(f"p-{p}", care_team="t")
    payloads = _payloads(400, 20)
    sent = payloads + random.Random(1).sample(payloads, 150)  # at-least-once: redeliveries
    random.Random(2).shuffle(sent)  # and out of order
    with MqttIntake(store, host=broker[0], port=broker[1], topic=topic + "/#",
                    client_id=client_id, session_expiry_s=120) as intake:  # fmt: skip
        assert publish_readings(sent, host=broker[0], port=broker[1], topic=topic + "/dev") == 550
        _wait_for(lambda: intake.stats.messages >= 550)
    assert _count(store) == (400, 400)  # 0 lost, 0 doubled
    assert (intake.stats.stored, intake.stats.duplicates, intake.stats.quarantined) == (400, 150, 0)
    # the rules ran on what came in: every person with a low has exactly one hypo alert
    lows = {orjson.loads(p)["person_id"] for p in payloads if orjson.loads(p)["value"] < 54}
    assert {a.person_id for a in alerts.worklist(store) if a.rule_id == "glucose.hypo_l2"} == lows


def test_readings_sent_while_the_intake_is_down_arrive_after_restart(
    store: CareStore, broker: tuple[str, int], names: tuple[str, str]
) -> None:
    topic, client_id = names
    store.enrol("p-0", care_team="t")
    kw = {"host": broker[0], "port": broker[1], "topic": topic + "/#", "client_id": client_id,
          "session_expiry_s": 120}  # fmt: skip
    MqttIntake(store, **kw).start().stop()  # registers the persistent session, then goes away
    payloads = _payloads(200, 1)
    assert publish_readings(payloads, host=broker[0], port=broker[1], topic=topic + "/d") == 200
    with MqttIntake(store, **kw) as intake:
        _wait_for(lambda: intake.stats.messages >= 200)
    assert _count(store) == (200, 200)


def test_store_outage_holds_acks_and_retries(
    store: CareStore,
    broker: tuple[str, int],
    names: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topic, client_id = names
    store.enrol("p-0", care_team="t")
    real = care_mqtt.ingest_messages
    calls = {"n": 0}

    def flaky(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] <= 2:
            raise OSError("database unavailable")
        return real(*args, **kwargs)

    monkeypatch.setattr(care_mqtt, "ingest_messages", flaky)
    with MqttIntake(store, host=broker[0], port=broker[1], topic=topic + "/#",
                    client_id=client_id, session_expiry_s=120) as intake:  # fmt: skip
        publish_readings(_payloads(50, 1), host=broker[0], port=broker[1], topic=topic + "/d")
        _wait_for(lambda: intake.stats.messages >= 50)
    assert intake.stats.failures == 2
    assert _count(store) == (50, 50)


def test_a_message_the_store_keeps_refusing_is_isolated_and_quarantined(
    store: CareStore,
    broker: tuple[str, int],
    names: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topic, client_id = names
    store.enrol("p-0", care_team="t")
    real = care_mqtt.ingest_messages

    def refuses_poison(store_, payloads, **kwargs):  # type: ignore[no-untyped-def]
        if any(b"poison" in p for p in payloads):
            raise ValueError("value too long for type character varying(24)")
        return real(store_, payloads, **kwargs)

    monkeypatch.setattr(care_mqtt, "ingest_messages", refuses_poison)
    good = _payloads(30, 1)
    poison = orjson.dumps(reading("glucose", 90, person="p-0", rid="poison"))
    with MqttIntake(store, host=broker[0], port=broker[1], topic=topic + "/#",
                    client_id=client_id, session_expiry_s=120) as intake:  # fmt: skip
        publish_readings([*good[:15], poison, *good[15:]], host=broker[0], port=broker[1],
                         topic=topic + "/d")  # fmt: skip
        _wait_for(lambda: intake.stats.messages >= 31)
    assert _count(store) == (30, 30)
    assert intake.stats.quarantined == 1 and intake.stats.failures >= 3
    assert quarantine_count(store) == 1
