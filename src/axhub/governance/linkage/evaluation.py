"""Linkage quality against ground truth: pairwise precision, recall and F1.

A pair is two records from different sites. A predicted pair is two records with the same
person id in the linkage output; a true pair is two records of the same true person. This is
the standard pairwise measure for record linkage (Christen 2012, "Data Matching", ch. 7), and
for a two-site linkage it equals the usual link-level precision/recall. Counted in one SQL
statement from cluster sizes: no pair is materialised.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import duckdb
import pyarrow as pa

from axhub.errors import InputError


@dataclass(frozen=True)
class LinkageQuality:
    precision: float
    recall: float
    f1: float
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    records: int
    unmatched_records: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)

    def __str__(self) -> str:
        return (
            f"precision {self.precision:.4f}  recall {self.recall:.4f}  F1 {self.f1:.4f}  "
            f"({self.correct_pairs}/{self.predicted_pairs} predicted, "
            f"{self.true_pairs} true cross-site pairs, {self.records} records)"
        )


def _require(table: pa.Table, name: str, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise InputError(
            f"{name} table lacks columns",
            field=", ".join(missing),
            reason=f"has {', '.join(table.column_names)}",
        )


def evaluate(links: pa.Table, truth: pa.Table) -> LinkageQuality:
    """Compare ``links`` (site, record_id, person_id) with ``truth`` (same shape).

    ``truth`` may name its record column ``patient_id`` (the synthetic region's
    ``ground_truth/site_records.parquet``). Records present in only one of the two tables are
    counted in ``unmatched_records`` and left out of the pair counts.
    """
    if "record_id" not in truth.column_names and "patient_id" in truth.column_names:
        truth = truth.rename_columns(
            ["record_id" if c == "patient_id" else c for c in truth.column_names]
        )
    _require(links, "links", ("site", "record_id", "person_id"))
    _require(truth, "truth", ("site", "record_id", "person_id"))
    con = duckdb.connect()
    con.register("_links", links.select(["site", "record_id", "person_id"]))
    con.register("_truth", truth.select(["site", "record_id", "person_id"]))
    row = con.execute(
        """
        WITH j AS (
            SELECT l.site, l.person_id AS p, t.person_id AS t
            FROM _links l JOIN _truth t
              ON l.site = t.site AND CAST(l.record_id AS VARCHAR) = CAST(t.record_id AS VARCHAR)
        ),
        -- cross-site pairs in a group = all pairs minus pairs within one site
        pred AS (
            SELECT sum(n * (n - 1) / 2) AS all_pairs FROM (SELECT count(*) n FROM j GROUP BY p)
        ),
        pred_same AS (
            SELECT sum(n * (n - 1) / 2) AS s FROM (SELECT count(*) n FROM j GROUP BY p, site)
        ),
        tru AS (
            SELECT sum(n * (n - 1) / 2) AS all_pairs FROM (SELECT count(*) n FROM j GROUP BY t)
        ),
        tru_same AS (
            SELECT sum(n * (n - 1) / 2) AS s FROM (SELECT count(*) n FROM j GROUP BY t, site)
        ),
        both_ AS (
            SELECT sum(n * (n - 1) / 2) AS all_pairs FROM (SELECT count(*) n FROM j GROUP BY p, t)
        ),
        both_same AS (
            SELECT sum(n * (n - 1) / 2) AS s FROM (SELECT count(*) n FROM j GROUP BY p, t, site)
        )
        SELECT
            (SELECT count(*) FROM j),
            (SELECT count(*) FROM _links) + (SELECT count(*) FROM _truth)
                - 2 * (SELECT count(*) FROM j),
            (SELECT coalesce(all_pairs, 0) FROM pred) - (SELECT coalesce(s, 0) FROM pred_same),
            (SELECT coalesce(all_pairs, 0) FROM tru) - (SELECT coalesce(s, 0) FROM tru_same),
            (SELECT coalesce(all_pairs, 0) FROM both_) - (SELECT coalesce(s, 0) FROM both_same)
        """
    ).fetchone()
    con.close()
    assert row is not None
    records, unmatched, predicted, true, correct = (int(v) for v in row)
    precision = correct / predicted if predicted else 1.0
    recall = correct / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return LinkageQuality(
        precision=precision,
        recall=recall,
        f1=f1,
        true_pairs=true,
        predicted_pairs=predicted,
        correct_pairs=correct,
        records=records,
        unmatched_records=unmatched,
    )
