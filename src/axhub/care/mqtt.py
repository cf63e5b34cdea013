"""Readings over MQTT (paho-mqtt, QoS 1): at-least-once in, exactly-once in the store.

``MqttIntake`` subscribes with a persistent MQTT v5 session and *manual acknowledgement*:
a message is acknowledged (PUBACK) only after the batch holding it has committed to the
store.  If the process dies first, the broker redelivers it to the same session; the store
drops the redelivered copy by reading id.  Nothing is acknowledged that was not stored or
quarantined, so nothing is lost, and nothing is doubled.

Messages are taken in batches (up to ``batch_max`` or ``batch_wait_s``, whichever comes
first) so that the rules run vectorised over a batch.  The client announces the largest
MQTT v5 receive maximum (65,535) so the broker sends messages on while earlier ones wait for
their commit; messages beyond that window are queued by the broker, and Mosquitto drops
what exceeds ``max_queued_messages`` (default 1000) *silently*, so a production broker for
this intake sets it to 0 (no limit) or large (docs/care.md, decision 0083).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from axhub.care.intake import IntakeResult, ingest_messages, quarantine_raw
from axhub.care.store import CareStore
from axhub.errors import ConfigError

log = logging.getLogger(__name__)

TOPIC = "axhub/care/readings/#"


@dataclass
class _Msg:
    mid: int
    qos: int
    payload: bytes
    received: float


@dataclass
class IntakeStats:
    messages: int = 0
    batches: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    failures: int = 0
    alerts: int = 0
    batch_seconds: list[float] = field(default_factory=list)


class MqttIntake:
    """A background subscriber that stores readings and runs monitoring per batch."""

    def __init__(
        self,
        store: CareStore,
        *,
        host: str = "127.0.0.1",
        port: int = 1883,
        topic: str = TOPIC,
        client_id: str = "axhub-care-intake",
        session_expiry_s: int = 86_400,
        batch_max: int = 500,
        batch_wait_s: float = 0.05,
        receive_maximum: int = 65_535,
        on_result: Callable[[IntakeResult, list[bytes]], None] | None = None,
    ) -> None:
        self.store = store
        self.host, self.port, self.topic = host, port, topic
        self.batch_max, self.batch_wait_s = batch_max, batch_wait_s
        self.on_result = on_result
        self.stats = IntakeStats()
        self._queue: queue.Queue[_Msg] = queue.Queue()
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._worker: threading.Thread | None = None
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        self._connect_props = Properties(PacketTypes.CONNECT)
        self._connect_props.SessionExpiryInterval = session_expiry_s
        self._connect_props.ReceiveMaximum = max(1, min(receive_maximum, 65_535))
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    # --- paho callbacks (network thread) ----------------------------------------------------
    def _on_connect(
        self, client: mqtt.Client, _u: object, _f: object, rc: object, _p: object
    ) -> None:
        if getattr(rc, "is_failure", False):
            log.warning("MQTT connect refused: %s", rc)
            return
        client.subscribe(self.topic, qos=1)

    def _on_subscribe(self, *_args: object) -> None:
        self._subscribed.set()

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        self._queue.put(_Msg(msg.mid, msg.qos, bytes(msg.payload), time.monotonic()))

    # --- life cycle ---------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> MqttIntake:
        try:
            self.client.connect(
                self.host,
                self.port,
                keepalive=30,
                clean_start=False,
                properties=self._connect_props,
            )
        except OSError as exc:
            raise ConfigError(
                "cannot reach the MQTT broker", host=self.host, port=self.port, reason=str(exc)
            ) from None
        self.client.loop_start()
        self._worker = threading.Thread(target=self._run, name="care-mqtt-intake", daemon=True)
        self._worker.start()
        if not self._subscribed.wait(timeout):
            self.stop()
            raise ConfigError("MQTT subscription not confirmed", topic=self.topic)
        return self

    def stop(self, drain_s: float = 0.0) -> None:
        """Stop after storing what has arrived (waits up to ``drain_s`` for an empty queue)."""
        end = time.monotonic() + drain_s
        while drain_s and time.monotonic() < end and not self._queue.empty():
            time.sleep(0.01)
        self._stop.set()
        if self._worker is not None:
            self._worker.join(timeout=30)
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> MqttIntake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- worker ---------------------------------------------------------------------------------
    def _take_batch(self) -> list[_Msg]:
        try:
            first = self._queue.get(timeout=0.1)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.batch_wait_s
        while len(batch) < self.batch_max:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                batch.append(self._queue.get(timeout=left))
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        pending: list[_Msg] = []
        one_by_one = False  # after repeated failures: isolate the message the store refuses
        tries = 0
        while not (self._stop.is_set() and not pending and self._queue.empty()):
            if pending:
                batch, pending = (pending[:1], pending[1:]) if one_by_one else (pending, [])
            else:
                one_by_one, batch = False, self._take_batch()
            if not batch:
                continue
            t0 = time.monotonic()
            try:
                result = ingest_messages(self.store, [m.payload for m in batch], source="mqtt")
            except Exception as exc:  # not stored: keep un-acked and retry
                tries += 1
                self.stats.failures += 1
                log.warning("MQTT batch of %d not stored (try %d): %s", len(batch), tries, exc)
                if tries >= 3 and len(batch) == 1 and self._quarantine(batch[0], exc):
                    tries = 0  # the store works but refuses this one message: kept aside
                    continue
                if tries >= 3:
                    one_by_one = True
                pending = batch + pending
                if self._stop.wait(min(0.2 * tries, 2.0)):
                    break  # stopping: unacknowledged messages are redelivered to the session
                continue
            tries = 0
            self._ack(batch)
            st = self.stats
            st.messages += len(batch)
            st.batches += 1
            st.stored += result.stored
            st.duplicates += result.duplicates
            st.quarantined += result.quarantined
            st.alerts += len(result.alerts)
            st.batch_seconds.append(time.monotonic() - t0)
            if self.on_result is not None:
                self.on_result(result, [m.payload for m in batch])

    def _ack(self, batch: list[_Msg]) -> None:
        for m in batch:
            if m.qos > 0:
                self.client.ack(m.mid, m.qos)

    def _quarantine(self, msg: _Msg, exc: Exception) -> bool:
        """Keep a message the store keeps refusing in the quarantine, then acknowledge it."""
        try:
            quarantine_raw(self.store, msg.payload, source="mqtt",
                           reason=f"store refused the message: {type(exc).__name__}")  # fmt: skip
        except Exception:
            return False  # the store itself is down: keep retrying
        self._ack([msg])
        self.stats.messages += 1
        self.stats.quarantined += 1
        return True


def publish_readings(
    payloads: list[bytes],
    *,
    host: str = "127.0.0.1",
    port: int = 1883,
    topic: str = "axhub/care/readings/device",
    client_id: str = "",
    timeout: float = 60.0,
) -> int:
    """Publish payloads at QoS 1 and wait until the broker acknowledged every one."""
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
    )
    client.max_queued_messages_set(0)
    client.max_inflight_messages_set(100)
    try:
        client.connect(host, port, keepalive=30)
    except OSError as exc:
        raise ConfigError(
            "cannot reach the MQTT broker", host=host, port=port, reason=str(exc)
        ) from None
    client.loop_start()
    try:
        infos = [client.publish(topic, p, qos=1) for p in payloads]
        end = time.monotonic() + timeout
        for info in infos:
            info.wait_for_publish(timeout=max(0.0, end - time.monotonic()))
        return sum(1 for i in infos if i.is_published())
    finally:
        client.disconnect()
        client.loop_stop()
