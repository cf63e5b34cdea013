"""Federated queries across four site processes on loopback (the last test kills one site)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq
from typer.testing import CliRunner

from axhub.cli.main import app
from axhub.federation.coordinator import Coordinator, Site, new_query_id
from axhub.federation.spec import Cohort, QuerySpec, district_names

if TYPE_CHECKING:
    from conftest import Federation

# the region the package fixture builds (conftest.py): phc's committee approves by hand
SITES = ("knuh", "hallym", "phc", "clinics")
APPROVAL_SITE, PROJECT, RESEARCHER = "phc", "fed-2026", "r-kim"
AUTO = tuple(s for s in SITES if s != APPROVAL_SITE)


def spec(kind: str = "count", **kw: Any) -> QuerySpec:
    return QuerySpec(new_query_id(), PROJECT, RESEARCHER, kind, **kw)


def test_count_sums_the_sites_and_names_the_site_awaiting_its_committee(
    federation: Federation,
) -> None:
    assert (federation.sites, federation.approval_site) == (SITES, APPROVAL_SITE)
    assert (federation.project, federation.researcher) == (PROJECT, RESEARCHER)
    r = federation.coordinator().submit(spec())
    assert r.partial
    assert r.pending == [APPROVAL_SITE]
    assert set(r.answered) == set(AUTO)
    for site in AUTO:
        assert r.answered[site]["n"] == federation.patients[site]
    assert r.combined == {
        "n": sum(federation.patients[s] for s in AUTO),
        "exact": True,
        "suppressed_at": [],
    }
    assert r.to_json()["sites_pending"] == [APPROVAL_SITE]


def test_committee_approves_or_rejects_by_hand(federation: Federation) -> None:
    coord = federation.coordinator()
    q = spec(cohort=Cohort(sex="female"))
    assert coord.submit(q).pending == [APPROVAL_SITE]
    assert coord.collect(q.query_id).pending == [APPROVAL_SITE]  # nothing runs unapproved
    data_dir = str(federation.nodes[APPROVAL_SITE].data_dir)
    runner = CliRunner()
    listed = runner.invoke(app, ["node", "pending", "--data-dir", data_dir])
    assert listed.exit_code == 0 and q.query_id in listed.output
    out = runner.invoke(
        app, ["node", "approve", q.query_id, "--data-dir", data_dir, "--by", "drb-chair"]
    )
    assert out.exit_code == 0, out.output
    r = coord.collect(q.query_id)
    assert not r.partial and set(r.answered) == set(SITES)
    assert r.combined["n"] == sum(p["n"] for p in r.answered.values())
    audit = (federation.nodes[APPROVAL_SITE].data_dir / "audit" / "audit.jsonl").read_text()
    entries = [json.loads(line) for line in audit.splitlines()]
    mine = [e for e in entries if e.get("detail", {}).get("federated_query") == q.query_id]
    assert [(e["actor"], e["detail"].get("status") or e["detail"]["decision"]) for e in mine] == [
        ("drb-chair", "approve"),
        (RESEARCHER, "answered"),
    ]
    assert mine[1]["detail"]["approved_by"] == "drb-chair"
    again = runner.invoke(app, ["node", "approve", q.query_id, "--data-dir", data_dir, "--by", "x"])
    assert again.exit_code == 2 and "not pending" in again.output

    q2 = spec(cohort=Cohort(sex="male"))
    coord.submit(q2)
    out = runner.invoke(
        app, ["node", "reject", q2.query_id, "--data-dir", data_dir, "--by", "drb-chair"]
    )
    assert out.exit_code == 0
    r2 = coord.collect(q2.query_id)
    assert "rejected" in r2.refused[APPROVAL_SITE] and r2.partial


def _small_district(federation: Federation, site: str) -> str | None:
    counts = federation.districts[site]
    unknown = counts.get("(unknown)", 0)
    for d, n in sorted(counts.items()):
        if d != "(unknown)" and 1 <= n + unknown < 10 and n >= 1:
            return d
    return None


def test_refuses_a_cohort_below_the_minimum_and_a_differencing_query(
    federation: Federation,
) -> None:
    site = next(s for s in AUTO if _small_district(federation, s) is not None)
    small = _small_district(federation, site)
    assert small is not None
    coord = federation.coordinator(only=(site,))

    tiny = coord.submit(spec(cohort=Cohort(districts=(small,))))
    assert "below the minimum size of 10" in tiny.refused[site]
    assert tiny.combined == {} and tiny.partial

    everyone = coord.submit(spec())
    assert everyone.answered[site]["n"] == federation.patients[site]
    others = tuple(d for d in district_names() if d != small)
    # "everyone except one small district": subtracting the answers would count that district
    diff = coord.submit(spec(cohort=Cohort(districts=others)))
    assert "differencing" in diff.refused[site]
    assert diff.answered == {}
    # the same population again (no difference) is answered
    assert coord.submit(spec()).answered[site]["n"] == federation.patients[site]


def _split_around(federation: Federation, site: str) -> tuple[str, list[str], list[str]] | None:
    """A small district and two halves of the site's other districts, each of 10+ persons."""
    small = _small_district(federation, site)
    counts = federation.districts[site]
    others = sorted((n, d) for d, n in counts.items() if d not in ("(unknown)", small))
    halves: tuple[list[str], list[str]] = ([], [])
    sizes = [0, 0]
    for n, d in reversed(others):
        i = int(sizes[1] < sizes[0])
        halves[i].append(d)
        sizes[i] += n
    if small is None or min(sizes) < 10:
        return None
    return small, sorted(halves[0]), sorted(halves[1])


def test_refuses_differencing_by_a_combination_the_pairwise_rule_misses(
    federation: Federation,
) -> None:
    # everyone (public: the site's size), then two halves of the districts that leave out one
    # small district: |everyone| - |half 1| - |half 2| would count that district.  Every pair
    # of these populations differs by 10 or more persons, so only set algebra catches it.
    site = next(s for s in AUTO if _split_around(federation, s) is not None)
    split = _split_around(federation, site)
    assert split is not None
    small, half1, half2 = split
    counts = federation.districts[site]
    left_out = counts[small] + counts.get("(unknown)", 0)
    assert 1 <= left_out < 10
    n1, n2 = (sum(counts[d] for d in h) for h in (half1, half2))
    total = federation.patients[site]
    assert min(n1 + n2, total - n1, total - n2) >= 10  # no pair differs by fewer than 10
    coord = federation.coordinator(only=(site,))
    first = coord.submit(spec(cohort=Cohort(districts=tuple(half1))))
    assert first.answered[site]["n"] == n1
    second = coord.submit(spec(cohort=Cohort(districts=tuple(half2))))
    assert second.answered == {}
    assert "single out a group of fewer than 10" in second.refused[site]
    assert str(left_out) not in second.refused[site].split("fewer than 10")[1]


def test_district_indicator_is_suppressed_per_site(federation: Federation) -> None:
    r = federation.coordinator().submit(
        spec("district", cohort=Cohort(conditions=("hypertension",)))
    )
    assert set(r.answered) == set(AUTO)
    for site in AUTO:
        truth = federation.districts[site]
        for row in r.answered[site]["districts"]:
            for k in ("cohort", "total"):
                assert row[k] is None or row[k] == 0 or row[k] >= 10
            if row["total"] is not None:
                assert row["total"] == truth.get(row["district"], 0)
    # the large site publishes some district totals; small sites may have all cells hidden
    assert any(row["total"] for row in r.answered["clinics"]["districts"])
    for acc in r.combined["districts"].values():
        if acc["rate"] is not None:
            assert 0 <= acc["rate"] <= 1 and not acc["suppressed_at"]


def test_mean_and_quantiles_of_systolic_pressure(federation: Federation) -> None:
    coord = federation.coordinator(only=AUTO)
    cohort = Cohort(age_min=40)
    m = coord.submit(spec("mean", cohort=cohort, measure="8480-6"))
    assert m.answered, m.refused
    n = sum(p["n"] for p in m.answered.values())
    assert m.combined["n"] == n
    assert 100 < m.combined["mean"] < 170 and 5 < m.combined["sd"] < 40
    for site, p in m.answered.items():
        assert 10 <= p["n"] <= federation.patients[site]
    edges = tuple(float(x) for x in range(70, 231, 10))
    qt = coord.submit(spec("quantile", cohort=cohort, measure="8480-6", bins=edges))
    qs = qt.combined["quantiles"]
    assert 70 <= qs["0.25"] <= qs["0.5"] <= qs["0.75"] <= 230
    for p in qt.answered.values():
        assert all(v is None or v == 0 or v >= 10 for v in p["histogram"])


def test_dp_releases_are_charged_to_each_sites_project_budget(federation: Federation) -> None:
    coord = federation.coordinator(only=AUTO)
    first = coord.submit(spec(epsilon=0.6))
    assert set(first.answered) == set(AUTO)
    for site, p in first.answered.items():
        assert p["method"] == "opendp-laplace" and p["epsilon"] == 0.6
        assert abs(p["n"] - federation.patients[site]) < 40
    second = coord.submit(spec(epsilon=0.6))  # budget 1.0 per site: 0.6 + 0.6 > 1.0
    assert second.answered == {}
    for site in AUTO:
        assert "privacy budget" in second.refused[site]


def test_wrong_or_missing_token_is_refused(federation: Federation) -> None:
    node = federation.nodes["knuh"]
    bad = Coordinator([Site("knuh", node.url, "not-the-token")], timeout=10)
    r = bad.submit(spec())
    assert r.answered == {} and "HTTP 401" in r.refused["knuh"]
    other = federation.nodes["hallym"]  # a token of one site does not open another
    r = Coordinator([Site("hallym", other.url, node.token)], timeout=10).submit(spec())
    assert "HTTP 401" in r.refused["hallym"]


HEX_ID = re.compile(r"\b[0-9a-f]{32}\b")
ALLOWED_KEYS = {
    "site", "query_id", "status", "result", "kind", "method", "epsilon", "n", "mean", "var",
    "districts", "district", "cohort", "total", "bins", "histogram", "reason",
}  # fmt: skip
REFUSAL = re.compile(r"^(differencing: |cohort below the minimum|privacy budget)")


def _walk(value: Any, keys: set[str], strings: set[str]) -> None:
    if isinstance(value, dict):
        keys.update(value)
        for v in value.values():
            _walk(v, keys, strings)
    elif isinstance(value, list):
        for v in value:
            _walk(v, keys, strings)
    elif isinstance(value, str):
        strings.add(value)


def test_coordinator_receives_no_person_level_data(federation: Federation) -> None:
    coord = federation.coordinator(only=AUTO)
    results = [
        coord.submit(spec("count", cohort=Cohort(conditions=("diabetes", "hypertension")))),
        coord.submit(spec("district")),
        coord.submit(spec("mean", cohort=Cohort(sex="female"), measure="8480-6")),
        coord.submit(
            spec("quantile", cohort=Cohort(sex="male"), measure="8480-6", bins=(80, 120, 160, 250))
        ),
    ]
    raw = b"".join(body for r in results for body in r.raw.values())
    assert len(raw) > 0
    keys: set[str] = set()
    strings: set[str] = set()
    for r in results:
        for body in r.raw.values():
            _walk(json.loads(body), keys, strings)
    assert keys <= ALLOWED_KEYS
    allowed = (
        set(SITES)
        | set(district_names())
        | {"(unknown)", "count", "district", "mean", "quantile", "answered", "refused"}
        | {"small-cell<10+complementary", "opendp-laplace"}
        | {r.query_id for r in results}
    )
    assert {t for t in strings if not REFUSAL.match(t)} <= allowed
    assert any(r.answered for r in results)
    assert not HEX_ID.search(raw.decode())
    persons = pq.read_table(federation.region / "ground_truth" / "persons.parquet")
    records = pq.read_table(federation.region / "ground_truth" / "site_records.parquet")
    identifiers = {
        *persons.column("person_id").to_pylist(),
        *persons.column("name").to_pylist(),
        *persons.column("phone").to_pylist(),
        *records.column("patient_id").to_pylist(),
    }
    text = raw.decode()
    assert not [i for i in identifiers if i and str(i) in text]
    # per-person numbers do not leave either: every site answer is an aggregate
    for r in results:
        for p in r.answered.values():
            assert len(json.dumps(p)) < 4000
