"""Retry timing: exponential backoff with equal jitter, nothing sent before it is due, the
retry state survives a restart."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path

from axhub.edge.buffer import Buffer
from axhub.edge.gateway import Gateway, backoff_delay
from axhub.edge.transport import LinkDown


def test_backoff_doubles_within_jitter_bounds_up_to_the_cap() -> None:
    rng = random.Random(1)
    for attempts in range(1, 12):
        step = min(300.0, 2.0 * 2 ** (attempts - 1))
        got = [backoff_delay(attempts, rng, 2.0, 300.0) for _ in range(200)]
        assert step / 2 <= min(got) and max(got) <= step
        assert max(got) - min(got) > step / 4  # spread: homes do not retry in step


class Counting:
    def __init__(self) -> None:
        self.up = False
        self.calls = 0

    def send(self, payloads: Sequence[tuple[str | None, str]]) -> list[str]:
        self.calls += 1
        if not self.up:
            raise LinkDown("connection refused")
        return ["stored"] * len(payloads)

    def close(self) -> None:
        return None


def test_no_send_before_the_next_try_and_state_survives_restart(tmp_path: Path) -> None:
    t = [1000.0]
    link = Counting()
    path = tmp_path / "e.sqlite"
    gw = Gateway(Buffer(path), link, clock=lambda: t[0], rng=random.Random(2))
    gw.receive(json.dumps({"reading_id": "a", "person_id": "p", "kind": "weight", "value": 70,
                           "effective_at": "1970-01-01T09:10:00+09:00"}))  # fmt: skip
    tries = []
    for _ in range(6):
        res = gw.forward()
        assert res.failures == 1 and res.next_try is not None
        tries.append(res.next_try - t[0])
        t[0] = res.next_try - 0.01
        assert gw.forward().failures == 0 and link.calls == len(tries)  # not yet due
        t[0] = res.next_try
    for i, delay in enumerate(tries):  # 2 s base, doubling (default options)
        assert 2.0 * 2**i / 2 <= delay <= 2.0 * 2**i
    assert gw.status()["attempts"] == 6
    gw.buffer.close()
    gw = Gateway(Buffer(path), link, clock=lambda: t[0] - 0.01, rng=random.Random(2))
    assert gw.forward().sent == 0 and link.calls == 6  # restart keeps the wait
    link.up = True
    gw.clock = lambda: t[0]
    assert gw.forward().sent == 1 and gw.status()["pending"] == 0


class Short(Counting):
    def send(self, payloads: Sequence[tuple[str | None, str]]) -> list[str]:
        self.calls += 1
        return ["stored"] * (len(payloads) - 1)  # never answers for the last one


def test_a_short_answer_is_a_failure_not_a_busy_loop(tmp_path: Path) -> None:
    link = Short()
    gw = Gateway(Buffer(tmp_path / "e.sqlite"), link, clock=lambda: 5.0)
    for i in range(3):
        msg = {"reading_id": f"r{i}", "person_id": "p", "kind": "weight", "value": 70}
        gw.receive(json.dumps({**msg, "effective_at": "1970-01-01T09:00:00+09:00"}))
    res = gw.forward()
    assert res.sent == 2 and res.failures == 1 and link.calls == 1
    assert "2 of 3" in (res.last_error or "") and gw.status()["pending"] == 1


def test_the_buffer_is_wal_and_fsyncs_every_commit_by_default(tmp_path: Path) -> None:
    b = Buffer(tmp_path / "e.sqlite")
    assert b.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert b.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    b.close()
