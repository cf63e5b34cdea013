"""The hub's bundled ViewDefinitions (``*.json`` in this folder) and the KCD-8 groupings.

``conditions.json`` is rendered from the grouping data in ``kcd8_groups.json`` (groups of
ICD-10 three-character categories with their source), so the data file stays the one place
where a grouping is defined: edit it, then run ``write_conditions_view()``; a test fails
when the two disagree.
"""

from __future__ import annotations

import difflib
import json
from functools import cache
from pathlib import Path
from typing import Any

from axhub.errors import NotFoundError
from axhub.views.model import ViewDefinition

LIBRARY_DIR = Path(__file__).resolve().parent
GROUPS_FILE = LIBRARY_DIR / "kcd8_groups.json"


@cache
def kcd8_groups() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(GROUPS_FILE.read_text(encoding="utf-8"))
    return data


def render_conditions_view() -> dict[str, Any]:
    """The ``conditions`` ViewDefinition, with the group column built from the grouping data."""
    groups = kcd8_groups()
    expr = "{}"
    for g in reversed(groups["groups"]):
        test = " or ".join(f"code.startsWith('{c}')" for c in g["categories"])
        expr = f"iif({test}, '{g['group']}', {expr})"
    return {
        "resourceType": "ViewDefinition",
        "name": "conditions",
        "title": "Conditions with KCD-8 groupings",
        "description": (
            "One row per Condition: KCD-8 code and display, its group (hypertension, "
            "diabetes, dyslipidaemia, atrial_fibrillation, stroke, ckd, ...; see "
            "kcd8_groups.json for the categories and sources), clinical and verification "
            "status, onset and recorded dates."
        ),
        "resource": "Condition",
        "status": "active",
        "constant": [{"name": "kcd8", "valueUri": groups["system"]}],
        "select": [
            {
                "column": [
                    {"name": "condition_id", "path": "getResourceKey()", "type": "string"},
                    {
                        "name": "patient_id",
                        "path": "subject.getReferenceKey(Patient)",
                        "type": "string",
                    },
                    {
                        "name": "encounter_id",
                        "path": "encounter.getReferenceKey(Encounter)",
                        "type": "string",
                    },
                    {
                        "name": "clinical_status",
                        "path": "clinicalStatus.coding.code.first()",
                        "type": "code",
                    },
                    {
                        "name": "verification_status",
                        "path": "verificationStatus.coding.code.first()",
                        "type": "code",
                    },
                    {"name": "category", "path": "category.coding.code.first()", "type": "code"},
                    {"name": "onset", "path": "onset.ofType(dateTime)", "type": "dateTime"},
                    {"name": "recorded_date", "path": "recordedDate", "type": "dateTime"},
                ]
            },
            {
                "forEachOrNull": "code.coding.where(system = %kcd8).first()",
                "column": [
                    {"name": "kcd_code", "path": "code", "type": "code"},
                    {"name": "kcd_display", "path": "display", "type": "string"},
                    {"name": "kcd_group", "path": expr, "type": "string"},
                ],
            },
        ],
    }


def write_conditions_view() -> Path:
    """Re-render ``conditions.json`` after editing ``kcd8_groups.json``."""
    path = LIBRARY_DIR / "conditions.json"
    path.write_text(
        json.dumps(render_conditions_view(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return path


def names() -> list[str]:
    return sorted(p.stem for p in LIBRARY_DIR.glob("*.json") if p != GROUPS_FILE)


def raw(name: str) -> dict[str, Any]:
    """The bundled ViewDefinition ``name`` as JSON (did-you-mean on a wrong name)."""
    path = LIBRARY_DIR / f"{name}.json"
    if path == GROUPS_FILE or not path.is_file():
        raise NotFoundError(
            f"no bundled view named {name!r}",
            suggestions=difflib.get_close_matches(name, names(), n=3) or names(),
        )
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def load(name: str) -> ViewDefinition:
    return ViewDefinition.parse(raw(name))
