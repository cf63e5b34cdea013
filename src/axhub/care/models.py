"""Tables of the care operational store (SQLAlchemy 2 typed ORM).

Every time is stored in UTC (``UTCDateTime``); person ids are the pseudonymous regional ids
of the integrated zone, never names or MRNs.  The schema is created and changed only by the
Alembic migrations in ``migrations/``; these classes are the one description of it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

#: one integer id type: BIGINT on PostgreSQL, INTEGER (rowid alias) on SQLite
IdType = BigInteger().with_variant(Integer(), "sqlite")
#: JSON on SQLite, JSONB on PostgreSQL
JsonType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite keeps naive UTC text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the care store: times must carry a zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JsonType,
    }


class Enrolment(Base):
    """One person enrolled in home monitoring by a care team."""

    __tablename__ = "enrolments"

    person_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    care_team: Mapped[str] = mapped_column(String(64), index=True)
    conditions: Mapped[list[str]] = mapped_column(JsonType, default=list)
    thresholds: Mapped[dict[str, float]] = mapped_column(JsonType, default=dict)
    schedule: Mapped[dict[str, int]] = mapped_column(JsonType, default=dict)
    timezone: Mapped[str] = mapped_column(String(40), default="Asia/Seoul")
    language: Mapped[str] = mapped_column(String(8), default="ko")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    enrolled_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ThresholdChange(Base):
    """Provenance of every personal threshold change (who, when, why)."""

    __tablename__ = "threshold_changes"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("enrolments.person_id"), index=True)
    key: Mapped[str] = mapped_column(String(40))
    old_value: Mapped[float | None] = mapped_column(Float)
    new_value: Mapped[float | None] = mapped_column(Float)
    changed_by: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, default="")
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Reading(Base):
    """One device reading, kept as sent and normalised; implausible ones are flagged, kept."""

    __tablename__ = "readings"
    __table_args__ = (Index("ix_readings_person_kind_time", "person_id", "kind", "effective_s"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    reading_id: Mapped[str] = mapped_column(String(200), unique=True)
    person_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(24))
    value: Mapped[float] = mapped_column(Float)
    value2: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(24))
    norm_value: Mapped[float] = mapped_column(Float)
    norm_value2: Mapped[float | None] = mapped_column(Float)
    norm_unit: Mapped[str] = mapped_column(String(16))
    effective_at: Mapped[datetime] = mapped_column()
    #: effective time as UTC epoch seconds: portable range queries and NumPy windows
    effective_s: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(index=True)
    source: Mapped[str] = mapped_column(String(16))
    device_id: Mapped[str | None] = mapped_column(String(120))
    implausible: Mapped[bool] = mapped_column(Boolean, default=False)
    flags: Mapped[list[str]] = mapped_column(JsonType, default=list)
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: SpO2 taken on supplemental oxygen (NEWS2 "air or oxygen"), from the context
    on_oxygen: Mapped[bool] = mapped_column(Boolean, default=False)
    content_hash: Mapped[str] = mapped_column(String(64))


class QuarantinedMessage(Base):
    """A device message that could not be stored as a reading, with the reason (nothing lost)."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    source: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    field: Mapped[str | None] = mapped_column(String(200))
    reading_id: Mapped[str | None] = mapped_column(String(200))
    raw: Mapped[str] = mapped_column(Text)


class Alert(Base):
    """One alert per (person, rule) while not resolved; re-firing updates it (de-duplication)."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index(
            "uq_alerts_open_dedup",
            "dedup_key",
            unique=True,
            sqlite_where=text("status != 'resolved'"),
            postgresql_where=text("status != 'resolved'"),
        ),
        Index("ix_alerts_team_status", "care_team", "status"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(String(64), index=True)
    care_team: Mapped[str] = mapped_column(String(64))
    rule_id: Mapped[str] = mapped_column(String(48))
    rule_version: Mapped[int] = mapped_column(Integer, default=1)
    severity: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(16), default="open")
    dedup_key: Mapped[str] = mapped_column(String(160))
    snoozed_until: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_fired_at: Mapped[datetime] = mapped_column(default=utcnow)
    fire_count: Mapped[int] = mapped_column(Integer, default=1)
    first_effective_at: Mapped[datetime | None] = mapped_column()
    last_effective_at: Mapped[datetime | None] = mapped_column()
    reading_ids: Mapped[list[str]] = mapped_column(JsonType, default=list)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source: Mapped[str] = mapped_column(Text, default="")
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    acknowledged_at: Mapped[datetime | None] = mapped_column()
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None] = mapped_column()


class AlertEvent(Base):
    """Alert life-cycle trail: created, refired, escalated, acknowledged, snoozed, resolved."""

    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    event: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(64), default="system")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Task(Base):
    """Work for a care worker or nurse, with a due window (CHT-style) and a resolution."""

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(String(64), index=True)
    care_team: Mapped[str] = mapped_column(String(64), index=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(Text)
    priority: Mapped[str] = mapped_column(String(12), default="medium")
    status: Mapped[str] = mapped_column(String(16), default="open")
    assignee: Mapped[str | None] = mapped_column(String(64))
    due_at: Mapped[datetime | None] = mapped_column()
    window_start: Mapped[datetime | None] = mapped_column()
    window_end: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column()
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class CarePlan(Base):
    """A person's care plan: goals (targets) and activities (measurement schedule, visits)."""

    __tablename__ = "care_plans"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("enrolments.person_id"), index=True)
    title: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="active")
    goals: Mapped[dict[str, Any]] = mapped_column(default=dict)
    activities: Mapped[dict[str, Any]] = mapped_column(default=dict)
    author: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Message(Base):
    """A message to or from a person (or family carer), in the person's language."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(String(64), index=True)
    direction: Mapped[str] = mapped_column(String(4))  # out | in
    channel: Mapped[str] = mapped_column(String(16), default="app")
    language: Mapped[str] = mapped_column(String(8), default="ko")
    body: Mapped[str] = mapped_column(Text)
    template_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()


class AgentRun(Base):
    """One observe → decide → act run of an agent, with its inputs, rationale and tool calls."""

    __tablename__ = "agent_runs"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    agent: Mapped[str] = mapped_column(String(40))
    person_id: Mapped[str | None] = mapped_column(String(64), index=True)
    trigger: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16), default="running")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    inputs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    rationale: Mapped[str] = mapped_column(Text, default="")
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    outcome: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Approval(Base):
    """A proposed clinical action waiting for a clinician (never autonomous); survives restarts."""

    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    agent_run_id: Mapped[int | None] = mapped_column(ForeignKey("agent_runs.id"))
    person_id: Mapped[str] = mapped_column(String(64), index=True)
    action_class: Mapped[str] = mapped_column(String(24))
    action: Mapped[dict[str, Any]] = mapped_column(default=dict)
    rationale: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column()
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decision_reason: Mapped[str | None] = mapped_column(Text)
