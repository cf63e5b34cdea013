"""The home gateway: take device readings, keep them, check them locally, forward them.

``Gateway.receive`` parses a device message with the hub's own parser
(:mod:`axhub.care.messages`) and unit normaliser (:mod:`axhub.care.units`), stores each
reading in the SQLite buffer (:mod:`axhub.edge.buffer`; a re-sent reading is a no-op), runs
the local safety rules (:mod:`axhub.edge.rules`) and, when an enrolment names a model file,
the ONNX scorer (:mod:`axhub.edge.scorer`).  Urgent findings become a local alert with a
Korean and English message for the person at home, with the hub reachable or not.

``Gateway.forward`` sends pending readings in arrival order, in batches, and marks them sent
only after the hub acknowledged them; a failure stops the walk (nothing overtakes an unsent
reading) and schedules the next try with exponential backoff and jitter (decision 0133).

Nothing here imports SQLAlchemy, pyarrow or DuckDB: the gateway runs on a small home box
with the standard library, NumPy, orjson and (for models) onnxruntime.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import orjson

from axhub.care import units
from axhub.care.messages import ParsedReading, Rejected, bundle_observations, expand, raw_text
from axhub.care.thresholds import FIXED
from axhub.edge import rules
from axhub.edge.buffer import Buffer, NewReading
from axhub.edge.table import EDGE_RULES, LOCAL_SEVERITIES, local_message
from axhub.edge.transport import LinkDown, Transport
from axhub.errors import ConfigError, InputError

log = logging.getLogger(__name__)

#: clock-skew tolerance before an effective time counts as in the future (as the hub)
FUTURE_SKEW_S = 300


class Clock(Protocol):
    def __call__(self) -> float: ...


@dataclass(frozen=True)
class ModelConfig:
    """An exported ONNX model scored on the gateway for one enrolment."""

    path: Path
    #: base features that do not change with readings (age_years, sex flags, ...)
    static: Mapping[str, float] = field(default_factory=dict)
    #: reading kind -> base feature it updates (e.g. ``{"bp": "sbp_mmhg"}``)
    from_readings: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EdgeConfig:
    """Who the gateway serves: personal lines, conditions, time zone, optional model."""

    persons: Mapping[str, rules.LocalPerson] = field(default_factory=dict)
    models: Mapping[str, ModelConfig] = field(default_factory=dict)

    def person(self, person_id: str) -> rules.LocalPerson:
        return self.persons.get(person_id, rules.DEFAULT_PERSON)

    @classmethod
    def load(cls, path: str | Path) -> EdgeConfig:
        """Read the JSON configuration (see docs/edge.md); errors name the field path."""
        p = Path(path)
        try:
            data = orjson.loads(p.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read the edge configuration: {exc}", path=str(p)) from None
        return cls.from_dict(data, where=str(p))

    @classmethod
    def from_dict(cls, data: object, where: str = "config") -> EdgeConfig:
        if not isinstance(data, dict) or not isinstance(data.get("persons", {}), dict):
            raise InputError("configuration must be an object with 'persons'", file=where,
                             field="persons")  # fmt: skip
        persons: dict[str, rules.LocalPerson] = {}
        models: dict[str, ModelConfig] = {}
        for pid, spec in data.get("persons", {}).items():
            path = f"persons.{pid}"
            if not isinstance(spec, dict):
                raise InputError("person entry must be an object", file=where, field=path)
            try:
                persons[pid] = rules.LocalPerson.from_config(
                    spec.get("thresholds") or {},
                    list(spec.get("conditions") or []),
                    str(spec.get("timezone") or rules.DEFAULT_TIMEZONE),
                )
            except InputError as exc:
                raise InputError(exc.message, file=where,
                                 field=f"{path}.{exc.fields.get('field', '')}",
                                 reason=exc.fields.get("reason")) from None  # fmt: skip
            except (KeyError, ValueError) as exc:  # unknown time zone
                raise InputError(f"bad time zone: {exc}", file=where,
                                 field=f"{path}.timezone") from None  # fmt: skip
            model = spec.get("model")
            if model is not None:
                if not isinstance(model, dict) or not isinstance(model.get("path"), str):
                    raise InputError("model must be an object with a 'path'", file=where,
                                     field=f"{path}.model")  # fmt: skip
                models[pid] = ModelConfig(
                    Path(model["path"]),
                    {k: float(v) for k, v in (model.get("static") or {}).items()},
                    dict(model.get("from_readings") or {}),
                )
        return cls(persons, models)


@dataclass
class ReceiveResult:
    received: int = 0
    new: int = 0
    duplicates: int = 0
    quarantined: int = 0
    implausible: int = 0
    alerts: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"received": self.received, "new": self.new, "duplicates": self.duplicates,
                "quarantined": self.quarantined, "implausible": self.implausible,
                "alerts": self.alerts}  # fmt: skip


@dataclass
class ForwardResult:
    sent: int = 0
    duplicates_at_hub: int = 0
    rejected_by_hub: int = 0
    failures: int = 0
    next_try: float | None = None
    last_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def backoff_delay(attempts: int, rng: random.Random, base: float, cap: float) -> float:
    """Exponential backoff with "equal jitter": half the step fixed, half random."""
    step = min(cap, base * 2 ** max(0, attempts - 1))
    return step / 2 + rng.uniform(0, step / 2)


def _items(payload: object) -> list[object]:
    """One stored item per reading message: arrays split, Bundles split per Observation."""
    if isinstance(payload, list):
        return [x for p in payload for x in _items(p)]
    if isinstance(payload, dict) and payload.get("resourceType") == "Bundle":
        out: list[object] = [res for _, res in bundle_observations(payload)]
        return out or [payload]
    return [payload]


class Gateway:
    """Buffer, local rules, local scoring and forwarding; one per home."""

    def __init__(
        self,
        buffer: Buffer,
        transport: Transport | None,
        *,
        config: EdgeConfig | None = None,
        clock: Clock = time.time,
        rng: random.Random | None = None,
        batch_size: int = 50,
        backoff_base_s: float = 2.0,
        backoff_cap_s: float = 300.0,
        notify: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.buffer = buffer
        self.transport = transport
        self.config = config or EdgeConfig()
        self.clock = clock
        self.rng = rng or random.Random()
        self.batch_size = batch_size
        self.backoff = (backoff_base_s, backoff_cap_s)
        self.notify = notify
        self.link_up: bool | None = None
        self._lock = threading.Lock()
        self._scorers: dict[Path, Any] = {}
        for model in self.config.models.values():  # a bad model file fails at start, not later
            self._scorer(model)

    # --- from the devices -----------------------------------------------------------------
    def receive(self, message: bytes | str | dict[str, Any] | list[Any]) -> ReceiveResult:
        """Take one device message (reading JSON, array, Observation or Bundle)."""
        now = self.clock()
        res = ReceiveResult()
        try:
            payload = orjson.loads(message) if isinstance(message, bytes | str) else message
        except orjson.JSONDecodeError as exc:
            with self._lock:
                self.buffer.quarantine(f"invalid JSON: {exc}", None, None, raw_text(message), now)
            res.received, res.quarantined = 1, 1
            return res
        with self._lock:
            for item in _items(payload):
                res.received += 1
                self._receive_item(item, now, res)
        return res

    def _receive_item(self, item: object, now: float, res: ReceiveResult) -> None:
        raw = raw_text(item)
        try:
            parsed, bad = expand(item, 0)
            if bad or not parsed:
                raise bad[0] if bad else Rejected("no reading in the message", None)
        except Rejected as exc:
            self.buffer.quarantine(exc.reason, exc.field, exc.reading_id, raw, now)
            res.quarantined += 1
            return
        norm = units.normalise(
            [r.kind for r in parsed],
            [r.unit for r in parsed],
            np.array([r.value for r in parsed], dtype=np.float64),
            np.array([np.nan if r.value2 is None else r.value2 for r in parsed]),
        )
        ts = [int(r.effective_at.timestamp()) for r in parsed]
        bad_time = [t > now + FUTURE_SKEW_S for t in ts]
        implausible = [bool(norm.implausible[i]) or bad_time[i] for i in range(len(parsed))]
        head = parsed[0]
        v2 = float(norm.value2[0])
        outcome = self.buffer.add(
            NewReading(
                head.reading_id, head.person_id, head.kind, head.device_id, ts[0],
                float(norm.value[0]), None if np.isnan(v2) else v2, implausible[0],
                raw, hashlib.sha256(orjson.dumps(item, option=orjson.OPT_SORT_KEYS)).hexdigest(),
            ),
            now,
        )  # fmt: skip
        if outcome == "duplicate":
            res.duplicates += 1
            return
        if outcome == "conflict":
            self.buffer.quarantine("reading id reused with different content", "reading_id",
                                   head.reading_id, raw, now)  # fmt: skip
            res.quarantined += 1
            return
        res.new += 1
        res.implausible += int(any(implausible))
        for i, r in enumerate(parsed):
            if not implausible[i]:
                v2i = float(norm.value2[i])
                self._check(r, float(norm.value[i]), None if np.isnan(v2i) else v2i, ts[i],
                            now, res)  # fmt: skip

    def _check(
        self, r: ParsedReading, value: float, value2: float | None, t: int, now: float,
        res: ReceiveResult,
    ) -> None:  # fmt: skip
        person = self.config.person(r.person_id)
        symptoms = r.context.get("symptoms")
        local = rules.LocalReading(
            r.reading_id, r.person_id, r.kind, value, value2, t,
            bool(r.context.get("on_oxygen")),
            frozenset(str(s) for s in symptoms) if isinstance(symptoms, list) else frozenset(),
        )  # fmt: skip
        near = 1
        if r.kind == "bp" and rules.bp_severe(value, value2):
            near = self.buffer.severe_bp_near(
                r.person_id, t, int(FIXED["bp_confirm_minutes"].value * 60),
                FIXED["bp_severe_sys"].value, FIXED["bp_severe_dia"].value,
            )  # fmt: skip
        offline = self.link_up is not True
        for f in rules.evaluate(local, person, severe_bp_in_window=near):
            if f.severity not in LOCAL_SEVERITIES and f.rule_id != "bp.severe_unconfirmed":
                continue  # warnings and info wait for the hub
            msg = local_message(f.rule_id, f.severity, offline=offline)
            if self.buffer.add_alert(f.reading_id, f.person_id, f.rule_id, f.severity, msg,
                                     offline, now):  # fmt: skip
                alert = {
                    "reading_id": f.reading_id,
                    "person_id": f.person_id,
                    "rule_id": f.rule_id,
                    "severity": f.severity,
                    "title_en": EDGE_RULES[f.rule_id].title_en,
                    "message_en": msg[0],
                    "message_ko": msg[1],
                    "offline": offline,
                }
                res.alerts.append(alert)
                log.warning("edge: local alert %s (%s)", f.rule_id, f.severity)
                if self.notify is not None:
                    self.notify(alert)
        self._score(r.person_id, r.reading_id, r.kind, value, now)

    def _score(self, person_id: str, reading_id: str, kind: str, value: float, now: float) -> None:
        model = self.config.models.get(person_id)
        if model is None or kind not in model.from_readings:
            return
        scorer = self._scorer(model)
        values = {**model.static, model.from_readings[kind]: value}
        p = float(scorer.predict(values)[0])
        self.buffer.add_scores([(reading_id, scorer.model_id or model.path.stem, p)], now)

    def _scorer(self, model: ModelConfig) -> Any:
        scorer = self._scorers.get(model.path)
        if scorer is None:
            from axhub.edge.scorer import EdgeScorer

            try:
                scorer = self._scorers[model.path] = EdgeScorer(model.path)
            except Exception as exc:  # onnxruntime raises its own error types
                raise ConfigError(f"cannot load the model: {exc}", path=str(model.path)) from None
        return scorer

    # --- to the hub -----------------------------------------------------------------------
    def forward(self) -> ForwardResult:
        """Send what is due, in order, until nothing is due or the link fails."""
        res = ForwardResult()
        if self.transport is None:
            raise ConfigError("no hub configured for forwarding")
        while True:
            with self._lock:
                batch = self.buffer.pending(self.batch_size)
            if not batch:
                return res
            now = self.clock()
            if batch[0].next_try > now:
                res.next_try = batch[0].next_try
                return res
            error: str | None = None
            try:
                outcomes = self.transport.send([(p.device_id, p.payload) for p in batch])
            except LinkDown as exc:
                outcomes, error = exc.acked, exc.reason
            if error is None and len(outcomes) != len(batch):
                outcomes = outcomes[: len(batch)]
                error = f"the hub answered for {len(outcomes)} of {len(batch)} readings"
            now = self.clock()
            done = batch[: len(outcomes)]
            sent = [
                p.seq for p, o in zip(done, outcomes, strict=True) if o in ("stored", "duplicate")
            ]
            rejected = [
                (p.seq, o.removeprefix("rejected: "))
                for p, o in zip(done, outcomes, strict=True)
                if o.startswith("rejected")
            ]
            with self._lock:
                self.buffer.mark_sent(sent, now)
                self.buffer.mark_rejected(rejected, now)
                res.sent += len(sent)
                res.duplicates_at_hub += outcomes.count("duplicate")
                res.rejected_by_hub += len(rejected)
                if error is None:
                    self.link_up = True
                    continue
                rest = batch[len(outcomes) :]
                delay = backoff_delay(rest[0].attempts + 1, self.rng, *self.backoff)
                self.buffer.mark_failed([p.seq for p in rest], now + delay, error)
            self.link_up = False
            res.failures += 1
            res.next_try, res.last_error = now + delay, error
            log.info("edge: hub not reachable, next try in %.0f s", delay)
            return res

    def run(self, stop: threading.Event, *, poll_s: float = 5.0) -> None:
        """Forward until ``stop`` is set, sleeping until the next try is due."""
        while not stop.is_set():
            try:
                res = self.forward()
            except Exception:  # a transport bug must not stop the home gateway: log, retry
                log.exception("edge: forwarding failed; retrying in %.0f s", poll_s)
                stop.wait(poll_s)
                continue
            wait = poll_s if res.next_try is None else min(poll_s, res.next_try - self.clock())
            stop.wait(max(0.05, wait))

    def status(self) -> dict[str, Any]:
        with self._lock:
            out = self.buffer.status()
        out["link_up"] = self.link_up
        return out
