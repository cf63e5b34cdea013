"""End to end through ``ingest()``: accounting, idempotence, versions, deletions, bad input."""

from __future__ import annotations

import gzip

import duckdb
import orjson
import pytest

from axhub.errors import InputError
from axhub.ingest import ingest

from .conftest import ndjson, observation, patient


def test_every_record_is_accounted_for_and_bad_lines_are_quarantined(tmp_path, run, raw):
    src = tmp_path / "export"
    ndjson(
        src / "Patient.000.ndjson",
        patient("p1"),
        "",  # blank line: not a record
        '{"resourceType":"Patient","id":"p2"',  # cut mid-JSON
        {"resourceType": "Alien", "id": "x1"},
        patient("p3"),
    )
    ndjson(src / "Observation.000.ndjson", observation("o1"), observation("o2", "Patient p1"))
    report = run(src)
    t = report.totals
    assert (t.read, t.stored, t.quarantined, t.blank_lines) == (6, 3, 3, 1)
    assert report.equation().startswith("records read 6 = stored 3")
    rows = raw("SELECT source_file, line, json_path, reason, raw FROM quarantine ORDER BY 1, 2")
    assert [(r[0].rsplit("/", 1)[-1], r[1], r[2]) for r in rows] == [
        ("Observation.000.ndjson", 2, "$.subject.reference"),
        ("Patient.000.ndjson", 3, "$"),
        ("Patient.000.ndjson", 4, "$.resourceType"),
    ]
    assert rows[1][4] == b'{"resourceType":"Patient","id":"p2"'  # raw bytes kept
    assert "unknown FHIR R4 resourceType" in rows[2][3]


def test_same_export_twice_changes_nothing(tmp_path, run, raw):
    src = tmp_path / "export"
    ndjson(src / "Patient.000.ndjson", patient("p1"), patient("p2"), "not json")
    run(src)
    before = raw("SELECT * FROM resources ORDER BY id"), raw("SELECT count(*) FROM quarantine")
    second = run(src)
    assert second.totals.stored == 0
    assert second.totals.duplicates == 2 and second.totals.quarantined == 1
    after = raw("SELECT * FROM resources ORDER BY id"), raw("SELECT count(*) FROM quarantine")
    assert after == before
    assert raw("SELECT count(*) FROM resource_history") == [(0,)]


def _versioned(version: str, updated: str, gender: str) -> dict:
    return patient("p1", gender=gender, meta={"versionId": version, "lastUpdated": updated})


def test_newer_version_replaces_older_and_late_older_version_does_not(tmp_path, run, raw):
    v1 = _versioned("1", "2024-01-01T00:00:00Z", "female")
    v2 = _versioned("2", "2024-02-01T00:00:00Z", "male")
    run(ndjson(tmp_path / "a" / "Patient.ndjson", v1))
    report = run(ndjson(tmp_path / "b" / "Patient.ndjson", v2))
    assert report.totals.stored == 1
    assert raw("SELECT version_id FROM resources") == [("2",)]
    late = run(ndjson(tmp_path / "c" / "Patient.ndjson", v1 | {"gender": "other"}))
    assert late.totals.superseded == 1 and late.totals.stored == 0
    assert raw("SELECT version_id FROM resources") == [("2",)]
    assert raw("SELECT version_id, reason FROM resource_history ORDER BY 1, 2") == [
        ("1", "replaced"),
        ("1", "stale"),
    ]


def test_same_id_twice_in_one_run(tmp_path, run, raw):
    # identical content: stored once, counted as a duplicate
    # different content without versions: the later line wins, the earlier is kept in history
    src = ndjson(
        tmp_path / "Patient.ndjson",
        patient("p1"),
        patient("p1"),
        patient("p2", gender="female"),
        patient("p2", gender="male"),
    )
    t = run(src).totals
    assert (t.read, t.stored, t.duplicates, t.superseded) == (4, 2, 1, 1)
    assert raw("SELECT json_extract_string(resource, '$.gender') FROM resources WHERE id='p2'") == [
        ("male",)
    ]
    assert raw("SELECT source_line, reason FROM resource_history") == [(3, "superseded")]


def test_bulk_deleted_list_is_honoured(tmp_path, run, raw):
    src = tmp_path / "export"
    ndjson(src / "Patient.000.ndjson", patient("p1"), patient("p2"))
    delete = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"request": {"method": "DELETE", "url": "Patient/p1"}}],
    }
    ndjson(src / "deleted" / "Bundle.000.ndjson", delete)
    report = run(src)
    assert report.totals.deleted == 1 and report.totals.stored == 2
    assert raw("SELECT id FROM resources") == [("p2",)]
    assert raw("SELECT resource_type, id, applied FROM deletions") == [("Patient", "p1", True)]
    assert raw("SELECT id, reason FROM resource_history") == [("p1", "deleted")]
    again = run(src)  # idempotent: the deleted resource does not come back
    assert again.totals.stored == 0 and raw("SELECT id FROM resources") == [("p2",)]
    assert raw("SELECT count(*) FROM deletions") == [(1,)]


def test_mixed_folder_of_ndjson_gzip_bundles_and_non_fhir_files(tmp_path, run, raw):
    src = tmp_path / "mixed"
    ndjson(src / "Patient.000.ndjson", patient("p1"))
    (src / "Observation.000.ndjson.gz").write_bytes(
        gzip.compress(orjson.dumps(observation("o1")) + b"\n")
    )
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "urn:uuid:0b4b3a5e-6f7c-4c1e-9a57-2e8e1b6f4a10",
             "resource": patient("p7")},
            {"resource": observation("o7", "urn:uuid:0b4b3a5e-6f7c-4c1e-9a57-2e8e1b6f4a10")},
        ],
    }  # fmt: skip
    (src / "bundle.json").write_bytes(orjson.dumps(bundle, option=orjson.OPT_INDENT_2))
    ndjson(src / "log.ndjson", {"exportId": "e", "eventId": "kickoff"})
    (src / "README.md").write_text("notes")
    report = run(src)
    assert report.totals.stored == 4 and report.totals.quarantined == 0
    assert {f.path for f in report.skipped} == {"log.ndjson", "README.md"}
    ref = raw("SELECT json_extract_string(resource, '$.subject.reference') FROM resources "
              "WHERE id = 'o7'")  # fmt: skip
    assert ref == [("Patient/p7",)]


def test_bundle_with_dangling_reference_quarantines_that_entry(tmp_path, run, raw):
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": patient("p1")},
            {"resource": observation("o1", "urn:uuid:99999999-9999-4999-8999-999999999999")},
        ],
    }
    report = run(ndjson(tmp_path / "b.json", bundle))
    assert (report.totals.read, report.totals.stored, report.totals.quarantined) == (2, 1, 1)
    assert raw("SELECT line, json_path FROM quarantine") == [
        (1, "$.entry[1].resource.subject.reference")
    ]


def test_invalid_utf8_line_is_quarantined_with_its_bytes(tmp_path, run, raw):
    bad = b'{"resourceType":"Patient","id":"p9","name":[{"text":"\xff\xfe"}]}'
    report = run(ndjson(tmp_path / "Patient.ndjson", patient("p1"), bad, patient("p2")))
    assert (report.totals.stored, report.totals.quarantined) == (2, 1)
    ((line, path, reason, raw_bytes),) = raw("SELECT line, json_path, reason, raw FROM quarantine")
    assert (line, path, raw_bytes) == (2, "$", bad) and "UTF-8" in reason


def test_truncated_file_and_truncated_gzip(tmp_path, run, raw):
    src = tmp_path / "t"
    data = b"".join(orjson.dumps(patient(f"p{i}")) + b"\n" for i in range(50))
    (src).mkdir()
    (src / "Patient.000.ndjson").write_bytes(data[:-20])  # last line cut mid-JSON
    gz = gzip.compress(data.replace(b'"p', b'"q'))
    (src / "Patient.001.ndjson.gz").write_bytes(gz[: len(gz) - 40])
    report = run(src)
    plain, zipped = report.files
    assert (plain.read, plain.stored, plain.quarantined) == (50, 49, 1)
    assert zipped.quarantined >= 1 and zipped.balanced
    reasons = [r[0] for r in raw("SELECT reason FROM quarantine ORDER BY source_file, line")]
    assert reasons[0].startswith("invalid JSON")
    assert any("could not be read to its end" in r for r in reasons)


def test_a_50_mb_single_line_is_stored(tmp_path, run, raw):
    big = patient("big", text={"status": "generated", "div": "x" * (50 * 1024 * 1024)})
    report = run(ndjson(tmp_path / "Patient.ndjson", big, patient("small")))
    assert report.totals.stored == 2
    assert raw("SELECT strlen(resource::VARCHAR) > 50 * 1024 * 1024 FROM resources "
               "WHERE id = 'big'") == [(True,)]  # fmt: skip


def _power_cut_in_batch(monkeypatch, n: int) -> None:
    """The n-th batch of the next runs fails after its rows are written, before its
    transaction commits; every other batch goes through."""
    from axhub.ingest import pipeline

    real = pipeline._record_progress
    calls = {"n": 0}

    def crashing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n:
            raise KeyboardInterrupt("power cut")
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "_record_progress", crashing)


def test_crash_half_way_leaves_the_zone_consistent_and_a_rerun_finishes(
    tmp_path, settings, monkeypatch, raw
):
    src = ndjson(tmp_path / "Patient.ndjson", *[patient(f"p{i}") for i in range(50)], "{bad")
    settings.ingest_batch_lines = 10
    _power_cut_in_batch(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        ingest(src, site="knuh", settings=settings)
    assert raw("SELECT count(*) FROM resources") == [(20,)]  # two whole batches, no part
    assert raw("SELECT status FROM ingest_runs") == [("running",)]
    report = ingest(src, site="knuh", settings=settings)
    assert report.files[0].note.startswith("resumed at line 21")
    assert (report.totals.read, report.totals.stored, report.totals.quarantined) == (31, 30, 1)
    assert raw("SELECT count(*) FROM resources") == [(50,)]


def test_one_transaction_spans_small_files_and_a_crash_undoes_all_of_it(
    tmp_path, settings, monkeypatch, raw
):
    """Batches and files share a transaction until it holds ``ingest_batch_lines`` lines
    (or a row group of stored rows): a crash in the second file also undoes the first, whose
    progress row goes back with it, and the rerun stores both whole."""
    folder = tmp_path / "export"
    folder.mkdir()
    ndjson(folder / "Patient.ndjson", *[patient(f"p{i}") for i in range(5)])
    ndjson(folder / "Patient2.ndjson", *[patient(f"q{i}") for i in range(5)])
    settings.ingest_batch_lines = 100
    _power_cut_in_batch(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        ingest(folder, site="knuh", settings=settings)
    assert raw("SELECT count(*) FROM resources") == [(0,)]
    assert raw("SELECT count(*) FROM ingest_files WHERE status = 'done'") == [(0,)]
    report = ingest(folder, site="knuh", settings=settings)
    assert [f.note for f in report.files] == ["", ""]
    assert (report.totals.read, report.totals.stored) == (10, 10)
    assert raw("SELECT count(*) FROM resources") == [(10,)]


def test_sites_are_kept_apart(tmp_path, run, raw):
    src = ndjson(tmp_path / "Patient.ndjson", patient("p1"))
    run(src, site="knuh")
    assert run(src, site="hallym").totals.stored == 1
    assert raw("SELECT site FROM resources ORDER BY 1") == [("hallym",), ("knuh",)]


@pytest.mark.parametrize("site", ["KNUH", "", "a b", "x" * 40])
def test_bad_site_name_is_an_input_error(tmp_path, settings, site):
    with pytest.raises(InputError):
        ingest(tmp_path, site=site, settings=settings)


def test_missing_path_is_an_input_error(tmp_path, settings):
    with pytest.raises(InputError, match="does not exist"):
        ingest(tmp_path / "nope", site="knuh", settings=settings)


def test_a_second_writer_gets_a_clear_error(tmp_path, settings):
    import duckdb

    from axhub.errors import EngineError

    settings.data_dir.mkdir(parents=True)
    holder = duckdb.connect(str(settings.raw_zone_path))
    try:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(1) as pool:
            message = pool.apply(_ingest_in_child, (str(tmp_path), str(settings.data_dir)))
    finally:
        holder.close()
    assert message.startswith("EngineError: cannot open the raw zone")
    assert EngineError.exit_code == 6


def _ingest_in_child(src: str, data_dir: str) -> str:
    from pathlib import Path

    from axhub.config import Settings
    from axhub.errors import AxhubError

    try:
        ingest(Path(src), site="knuh", settings=Settings(data_dir=Path(data_dir)))
    except AxhubError as exc:
        return f"{type(exc).__name__}: {exc}"
    return "no error"


def test_without_meta_an_old_content_again_is_a_replay_not_a_revert(tmp_path, run, raw):
    a, b = patient("p1", gender="female"), patient("p1", gender="male")
    run(ndjson(tmp_path / "1" / "Patient.ndjson", a))
    run(ndjson(tmp_path / "2" / "Patient.ndjson", b))
    third = run(ndjson(tmp_path / "3" / "Patient.ndjson", a))
    assert third.totals.duplicates == 1 and third.totals.stored == 0
    assert raw("SELECT json_extract_string(resource, '$.gender') FROM resources") == [("male",)]


def test_a_raw_zone_from_before_the_content_hash_removal_is_upgraded(tmp_path, settings, run, raw):
    """An older raw zone (with ``content_hash``) keeps its rows and takes new ingests."""
    from axhub.ingest import rawzone

    old_schema = rawzone.SCHEMA.replace(
        "last_updated TIMESTAMPTZ, resource VARCHAR",
        "last_updated TIMESTAMPTZ, content_hash VARCHAR, resource JSON",
    )
    assert old_schema.count("content_hash") == 2
    settings.data_dir.mkdir(parents=True)
    con = duckdb.connect(str(settings.raw_zone_path))
    con.execute(old_schema)
    con.execute(
        "INSERT INTO resources VALUES "
        "('knuh', 'Patient', 'p0', NULL, NULL, 'h', ?, 'old', 1, 'r0')",
        [orjson.dumps(patient("p0")).decode()],
    )
    con.close()
    src = tmp_path / "export"
    ndjson(src / "Patient.000.ndjson", patient("p0"), patient("p1"))
    report = run(src)
    assert (report.totals.duplicates, report.totals.stored) == (1, 1)
    assert raw("SELECT id FROM resources ORDER BY id") == [("p0",), ("p1",)]
    cols = [r[0] for r in raw("DESCRIBE resources")]
    assert "content_hash" not in cols


def test_duckdb_draws_no_progress_bar_into_the_commands_output(tmp_path):
    """DuckDB draws a progress bar for any statement over 2 s, into the command's output; the
    raw zone's connection switches it off (as do the checker's, the engine's and de-id's)."""
    from axhub.ingest import rawzone

    con = rawzone.connect(str(tmp_path / "raw.duckdb"))
    try:
        assert con.execute("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)
    finally:
        con.close()
