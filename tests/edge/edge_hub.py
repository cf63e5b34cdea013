"""An in-process hub for the gateway tests: the real care store behind a link we can cut.

``mode`` is ``down`` (connection refused), ``flaky`` (the hub stores the batch, then the
acknowledgement is lost on the way back), or ``up``.  ``crash_next`` makes the next send
store the batch and then kill the gateway (an exception that is not a link error), as a
power cut between the hub's commit and the gateway's "sent" mark would.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import orjson

from axhub.care.intake import ingest_messages
from axhub.care.store import CareStore
from axhub.edge.transport import LinkDown


class Crash(BaseException):
    """The gateway process dies (not an error the gateway handles)."""


class InProcessHub:
    def __init__(self, store: CareStore, clock: Callable[[], float], seed: int = 5) -> None:
        self.store = store
        self.clock = clock
        self.mode = "down"
        self.crash_next = False
        self.rng = random.Random(seed)
        self.refused = 0
        self.acks_lost = 0
        self.crashes = 0
        self.hub_duplicates = 0
        self.batches = 0

    def send(self, payloads: Sequence[tuple[str | None, str]]) -> list[str]:
        if self.mode == "down":
            self.refused += 1
            raise LinkDown("connection refused")
        now = datetime.fromtimestamp(self.clock(), UTC)
        res = ingest_messages(self.store, [body for _, body in payloads], source="edge", now=now)
        self.batches += 1
        self.hub_duplicates += res.duplicates
        bad = {p["message"]: p["reason"] for p in res.problems}
        new = set(res.new_reading_ids)
        out = []
        for i, (_, body) in enumerate(payloads):
            rid = orjson.loads(body).get("reading_id")
            out.append(
                f"rejected: {bad[i]}" if i in bad else "stored" if rid in new else "duplicate"
            )
        if self.crash_next:
            self.crash_next = False
            self.crashes += 1
            raise Crash("power cut after the hub committed")
        if self.mode == "flaky" and self.rng.random() < 0.6:
            self.acks_lost += 1
            keep = self.rng.randrange(len(out))  # part of the batch was acknowledged
            raise LinkDown("connection reset before the acknowledgement", out[:keep])
        return out

    def close(self) -> None:
        return None
