"""Hypothesis properties: whatever mix of valid and corrupted lines, nothing is lost, and
ingesting the same file again changes nothing."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import duckdb
import orjson
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from axhub.config import Settings
from axhub.ingest import ingest
from axhub.ingest.validate import Accepted, check

IDS = ["a", "b", "c", "d-1", "e.2"]


#: md5 of the stored text of a resource (byte for byte what the line held)
_STORED_MD5 = "md5(CAST(resource AS VARCHAR))"


@st.composite
def valid_line(draw: st.DrawFn) -> bytes:
    rid = draw(st.sampled_from(IDS))
    gender = draw(st.sampled_from(["male", "female", "other"]))
    if draw(st.booleans()):
        doc = {"resourceType": "Patient", "id": rid, "gender": gender}
    else:
        doc = {
            "resourceType": "Observation",
            "id": rid,
            "status": "final",
            "code": {"text": gender},
            "subject": {"reference": f"Patient/{draw(st.sampled_from(IDS))}"},
        }
    if draw(st.booleans()):
        version = draw(st.integers(1, 4))
        doc["meta"] = {"versionId": str(version), "lastUpdated": f"2024-0{version}-01T00:00:00Z"}
    return orjson.dumps(doc)


@st.composite
def corrupted_line(draw: st.DrawFn) -> bytes:
    good = draw(valid_line())
    kind = draw(st.sampled_from(["cut", "bytes", "type", "noid", "ref", "text"]))
    if kind == "cut":
        return good[: draw(st.integers(1, len(good) - 1))]
    if kind == "bytes":
        raw = draw(st.binary(min_size=1, max_size=40))
        return raw.replace(b"\n", b"").replace(b"\r", b"") or b"\xff"
    if kind == "text":
        return (
            draw(st.text(min_size=1, max_size=30)).encode().replace(b"\n", b"").replace(b"\r", b"")
            or b"?"
        )
    doc = orjson.loads(good)
    if kind == "type":
        doc["resourceType"] = draw(st.sampled_from(["Patients", "observation", "X", ""]))
    elif kind == "noid":
        del doc["id"]
    else:
        doc["subject"] = {"reference": draw(st.sampled_from(["Patient", "Patient/", "P/1", " "]))}
        doc["resourceType"] = "Observation"
        doc.setdefault("status", "final")
        doc.setdefault("code", {"text": "x"})
    return orjson.dumps(doc)


def _expected_ok(line: bytes) -> bool | None:
    """True/False for a record the precise check accepts/rejects; None for a blank line."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if text.strip(" ") == "" and len(line) < 64:
        return None
    return isinstance(check(text), Accepted)


@settings(
    max_examples=15,
    deadline=None,
    database=None,  # no example database written into the work tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(st.one_of(valid_line(), corrupted_line()), min_size=1, max_size=40))
@example([b"\xef\xbb\xbf{cut", b'{"resourceType":"Patient","id":"a"}'])  # BOM, then bad
def test_nothing_lost_and_reingest_is_idempotent(lines: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "Mixed.000.ndjson"
        src.write_bytes(b"\n".join(lines) + b"\n")
        cfg = Settings(data_dir=Path(tmp) / "data", ingest_batch_lines=7)
        first = ingest(src, site="prop", settings=cfg)
        t = first.totals
        # a UTF-8 byte-order mark opening the file is not part of the first line
        lines = [lines[0].removeprefix(b"\xef\xbb\xbf"), *lines[1:]]
        expected = [_expected_ok(line) for line in lines]
        assert first.balanced, first.equation()
        assert t.blank_lines == expected.count(None)
        assert t.read == len(lines) - t.blank_lines
        assert t.quarantined == expected.count(False)
        assert t.stored + t.superseded + t.duplicates == expected.count(True)

        con = duckdb.connect(str(cfg.raw_zone_path), read_only=True)
        try:
            kept = {r[0] for r in con.execute(
                f"SELECT {_STORED_MD5} FROM resources UNION "
                f"SELECT {_STORED_MD5} FROM resource_history").fetchall()}  # fmt: skip
            quarantined = {r[0] for r in con.execute("SELECT raw FROM quarantine").fetchall()}
            snapshot = con.execute(
                f"SELECT (SELECT list({_STORED_MD5} ORDER BY {_STORED_MD5}) FROM resources), "
                "(SELECT count(*) FROM resource_history), (SELECT count(*) FROM quarantine)"
            ).fetchall()
        finally:
            con.close()
        for line, ok in zip(lines, expected, strict=True):
            if ok:  # every valid line is stored as current or as a past version
                assert hashlib.md5(line).hexdigest() in kept
            elif ok is False:  # every bad line is in quarantine, byte for byte
                assert line in quarantined

        second = ingest(src, site="prop", settings=cfg)
        assert second.totals.stored == 0 and second.totals.superseded == 0
        assert second.totals.duplicates == expected.count(True)
        con = duckdb.connect(str(cfg.raw_zone_path), read_only=True)
        try:
            again = con.execute(
                f"SELECT (SELECT list({_STORED_MD5} ORDER BY {_STORED_MD5}) FROM resources), "
                "(SELECT count(*) FROM resource_history), (SELECT count(*) FROM quarantine)"
            ).fetchall()
        finally:
            con.close()
        assert again == snapshot
