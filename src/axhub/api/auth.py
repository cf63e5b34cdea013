"""Bearer tokens mapped to governance principals and the purposes they may use.

The token table is ``<data_dir>/api/tokens.json``: one entry per token holding the SHA-256
of the token (never the token), the principal (id, role, site / care team / project) and the
purposes the token may ask for. A request names its purpose in the ``X-Purpose-Of-Use``
header (else the token's first purpose); a purpose the token does not hold is refused here,
and every data access is then decided and audited by the governance policy (``decide()``
through ``GovernedStore.ensure``). Decision record 0101.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from axhub.config import Settings
from axhub.errors import AxhubError, InputError, PolicyDenied
from axhub.governance.principals import Principal, Role
from axhub.governance.purposes import CARE_PURPOSES, Purpose

PURPOSE_HEADER = "X-Purpose-Of-Use"
TOKEN_PREFIX = "axh_"


class Unauthenticated(AxhubError):
    """No bearer token, or one the hub does not know (HTTP 401)."""

    exit_code = 5
    http_status = 401


@dataclass(frozen=True)
class TokenEntry:
    """One row of the token table (the token itself is not stored)."""

    sha256: str
    label: str
    principal_id: str
    role: str
    purposes: tuple[str, ...]
    site: str | None = None
    care_team: str | None = None
    project_id: str | None = None
    on_behalf_of: str | None = None

    def principal(self) -> Principal:
        return Principal(
            self.principal_id,
            Role(self.role),
            site=self.site,
            care_team=self.care_team,
            project_id=self.project_id,
            on_behalf_of=self.on_behalf_of,
        )


@dataclass(frozen=True)
class Caller:
    """Who is asking and why: the principal and the purpose of this request."""

    principal: Principal
    purpose: Purpose
    label: str

    @property
    def care(self) -> bool:
        return self.purpose in CARE_PURPOSES


def token_path(settings: Settings) -> Path:
    return settings.data_dir / "api" / "tokens.json"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenTable:
    """The token file: issue, revoke, look up. Thread-safe; re-read when the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._entries: dict[str, TokenEntry] = {}
        self._mtime: float | None = None

    @classmethod
    def open(cls, settings: Settings) -> TokenTable:
        return cls(token_path(settings))

    def _load(self) -> dict[str, TokenEntry]:
        mtime = self.path.stat().st_mtime if self.path.exists() else None
        if mtime != self._mtime:
            entries: dict[str, TokenEntry] = {}
            if mtime is not None:
                try:
                    rows = json.loads(self.path.read_text(encoding="utf-8"))
                    for row in rows:
                        row["purposes"] = tuple(row["purposes"])
                        entries[row["sha256"]] = TokenEntry(**row)
                except (ValueError, KeyError, TypeError) as exc:
                    raise InputError(
                        "unreadable token table", path=str(self.path), reason=str(exc)
                    ) from None
            self._entries, self._mtime = entries, mtime
        return self._entries

    def _save(self, entries: dict[str, TokenEntry]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        rows = [asdict(e) for e in entries.values()]
        tmp.write_text(json.dumps(rows, indent=1, ensure_ascii=False), encoding="utf-8")
        os.chmod(tmp, 0o600)
        tmp.replace(self.path)
        self._mtime = None

    def issue(self, principal: Principal, purposes: list[str], *, label: str = "") -> str:
        """A new token for ``principal``; returns the token (shown once, stored hashed)."""
        if not purposes:
            raise InputError("a token needs at least one purpose", field="purposes")
        checked = tuple(Purpose(p).value for p in purposes)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        entry = TokenEntry(
            _digest(token),
            label or principal.principal_id,
            principal.principal_id,
            principal.role.value,
            checked,
            principal.site,
            principal.care_team,
            principal.project_id,
            principal.on_behalf_of,
        )
        with self._lock:
            entries = dict(self._load())
            entries = {k: v for k, v in entries.items() if not (label and v.label == label)}
            entries[entry.sha256] = entry
            self._save(entries)
        return token

    def revoke(self, label: str) -> int:
        with self._lock:
            entries = dict(self._load())
            kept = {k: v for k, v in entries.items() if v.label != label}
            self._save(kept)
            return len(entries) - len(kept)

    def entries(self) -> list[TokenEntry]:
        with self._lock:
            return list(self._load().values())

    def lookup(self, token: str) -> TokenEntry:
        digest = _digest(token)
        with self._lock:
            entries = self._load()
        for key, entry in entries.items():  # constant-time compare of the digests
            if hmac.compare_digest(key, digest):
                return entry
        raise Unauthenticated("unknown or revoked token")


def resolve_caller(table: TokenTable, token: str | None, purpose: str | None) -> Caller:
    """The caller for a token and the purpose it asks for (or the token's first purpose)."""
    if not token:
        raise Unauthenticated("sign in: send 'Authorization: Bearer <token>'")
    entry = table.lookup(token)
    wanted = purpose or entry.purposes[0]
    try:
        parsed = Purpose(wanted)
    except ValueError:
        raise PolicyDenied(
            "unknown purpose of use", field=PURPOSE_HEADER, reason=wanted,
            suggestions=list(entry.purposes),
        ) from None  # fmt: skip
    if parsed.value not in entry.purposes:
        raise PolicyDenied(
            "this token may not be used for that purpose",
            field=PURPOSE_HEADER,
            reason=parsed.value,
            allowed=list(entry.purposes),
        )
    return Caller(entry.principal(), parsed, entry.label)


def describe(caller: Caller) -> dict[str, Any]:
    p = caller.principal
    return {
        "principal_id": p.principal_id,
        "role": p.role.value,
        "purpose": caller.purpose.value,
        "site": p.site,
        "care_team": p.care_team,
        "project_id": p.project_id,
    }
