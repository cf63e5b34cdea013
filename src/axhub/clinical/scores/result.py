"""Score results: a value column plus a per-row reason where the score is not computable.

Reasons are kept as small integer codes into a list of messages and become an Arrow
dictionary column, so a million rows cost one int32 array, not a million strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from axhub.clinical.scores.columns import IMPLAUSIBLE, MISSING, UNIT_SUSPECT, Inputs

PREFIX = "not computable: "


class Reasons:
    """First reason per row why a score is not computable (0 = computable)."""

    def __init__(self, n: int) -> None:
        self.codes = np.zeros(n, dtype=np.int32)
        self.messages: list[str] = [""]

    def add(self, mask: np.ndarray, message: str) -> None:
        sel = mask & (self.codes == 0)
        if sel.any():
            self.messages.append(PREFIX + message)
            self.codes[sel] = len(self.messages) - 1

    @property
    def ok(self) -> np.ndarray:
        return self.codes == 0

    def to_arrow(self) -> pa.DictionaryArray:
        indices = pa.array(self.codes, mask=self.codes == 0, type=pa.int32())
        return pa.DictionaryArray.from_arrays(indices, pa.array(self.messages, pa.string()))


def require(x: Inputs, reasons: Reasons, names: Sequence[str]) -> None:
    """Rows missing any of ``names`` get "needs a, b"; then implausible inputs are named."""
    bits = np.zeros(x.n, dtype=np.int32)
    for i, name in enumerate(names):
        if name in x.with_missing:
            bits += (x.status[name] == MISSING) * np.int32(1 << i)
    sel = (bits != 0) & (reasons.codes == 0)
    if sel.any():
        uniq, inverse = np.unique(bits[sel], return_inverse=True)
        base = len(reasons.messages)
        for b in uniq.tolist():
            missing = [nm for i, nm in enumerate(names) if b >> i & 1]
            reasons.messages.append(PREFIX + "needs " + ", ".join(missing))
        reasons.codes[sel] = base + inverse.astype(np.int32)
    for name in names:
        if name not in x.with_problems:
            continue
        st = x.status[name]
        for code in (IMPLAUSIBLE, UNIT_SUSPECT):
            reasons.add(st == code, x.messages[(name, code)])


def in_range(
    x: Inputs,
    reasons: Reasons,
    name: str,
    low: float,
    high: float,
    what: str,
    values: np.ndarray | None = None,
) -> None:
    """Rows whose ``name`` lies outside [low, high] are "outside validated range" for ``what``.

    Age ranges are in completed years (a 79.6-year-old is 79, inside "40–79"), as calculators
    take whole years (decision 0041).
    """
    v = x[name] if values is None else values
    if name == "age_years":
        v = np.floor(v)
    with np.errstate(invalid="ignore"):
        out = (v < low) | (v > high)
    reasons.add(out, f"outside validated range: {name} {low:g}–{high:g} for {what}")


@dataclass
class Score:
    """One score column: values (NaN where not computable) and the reasons."""

    values: np.ndarray
    reasons: Reasons
    kind: str = "float"  # float | int | category

    def finish(self) -> Score:
        """Blank every value whose row has a reason (a reason always wins over a number)."""
        if self.kind == "category":
            blanked = self.values.astype(object)
            blanked[~self.reasons.ok] = None
            self.values = blanked
        else:
            self.values = np.where(self.reasons.ok, self.values, np.nan)
        return self

    def to_arrow(self) -> pa.Array:
        if self.kind == "category":
            return pa.array(self.values, type=pa.string())
        mask = np.isnan(self.values)
        if self.kind == "int":
            return pa.array(np.where(mask, 0, self.values).astype(np.int16), mask=mask)
        return pa.array(self.values, mask=mask, type=pa.float64())
