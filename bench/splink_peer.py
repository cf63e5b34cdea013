"""Plaintext Splink (DuckDB) linkage of the same records: the quality ceiling for bench_linkage.

Runs inside the separate peer venv (Splink may pin its own duckdb); never imported by axhub.
Usage: python splink_peer.py SPEC.json  (SPEC: kind, inputs {site: parquet}, out parquet)
Prints one JSON line: {"seconds": ..., "records": ...}; writes (site, record_id, person_id)
cluster rows to the "out" parquet and the predicted pairs (p >= 0.5) beside it (-pairs).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on


def settings_for(kind: str) -> tuple[SettingsCreator, list, list, list]:
    if kind == "febrl":
        comparisons = [
            cl.NameComparison("given_name"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison(
                "date_of_birth", input_is_string=True, datetime_format="%Y%m%d"
            ),
            cl.JaroWinklerAtThresholds("address_1"),
            cl.JaroWinklerAtThresholds("suburb"),
            cl.ExactMatch("postcode"),
            cl.ExactMatch("state"),
            cl.ExactMatch("street_number"),
        ]
        blocking = [
            block_on("given_name"),
            block_on("surname"),
            block_on("date_of_birth"),
            block_on("postcode", "street_number"),
        ]
        em = [block_on("date_of_birth"), block_on("surname")]
        deterministic = [
            block_on("given_name", "surname", "date_of_birth"),
            block_on("surname", "postcode", "street_number"),
        ]
    else:  # normalised region identifiers (romanised name skeletons)
        comparisons = [
            cl.JaroWinklerAtThresholds("name"),
            cl.DateOfBirthComparison("birth_date", input_is_string=True, datetime_format="%Y%m%d"),
            cl.ExactMatch("sex"),
            cl.LevenshteinAtThresholds("phone", [1, 2]),
            cl.ExactMatch("district"),
        ]
        blocking = [
            block_on("birth_date"),
            block_on("name", "birth_year"),
            block_on("phone"),
            block_on("name", "district"),
        ]
        em = [block_on("birth_date"), block_on("name")]
        # precise rules only: name + birth year pairs are mostly namesakes in a large region
        deterministic = [block_on("name", "birth_date"), block_on("phone", "birth_date")]
    s = SettingsCreator(
        link_type="link_only",
        unique_id_column_name="record_id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=blocking,
        retain_intermediate_calculation_columns=False,
    )
    return s, blocking, em, deterministic


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    t0 = time.perf_counter()
    db = DuckDBAPI(connection=duckdb.connect())
    frames = []
    for site, path in sorted(spec["inputs"].items()):
        frames.append(db.register(pq.read_table(path), dataset_display_name=site))
    settings, _blocking, em, deterministic = settings_for(spec["kind"])
    linker = Linker(frames, settings)
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6)
    for rule in em:
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    pred = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pred, 0.5)
    table = clusters.as_duckdbpyrelation().to_arrow_table()
    seconds = time.perf_counter() - t0
    src = "source_dataset" if "source_dataset" in table.column_names else table.column_names[0]
    out = pa.table(
        {
            "site": table.column(src).cast(pa.string()),
            "record_id": table.column("record_id").cast(pa.string()),
            "person_id": table.column("cluster_id").cast(pa.string()),
        }
    )
    pq.write_table(out, spec["out"])
    pairs = pred.as_duckdbpyrelation().to_arrow_table()
    pq.write_table(
        pa.table(
            {
                "site_a": pairs.column("source_dataset_l").cast(pa.string()),
                "record_a": pairs.column("record_id_l").cast(pa.string()),
                "site_b": pairs.column("source_dataset_r").cast(pa.string()),
                "record_b": pairs.column("record_id_r").cast(pa.string()),
            }
        ),
        spec["out"].replace(".parquet", "-pairs.parquet"),
    )
    print(json.dumps({"seconds": seconds, "records": out.num_rows}))


if __name__ == "__main__":
    main()
