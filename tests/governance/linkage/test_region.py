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
