"""Pairwise precision / recall / F1 against ground truth, counted from cluster sizes."""

from __future__ import annotations

import pyarrow as pa
import pytest

from axhub.errors import InputError
from axhub.governance.linkage import evaluate

TRUTH = pa.table(
    {
        "site": ["a", "b", "c", "a", "b", "c"],
        "patient_id": ["1", "1", "1", "2", "2", "3"],
        "person_id": ["P", "P", "P", "Q", "Q", "R"],
    }
)


def _links(pids: list[str]) -> pa.Table:
    return pa.table({"site": TRUTH["site"], "record_id": TRUTH["patient_id"], "person_id": pids})


def test_perfect_links() -> None:
    q = evaluate(_links(["x", "x", "x", "y", "y", "z"]), TRUTH)
    assert (q.precision, q.recall, q.f1) == (1.0, 1.0, 1.0)
    assert q.true_pairs == 4 and q.records == 6 and q.unmatched_records == 0


def test_split_cluster_loses_recall_only() -> None:
    q = evaluate(_links(["x", "x", "w", "y", "y", "z"]), TRUTH)
    assert q.precision == 1.0 and q.correct_pairs == 2 and q.recall == pytest.approx(0.5)
    assert q.f1 == pytest.approx(2 / 3)


def test_merged_clusters_lose_precision() -> None:
    q = evaluate(_links(["x", "x", "x", "y", "y", "y"]), TRUTH)
    # predicted cross-site pairs: 3 in x + 3 in y = 6, of which 4 are right
    assert q.predicted_pairs == 6 and q.correct_pairs == 4
    assert q.precision == pytest.approx(2 / 3) and q.recall == 1.0


def test_same_site_pairs_do_not_count() -> None:
    links = pa.table({"site": ["a", "a"], "record_id": ["1", "2"], "person_id": ["x", "x"]})
    truth = pa.table({"site": ["a", "a"], "record_id": ["1", "2"], "person_id": ["P", "Q"]})
    q = evaluate(links, truth)
    assert q.predicted_pairs == 0 and q.true_pairs == 0


def test_unmatched_records_are_counted_and_bad_tables_named() -> None:
    links = _links(["x", "x", "x", "y", "y", "z"]).slice(0, 5)
    assert evaluate(links, TRUTH).unmatched_records == 1
    with pytest.raises(InputError, match="links"):
        evaluate(links.drop_columns(["person_id"]), TRUTH)
