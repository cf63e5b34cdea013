"""Column frames of readings and the window queries the rules run on them (NumPy).

A ``Frame`` holds readings as arrays; ``History`` sorts one kind's history by a composite
(person, time) key so that every window of every reading in a batch is answered at once with
``np.searchsorted``, prefix sums and ``np.minimum.reduceat`` (decision 0087).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]
Obj = npt.NDArray[np.object_]

DAY = 86_400
_SPAN = 1 << 34  # seconds per person block in the composite sort key (~544 years)


@dataclass
class Frame:
    """Column arrays of readings; ``t`` is UTC epoch seconds."""

    person: Obj
    kind: Obj
    t: I64
    v: F64
    v2: F64
    on_oxygen: B
    rid: Obj = field(default_factory=lambda: np.empty(0, dtype=object))
    symptoms: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    pcode: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.t)

    def take(self, m: B | I64) -> Frame:
        idx = np.flatnonzero(m) if m.dtype == np.bool_ else m
        return Frame(
            self.person[idx],
            self.kind[idx],
            self.t[idx],
            self.v[idx],
            self.v2[idx],
            self.on_oxygen[idx],
            self.rid[idx] if len(self.rid) else self.rid,
            self.symptoms[idx] if len(self.symptoms) else self.symptoms,
            self.pcode[idx] if len(self.pcode) else self.pcode,
        )


@dataclass(frozen=True)
class Person:
    thresholds: Mapping[str, float]
    conditions: frozenset[str]
    timezone: str


@dataclass
class Firing:
    person_id: str
    rule_id: str
    severity: str
    reading_id: str | None
    effective_t: int | None
    detail: dict[str, Any]
    qualifier: str = ""

    @property
    def dedup_key(self) -> str:
        base = f"{self.person_id}|{self.rule_id}"
        return f"{base}|{self.qualifier}" if self.qualifier else base


class Emitter:
    def __init__(self, targets: Frame) -> None:
        self.targets = targets
        self.out: list[Firing] = []

    def emit(
        self,
        mask: B,
        rule_id: str,
        severity: str | Obj,
        detail: Callable[[int], dict[str, Any]] | None = None,
    ) -> None:
        tg = self.targets
        for i in np.flatnonzero(mask):
            sev = severity if isinstance(severity, str) else str(severity[i])
            d: dict[str, Any] = {"value": num(tg.v[i])}
            if not np.isnan(tg.v2[i]):
                d["value2"] = num(tg.v2[i])
            if detail is not None:
                d.update(detail(int(i)))
            self.out.append(
                Firing(str(tg.person[i]), rule_id, sev, str(tg.rid[i]), int(tg.t[i]), d)
            )


def num(x: float) -> float | None:
    return None if np.isnan(x) else round(float(x), 3)


def column(people: Mapping[str, Person], persons: Obj, key: str) -> F64:
    """One threshold as a column aligned with ``persons`` (a look-up per distinct person)."""
    uniq, inv = np.unique(persons.astype(str), return_inverse=True)
    vals = np.array([people[p].thresholds[key] for p in uniq], dtype=np.float64)
    return vals[inv] if len(uniq) else np.zeros(0)


def flag(people: Mapping[str, Person], persons: Obj, condition: str) -> B:
    uniq, inv = np.unique(persons.astype(str), return_inverse=True)
    vals = np.array([condition in people[p].conditions for p in uniq], dtype=bool)
    return vals[inv] if len(uniq) else np.zeros(0, dtype=bool)


def local_hour(people: Mapping[str, Person], persons: Obj, t: I64) -> I64:
    """Local hour of day per reading; loops over distinct time zones, not readings."""
    out = np.zeros(len(t), dtype=np.int64)
    if not len(t):
        return out
    uniq, inv = np.unique(persons.astype(str), return_inverse=True)
    tz_of = np.array([people[p].timezone for p in uniq.tolist()])[inv]
    for tz in set(tz_of.tolist()):
        m = tz_of == tz
        zone = ZoneInfo(tz)
        lo = datetime.fromtimestamp(int(t[m].min()), UTC).astimezone(zone).utcoffset()
        hi = datetime.fromtimestamp(int(t[m].max()), UTC).astimezone(zone).utcoffset()
        if lo == hi and lo is not None:
            out[m] = ((t[m] + int(lo.total_seconds())) % DAY) // 3600
        else:  # a DST change inside the batch: exact per-reading conversion
            out[m] = [datetime.fromtimestamp(int(x), UTC).astimezone(zone).hour for x in t[m]]
    return out


class History:
    """Plausible history of one kind, sorted by (person, time), for window queries."""

    def __init__(self, hist: Frame, kind: str, base: int) -> None:
        h = hist.take(hist.kind == kind)
        key = h.pcode * _SPAN + (h.t - base)
        order = np.argsort(key, kind="stable")
        self.key = key[order]
        self.v = h.v[order]
        self.v2 = h.v2[order]
        self.on_oxygen = h.on_oxygen[order]
        self.base = base

    def keys(self, pcode: I64, t: I64) -> I64:
        return pcode * _SPAN + (t - self.base)

    def window(self, pcode: I64, t_lo: I64, t_hi: I64, right: bool) -> tuple[I64, I64]:
        """Index ranges [start, end) of readings in [t_lo, t_hi] (``right``) or [t_lo, t_hi)."""
        lo = np.searchsorted(self.key, self.keys(pcode, t_lo), side="left")
        hi = np.searchsorted(self.key, self.keys(pcode, t_hi), side="right" if right else "left")
        return lo.astype(np.int64), hi.astype(np.int64)

    def sums(self, vals: F64, start: I64, end: I64) -> F64:
        c = np.concatenate([[0.0], np.cumsum(np.nan_to_num(vals))])
        return c[end] - c[start]

    def mins(self, vals: F64, start: I64, end: I64) -> F64:
        """Minimum over each [start, end) (NaN where empty), by the reduceat interleave."""
        out = np.full(len(start), np.nan)
        ok = end > start
        if not ok.any() or not len(vals):
            return out
        padded = np.concatenate([vals, [np.inf]])
        idx = np.ravel(np.column_stack([start[ok], end[ok]]))
        out[ok] = np.minimum.reduceat(padded, idx)[::2]
        return out
