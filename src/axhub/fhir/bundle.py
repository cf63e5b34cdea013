"""Unpack FHIR R4 Bundles into their entries, resolving ``urn:uuid:`` references.

A ``transaction`` or ``batch`` Bundle as Synthea writes it gives every entry a ``fullUrl`` of
the form ``urn:uuid:<uuid>`` and points between entries with ``{"reference": "urn:uuid:..."}``.
Such a reference means nothing outside its Bundle (https://hl7.org/fhir/R4/bundle.html#references),
so each one is rewritten to the literal ``Type/id`` of the entry whose ``fullUrl`` it names.
An entry whose resource has no ``id`` takes the uuid of its ``urn:uuid:`` fullUrl as id.
A ``urn:uuid:`` reference that names no entry of the Bundle is *dangling*: it is reported with
the JSON path of the reference and the entry is not stored (see docs/decisions/0023).
``DELETE`` requests become deletions; entries without a resource are reported.
``document`` and ``message`` Bundles are kept whole: they are one resource.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from axhub.fhir.resource_types import is_id, is_resource_type

#: Bundle types whose entries are independent resources to unpack.
UNPACKED_TYPES = frozenset(
    {"collection", "transaction", "batch", "searchset", "history", "transaction-response",
     "batch-response"}
)  # fmt: skip

_URN_REF = re.compile(rb'"reference":"(urn:uuid:[^"\\]*)"')
_URL_TAIL = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-\.]{1,64})(?:/_history/[^/]+)?$")


@dataclass(frozen=True)
class EntryResource:
    """One resource taken out of a Bundle, serialised (compact JSON, references resolved)."""

    path: str  # JSON path of the resource inside the Bundle, e.g. "$.entry[3].resource"
    text: bytes


@dataclass(frozen=True)
class EntryDeletion:
    """A ``DELETE`` request in a Bundle entry."""

    path: str  # JSON path of the request url
    resource_type: str
    id: str


@dataclass(frozen=True)
class EntryProblem:
    """An entry that cannot be ingested, with the JSON path and the reason."""

    path: str
    reason: str
    raw: bytes


@dataclass
class UnpackedBundle:
    resources: list[EntryResource] = field(default_factory=list)
    deletions: list[EntryDeletion] = field(default_factory=list)
    problems: list[EntryProblem] = field(default_factory=list)

    @property
    def records(self) -> int:
        """Entries read: each is a resource, a deletion or a problem."""
        return len(self.resources) + len(self.deletions) + len(self.problems)


def is_unpacked(doc: Any) -> bool:
    """True when ``doc`` is a Bundle whose entries are ingested one by one."""
    return (
        isinstance(doc, dict)
        and doc.get("resourceType") == "Bundle"
        and doc.get("type") in UNPACKED_TYPES
    )


def iter_references(obj: Any, path: str = "$") -> Iterator[tuple[str, Any]]:
    """Every ``reference`` element in a JSON value, as (JSON path, value)."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            sub = f"{path}.{key}"
            if key == "reference" and not isinstance(value, dict | list):
                yield sub, value
            else:
                yield from iter_references(value, sub)
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from iter_references(value, f"{path}[{i}]")


def parse_delete_url(url: Any) -> tuple[str, str] | None:
    """``(type, id)`` of a ``DELETE`` request url (relative or absolute), or None."""
    if not isinstance(url, str) or "?" in url:
        return None
    m = _URL_TAIL.search(url)
    if not m or not is_resource_type(m.group(1)):
        return None
    return m.group(1), m.group(2)


def _target(entry: dict[str, Any]) -> str | None:
    resource = entry.get("resource")
    if not isinstance(resource, dict):
        return None
    rtype, rid = resource.get("resourceType"), resource.get("id")
    if rid is None and isinstance(entry.get("fullUrl"), str):
        rid = entry["fullUrl"].removeprefix("urn:uuid:")
    if isinstance(rtype, str) and is_id(rid):
        return f"{rtype}/{rid}"
    return None


def unpack(doc: dict[str, Any], prefix: str = "$") -> UnpackedBundle:
    """Split a Bundle into resources to store, deletions, and problems (with JSON paths)."""
    out = UnpackedBundle()
    entries = doc.get("entry") or []
    if not isinstance(entries, list):
        out.problems.append(EntryProblem(f"{prefix}.entry", "Bundle.entry is not a list", b""))
        return out
    targets: dict[str, str] = {}
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("fullUrl"), str):
            target = _target(entry)
            if target and entry["fullUrl"].startswith("urn:uuid:"):
                targets[entry["fullUrl"]] = target

    for i, entry in enumerate(entries):
        where = f"{prefix}.entry[{i}]"
        if not isinstance(entry, dict):
            out.problems.append(EntryProblem(where, "entry is not a JSON object", _dump(entry)))
            continue
        req = entry.get("request")
        request: dict[str, Any] = req if isinstance(req, dict) else {}
        method = str(request.get("method", "")).upper()
        resource = entry.get("resource")
        if method == "DELETE":
            parsed = parse_delete_url(request.get("url"))
            if parsed is None:
                out.problems.append(
                    EntryProblem(
                        f"{where}.request.url",
                        "DELETE url is not a literal Type/id (conditional deletes are not applied)",
                        _dump(entry),
                    )
                )
            else:
                out.deletions.append(EntryDeletion(f"{where}.request.url", *parsed))
            continue
        if not isinstance(resource, dict):
            reason = "entry has no resource" + (f" (request {method})" if method else "")
            out.problems.append(EntryProblem(where, reason, _dump(entry)))
            continue
        full_url = entry.get("fullUrl")
        if "id" not in resource and isinstance(full_url, str) and full_url.startswith("urn:uuid:"):
            resource = {**resource, "id": full_url.removeprefix("urn:uuid:")}
            if "resourceType" in resource:  # keep resourceType first, as FHIR JSON writes it
                resource = {"resourceType": resource.pop("resourceType"), **resource}
        text = orjson.dumps(resource)
        dangling: list[str] = []

        def _resolve(m: re.Match[bytes], dangling: list[str] = dangling) -> bytes:
            urn = m.group(1).decode()
            target = targets.get(urn)
            if target is None:
                dangling.append(urn)
                return m.group(0)
            return b'"reference":"' + target.encode() + b'"'

        if b"urn:uuid:" in text:
            text = _URN_REF.sub(_resolve, text)
        if dangling:
            path = next(
                (p for p, v in iter_references(resource, f"{where}.resource") if v == dangling[0]),
                f"{where}.resource",
            )
            out.problems.append(
                EntryProblem(
                    path,
                    f"dangling reference {dangling[0]}: no entry of this Bundle has that fullUrl",
                    text,
                )
            )
            continue
        out.resources.append(EntryResource(f"{where}.resource", text))
    return out


def _dump(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:
        return repr(value).encode()
