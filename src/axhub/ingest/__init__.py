"""Multi-site FHIR ingest into the raw zone (see docs/ingest.md)."""

from axhub.ingest.pipeline import FileReport, IngestReport, ingest

__all__ = ["FileReport", "IngestReport", "ingest"]
