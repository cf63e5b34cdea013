"""Query specs (validation, SQL values) and the coordinator's combination, without processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from axhub.errors import InputError
from axhub.federation.coordinator import combine, histogram_quantile, load_sites
from axhub.federation.node import NodeStore
from axhub.federation.spec import QuerySpec

BASE = {"query_id": "q-1", "project_id": "p1", "researcher_id": "r1", "kind": "count"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "list_patients"}, "kind"),
        ({"cohort": {"conditions": ["hypertensoin"]}}, "cohort.conditions[0]"),
        ({"cohort": {"districts": ["Seoul"]}}, "cohort.districts[0]"),
        ({"cohort": {"sex": "f' OR 1=1 --"}}, "cohort.sex"),
        ({"cohort": {"age_min": 70, "age_max": 40}}, "cohort.age_min"),
        ({"cohort": {"person_id": "x"}}, "cohort"),
        ({"kind": "mean", "measure": "8480-6'; DROP"}, "measure"),
        ({"kind": "mean", "measure": "8480-6", "epsilon": 1.0}, "bounds"),
        ({"kind": "quantile", "measure": "8480-6", "bins": [3, 2, 1]}, "bins"),
        ({"epsilon": -1}, "epsilon"),
        ({"kind": "quantile", "measure": "8480-6", "bins": [1, float("nan")]}, "query"),
        ({"sql": "SELECT * FROM resources"}, "sql"),
        ({"project_id": "p 1; x"}, "project_id"),
    ],
)
def test_bad_specs_are_refused_naming_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(InputError) as err:
        QuerySpec.from_json({**BASE, **change})
    assert err.value.field == field


def test_a_valid_spec_round_trips_through_json() -> None:
    body = {
        **BASE,
        "kind": "quantile",
        "cohort": {"conditions": ["diabetes"], "sex": "female", "districts": ["퇴계동"]},
        "measure": "4548-4",
        "bins": [4, 5, 6, 7, 8, 15],
    }
    spec = QuerySpec.from_json(body)
    assert QuerySpec.from_json(spec.to_json()) == spec
    assert spec.bin_labels()[0] == "00:[4,5)"
    assert "'E11'" in spec.cohort.sql() and "'퇴계동'" in spec.cohort.sql()


def test_combine_counts_reports_suppressed_sites_instead_of_guessing() -> None:
    out = combine(
        [
            {"site": "a", "kind": "count", "n": 40},
            {"site": "b", "kind": "count", "n": None},
        ],
        (0.5,),
    )
    assert out == {"n": 40, "exact": False, "suppressed_at": ["b"]}


def test_combine_means_is_the_pooled_mean_and_sd() -> None:
    a = [1.0, 2.0, 3.0, 4.0]
    b = [10.0, 12.0]

    def summary(xs: list[float], site: str) -> dict[str, object]:
        m = sum(xs) / len(xs)
        return {"site": site, "kind": "mean", "n": len(xs), "mean": m,
                "var": sum((x - m) ** 2 for x in xs) / (len(xs) - 1)}  # fmt: skip

    out = combine([summary(a, "a"), summary(b, "b")], (0.5,))
    xs = a + b
    m = sum(xs) / len(xs)
    sd = (sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) ** 0.5
    assert out["n"] == 6 and out["mean"] == pytest.approx(m, abs=1e-4)
    assert out["sd"] == pytest.approx(sd, abs=1e-4)


def test_histogram_quantiles_interpolate_within_the_bin() -> None:
    edges = [0.0, 10.0, 20.0, 30.0]
    assert histogram_quantile(edges, [10, 20, 10], 0.5) == 15.0
    assert histogram_quantile(edges, [10, 20, 10], 0.25) == 10.0
    assert histogram_quantile(edges, [0, 0, 0], 0.5) is None
    out = combine(
        [
            {"site": "a", "kind": "quantile", "bins": edges, "histogram": [10, None, 0]},
            {"site": "b", "kind": "quantile", "bins": edges, "histogram": [0, 20, 10]},
        ],
        (0.5,),
    )
    assert out["histogram"] == [10, 20, 10] and out["suppressed_bins"] == ["a:1"]


def test_tokens_are_stored_hashed(tmp_path: Path) -> None:
    store = NodeStore(tmp_path)
    token = store.issue_token("coordinator")
    assert store.authenticate(token) == "coordinator"
    assert store.authenticate(token + "x") is None
    assert token.encode() not in (tmp_path / "federation.sqlite").read_bytes()
    renewed = store.issue_token("coordinator")
    assert store.authenticate(token) is None and store.authenticate(renewed) == "coordinator"


def test_sites_file_errors_name_the_field(tmp_path: Path) -> None:
    f = tmp_path / "sites.toml"
    f.write_text('[[site]]\nname = "knuh"\nurl = "http://127.0.0.1:1"\n', encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_sites(f)
    assert err.value.field == "site[0].token"
    f.write_text(
        '[[site]]\nname = "knuh"\nurl = "http://h:1/"\ntoken_env = "AXHUB_TEST_TOK"\n',
        encoding="utf-8",
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AXHUB_TEST_TOK", "secret")
        (site,) = load_sites(f)
    assert (site.url, site.token) == ("http://h:1", "secret")
