"""Training through the governance boundary: steward import -> governed read -> train.

The governed training table must hold exactly the rows of the direct synthetic-data path
(``load_region``) for the same people, under project pseudonyms; the same model with the same
seed and held-out people then gives the same metrics.
"""

from __future__ import annotations

import datetime as dt
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from axhub.clinical.models import SPECS, split, train
from axhub.clinical.research import import_tables
from axhub.clinical.training import governed_training_table, project_scope
from axhub.errors import PolicyDenied
from axhub.governance.keys import KeyStore
from axhub.governance.principals import Principal, Project, Role
from axhub.governance.pseudonym import pseudonym
from axhub.governance.purposes import Purpose
from axhub.governance.stewardship import StewardStore

from .clinical_region import region

OP = Principal("op-models", Role.OPERATOR)
RES = Principal("r-models", Role.RESEARCHER, project_id="models-governed")


@cache
def imported() -> dict[str, object]:
    reg = region()
    store = StewardStore(reg.settings)
    reports = {
        t.dataset: store.import_research_data(
            OP, t.dataset, t.table, list(t.columns), provenance=t.provenance
        )
        for t in import_tables(reg.region)
    }
    store.register_project(
        OP,
        Project(
            "models-governed",
            "DRB-MODELS-1",
            frozenset({Purpose.AI_TRAINING}),
            project_scope(),
            dt.datetime(2099, 1, 1, tzinfo=dt.UTC),
        ),
    )
    return reports


def direct_under_project_pseudonyms() -> pa.Table:
    """The direct table with each generator person id replaced by its project pseudonym."""
    keys = KeyStore(region().settings)
    zone, proj = keys.key("zone"), keys.key("project:models-governed")
    t = region().research
    ids = [pseudonym(proj, pseudonym(zone, f"person:{p}")) for p in t["person_id"].to_pylist()]
    t = t.set_column(0, "person_id", pa.array(ids, pa.string()))
    return t.sort_by("person_id")


@pytest.mark.slow
def test_import_links_every_research_record() -> None:
    reports = imported()
    assert set(reports) == {"outcomes", "questionnaire", "metabolomics"}
    for r in reports.values():
        assert r.unknown_records == 0 and r.records == r.linked_records > 0  # type: ignore[attr-defined]
    people = region().research.num_rows
    assert reports["questionnaire"].persons == people  # type: ignore[attr-defined]


@pytest.mark.slow
def test_governed_table_equals_the_direct_table_on_the_same_people() -> None:
    imported()
    store = StewardStore(region().settings)
    data = governed_training_table(store, RES, "ai_training")
    assert set(data.lineage) == {
        f"governed:{n}" for n in ("features", "outcomes", "questionnaire", "metabolomics")
    }
    assert all(len(v) == 64 for v in data.lineage.values())
    governed = data.table.sort_by("person_id")
    direct = direct_under_project_pseudonyms()
    assert governed.column_names == direct.column_names
    assert governed.num_rows == direct.num_rows
    for name in direct.column_names:
        g, d = governed[name], direct[name].cast(governed.schema.field(name).type)
        assert g.equals(d), name
    assert int(pc.sum(governed["outcome_diabetes"]).as_py()) > 0
    assert governed["leucine_umol_l"].null_count < governed.num_rows


@pytest.mark.slow
def test_same_model_same_seed_same_people_gives_the_same_metrics() -> None:
    imported()
    store = StewardStore(region().settings)
    governed = governed_training_table(store, RES, "ai_training").table.sort_by("person_id")
    direct = region().research
    held_direct = split(np.array(direct["person_id"].to_pylist()), 3)
    # the same held-out people on both sides, by way of the pseudonym map
    keys = KeyStore(region().settings)
    zone, proj = keys.key("zone"), keys.key("project:models-governed")
    held_ids = {
        pseudonym(proj, pseudonym(zone, f"person:{p}"))
        for p, h in zip(direct["person_id"].to_pylist(), held_direct, strict=True)
        if h
    }
    held_gov = pa.array([p in held_ids for p in governed["person_id"].to_pylist()])
    a = train(
        direct.append_column("held", pa.array(held_direct)),
        SPECS["t2d_5y"],
        seed=3,
        n_boot=50,
        test_column="held",
    )
    b = train(
        governed.append_column("held", held_gov),
        SPECS["t2d_5y"],
        seed=3,
        n_boot=50,
        test_column="held",
    )
    assert a.population == b.population
    for k in ("auroc", "brier", "calibration_slope", "calibration_intercept"):
        assert b.metrics[k] == pytest.approx(a.metrics[k], abs=1e-6), k
    # with the governed side's own seeded split (other held-out people: the split hashes the
    # project pseudonym, whose key is random per run) the AUROC intervals still overlap
    c = train(governed, SPECS["t2d_5y"], seed=3, n_boot=200)
    assert c.population["eligible"] == a.population["eligible"]
    assert c.metrics["auroc_lo"] <= a.metrics["auroc_hi"]
    assert a.metrics["auroc_lo"] <= c.metrics["auroc_hi"]


@pytest.mark.slow
def test_training_outside_the_project_scope_is_refused() -> None:
    imported()
    store = StewardStore(region().settings)
    other = Principal("r-other", Role.RESEARCHER, project_id="clin-test")  # FHIR types only
    with pytest.raises(PolicyDenied, match="outside project"):
        governed_training_table(store, other, "ai_training")


@pytest.mark.slow
def test_models_train_command_runs_the_governed_path(tmp_path) -> None:
    from typer.testing import CliRunner

    from axhub.cli.main import app

    result = CliRunner().invoke(
        app,
        [
            "models",
            "train",
            "--region",
            str(region().region),
            "--models",
            "t2d_5y",
            "--bootstrap",
            "20",
            "--seed",
            "3",
            "--data-dir",
            str(tmp_path / "data"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "imported outcomes:" in result.output and "0 unknown to the zone" in result.output
    assert "t2d_5y@" in result.output and "AUROC" in result.output
    assert (tmp_path / "data" / "integrated.duckdb").exists()
