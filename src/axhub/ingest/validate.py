"""Validation of resource lines: a vectorised DuckDB pre-check and a precise Python check.

The DuckDB check runs over a whole batch: one ``json_extract`` of every path the rules need
(inside ``try``: a line that is not JSON gives NULL), one ``json_extract(text,
'$..reference')`` of every reference, each matched against the reference pattern.  Costly
tests on a few lines sit behind a cheap ``CASE`` guard (DuckDB evaluates both sides of
``AND``, but only the taken branch of ``CASE``).  It is
built to be at least as strict as the Python check, so a line it passes is valid.  Lines it
flags (rare) go through :func:`check`, which parses the line with orjson and names the
first problem by JSON path and reason; a flagged line that :func:`check` accepts (for
example a reference written with ``\\/`` escapes) is stored.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from axhub.fhir.bundle import UNPACKED_TYPES, iter_references
from axhub.fhir.resource_types import (
    ID_PATTERN,
    PLAIN_REFERENCE_PATTERN,
    R4_RESOURCE_TYPES,
    is_id,
    is_reference,
    suggest_resource_type,
)
from axhub.ingest.rules import REQUIRED_ELEMENTS, RequiredElement

#: FHIR ``instant`` (https://hl7.org/fhir/R4/datatypes.html#instant)
INSTANT_PATTERN = (
    r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-"
    r"(0[1-9]|[1-2][0-9]|3[0-1])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?"
    r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
)
_INSTANT_RE = re.compile(rf"^{INSTANT_PATTERN}$")
_NAN = r"[:,\[]\s*-?(NaN|Inf)"

_BASE_PATHS = ("$.resourceType", "$.id", "$.meta.versionId", "$.meta.lastUpdated", "$.type")


@dataclass(frozen=True)
class Problem:
    path: str
    reason: str


@dataclass(frozen=True)
class Accepted:
    resource_type: str
    id: str | None  # None only for a Bundle to unpack
    version_id: str | None
    last_updated: str | None
    is_bundle: bool


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def extract_paths(rules: tuple[RequiredElement, ...] = REQUIRED_ELEMENTS) -> list[str]:
    """The JSON paths extracted in one pass: the base fields, then every rule's names."""
    paths = list(_BASE_PATHS)
    for rule in rules:
        for name in rule.json_names:
            p = f"$.{name}"
            if p not in paths:
                paths.append(p)
    return paths


@functools.lru_cache(maxsize=16)
def check_sql(
    source: str,
    rules: tuple[RequiredElement, ...] = REQUIRED_ELEMENTS,
    *,
    guarded: bool = True,
    with_text: bool = False,
) -> str:
    """SQL over ``source(seq, line, path, text)`` adding fields and a ``bad`` flag per row.

    Output columns: seq, line, path, has_text, blank, resource_type, id, version_id,
    last_updated (text), is_bundle, bad.  The four fields are the JSON strings without their
    quotes, valid only when ``bad`` is false (each was matched by a pattern that admits no
    escapes).  ``bad`` is true for any line that the Python
    :func:`check` might reject.

    ``guarded=False`` gives the same flags without the guard that keeps the reference
    extraction away from lines that are not JSON: it costs a third less, and raises on a batch
    holding such a line, which is then checked again guarded (see ``pipeline._stage``).
    ``with_text`` adds the ``text`` column to the output (bench/bench_ingest.py stores it).
    """
    paths = extract_paths(rules)
    pos = {p: i + 1 for i, p in enumerate(paths)}  # DuckDB lists are 1-based
    types = ", ".join(_sql_str(f'"{t}"') for t in sorted(R4_RESOURCE_TYPES))
    quoted_id = _sql_str(f'^"{ID_PATTERN}"$')
    quoted_instant = _sql_str(f'^"{INSTANT_PATTERN}"$')
    ref = f'"({PLAIN_REFERENCE_PATTERN})"'
    refs_ok = _sql_str(f"^({ref}(,{ref})*)?$")
    by_type: dict[str, list[str]] = {}
    for rule in rules:
        present = " OR ".join(
            f"(f[{pos['$.' + n]}] IS NOT NULL AND f[{pos['$.' + n]}] <> 'null')"
            for n in rule.json_names
        )
        by_type.setdefault(rule.resource_type, []).append(f"NOT ({present})")
    # one CASE over the type: a row evaluates the rules of its own type only
    rule_case = (
        "CASE f[1] "
        + " ".join(
            f"WHEN {_sql_str(chr(34) + t + chr(34))} THEN {' OR '.join(checks)}"
            for t, checks in by_type.items()
        )
        + " ELSE false END"
        if by_type
        else "false"
    )
    unpacked = ", ".join(_sql_str(f'"{t}"') for t in sorted(UNPACKED_TYPES))
    refs = "array_to_string(json_extract(text, '$..reference'), ',')"
    if guarded:
        refs = f"CASE WHEN f IS NOT NULL THEN {refs} END"
    return f"""
    WITH v AS (
        SELECT seq, line, path, text,
               CASE WHEN strlen(text) < 64 THEN trim(text) = '' ELSE false END AS blank
        FROM {source}
    ), x AS (
        SELECT *, CASE WHEN NOT blank THEN try(json_extract(text, {paths!r})) END AS f
        FROM v
    ), y AS (
        SELECT *, f IS NOT NULL AS ok,
               {refs} AS refs
        FROM x
    )
    SELECT seq, line, path, {"text, " if with_text else ""}text IS NOT NULL AS has_text, blank,
        CASE WHEN ok THEN f[1][2:-2] END AS resource_type,
        CASE WHEN ok THEN f[2][2:-2] END AS id,
        CASE WHEN ok THEN f[3][2:-2] END AS version_id,
        CASE WHEN ok THEN f[4][2:-2] END AS last_updated,
        coalesce(ok AND f[1] = '"Bundle"' AND f[5] IN ({unpacked}), false) AS is_bundle,
        NOT blank AND (
            NOT ok
            OR f[1] IS NULL OR f[1] NOT IN ({types})
            OR f[2] IS NULL OR NOT regexp_full_match(f[2], {quoted_id})
            OR (f[3] IS NOT NULL AND NOT regexp_full_match(f[3], {quoted_id}))
            OR (f[4] IS NOT NULL AND (NOT regexp_full_match(f[4], {quoted_instant})
                OR try_cast(json_extract_string(f[4], '$') AS TIMESTAMPTZ) IS NULL))
            OR {rule_case}
            OR CASE WHEN contains(text, 'NaN') OR contains(text, 'Inf')
                    THEN regexp_matches(text, {_sql_str(_NAN)}) ELSE false END
            OR NOT regexp_full_match(refs, {refs_ok})
        ) AS bad
    FROM y
    """


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value).decode(errors="replace")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check(
    text: str | bytes, rules: tuple[RequiredElement, ...] = REQUIRED_ELEMENTS
) -> Problem | Accepted:
    """Parse one line and return its first problem (JSON path, reason) or its key fields."""
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return Problem("$", f"invalid JSON: {exc}")
    if not isinstance(doc, dict):
        return Problem("$", f"not a JSON object but a JSON {type(doc).__name__}")
    rtype = doc.get("resourceType")
    if rtype is None:
        return Problem("$.resourceType", "missing resourceType")
    if not isinstance(rtype, str) or rtype not in R4_RESOURCE_TYPES:
        hint = suggest_resource_type(rtype) if isinstance(rtype, str) else []
        more = f" (did you mean {', '.join(hint)}?)" if hint else ""
        return Problem("$.resourceType", f"unknown FHIR R4 resourceType {_short(rtype)}{more}")
    if rtype == "Bundle" and doc.get("type") in UNPACKED_TYPES:
        return Accepted(rtype, None, None, None, is_bundle=True)
    rid = doc.get("id")
    if rid is None:
        return Problem("$.id", "missing id")
    if not is_id(rid):
        return Problem("$.id", f"id {_short(rid)} is not a FHIR id ([A-Za-z0-9-.]{{1,64}})")
    meta = doc.get("meta")
    version_id = last_updated = None
    if meta is not None and not isinstance(meta, dict):
        return Problem("$.meta", "meta is not a JSON object")
    if isinstance(meta, dict):
        version_id, last_updated = meta.get("versionId"), meta.get("lastUpdated")
        if version_id is not None and not is_id(version_id):
            return Problem("$.meta.versionId", f"versionId {_short(version_id)} is not a FHIR id")
        if last_updated is not None and not _is_instant(last_updated):
            return Problem(
                "$.meta.lastUpdated", f"lastUpdated {_short(last_updated)} is not a FHIR instant"
            )
    for rule in rules:
        if rule.resource_type == rtype and all(doc.get(n) is None for n in rule.json_names):
            return Problem(rule.path, rule.reason)
    for path, value in iter_references(doc):
        if not is_reference(value):
            return Problem(path, f"malformed reference {_short(value)}")
    return Accepted(rtype, rid, version_id, last_updated, is_bundle=False)


def _is_instant(value: Any) -> bool:
    if not isinstance(value, str) or not _INSTANT_RE.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True
