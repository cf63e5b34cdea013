"""Accuracy on the synthetic region (all four sites, with its discrepancies): F1 >= 0.98."""

from __future__ import annotations

from pathlib import Path

import pytest

from axhub.errors import InputError
from axhub.governance.linkage.region import link_region
from axhub.synth import generate


def test_region_f1_at_least_098(tmp_path: Path, secret: str) -> None:
    generate(3000, 11, tmp_path)
    result = link_region(tmp_path, secret)
    assert set(result.records_by_site) == {"knuh", "hallym", "phc", "clinics"}
    assert result.quality.true_pairs > 500
    assert result.quality.f1 >= 0.98, str(result.quality)
    assert result.links.num_rows == sum(result.records_by_site.values())


def test_region_without_ground_truth_is_named(tmp_path: Path, secret: str) -> None:
    with pytest.raises(InputError, match="no site folders"):
        link_region(tmp_path, secret)


def test_region_encodings_carry_no_identifier_of_the_fhir_patients(
    tmp_path: Path, secret: str
) -> None:
    import io
    import json

    import pyarrow.ipc as ipc

    from axhub.governance.linkage.region import encode_region_sites

    generate(400, 2, tmp_path)
    wire = io.BytesIO()
    for table in encode_region_sites(tmp_path, secret).values():
        with ipc.new_stream(wire, table.schema) as writer:
            writer.write_table(table)
    sent = wire.getvalue()
    checked = 0
    for line in (tmp_path / "sites" / "knuh" / "Patient.000.ndjson").read_text().splitlines():
        doc = json.loads(line)
        values = [doc["name"][0]["text"], doc["identifier"][0]["value"], doc["birthDate"]]
        values += [t["value"] for t in doc.get("telecom", [])]
        values += [a.get("line", [""])[0] for a in doc.get("address", [])]
        for value in filter(None, values):
            assert value.encode() not in sent, value
            checked += 1
    assert checked > 100
