"""Tamper-evident audit log: a SHA-256 hash chain with an HMAC-keyed head.

Each entry is one JSON line carrying ``seq``, ``prev`` (the previous entry's hash) and
``hash`` = SHA-256 of its canonical JSON (sorted keys, no whitespace, without ``hash``).  The
head file holds the last ``seq`` and ``hash`` with an HMAC under the ``audit`` key, so that
truncating the log or rewriting it wholesale is detected too.  ``verify()`` names the first
bad entry.  Entries never hold personal data: actors are staff/agent ids, subjects are
pseudonymous person ids (checked on append).  ``export_fhir()`` writes FHIR R4 AuditEvent NDJSON.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from axhub.config import Settings
from axhub.errors import InputError, IntegrityError
from axhub.governance.keys import KeyStore
from axhub.governance.purposes import Purpose, purpose_coding

if TYPE_CHECKING:
    from axhub.governance.policy import AccessRequest, Decision

GENESIS = "0" * 64
KINDS = frozenset(
    {"decision", "read", "reidentify", "export", "release", "deidentify", "consent-import"}
    | {"agent", "manage", "research-import"}
)
PSEUDONYM = re.compile(r"^[0-9a-f]{32}$")
# Detail keys that would carry personal data; refused on append.
_PERSONAL_KEYS = frozenset(
    {"name", "given", "family", "telecom", "phone", "address", "birthdate", "birth_date"}
    | {"identifier", "mrn", "patient_id", "rrn", "email", "text", "note"}
)

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def canonical(obj: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, no whitespace, UTF-8."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: dict[str, Any]) -> str:
    return hashlib.sha256(canonical({k: v for k, v in entry.items() if k != "hash"})).hexdigest()


@dataclass(frozen=True)
class VerifyReport:
    entries: int
    head_hash: str


def audit_dir(settings: Settings) -> Path:
    return settings.data_dir / "audit"


class AuditLog:
    """Append-only, hash-chained audit log in ``<dir>/audit.jsonl`` with ``<dir>/head.json``."""

    def __init__(self, directory: Path, key: bytes, clock: Clock = utc_now) -> None:
        self.directory = Path(directory)
        self.path = self.directory / "audit.jsonl"
        self.head_path = self.directory / "head.json"
        self._key = key
        self._clock = clock

    @classmethod
    def open(cls, settings: Settings, clock: Clock = utc_now) -> AuditLog:
        return cls(audit_dir(settings), KeyStore(settings).key("audit"), clock)

    # -- writing -----------------------------------------------------------------------
    def _mac(self, seq: int, digest: str) -> str:
        return hmac.new(self._key, f"{seq}:{digest}".encode(), hashlib.sha256).hexdigest()

    def _read_head(self) -> tuple[int, str]:
        if not self.head_path.exists():
            if self.path.exists() and self.path.stat().st_size > 0:
                raise IntegrityError(
                    "audit head is missing but the log is not empty", path=str(self.head_path)
                )
            return 0, GENESIS
        try:
            head = json.loads(self.head_path.read_text())
            seq, digest, mac = int(head["seq"]), str(head["hash"]), str(head["mac"])
        except (ValueError, KeyError, TypeError) as exc:
            raise IntegrityError(
                f"audit head is unreadable: {exc}", path=str(self.head_path)
            ) from None
        if not hmac.compare_digest(mac, self._mac(seq, digest)):
            raise IntegrityError(
                "audit head signature is invalid (log rewritten or wrong key)",
                path=str(self.head_path),
            )
        return seq, digest

    def append(
        self,
        kind: str,
        *,
        actor: str,
        role: str = "",
        purpose: str = "",
        outcome: str = "ok",
        policy_id: str = "",
        reason: str = "",
        subjects: Sequence[str] = (),
        detail: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Append one entry and move the head; returns the stored entry."""
        if kind not in KINDS:
            raise InputError(f"unknown audit kind {kind!r}", field="kind")
        bad = [s for s in subjects if not PSEUDONYM.match(s)]
        if bad:
            raise InputError("audit subjects must be pseudonymous person ids", field="subjects")
        detail = dict(detail or {})
        if personal := {k for k in detail if k.lower() in _PERSONAL_KEYS}:
            raise InputError(
                f"audit detail may not hold personal fields {sorted(personal)}", field="detail"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / "audit.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            seq, prev = self._read_head()
            entry: dict[str, Any] = {
                "seq": seq + 1,
                "time": self._clock().astimezone(dt.UTC).isoformat(),
                "kind": kind,
                "actor": actor,
                "role": role,
                "purpose": purpose,
                "outcome": outcome,
                "policy_id": policy_id,
                "reason": reason,
                "subjects": sorted(set(subjects)),
                "detail": detail,
                "prev": prev,
            }
            entry["hash"] = entry_hash(entry)
            with open(self.path, "ab") as fh:
                fh.write(canonical(entry) + b"\n")
            head = {"seq": entry["seq"], "hash": entry["hash"]}
            head["mac"] = self._mac(entry["seq"], entry["hash"])
            tmp = self.head_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(head))
            tmp.replace(self.head_path)
        return entry

    def record_decision(self, request: AccessRequest, decision: Decision) -> dict[str, Any]:
        p = request.principal
        detail: dict[str, Any] = {"action": request.action, "level": decision.level.value}
        if request.resource_types is not None:
            detail["resource_types"] = sorted(request.resource_types)
        for attr in ("site", "care_team", "project_id"):
            if value := getattr(p, attr):
                detail[attr] = value
        return self.append(
            "decision",
            actor=p.principal_id,
            role=p.role.value,
            purpose=str(request.purpose),
            outcome="allow" if decision.allowed else "deny",
            policy_id=decision.policy_id,
            reason=decision.reason,
            detail=detail,
        )

    # -- reading -----------------------------------------------------------------------
    def entries(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                yield json.loads(line)

    def verify(self) -> VerifyReport:
        """Check the whole chain and the head; raise IntegrityError naming the first bad entry."""
        prev, expected, line_no = GENESIS, 1, 0
        if self.path.exists():
            with open(self.path, encoding="utf-8") as fh:
                for line_no, line in enumerate(fh, start=1):
                    where = {"path": str(self.path), "line": line_no}
                    try:
                        entry = json.loads(line)
                        seq = entry["seq"]
                    except (ValueError, KeyError, TypeError):
                        raise IntegrityError(
                            f"audit entry at line {line_no} is not a valid entry", **where
                        ) from None
                    if seq != expected:
                        raise IntegrityError(
                            f"audit entry at line {line_no} has seq {seq}, expected {expected}: "
                            "an entry was deleted, inserted or reordered",
                            seq=seq,
                            **where,
                        )
                    if entry.get("hash") != entry_hash(entry):
                        raise IntegrityError(
                            f"audit entry {seq} (line {line_no}) was modified: hash mismatch",
                            seq=seq,
                            **where,
                        )
                    if entry.get("prev") != prev:
                        raise IntegrityError(
                            f"audit entry {seq} (line {line_no}) does not chain to entry {seq - 1}",
                            seq=seq,
                            **where,
                        )
                    prev, expected = entry["hash"], expected + 1
        count = expected - 1
        head_seq, head_hash = self._read_head()
        if head_seq != count:
            raise IntegrityError(
                f"audit log holds {count} entries but its signed head records {head_seq}: "
                "entries after the last good one were removed or added",
                path=str(self.path),
                line=line_no,
                seq=min(count, head_seq) + 1,
            )
        if head_hash != prev:
            raise IntegrityError(
                f"audit entry {count} (line {line_no}) does not match the signed head: "
                "it was modified and re-hashed",
                path=str(self.path),
                line=line_no,
                seq=count,
            )
        return VerifyReport(count, prev)

    def export_fhir(self, out: IO[str]) -> int:
        """Write every entry as a FHIR R4 AuditEvent, one JSON per line; returns the count."""
        n = 0
        for entry in self.entries():
            out.write(json.dumps(audit_event(entry), ensure_ascii=False) + "\n")
            n += 1
        return n


_DCM = "http://dicom.nema.org/resources/ontology/DCM"
_LIFECYCLE = "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle"
# kind -> (DICOM event type code, display, ISO 21089 lifecycle code, FHIR action)
_EVENT_TYPES: dict[str, tuple[str, str, str, str]] = {
    "decision": ("110113", "Security Alert", "access", "E"),
    "read": ("110112", "Query", "access", "R"),
    "reidentify": ("110112", "Query", "reidentify", "E"),
    "export": ("110106", "Export", "disclose", "R"),
    "release": ("110106", "Export", "aggregate", "R"),
    "deidentify": ("110107", "Import", "deidentify", "C"),
    "consent-import": ("110107", "Import", "receive", "C"),
    "agent": ("110112", "Query", "access", "E"),
    "manage": ("110113", "Security Alert", "amend", "U"),
}


def audit_event(entry: dict[str, Any]) -> dict[str, Any]:
    """One audit entry as a FHIR R4 AuditEvent (pseudonymous subjects only)."""
    code, display, lifecycle, action = _EVENT_TYPES[entry["kind"]]
    agent: dict[str, Any] = {
        "who": {
            "identifier": {"system": "https://axhub.dev/fhir/principal", "value": entry["actor"]}
        },
        "requestor": True,
    }
    if entry.get("role"):
        agent["role"] = [{"text": entry["role"]}]
    if entry.get("policy_id"):
        agent["policy"] = [f"urn:axhub:policy:{entry['policy_id']}"]
    if entry.get("purpose") in Purpose.__members__.values():
        agent["purposeOfUse"] = [{"coding": [purpose_coding(Purpose(entry["purpose"]))]}]
    entities: list[dict[str, Any]] = [
        {
            "what": {
                "identifier": {"system": "https://axhub.dev/fhir/person-pseudonym", "value": s}
            },
            "type": {
                "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                "code": "1",
                "display": "Person",
            },
        }
        for s in entry.get("subjects", [])
    ]
    details = [
        {"type": "chain-hash", "valueString": entry["hash"]},
        {"type": "chain-prev", "valueString": entry["prev"]},
    ]
    details += [
        {"type": str(k), "valueString": json.dumps(v, ensure_ascii=False)}
        for k, v in sorted(entry.get("detail", {}).items())
    ]
    entities.append(
        {
            "what": {"identifier": {"system": "urn:axhub:audit-seq", "value": str(entry["seq"])}},
            "type": {
                "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                "code": "2",
                "display": "System Object",
            },
            "detail": details,
        }
    )
    failed = entry.get("outcome") in ("deny", "error")
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": f"axhub-audit-{entry['seq']}",
        "type": {"system": _DCM, "code": code, "display": display},
        "subtype": [{"system": _LIFECYCLE, "code": lifecycle}],
        "action": action,
        "recorded": entry["time"],
        "outcome": "4" if failed else "0",
        "agent": [agent],
        "source": {
            "observer": {"display": "axhub"},
            "type": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/security-source-type",
                    "code": "4",
                    "display": "Application Server",
                }
            ],
        },
        "entity": entities,
    }
    if entry.get("reason"):
        event["outcomeDesc"] = entry["reason"]
    return event
