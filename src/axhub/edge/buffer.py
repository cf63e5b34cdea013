"""The gateway's local store: SQLite (WAL) buffer of readings, local alerts and scores.

Every reading is one row keyed by its reading id (``UNIQUE``): a device that re-sends a
reading changes nothing.  ``seq`` is the arrival order; forwarding walks pending rows in
``seq`` order and never overtakes an unsent one, so each device's readings reach the hub in
the order the gateway got them.  A row is ``pending`` until the hub acknowledges it, then
``sent`` (stored or a duplicate at the hub) or ``rejected`` (the hub quarantined it, with
the reason).  ``attempts`` and ``next_try`` carry the retry state across a restart.
Everything is committed before a call returns, so a power cut loses nothing acknowledged to
a device (``synchronous=FULL``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from axhub.errors import ConfigError

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    reading_id TEXT NOT NULL UNIQUE,
    person_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    device_id TEXT,
    effective_t INTEGER NOT NULL,
    value REAL,
    value2 REAL,
    implausible INTEGER NOT NULL DEFAULT 0,
    payload TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'rejected')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try REAL NOT NULL DEFAULT 0,
    received_at REAL NOT NULL,
    sent_at REAL,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS readings_status_seq ON readings (status, seq);
CREATE INDEX IF NOT EXISTS readings_person_kind_t ON readings (person_id, kind, effective_t);
CREATE TABLE IF NOT EXISTS local_alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    reading_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    severity TEXT NOT NULL,
    message_en TEXT NOT NULL,
    message_ko TEXT NOT NULL,
    offline INTEGER NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE (reading_id, rule_id)
);
CREATE TABLE IF NOT EXISTS scores (
    reading_id TEXT NOT NULL,
    model_id TEXT NOT NULL,
    probability REAL NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (reading_id, model_id)
);
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at REAL NOT NULL,
    reason TEXT NOT NULL,
    field TEXT,
    reading_id TEXT,
    raw TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Pending:
    seq: int
    reading_id: str
    device_id: str | None
    payload: str
    attempts: int
    next_try: float


@dataclass(frozen=True)
class NewReading:
    reading_id: str
    person_id: str
    kind: str
    device_id: str | None
    effective_t: int
    value: float
    value2: float | None
    implausible: bool
    payload: str
    content_hash: str


class Buffer:
    """One SQLite file; safe to reopen after a crash (WAL, every change committed)."""

    def __init__(self, path: str | Path, *, durable: bool = True) -> None:
        """``durable=False`` (tests only) skips the fsync per commit (``synchronous=NORMAL``):
        a process crash still loses nothing, a power cut may lose the last commits."""
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(
                self.path, isolation_level=None, timeout=30, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open the edge buffer: {exc}", path=str(path)) from exc
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        self.db.executescript(SCHEMA)
        self.db.execute(
            "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
        )

    def close(self) -> None:
        self.db.close()

    # --- intake ---------------------------------------------------------------------------
    def add(self, r: NewReading, now: float) -> str:
        """Store a reading: ``new``, ``duplicate`` (same id and content) or ``conflict``."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO readings (reading_id, person_id, kind, device_id, "
            "effective_t, value, value2, implausible, payload, content_hash, received_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (r.reading_id, r.person_id, r.kind, r.device_id, r.effective_t, r.value, r.value2,
             int(r.implausible), r.payload, r.content_hash, now),
        )  # fmt: skip
        if cur.rowcount == 1:
            return "new"
        (h,) = self.db.execute(
            "SELECT content_hash FROM readings WHERE reading_id = ?", (r.reading_id,)
        ).fetchone()
        if h == r.content_hash:
            self._bump("device_duplicates")
            return "duplicate"
        return "conflict"

    def quarantine(
        self, reason: str, field: str | None, reading_id: str | None, raw: str, now: float
    ) -> None:
        self.db.execute(
            "INSERT INTO quarantine (received_at, reason, field, reading_id, raw) "
            "VALUES (?, ?, ?, ?, ?)",
            (now, reason, field, reading_id, raw),
        )

    def severe_bp_near(self, person_id: str, t: int, window_s: int, sys_: float, dia: float) -> int:
        """Plausible BP readings of the person in [t - window, t + window] over the lines."""
        (n,) = self.db.execute(
            "SELECT count(*) FROM readings WHERE person_id = ? AND kind = 'bp' "
            "AND implausible = 0 AND effective_t BETWEEN ? AND ? "
            "AND (value > ? OR value2 > ?)",
            (person_id, t - window_s, t + window_s, sys_, dia),
        ).fetchone()
        return int(n)

    def add_alert(
        self,
        reading_id: str,
        person_id: str,
        rule_id: str,
        severity: str,
        message: tuple[str, str],
        offline: bool,
        now: float,
    ) -> bool:
        cur = self.db.execute(
            "INSERT OR IGNORE INTO local_alerts (reading_id, person_id, rule_id, severity, "
            "message_en, message_ko, offline, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (reading_id, person_id, rule_id, severity, message[0], message[1], int(offline), now),
        )
        return cur.rowcount == 1

    def add_scores(self, rows: Iterable[tuple[str, str, float]], now: float) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?)",
            [(rid, model, p, now) for rid, model, p in rows],
        )

    # --- forwarding -----------------------------------------------------------------------
    def pending(self, limit: int) -> list[Pending]:
        rows = self.db.execute(
            "SELECT seq, reading_id, device_id, payload, attempts, next_try FROM readings "
            "WHERE status = 'pending' ORDER BY seq LIMIT ?",
            (limit,),
        ).fetchall()
        return [Pending(*row) for row in rows]

    def mark_sent(self, seqs: Sequence[int], now: float) -> None:
        self.db.executemany(
            "UPDATE readings SET status = 'sent', sent_at = ?, last_error = NULL "
            "WHERE seq = ? AND status = 'pending'",
            [(now, s) for s in seqs],
        )

    def mark_rejected(self, rows: Sequence[tuple[int, str]], now: float) -> None:
        self.db.executemany(
            "UPDATE readings SET status = 'rejected', sent_at = ?, last_error = ? "
            "WHERE seq = ? AND status = 'pending'",
            [(now, why, s) for s, why in rows],
        )

    def mark_failed(self, seqs: Sequence[int], next_try: float, error: str) -> None:
        self.db.executemany(
            "UPDATE readings SET attempts = attempts + 1, next_try = ?, last_error = ? "
            "WHERE seq = ?",
            [(next_try, error[:500], s) for s in seqs],
        )

    # --- status ---------------------------------------------------------------------------
    def _bump(self, key: str, by: int = 1) -> None:
        self.db.execute(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
            "value = CAST(CAST(value AS INTEGER) + ? AS TEXT)",
            (key, str(by), by),
        )

    def counter(self, key: str) -> int:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    def status(self) -> dict[str, Any]:
        counts = dict(self.db.execute("SELECT status, count(*) FROM readings GROUP BY status"))
        head = self.db.execute(
            "SELECT attempts, next_try, last_error, received_at FROM readings "
            "WHERE status = 'pending' ORDER BY seq LIMIT 1"
        ).fetchone()
        alerts = dict(
            self.db.execute("SELECT severity, count(*) FROM local_alerts GROUP BY severity")
        )
        (quarantined,) = self.db.execute("SELECT count(*) FROM quarantine").fetchone()
        (scored,) = self.db.execute("SELECT count(*) FROM scores").fetchone()
        return {
            "pending": counts.get("pending", 0),
            "sent": counts.get("sent", 0),
            "rejected_by_hub": counts.get("rejected", 0),
            "device_duplicates": self.counter("device_duplicates"),
            "quarantined_locally": quarantined,
            "local_alerts": alerts,
            "scores": scored,
            "oldest_pending_received_at": head[3] if head else None,
            "next_try": head[1] if head else None,
            "attempts": head[0] if head else 0,
            "last_error": head[2] if head else None,
        }

    def local_alerts(self) -> list[dict[str, Any]]:
        cols = ("reading_id", "person_id", "rule_id", "severity", "message_en", "message_ko",
                "offline", "created_at")  # fmt: skip
        rows = self.db.execute(f"SELECT {', '.join(cols)} FROM local_alerts ORDER BY id")
        return [dict(zip(cols, row, strict=True)) for row in rows]
