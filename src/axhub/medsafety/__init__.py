"""Medication safety: drug–food, drug–drug and elderly checks with cited knowledge.

Public API (used by the care agents, the web API and the CLI)::

    check(drugs, foods=(), age=None) -> list[Finding]
    check_population(regimens, diets=None, ages=None) -> pyarrow.Table

Findings are *known* (a cited row), *predicted* (a mechanism rule over cited drug and food
properties) or *criterion* (elderly criteria, duplicate class, anticholinergic burden).
"Not found" is never "safe".  See docs/medsafety.md.
"""

from axhub.medsafety.checker import Finding, check
from axhub.medsafety.knowledge import Knowledge, default_knowledge, load_knowledge
from axhub.medsafety.population import (
    check_population,
    regimens_from_view,
    select_older_polypharmacy,
    summarise,
)
from axhub.medsafety.texts import NO_FINDING_NOTE

__all__ = [
    "NO_FINDING_NOTE",
    "Finding",
    "Knowledge",
    "check",
    "check_population",
    "default_knowledge",
    "load_knowledge",
    "regimens_from_view",
    "select_older_polypharmacy",
    "summarise",
]
