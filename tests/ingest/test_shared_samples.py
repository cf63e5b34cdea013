"""The shared third-party samples ingest unchanged with nothing quarantined."""

from __future__ import annotations

from pathlib import Path


def test_synthea_bulk_sample_ingests_with_zero_quarantine(shared_dir: Path, run, raw) -> None:
    report = run(shared_dir / "data" / "synthea-sample", site="sample")
    totals = report.totals
    assert totals.quarantined == 0
    assert totals.read == 7160 == totals.stored  # the README's count of FHIR lines
    skipped = {f.path: f.source for f in report.skipped}
    assert "log.ndjson" in skipped and "bulk export log" in skipped["log.ndjson"]
    assert raw("SELECT count(*) FROM quarantine") == [(0,)]
    assert raw("SELECT count(*) FROM resources WHERE resource_type = 'Patient'") == [(13,)]


def test_synthea_bundles_ingest_with_resolved_references(shared_dir: Path, run, raw) -> None:
    report = run(shared_dir / "data" / "synthea-bundles", site="bundles")
    totals = report.totals
    assert totals.quarantined == 0
    assert totals.read == 5605
    # 4 Organizations and 4 Practitioners are repeated, identical, across bundles
    assert totals.duplicates == 12 and totals.stored == 5605 - 12
    assert raw("SELECT count(*) FROM resources WHERE resource::VARCHAR LIKE '%urn:uuid:%'") == [
        (0,)
    ]
    # every subject reference of an Observation now names a stored Patient
    dangling = raw(
        """SELECT count(*) FROM resources o WHERE o.resource_type = 'Observation'
           AND json_extract_string(o.resource, '$.subject.reference') NOT IN
               (SELECT 'Patient/' || id FROM resources WHERE resource_type = 'Patient')"""
    )
    assert dangling == [(0,)]
