"""Source connectors: an explicit, ordered registry of the file layouts ``axhub ingest`` reads.

The first source in :data:`SOURCES` that claims a file reads it.  Two kinds exist:

* resource sources yield chunks of records: :class:`BulkNdjsonSource` (FHIR bulk-export
  NDJSON, plain or ``.gz``; lines holding a Bundle are unpacked) and
  :class:`JsonDocumentSource` (one JSON document per file: a Bundle of type collection,
  transaction, batch, searchset or history, unpacked; or one resource);
* recognised non-resource files, reported and not read: the bulk-export log
  (``log.ndjson``), the bulk-export manifest, bulk-export error files (OperationOutcome), and
  anything that is not JSON (README, checksums, Parquet ...).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import orjson

from axhub.fhir.ndjson import LineBlock, open_binary, read_line_blocks


@dataclass(frozen=True)
class Document:
    """A whole JSON file, read at once (Bundles are documents, not streams)."""

    data: bytes


Chunk = LineBlock | Document


class Source(ABC):
    """A connector for one file layout."""

    name: ClassVar[str]
    #: False for files that are recognised but hold no FHIR resources to ingest
    holds_resources: ClassVar[bool] = True
    #: True when an interrupted read can resume at a byte offset
    resumable: ClassVar[bool] = False

    @classmethod
    @abstractmethod
    def claims(cls, path: Path) -> bool:
        """True when this source reads ``path``."""

    def read(
        self, path: Path, *, max_lines: int, start_offset: int = 0, start_line: int = 1
    ) -> Iterator[Chunk]:
        """Yield the chunks of ``path`` (each is merged in one transaction)."""
        return iter(())

    def describe(self) -> str:
        return self.name


def _first_line(path: Path, limit: int = 1 << 20) -> bytes:
    try:
        with open_binary(path) as fh:
            head = fh.read(limit)
    except (OSError, EOFError):
        return b""
    return head.split(b"\n", 1)[0].strip()


def _ndjson_name(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith((".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz"))


class BulkExportLogSource(Source):
    """The bulk-export log (``log.ndjson``: kickoff/status/complete events), not resources."""

    name = "bulk export log (not FHIR resources)"
    holds_resources = False

    @classmethod
    def claims(cls, path: Path) -> bool:
        if not _ndjson_name(path):
            return False
        if path.name.lower().startswith("log.ndjson"):
            return True
        try:
            first = orjson.loads(_first_line(path))
        except orjson.JSONDecodeError:
            return False
        return (
            isinstance(first, dict)
            and "resourceType" not in first
            and ("eventId" in first or "exportId" in first)
        )


class BulkErrorFileSource(Source):
    """A bulk-export error file: OperationOutcome lines about the export, not patient data."""

    name = "bulk export error file (OperationOutcome)"
    holds_resources = False

    @classmethod
    def claims(cls, path: Path) -> bool:
        return (
            _ndjson_name(path)
            and path.parent.name.lower() == "error"
            and path.name.startswith("OperationOutcome")
        )


class BulkManifestSource(Source):
    """The bulk-export manifest (``transactionTime``, ``output``), not resources."""

    name = "bulk export manifest (not FHIR resources)"
    holds_resources = False

    @classmethod
    def claims(cls, path: Path) -> bool:
        if path.suffix.lower() != ".json":
            return False
        try:
            with open(path, "rb") as fh:
                head = fh.read(4096)
        except OSError:
            return False
        return (
            b'"transactionTime"' in head and b'"output"' in head and b'"resourceType"' not in head
        )


class BulkNdjsonSource(Source):
    """FHIR bulk-export NDJSON (one resource per line), plain or gzip."""

    name = "bulk NDJSON"
    resumable = True

    @classmethod
    def claims(cls, path: Path) -> bool:
        return _ndjson_name(path)

    def read(
        self, path: Path, *, max_lines: int, start_offset: int = 0, start_line: int = 1
    ) -> Iterator[Chunk]:
        yield from read_line_blocks(
            path, max_lines=max_lines, start_offset=start_offset, start_line=start_line
        )


class JsonDocumentSource(Source):
    """A ``.json`` file holding a Bundle (unpacked) or one resource."""

    name = "FHIR JSON document (Bundle or resource)"

    @classmethod
    def claims(cls, path: Path) -> bool:
        return path.name.lower().endswith((".json", ".json.gz"))

    def read(
        self, path: Path, *, max_lines: int, start_offset: int = 0, start_line: int = 1
    ) -> Iterator[Chunk]:
        with open_binary(path) as fh:
            yield Document(fh.read())


class NotFhirSource(Source):
    """Anything else (README, checksums, Parquet, ...): reported, not read."""

    name = "not a FHIR file"
    holds_resources = False

    @classmethod
    def claims(cls, path: Path) -> bool:
        return True


#: Explicit, ordered registry: the first source that claims a file reads it.
SOURCES: tuple[type[Source], ...] = (
    BulkExportLogSource,
    BulkErrorFileSource,
    BulkManifestSource,
    BulkNdjsonSource,
    JsonDocumentSource,
    NotFhirSource,
)


def source_for(path: Path) -> Source:
    """The registered source that reads ``path``."""
    for cls in SOURCES:
        if cls.claims(path):
            return cls()
    raise AssertionError("NotFhirSource claims every file")  # pragma: no cover


def discover(root: Path) -> list[tuple[Path, Source]]:
    """Files under ``root`` (or ``root`` itself) with their source, in ingest order.

    Files are taken in path order, except that files under a folder named ``deleted`` (bulk
    export deletions) come last, after the resources they may delete.  Hidden files are
    skipped.
    """
    if root.is_file():
        return [(root, source_for(root))]
    files = [
        p
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    ]
    files.sort(key=lambda p: ("deleted" in p.relative_to(root).parts[:-1], str(p)))
    return [(p, source_for(p)) for p in files]
