"""Same seed → byte-identical output; another seed → different output."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

from axhub.errors import InputError
from axhub.synth import generate


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_byte_identical_output(tmp_path):
    generate(800, 5, tmp_path / "a")
    generate(800, 5, tmp_path / "b")
    a, b = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert len(a) >= 20
    assert a == b


def test_other_seed_gives_other_output(tmp_path):
    generate(800, 5, tmp_path / "a")
    generate(800, 6, tmp_path / "b")
    a, b = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert a.keys() == b.keys()
    assert a["sites/knuh/Patient.000.ndjson"] != b["sites/knuh/Patient.000.ndjson"]


def test_gzip_output_is_deterministic_and_decompresses_to_the_plain_output(tmp_path):
    generate(500, 9, tmp_path / "plain")
    generate(500, 9, tmp_path / "gz1", gzip_output=True)
    generate(500, 9, tmp_path / "gz2", gzip_output=True)
    assert _digest(tmp_path / "gz1") == _digest(tmp_path / "gz2")
    for plain in (tmp_path / "plain").rglob("*.ndjson"):
        rel = plain.relative_to(tmp_path / "plain")
        packed = (tmp_path / "gz1" / rel).with_name(rel.name + ".gz")
        assert gzip.decompress(packed.read_bytes()) == plain.read_bytes(), rel


def test_rerun_into_the_same_folder_replaces_the_previous_region(tmp_path):
    out = tmp_path / "region"
    generate(300, 5, out, gzip_output=True)
    generate(300, 5, out)
    assert not list(out.rglob("*.gz"))
    generate(300, 5, tmp_path / "fresh")
    assert _digest(out) == _digest(tmp_path / "fresh")


def test_refuses_a_folder_that_is_not_a_region(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(InputError) as err:
        generate(100, 5, tmp_path)
    assert "not empty" in str(err.value) and "notes.txt" in str(err.value)
    assert (tmp_path / "notes.txt").read_text() == "keep me"
