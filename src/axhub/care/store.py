"""The care operational store: opening (SQLite or PostgreSQL), migrating, enrolments.

``CareStore.open(settings)`` builds the engine from ``Settings.care_db_url`` (empty means
``<data_dir>/care.sqlite``) and runs ``alembic upgrade head`` on it before returning, so a
store is always at the current schema.  PostgreSQL is reached through pg8000 (BSD licence,
pure Python; decision record 0081).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alembic import command
from alembic.config import Config
from sqlalchemy import ColumnElement, Engine, Text, any_, bindparam, create_engine, event, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from axhub.care import thresholds
from axhub.care.models import Enrolment, ThresholdChange, utcnow
from axhub.config import Settings
from axhub.errors import ConfigError, InputError, NotFoundError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
HEAD_REVISION = "0001"


def database_url(settings: Settings) -> str:
    """The store URL: ``care_db_url`` or the SQLite file in the data folder."""
    if settings.care_db_url:
        return settings.care_db_url
    return f"sqlite:///{(settings.data_dir / 'care.sqlite').resolve()}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def migrate(engine: Engine) -> None:
    """Run ``alembic upgrade head`` on the engine (idempotent)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def one_of(s: Session, col: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """``col IN (values)``; on PostgreSQL ``col = ANY(array)`` so a long list is one parameter
    (pg8000 rewrites parameter markers in Python: a statement with thousands is slow)."""
    vals = list(values)
    if s.get_bind().dialect.name == "postgresql":
        return col == any_(bindparam(None, vals, type_=ARRAY(Text)))
    return col.in_(vals)


@dataclass(frozen=True)
class EnrolmentView:
    """An enrolment as callers see it (thresholds = defaults merged with personal values)."""

    person_id: str
    care_team: str
    conditions: tuple[str, ...]
    thresholds: dict[str, float]
    personal: dict[str, float]
    schedule: dict[str, int]
    timezone: str
    language: str
    active: bool


class CareStore:
    """Handle on one care database; thread-safe (one engine, a session per unit of work)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, settings: Settings) -> CareStore:
        return cls.from_url(database_url(settings))

    @classmethod
    def from_url(cls, url: str) -> CareStore:
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise ConfigError("care_db_url is not a database URL", reason=str(exc)) from None
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(parsed, connect_args={"check_same_thread": False})
            event.listen(engine, "connect", _sqlite_pragmas)
        elif parsed.get_backend_name() == "postgresql":
            engine = create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=5)
        else:
            raise ConfigError(
                "care store supports SQLite and PostgreSQL only",
                reason=f"backend {parsed.get_backend_name()!r}",
            )
        try:
            migrate(engine)
        except OperationalError as exc:
            raise ConfigError(
                "cannot open the care store", url=parsed.render_as_string(hide_password=True)
            ) from exc
        log.info("care store open on %s", engine.dialect.name)
        return cls(engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back on error."""
        with self._sessions() as s, s.begin():
            yield s

    def close(self) -> None:
        self.engine.dispose()

    # --- enrolments ---------------------------------------------------------------------------
    def enrol(
        self,
        person_id: str,
        *,
        care_team: str,
        conditions: Sequence[str] = (),
        thresholds_: dict[str, float] | None = None,
        schedule: dict[str, int] | None = None,
        timezone: str = "Asia/Seoul",
        language: str = "ko",
        by: str = "system",
    ) -> EnrolmentView:
        """Enrol (or re-activate) a person; personal thresholds are validated first."""
        conds = thresholds.validate_conditions(conditions)
        personal = thresholds.validate(thresholds_ or {}, conds)
        sched = thresholds.validate_schedule(schedule or {})
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InputError("unknown time zone", field="timezone", reason=timezone) from None
        if not person_id or len(person_id) > 64:
            raise InputError("person id must be 1-64 characters", field="person_id")
        now = utcnow()
        with self.session() as s:
            row = s.get(Enrolment, person_id)
            if row is None:
                row = Enrolment(person_id=person_id, enrolled_at=now)
                s.add(row)
            old = dict(row.thresholds or {})
            row.care_team = care_team
            row.conditions = list(conds)
            row.thresholds = personal
            row.schedule = sched
            row.timezone = timezone
            row.language = language
            row.active = True
            row.updated_at = now
            s.flush()
            self._record_changes(s, person_id, old, personal, by, "enrolment", now)
            return _view(row)

    def set_thresholds(
        self, person_id: str, changes: Mapping[str, float | None], *, by: str, reason: str = ""
    ) -> EnrolmentView:
        """Change personal thresholds (None removes one); refused outside the safety limits."""
        with self.session() as s:
            row = s.get(Enrolment, person_id)
            if row is None:
                raise NotFoundError("person is not enrolled", person_id=person_id)
            merged = dict(row.thresholds or {})
            for k, v in changes.items():
                if v is None:
                    merged.pop(k, None)
                else:
                    merged[k] = v
            personal = thresholds.validate(merged, tuple(row.conditions))
            old = dict(row.thresholds or {})
            row.thresholds = personal
            row.updated_at = utcnow()
            self._record_changes(s, person_id, old, personal, by, reason, row.updated_at)
            return _view(row)

    def set_conditions(self, person_id: str, conditions: Sequence[str], *, by: str) -> None:
        with self.session() as s:
            row = s.get(Enrolment, person_id)
            if row is None:
                raise NotFoundError("person is not enrolled", person_id=person_id)
            conds = thresholds.validate_conditions(conditions)
            thresholds.validate(dict(row.thresholds or {}), conds)
            row.conditions = list(conds)
            row.updated_at = utcnow()
            log.info("conditions of %s changed by %s", person_id, by)

    def withdraw(self, person_id: str, *, by: str) -> None:
        with self.session() as s:
            row = s.get(Enrolment, person_id)
            if row is None:
                raise NotFoundError("person is not enrolled", person_id=person_id)
            row.active = False
            row.updated_at = utcnow()
            log.info("enrolment %s withdrawn by %s", person_id, by)

    def enrolment(self, person_id: str) -> EnrolmentView:
        with self.session() as s:
            row = s.get(Enrolment, person_id)
            if row is None:
                raise NotFoundError("person is not enrolled", person_id=person_id)
            return _view(row)

    def enrolments(self, care_team: str | None = None) -> list[EnrolmentView]:
        with self.session() as s:
            q = select(Enrolment).where(Enrolment.active.is_(True))
            if care_team is not None:
                q = q.where(Enrolment.care_team == care_team)
            return [_view(r) for r in s.scalars(q.order_by(Enrolment.person_id))]

    def threshold_history(self, person_id: str) -> list[ThresholdChange]:
        with self.session() as s:
            q = (
                select(ThresholdChange)
                .where(ThresholdChange.person_id == person_id)
                .order_by(ThresholdChange.id)
            )
            return list(s.scalars(q))

    @staticmethod
    def _record_changes(
        s: Session,
        person_id: str,
        old: dict[str, float],
        new: dict[str, float],
        by: str,
        reason: str,
        at: datetime,
    ) -> None:
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                s.add(
                    ThresholdChange(
                        person_id=person_id,
                        key=key,
                        old_value=old.get(key),
                        new_value=new.get(key),
                        changed_by=by,
                        reason=reason,
                        changed_at=at,
                    )
                )


def _view(row: Enrolment) -> EnrolmentView:
    conds = tuple(row.conditions or ())
    personal = dict(row.thresholds or {})
    return EnrolmentView(
        person_id=row.person_id,
        care_team=row.care_team,
        conditions=conds,
        thresholds=thresholds.effective(personal, conds),
        personal=personal,
        schedule=dict(row.schedule or {}),
        timezone=row.timezone,
        language=row.language,
        active=row.active,
    )
