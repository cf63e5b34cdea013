"""How the gateway reaches the hub: HTTP to the hub's device intake, or MQTT QoS 1.

A transport sends payloads in order and returns one outcome per payload it got an answer
for: ``stored`` / ``duplicate`` (the hub has it: mark sent) or ``rejected: <reason>`` (the
hub quarantined it: it is kept there, do not resend).  When the link fails part-way it
raises :class:`LinkDown` carrying the outcomes of the prefix that was acknowledged; the rest
stays pending.  A payload the hub stored whose answer was lost is simply sent again later:
the hub de-duplicates by reading id.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Protocol
from urllib.parse import urlsplit

from axhub.errors import ConfigError

log = logging.getLogger(__name__)

INTAKE_PATH = "/api/v1/care/observations"
PURPOSE = "care_at_home"  # sent as X-Purpose-Of-Use
MQTT_TOPIC = "axhub/care/readings"


class LinkDown(Exception):
    """The hub could not be reached or did not answer; ``acked`` is what got through."""

    def __init__(self, reason: str, acked: Sequence[str] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.acked = list(acked)


class Transport(Protocol):
    def send(self, payloads: Sequence[tuple[str | None, str]]) -> list[str]:
        """Send ``(device_id, payload JSON)`` in order; outcomes for the acknowledged prefix."""
        ...

    def close(self) -> None: ...


class HttpTransport:
    """POST each payload to ``<hub>/api/v1/care/observations`` with a bearer token.

    201 stored, 200 duplicate, 422 quarantined by the hub; 401/403 means the gateway's token
    is wrong (logged as an error and retried with backoff, never dropped); anything else, a
    timeout or a refused connection is a link failure.
    """

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 10.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError("hub URL must be http(s)://host[:port][/prefix]", hub=base_url)
        self.url = base_url.rstrip("/") + INTAKE_PATH
        self.token = token
        self.timeout = timeout

    def send(self, payloads: Sequence[tuple[str | None, str]]) -> list[str]:
        out: list[str] = []
        for _device, body in payloads:
            req = urllib.request.Request(self.url, data=body.encode(), method="POST")
            req.add_header("Content-Type", "application/json")
            req.add_header("X-Purpose-Of-Use", PURPOSE)
            if self.token:
                req.add_header("Authorization", f"Bearer {self.token}")
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    status = resp.status
                    answer = resp.read()
            except urllib.error.HTTPError as exc:
                status, answer = exc.code, exc.read()
            except (TimeoutError, urllib.error.URLError, OSError) as exc:
                raise LinkDown(f"hub unreachable: {exc}", out) from None
            if status in (200, 201):
                out.append("stored" if status == 201 else "duplicate")
            elif status == 422:
                out.append("rejected: " + _problem(answer))
            elif status in (401, 403):
                log.error("edge: the hub refused the gateway's token (HTTP %d)", status)
                raise LinkDown(f"hub refused the token (HTTP {status})", out)
            else:
                raise LinkDown(f"hub answered HTTP {status}", out)
        return out

    def close(self) -> None:
        return None


def _problem(answer: bytes) -> str:
    """The hub's reasons: ``problems`` at the top (intake result) or in the API error shape."""
    try:
        body = json.loads(answer)
        problems = body.get("problems") or (
            (body.get("error") or {}).get("fields", {}).get("problems") or []
        )
        return "; ".join(str(p.get("reason")) for p in problems)[:300] or "quarantined"
    except (ValueError, AttributeError):
        return "quarantined"


class MqttTransport:
    """Publish each payload at QoS 1 to ``axhub/care/readings/<device>`` on the hub's broker.

    An outcome is ``stored`` once the broker sent PUBACK: the hub's intake holds a persistent
    session, so the broker keeps the reading for it (decision 0083); the intake de-duplicates
    by reading id.  A connection loss or a PUBACK that does not come within the timeout is a
    link failure; unacknowledged payloads are sent again later.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        topic: str = MQTT_TOPIC,
        client_id: str = "",
        timeout: float = 10.0,
    ) -> None:
        import paho.mqtt.client as mqtt

        self.host, self.port, self.timeout = host, port, timeout
        self.topic = topic.rstrip("/")
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        self.client.max_queued_messages_set(0)
        self.connected = False

    def _connect(self) -> None:
        if self.connected and self.client.is_connected():
            return
        try:
            self.client.connect(self.host, self.port, keepalive=30)
        except OSError as exc:
            raise LinkDown(f"broker unreachable: {exc}") from None
        self.client.loop_start()
        end = time.monotonic() + self.timeout
        while not self.client.is_connected():
            if time.monotonic() > end:
                raise LinkDown("broker did not accept the connection in time")
            time.sleep(0.01)
        self.connected = True

    def send(self, payloads: Sequence[tuple[str | None, str]]) -> list[str]:
        self._connect()
        infos = [
            self.client.publish(f"{self.topic}/{_topic_part(dev)}", body, qos=1)
            for dev, body in payloads
        ]
        out: list[str] = []
        end = time.monotonic() + self.timeout
        for info in infos:
            try:
                info.wait_for_publish(timeout=max(0.0, end - time.monotonic()))
            except (RuntimeError, ValueError) as exc:
                raise LinkDown(f"publish failed: {exc}", out) from None
            if not info.is_published():
                raise LinkDown("no PUBACK from the broker in time", out)
            out.append("stored")
        return out

    def close(self) -> None:
        if self.connected:
            self.client.disconnect()
            self.client.loop_stop()
            self.connected = False


def _topic_part(device: str | None) -> str:
    d = (device or "gateway").replace("/", "_").replace("+", "_").replace("#", "_")
    return d[:120] or "gateway"


def transport_for(hub: str, token: str | None = None) -> Transport:
    """``http(s)://...`` -> HTTP; ``mqtt://host:port[/topic prefix]`` -> MQTT."""
    parts = urlsplit(hub)
    if parts.scheme == "mqtt":
        if not parts.hostname:
            raise ConfigError("MQTT hub must be mqtt://host[:port][/topic prefix]", hub=hub)
        topic = parts.path.strip("/") or MQTT_TOPIC
        return MqttTransport(parts.hostname, parts.port or 1883, topic=topic)
    return HttpTransport(hub, token)
