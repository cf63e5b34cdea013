"""Care load bench: readings/s through MQTT -> store -> monitoring, against the broker ceiling.

Target (issue 7 §8): 1,000 readings/s for 60 s, 0 lost, p99 reading-to-alert latency under
500 ms on 2 cores.  The peer figures printed beside it are the broker's own rate on the same
machine: a paho publisher -> paho subscriber loop at QoS 1 with no processing (the Python
client's ceiling) and Debian's mosquitto_pub -> mosquitto_sub C clients (the broker's).

    .venv/bin/python bench/bench_care_load.py            # 1,000/s for 60 s (SQLite store)
    .venv/bin/python bench/bench_care_load.py --quick    # 5 s smoke run
    .venv/bin/python bench/bench_care_load.py --pg       # store on PostgreSQL 127.0.0.1:5432

The publisher runs in its own process and stamps each reading with its send time (wall
clock); latency = time the batch holding the reading committed with its alert - send time.
Load shape: 20,000 enrolled people, six kinds of reading, 5 % abnormal values, effective
times spread over the last 3 days (a burst of forwarded readings).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import func, select

from axhub.care.intake import IntakeResult
from axhub.care.models import Enrolment, Reading
from axhub.care.mqtt import MqttIntake
from axhub.care.store import CareStore

HOST, PORT = "127.0.0.1", 1883
KINDS = ("glucose", "bp", "spo2", "weight", "heart_rate", "temperature")
#: effective times spread over the last 3 days: 1,000/s is a burst (gateways forwarding what
#: they buffered, a region's morning measurements), not one person measuring every second
SPREAD_S = 3 * 86_400


def _reading(i: int, persons: int, rng: np.random.Generator, sent: float) -> dict:
    kind = KINDS[i % len(KINDS)]
    abnormal = rng.random() < 0.05
    at = datetime.now(UTC) - timedelta(seconds=int(rng.integers(0, SPREAD_S)))
    value2 = None
    if kind == "glucose":
        value = float(rng.choice([50, 260]) if abnormal else rng.integers(80, 170))
    elif kind == "bp":
        value, value2 = (185.0, 100.0) if abnormal else (float(rng.integers(105, 134)), 78.0)
    elif kind == "spo2":
        value = 91.0 if abnormal else float(rng.integers(95, 99))
    elif kind == "weight":
        value = float(np.round(rng.normal(65, 8), 1))
    elif kind == "heart_rate":
        value = 135.0 if abnormal else float(rng.integers(55, 90))
    else:
        value = 39.4 if abnormal else float(np.round(rng.normal(36.6, 0.2), 1))
    msg = {
        "reading_id": f"bench/{i}",
        "person_id": f"b-{i % persons}",
        "kind": kind,
        "value": value,
        "effective_at": at.isoformat(),
        "context": {"bench_sent": sent},
    }
    if value2 is not None:
        msg["value2"] = value2
    return msg


def _publisher(topic: str, rate: int, seconds: float, persons: int, out: mp.Queue) -> None:
    """Paced QoS 1 publisher (own process): ``rate`` readings/s in 10 ms ticks."""
    rng = np.random.default_rng(20261126)
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.connect(HOST, PORT)
    c.loop_start()
    total = int(rate * seconds)
    infos = []
    t0 = time.monotonic()
    i = 0
    while i < total:
        due = min(total, int((time.monotonic() - t0) * rate) + 1)
        while i < due:
            payload = orjson.dumps(_reading(i, persons, rng, time.time()))
            infos.append(c.publish(topic, payload, qos=1))
            i += 1
        time.sleep(0.01)
    for info in infos:
        info.wait_for_publish(timeout=60)
    elapsed = time.monotonic() - t0
    c.disconnect()
    c.loop_stop()
    out.put((sum(1 for x in infos if x.is_published()), elapsed))


def broker_ceiling(n: int) -> float:
    """Messages/s of a paho publisher -> subscriber loop at QoS 1, no processing."""
    topic = f"axhub/bench/ceiling/{uuid.uuid4().hex[:8]}"
    got = 0
    done = threading.Event()

    def on_message(*_a: object) -> None:
        nonlocal got
        got += 1
        if got >= n:
            done.set()

    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    sub.on_message = on_message
    props = Properties(PacketTypes.CONNECT)
    props.ReceiveMaximum = 65535
    sub.connect(HOST, PORT, properties=props)
    sub.subscribe(topic, qos=1)
    sub.loop_start()
    time.sleep(0.3)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    pub.max_inflight_messages_set(1000)
    pub.max_queued_messages_set(0)
    pub.connect(HOST, PORT)
    pub.loop_start()
    payload = orjson.dumps(_reading(0, 1, np.random.default_rng(0), 0.0))
    t0 = time.monotonic()
    for _ in range(n):
        pub.publish(topic, payload, qos=1)
    done.wait(120)
    rate = got / (time.monotonic() - t0)
    for c in (pub, sub):
        c.disconnect()
        c.loop_stop()
    return rate


def mosquitto_ceiling(n: int) -> float | None:
    """Messages/s of Debian's C clients (mosquitto_pub -l -> mosquitto_sub -C), QoS 1."""
    if not (shutil.which("mosquitto_pub") and shutil.which("mosquitto_sub")):
        return None
    topic = f"axhub/bench/c/{uuid.uuid4().hex[:8]}"
    payload = orjson.dumps(_reading(0, 1, np.random.default_rng(0), 0.0))
    lines = b"\n".join([payload] * n) + b"\n"
    sub = subprocess.Popen(
        [
            "mosquitto_sub",
            "-h",
            HOST,
            "-p",
            str(PORT),
            "-t",
            topic,
            "-q",
            "1",
            "-C",
            str(n),
            "-V",
            "mqttv5",
            "-D",
            "CONNECT",
            "receive-maximum",
            "65535",
        ],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    t0 = time.monotonic()
    subprocess.run(["mosquitto_pub", "-h", HOST, "-p", str(PORT), "-t", topic, "-q", "1", "-l",
                    "-V", "mqttv5"],
                   input=lines, check=True, timeout=120)  # fmt: skip
    try:
        sub.wait(timeout=120)
    except subprocess.TimeoutExpired:
        sub.kill()
        return None
    return n / (time.monotonic() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=int, default=1000, help="readings per second")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--persons", type=int, default=20_000)
    ap.add_argument("--quick", action="store_true", help="5-second smoke run")
    ap.add_argument("--pg", action="store_true", help="store on PostgreSQL (creates a temp db)")
    args = ap.parse_args()
    seconds = 5.0 if args.quick else args.seconds
    total = int(args.rate * seconds)

    ceiling = broker_ceiling(min(total, 20_000))
    c_ceiling = mosquitto_ceiling(min(total, 20_000))

    tmp = Path(tempfile.mkdtemp(prefix="care-bench-"))
    pg_name = None
    if args.pg:
        import pg8000.native

        pg_name = f"axhub_care_bench_{uuid.uuid4().hex[:8]}"
        admin = pg8000.native.Connection("postgres", host=HOST, database="test")
        admin.run(f"CREATE DATABASE {pg_name}")
        url = f"postgresql+pg8000://postgres@{HOST}:5432/{pg_name}"
    else:
        url = f"sqlite:///{tmp / 'care.sqlite'}"
    store = CareStore.from_url(url)
    with store.session() as s:  # bulk enrolment (store.enrol validates one by one)
        s.add_all(
            Enrolment(person_id=f"b-{p}", care_team=f"team-{p % 10}",
                      conditions=["hf"] if p % 5 else [], thresholds={}, schedule={})
            for p in range(args.persons)
        )  # fmt: skip

    alert_lat: list[float] = []
    store_lat: list[float] = []
    sent_of: dict[str, float] = {}

    def on_result(res: IntakeResult, payloads: list[bytes]) -> None:
        now = time.time()
        # send times travel in the payload context
        for p in payloads:
            msg = orjson.loads(p)
            sent_of[msg["reading_id"]] = msg["context"]["bench_sent"]
        for rid in res.new_reading_ids:
            store_lat.append(now - sent_of[rid])
        # reading-to-alert: readings of this batch that raised or refired an alert here
        # (a later re-evaluation of an older reading is caused by the newer one, not it)
        fresh = set(res.new_reading_ids)
        for ch in res.alerts:
            for rid in ch.reading_ids:
                if rid in fresh:
                    alert_lat.append(now - sent_of[rid])

    topic = f"axhub/bench/care/{uuid.uuid4().hex[:8]}"
    client_id = f"axhub-bench-{uuid.uuid4().hex[:8]}"
    intake = MqttIntake(store, topic=topic + "/#", client_id=client_id, session_expiry_s=300,
                        batch_max=1000, batch_wait_s=0.05, on_result=on_result)  # fmt: skip
    intake.start()
    cpu0 = time.process_time()  # this process: MQTT client thread + store + rules
    q: mp.Queue = mp.Queue()
    proc = mp.Process(target=_publisher, args=(topic + "/dev", args.rate, seconds, args.persons, q))
    t0 = time.monotonic()
    proc.start()
    published, pub_seconds = q.get(timeout=seconds + 120)
    proc.join()
    deadline = time.monotonic() + 60
    while intake.stats.messages < published and time.monotonic() < deadline:
        time.sleep(0.05)
    wall = time.monotonic() - t0
    cpu = time.process_time() - cpu0
    intake.stop()
    with store.session() as s:
        rows = s.scalar(select(func.count()).select_from(Reading)) or 0
        distinct = s.scalar(select(func.count(func.distinct(Reading.reading_id)))) or 0
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    c.connect(HOST, PORT, clean_start=True)
    c.disconnect()
    store.close()
    if pg_name:
        admin.run(f"DROP DATABASE IF EXISTS {pg_name}")

    def pct(xs: list[float], q_: float) -> str:
        return f"{np.percentile(xs, q_) * 1000:.0f} ms" if xs else "n/a"

    bs = intake.stats.batch_seconds
    print(
        f"care load bench  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  "
        f"{platform.node()}  cores={os.cpu_count()}  store={'postgresql' if args.pg else 'sqlite'}"
    )
    load = os.getloadavg()
    print(
        f"  machine load   {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (1/5/15 min, 2 cores shared)"
    )
    print(
        f"  offered        {args.rate}/s for {seconds:g} s = {total} readings "
        f"({published} acknowledged by the broker in {pub_seconds:.1f} s)"
    )
    print(
        f"  stored         {rows} rows, {distinct} distinct reading ids  "
        f"lost={published - distinct}  doubled={rows - distinct}"
    )
    print(
        f"  throughput     {intake.stats.messages / wall:.0f} readings/s end to end "
        f"(wall {wall:.1f} s, {intake.stats.batches} batches, "
        f"median batch {np.median(bs) * 1000:.0f} ms, max {max(bs) * 1000:.0f} ms, "
        f"store+rules busy {sum(bs) / wall:.0%} of the wall time)"
    )
    per = cpu / max(intake.stats.messages, 1)
    print(
        f"  intake CPU     {cpu:.1f} s for {intake.stats.messages} readings = {per * 1000:.2f} ms "
        f"per reading (MQTT client + store + rules): ~{1 / per:.0f} readings/s per free core"
    )
    print(f"  alerts         {intake.stats.alerts} alert changes from {len(alert_lat)} readings")
    print(
        f"  reading->alert p50 {pct(alert_lat, 50)}  p99 {pct(alert_lat, 99)}  "
        f"(target p99 < 500 ms)"
    )
    print(f"  reading->store p50 {pct(store_lat, 50)}  p99 {pct(store_lat, 99)}")
    print(f"  peer: broker ceiling (paho pub->sub, QoS 1, no processing) {ceiling:.0f} msg/s")
    if c_ceiling is not None:
        print(f"  peer: broker ceiling (mosquitto_pub -> mosquitto_sub, C clients, QoS 1) "
              f"{c_ceiling:.0f} msg/s")  # fmt: skip


if __name__ == "__main__":
    main()
