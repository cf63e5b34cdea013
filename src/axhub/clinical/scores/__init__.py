"""Validated clinical scores over whole population tables (vectorised; no per-person loop).

Entry point: :func:`score_table` (every score for every row).  Input columns and units:
:data:`INPUT_COLUMNS`; score ids: :data:`SCORE_IDS`; reference page: docs/scores.md.
"""

from axhub.clinical.scores.ageing import KdmModel, kdm_fit
from axhub.clinical.scores.columns import INPUT_COLUMNS, Inputs, read_inputs
from axhub.clinical.scores.efi import DEFICITS, efi_flags_from_codes
from axhub.clinical.scores.table import (
    SCORE_IDS,
    SCORES,
    ScoreSpec,
    compute_scores,
    score_table,
    summarise,
)

__all__ = [
    "DEFICITS",
    "INPUT_COLUMNS",
    "SCORES",
    "SCORE_IDS",
    "Inputs",
    "KdmModel",
    "ScoreSpec",
    "compute_scores",
    "efi_flags_from_codes",
    "kdm_fit",
    "read_inputs",
    "score_table",
    "summarise",
]
