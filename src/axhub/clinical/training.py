"""The models' training table, read through the governance boundary.

Features come from the bundled views over the governed FHIR rows
(:func:`axhub.clinical.features.governed_features`); outcome labels, FINDRISC questionnaire
items and the metabolomics panel come from the research datasets the data steward imported
(``StewardStore.import_research_data``), read with ``GovernedStore.read_dataset``.  Both carry
the same project pseudonyms, so they join on ``person_id``; a person whose consent for the
purpose is withdrawn is absent from both.  The table has exactly the columns of the direct
synthetic-data path (:func:`axhub.clinical.research.load_region`); they meet in
:func:`axhub.clinical.research.research_table`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyarrow as pa

from axhub.clinical.features import DEFAULT_INDEX_DATE, FeatureReport, governed_features
from axhub.clinical.research import ResearchData, research_table

if TYPE_CHECKING:
    from axhub.governance.access import GovernedStore
    from axhub.governance.principals import Principal

log = logging.getLogger(__name__)

DATASETS = ("outcomes", "questionnaire", "metabolomics")
RESOURCE_TYPES = ("Patient", "Condition", "Observation", "MedicationRequest")


def project_scope(datasets: Sequence[str] = DATASETS) -> frozenset[str]:
    """The project scope items training needs: the FHIR types and ``research:<dataset>``."""
    return frozenset({*RESOURCE_TYPES, *(f"research:{d}" for d in datasets)})


def table_sha256(table: pa.Table) -> str:
    """sha256 of a table's Arrow IPC stream (lineage of a governed read)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


def governed_training_table(
    store: GovernedStore,
    principal: Principal,
    purpose: str = "ai_training",
    *,
    metabolomics: bool = True,
    index_date: dt.date = DEFAULT_INDEX_DATE,
) -> ResearchData:
    """Features, outcomes, questionnaire items (and the panel) of the persons the principal's
    project may see for ``purpose``; lineage holds the sha256 of each governed read (the same
    project, data and consent state give the same hashes: ``registry.retrain`` checks them)."""
    report = FeatureReport()
    features = governed_features(store, principal, purpose, index_date=index_date, report=report)
    events = store.read_dataset(principal, purpose, "outcomes")
    questionnaire = store.read_dataset(principal, purpose, "questionnaire")
    panel = store.read_dataset(principal, purpose, "metabolomics") if metabolomics else None
    lineage = {
        f"governed:{name}": table_sha256(t)
        for name, t in (
            ("features", features),
            ("outcomes", events),
            ("questionnaire", questionnaire),
            ("metabolomics", panel),
        )
        if t is not None
    }
    table = research_table(features, events, questionnaire, panel)
    log.info("governed training table: %d persons", table.num_rows)
    return ResearchData(table, lineage, report)
