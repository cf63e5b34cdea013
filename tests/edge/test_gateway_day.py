"""A simulated day with the link cut: 0 lost, 0 duplicated, urgent readings alerted locally.

Four people, six devices, a reading every 5-15 minutes from each device for 24 hours, about
one in ten re-sent by its device.  The hub (the real care store on SQLite) cannot be
reached all day (connection refused), except for a flaky hour in which it stores batches but
the acknowledgements are lost; the gateway is killed once between the hub's commit and its
own "sent" mark, and restarted once more mid-day.  Then the link comes back.  Fake clock,
no sleeps.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from axhub.care.models import Alert, Reading
from axhub.care.store import CareStore
from axhub.edge.buffer import Buffer
from axhub.edge.gateway import EdgeConfig, Gateway

from .edge_hub import Crash, InProcessHub

START = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # 00:00 on 25 Nov in Seoul
DEVICES = {  # device -> (person, kind, normal value, value2)
    "cuff-1": ("p-1", "bp", 132.0, 82.0),
    "gluco-1": ("p-1", "glucose", 120.0, None),
    "oxi-2": ("p-2", "spo2", 97.0, None),
    "scale-3": ("p-3", "weight", 71.0, None),
    "cuff-4": ("p-4", "bp", 128.0, 79.0),
    "thermo-4": ("p-4", "temperature", 36.6, None),
}
#: readings the gateway must alert on while offline: (device, minutes after START, values)
URGENT: list[tuple[str, int, float, float | None, str]] = [
    ("gluco-1", 3 * 60 + 2, 48.0, None, "glucose.hypo_l2"),  # 03:02 KST, < 54 mg/dL
    ("oxi-2", 9 * 60 + 31, 90.0, None, "spo2.low"),  # <= 92 %
    ("cuff-4", 10 * 60 + 1, 192.0, 118.0, "bp.severe_unconfirmed"),  # severe, repeat
    ("cuff-4", 10 * 60 + 9, 195.0, 121.0, "bp.severe"),  # confirmed within 60 min
    ("thermo-4", 17 * 60 + 40, 34.8, None, "temp.low"),
]


class Clock:
    def __init__(self) -> None:
        self.t = START.timestamp()

    def __call__(self) -> float:
        return self.t


def _msg(device: str, n: int, t: datetime, value: float, value2: float | None) -> dict[str, Any]:
    person, kind, _, _ = DEVICES[device]
    m: dict[str, Any] = {
        "reading_id": f"{device}/{n}",
        "person_id": person,
        "kind": kind,
        "value": value,
        "effective_at": t.isoformat(),
        "device_id": device,
    }
    if value2 is not None:
        m["value2"] = value2
    return m


def simulated_day(seed: int = 11) -> list[tuple[float, dict[str, Any]]]:
    """(time sent by the device, message) for a day, with device re-sends, time-ordered."""
    rng = random.Random(seed)
    events: list[tuple[float, dict[str, Any]]] = []
    urgent = defaultdict(list)
    for dev, minute, v, v2, _ in URGENT:
        urgent[dev].append((minute, v, v2))
    for dev, (_, _, normal, normal2) in DEVICES.items():
        t, n = START + timedelta(minutes=rng.uniform(0, 10)), 0
        specials = sorted(urgent[dev])
        while t < START + timedelta(days=1):
            if specials and (t - START) >= timedelta(minutes=specials[0][0]):
                minute, v, v2 = specials.pop(0)
                t = START + timedelta(minutes=minute)
            else:
                v = round(normal + rng.gauss(0, 0.01 * normal), 1)
                v2 = None if normal2 is None else round(normal2 + rng.gauss(0, 0.01 * normal2), 1)
            msg = _msg(dev, n, t, v, v2)
            events.append((t.timestamp(), msg))
            if rng.random() < 0.1:  # the device did not see its ack and sends it again
                events.append((t.timestamp() + rng.uniform(5, 600), dict(msg)))
            n += 1
            t += timedelta(minutes=rng.uniform(5, 15))
    events.sort(key=lambda e: e[0])
    return events


@pytest.fixture
def hub_store(tmp_path: Path) -> Any:
    store = CareStore.from_url(f"sqlite:///{tmp_path / 'hub.sqlite'}")
    for pid, conds in (("p-1", ["diabetes"]), ("p-2", []), ("p-3", ["hf"]), ("p-4", [])):
        store.enrol(pid, care_team="north-1", conditions=conds)
    yield store
    store.close()


def test_a_day_offline_loses_nothing_and_doubles_nothing(tmp_path: Path, hub_store) -> None:
    clock = Clock()
    hub = InProcessHub(hub_store, clock)
    path = tmp_path / "edge.sqlite"

    def open_gateway() -> Gateway:
        # durable=False: no fsync per commit (the crashes here are process deaths, which WAL
        # survives either way); production keeps synchronous=FULL for power cuts
        return Gateway(Buffer(path, durable=False), hub, config=EdgeConfig(), clock=clock,
                       rng=random.Random(3), batch_size=20)  # fmt: skip

    gw = open_gateway()
    events = simulated_day()
    unique = {m["reading_id"]: m for _, m in events}
    resent = len(events) - len(unique)
    flaky = (START + timedelta(hours=12)).timestamp(), (START + timedelta(hours=13)).timestamp()
    crash_at = (START + timedelta(hours=12, minutes=30)).timestamp()
    restart_at = (START + timedelta(hours=15)).timestamp()
    crashed = restarted = False
    alerts_seen: list[dict[str, Any]] = []
    for sent_at, msg in events:
        clock.t = sent_at
        hub.mode = "flaky" if flaky[0] <= sent_at < flaky[1] else "down"
        if not crashed and sent_at >= crash_at:
            hub.crash_next, crashed = True, True
        if not restarted and sent_at >= restart_at:
            pending_before = gw.status()["pending"]
            gw.buffer.close()
            gw, restarted = open_gateway(), True
            assert gw.status()["pending"] == pending_before  # the restart lost nothing
        alerts_seen += gw.receive(msg).alerts
        try:
            gw.forward()
        except Crash:
            gw.buffer.close()  # the process died; a new one starts on the same file
            gw = open_gateway()
    assert hub.refused > 0 and hub.acks_lost > 0 and hub.crashes == 1

    # offline: urgent readings alerted locally, in both languages, when they were taken
    for dev, _minute, _, _, rule in URGENT:
        got = [a for a in alerts_seen if a["rule_id"] == rule and a["reading_id"].startswith(dev)]
        assert len(got) == 1, rule
        assert got[0]["offline"] is True
        if got[0]["severity"] == "urgent":  # told that the care centre does not know yet
            assert "not been told" in got[0]["message_en"] and "돌봄센터" in got[0]["message_ko"]
        else:  # a first severe BP: measure again (REF_3)
            assert "measure again" in got[0]["message_en"] and "다시 측정" in got[0]["message_ko"]
    local = gw.buffer.local_alerts()
    assert {a["rule_id"] for a in local} == {u[4] for u in URGENT}
    assert all(a["offline"] == 1 for a in local)
    assert gw.status()["pending"] > 0  # most of the day is still waiting

    # the link comes back: forward until the buffer is empty (bounded by the backoff cap)
    hub.mode = "up"
    for _ in range(60):
        clock.t += 30
        gw.forward()
        if gw.status()["pending"] == 0:
            break
    status = gw.status()
    assert status["pending"] == 0 and status["rejected_by_hub"] == 0
    assert status["sent"] == len(unique)
    assert status["device_duplicates"] == resent

    with hub_store.session() as s:
        rows = s.execute(
            select(Reading.reading_id, Reading.device_id, Reading.effective_s).order_by(Reading.id)
        ).all()
        hub_alerts = set(s.scalars(select(Alert.rule_id)))
    ids = [r.reading_id for r in rows]
    assert len(ids) == len(set(ids))  # 0 duplicated
    assert set(ids) == set(unique)  # 0 lost
    assert hub.hub_duplicates > 0  # resends after lost acks and the crash were dropped there
    by_device: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        by_device[r.device_id].append(r.effective_s)
    for dev, times in by_device.items():
        assert times == sorted(times), f"{dev} arrived out of order"
    assert {"glucose.hypo_l2", "bp.severe", "temp.low"} <= hub_alerts
