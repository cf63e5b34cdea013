"""The audit log detects edits, deletions, reordering, truncation and rewrites."""

from __future__ import annotations

import io
import json

import pytest

from axhub.errors import InputError, IntegrityError
from axhub.governance.audit import AuditLog, canonical, entry_hash

PID = "0123456789abcdef0123456789abcdef"


def fill(audit: AuditLog, n: int = 6) -> None:
    for i in range(n):
        audit.append(
            "read",
            actor=f"dr-{i}",
            role="clinician",
            purpose="treatment",
            outcome="ok",
            policy_id="care.clinician.treatment",
            subjects=[PID],
            detail={"rows": i},
        )


def lines(audit: AuditLog) -> list[str]:
    return audit.path.read_text().splitlines()


def write(audit: AuditLog, rows: list[str]) -> None:
    audit.path.write_text("".join(r + "\n" for r in rows))


def test_intact_log_verifies(audit) -> None:
    fill(audit)
    report = audit.verify()
    assert report.entries == 6
    assert [e["seq"] for e in audit.entries()] == [1, 2, 3, 4, 5, 6]


def test_edit_names_the_edited_entry(audit) -> None:
    fill(audit)
    rows = lines(audit)
    entry = json.loads(rows[3])
    entry["actor"] = "someone-else"
    rows[3] = canonical(entry).decode()
    write(audit, rows)
    with pytest.raises(IntegrityError) as exc:
        audit.verify()
    assert "entry 4" in str(exc.value) and "modified" in str(exc.value)
    assert exc.value.fields["line"] == 4


def test_edit_with_recomputed_hash_breaks_the_chain_at_the_next_entry(audit) -> None:
    fill(audit)
    rows = lines(audit)
    entry = json.loads(rows[2])
    entry["outcome"] = "deny"
    entry["hash"] = entry_hash(entry)
    rows[2] = canonical(entry).decode()
    write(audit, rows)
    with pytest.raises(IntegrityError) as exc:
        audit.verify()
    assert "entry 4" in str(exc.value) and "does not chain" in str(exc.value)


def test_deletion_is_detected(audit) -> None:
    fill(audit)
    rows = lines(audit)
    del rows[2]
    write(audit, rows)
    with pytest.raises(IntegrityError) as exc:
        audit.verify()
    assert exc.value.fields["line"] == 3 and "expected 3" in str(exc.value)


def test_reordering_is_detected(audit) -> None:
    fill(audit)
    rows = lines(audit)
    rows[1], rows[4] = rows[4], rows[1]
    write(audit, rows)
    with pytest.raises(IntegrityError) as exc:
        audit.verify()
    assert exc.value.fields["line"] == 2


def test_truncation_is_detected_by_the_signed_head(audit) -> None:
    fill(audit)
    write(audit, lines(audit)[:4])
    with pytest.raises(IntegrityError) as exc:
        audit.verify()
    assert "signed head records 6" in str(exc.value)


def test_wholesale_rewrite_without_the_key_is_detected(audit, settings) -> None:
    fill(audit)
    forged = AuditLog(audit.directory.parent / "forged", key=b"k" * 32)
    fill(forged, 3)
    write(audit, lines(forged))
    audit.head_path.write_text(forged.head_path.read_text())
    with pytest.raises(IntegrityError) as exc:
        audit.verify()
    assert "signature is invalid" in str(exc.value)


def test_garbage_line_is_named(audit) -> None:
    fill(audit, 2)
    write(audit, [*lines(audit), "{not json"])
    with pytest.raises(IntegrityError) as exc:
        audit.verify()
    assert exc.value.fields["line"] == 3


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"subjects": ["김영희"]}, "subjects"),
        ({"detail": {"phone": "010-1234-5678"}}, "detail"),
        ({"detail": {"birthDate": "1948-03-15"}}, "detail"),
    ],
)
def test_personal_data_is_refused(audit, kwargs, field) -> None:
    with pytest.raises(InputError) as exc:
        audit.append("read", actor="dr", **kwargs)
    assert exc.value.field == field
    assert not audit.path.exists()


def test_fhir_export_is_auditevent_ndjson(audit) -> None:
    fill(audit, 2)
    audit.append(
        "decision",
        actor="r-lee",
        role="researcher",
        purpose="research",
        outcome="deny",
        policy_id="default-deny",
        reason="expired",
    )
    out = io.StringIO()
    assert audit.export_fhir(out) == 3
    events = [json.loads(x) for x in out.getvalue().splitlines()]
    assert {e["resourceType"] for e in events} == {"AuditEvent"}
    first, last = events[0], events[-1]
    assert first["outcome"] == "0" and last["outcome"] == "4" and last["outcomeDesc"] == "expired"
    assert first["agent"][0]["purposeOfUse"][0]["coding"][0]["code"] == "TREAT"
    assert first["agent"][0]["policy"] == ["urn:axhub:policy:care.clinician.treatment"]
    subjects = [
        e["what"]["identifier"]["value"] for e in first["entity"] if e["type"]["code"] == "1"
    ]
    assert subjects == [PID]
    assert first["recorded"].startswith("2026-11-26T09:00")


def test_rehashed_last_entry_is_caught_by_the_head(audit) -> None:
    fill(audit, 3)
    rows = lines(audit)
    entry = json.loads(rows[-1])
    entry["outcome"] = "deny"
    entry["hash"] = entry_hash(entry)
    write(audit, [*rows[:-1], canonical(entry).decode()])
    with pytest.raises(IntegrityError) as exc:
        audit.verify()
    assert "entry 3 (line 3) does not match the signed head" in str(exc.value)
