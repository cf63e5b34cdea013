"""Property: whatever mix of valid, duplicated, conflicting and broken messages arrives, in
whatever order and batching, every message is stored once, counted as a duplicate, or
quarantined - nothing lost, nothing doubled (SQLite; the backends share the code path but for
the insert, which test_intake runs on both)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from axhub.care.intake import ingest_messages, quarantine_count
from axhub.care.models import Reading
from axhub.care.store import CareStore

from .readings import reading

VALID = [reading("glucose", 60 + i, rid=f"v{i}", minutes=i) for i in range(12)]
CONFLICT = [{**VALID[i], "value": 300} for i in range(3)]  # same id, other content
BROKEN: list[object] = [b"{", reading("pulse", 1), reading("glucose", 90, person="nobody"), []]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    picks=st.lists(st.integers(0, len(VALID) + len(CONFLICT) + len(BROKEN) - 1), max_size=40),
    cuts=st.lists(st.integers(1, 8), max_size=10),
)
def test_nothing_lost_nothing_doubled(picks: list[int], cuts: list[int]) -> None:
    pool = [*VALID, *CONFLICT, *BROKEN]
    msgs = [m if isinstance(m, bytes) else orjson.dumps(m) for m in (pool[i] for i in picks)]
    with tempfile.TemporaryDirectory() as d:
        store = CareStore.from_url(f"sqlite:///{Path(d) / 'c.sqlite'}")
        store.enrol("p-1", care_team="t")
        totals = {"received": 0, "stored": 0, "duplicates": 0, "quarantined": 0}
        i, k = 0, 0
        while i < len(msgs):
            n = cuts[k % len(cuts)] if cuts else len(msgs)
            res = ingest_messages(store, msgs[i : i + n])
            for key in totals:
                totals[key] += getattr(res, key)
            i, k = i + n, k + 1
        with store.session() as s:
            rows = s.scalar(select(func.count()).select_from(Reading))
            ids = set(s.scalars(select(Reading.reading_id)))
        # an empty JSON array is a message with no reading in it
        assert totals["received"] == sum(1 for p in picks if pool[p] != [])
        assert totals["stored"] + totals["duplicates"] + totals["quarantined"] == totals["received"]
        assert (
            rows == len(ids) == totals["stored"]
            and quarantine_count(store) == totals["quarantined"]
        )
        first_seen = {}
        for p in picks:
            m = pool[p]
            if isinstance(m, dict) and m.get("person_id") == "p-1" and m["kind"] == "glucose":
                first_seen.setdefault(m["reading_id"], m)
        assert ids == set(first_seen)
        store.close()
