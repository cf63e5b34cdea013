"""Safe release of aggregates: small-cell suppression with complementary suppression, and
differential privacy (OpenDP) under a per-project, persisted privacy budget.

Small cells: counts 1-9 are hidden (primary suppression; threshold 10 after the CMS/ResDAC
cell-size rule, which hides 1-10 — ours hides 1-9 as the region's DRB rule, see docs).
Complementary suppression then hides further cells until no hidden cell can be worked out
from the published cells and totals: a hidden cell is exposed exactly when every solution of
the table's linear row/column equations gives it the same value, i.e. when the null space of
the equations restricted to hidden cells is zero at that cell.  Each exposed cell is covered
by the cheapest rectangle (two rows, two columns) of extra hidden cells, preferring small
non-zero interior cells over zeros and totals.

Differential privacy: per-district counts and bounded means with OpenDP's integer Laplace
mechanism (privacy unit: one person, one contribution; public partition keys), each release
charged to the project's epsilon budget in the governance store; a release past the budget is
refused.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import opendp.prelude as dp
import pyarrow as pa

from axhub.errors import InputError, PolicyDenied

SUPPRESS_BELOW = 10  # counts 1..9 hidden; 0 is published
_ZERO_COST = 1_000_000  # hide a zero only when nothing else closes the rectangle
_MARGIN_COST = 10_000  # hide a total only when no interior rectangle exists

dp.enable_features("contrib")


# -- small-cell suppression ------------------------------------------------------------------
def with_margins(table: np.ndarray) -> np.ndarray:
    """Interior counts (R x C) -> (R+1) x (C+1) with row totals, column totals, grand total."""
    t = np.asarray(table, dtype=np.int64)
    if t.ndim != 2 or (t < 0).any():
        raise InputError("a count table must be 2-D and non-negative", field="table")
    out = np.zeros((t.shape[0] + 1, t.shape[1] + 1), dtype=np.int64)
    out[:-1, :-1] = t
    out[:-1, -1] = t.sum(axis=1)
    out[-1, :-1] = t.sum(axis=0)
    out[-1, -1] = t.sum()
    return out


def _equations(shape: tuple[int, int]) -> np.ndarray:
    """Linear equations of a table with margins: each row and column adds up to its total."""
    rows, cols = shape
    eqs = []
    for i in range(rows):
        e = np.zeros(shape)
        e[i, :-1], e[i, -1] = 1, -1
        eqs.append(e.ravel())
    for j in range(cols):
        e = np.zeros(shape)
        e[:-1, j], e[-1, j] = 1, -1
        eqs.append(e.ravel())
    return np.array(eqs)


def exposed_cells(extended: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """Hidden cells whose value follows from the published cells (linear attack)."""
    idx = np.flatnonzero(hidden.ravel())
    out = np.zeros(hidden.size, dtype=bool)
    if idx.size == 0:
        return out.reshape(hidden.shape)
    a = _equations(extended.shape)[:, idx]
    _, s, vt = np.linalg.svd(a)
    rank = int((s > 1e-9).sum())
    null = vt[rank:]  # basis of the hidden cells' free directions
    free = (np.abs(null) > 1e-9).any(axis=0) if null.size else np.zeros(idx.size, dtype=bool)
    out[idx[~free]] = True
    return out.reshape(hidden.shape)


@dataclass(frozen=True)
class SuppressedTable:
    """A count table with margins and the cells that must not be published."""

    values: np.ndarray  # (R+1) x (C+1), last row/column = totals
    hidden: np.ndarray  # same shape, True = suppressed
    primary: np.ndarray  # same shape, True = small cell (1..9)

    def published(self) -> np.ndarray:
        """The table as released: hidden cells are NaN."""
        out = self.values.astype(float)
        out[self.hidden] = np.nan
        return out


def _cost(extended: np.ndarray, hidden: np.ndarray, cells: list[tuple[int, int]]) -> int:
    rows, cols = extended.shape
    total = 0
    for r, c in cells:
        if hidden[r, c]:
            continue
        v = int(extended[r, c])
        total += v if v > 0 else _ZERO_COST
        if r == rows - 1 or c == cols - 1:
            total += _MARGIN_COST
    return total


def suppress(table: np.ndarray, threshold: int = SUPPRESS_BELOW) -> SuppressedTable:
    """Primary plus complementary suppression of a 2-D count table with its margins."""
    ext = with_margins(table)
    primary = (ext >= 1) & (ext < threshold)
    hidden = primary.copy()
    rows, cols = ext.shape
    while True:
        exposed = np.argwhere(exposed_cells(ext, hidden))
        if exposed.size == 0:
            break
        r, c = (int(x) for x in exposed[0])
        best: tuple[int, list[tuple[int, int]]] | None = None
        for r2 in range(rows):
            for c2 in range(cols):
                if r2 == r or c2 == c:
                    continue
                cells = [(r, c2), (r2, c2), (r2, c)]
                cost = _cost(ext, hidden, cells)
                if best is None or cost < best[0]:
                    best = (cost, cells)
        assert best is not None  # a table with margins is at least 2 x 2
        for rr, cc in best[1]:
            hidden[rr, cc] = True
    return SuppressedTable(ext, hidden, primary)


def suppressed_arrow(
    counts: pa.Table, row: str, col: str, count: str, threshold: int = SUPPRESS_BELOW
) -> pa.Table:
    """Pivot a long (row, col, count) table, suppress, and return it long with totals.

    Hidden cells have a null count.  Totals use the label "(total)".
    """
    for name in (row, col, count):
        if name not in counts.column_names:
            raise InputError(f"aggregate result has no column {name!r}", field=name)
    r_labels = sorted({str(v) for v in counts.column(row).to_pylist()})
    c_labels = sorted({str(v) for v in counts.column(col).to_pylist()})
    grid = np.zeros((len(r_labels), len(c_labels)), dtype=np.int64)
    r_at = {label: i for i, label in enumerate(r_labels)}
    c_at = {label: j for j, label in enumerate(c_labels)}
    ri = np.array([r_at[str(v)] for v in counts.column(row).to_pylist()], dtype=np.int64)
    ci = np.array([c_at[str(v)] for v in counts.column(col).to_pylist()], dtype=np.int64)
    np.add.at(grid, (ri, ci), np.asarray(counts.column(count).to_numpy(zero_copy_only=False)))
    result = suppress(grid, threshold)
    pub = result.published()
    rl, cl = [*r_labels, "(total)"], [*c_labels, "(total)"]
    rr, cc = np.meshgrid(np.arange(len(rl)), np.arange(len(cl)), indexing="ij")
    values = pub.ravel()
    return pa.table(
        {
            row: [rl[i] for i in rr.ravel()],
            col: [cl[j] for j in cc.ravel()],
            count: pa.array([None if np.isnan(v) else int(v) for v in values], pa.int64()),
        }
    )


# -- differential privacy --------------------------------------------------------------------
def _laplace(values: np.ndarray, sensitivity: int, epsilon: float) -> np.ndarray:
    """OpenDP integer Laplace on a vector whose L1 sensitivity is ``sensitivity``."""
    if epsilon <= 0:
        raise InputError("epsilon must be positive", field="epsilon")
    scale = sensitivity / epsilon
    meas = dp.m.make_laplace(
        dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int), scale=scale
    )
    if meas.map(sensitivity) > epsilon * (1 + 1e-9):
        raise InputError("OpenDP measurement exceeds the requested epsilon", field="epsilon")
    return np.asarray(meas([int(v) for v in values]), dtype=np.int64)


def dp_counts(counts: Sequence[int], epsilon: float) -> np.ndarray:
    """Noisy counts over disjoint public partitions (one person adds 1 to one count)."""
    return np.clip(_laplace(np.asarray(counts), 1, epsilon), 0, None)


def dp_means(
    counts: Sequence[int], sums: Sequence[int], bounds: tuple[int, int], epsilon: float
) -> tuple[np.ndarray, np.ndarray]:
    """Noisy counts and bounded means; half the epsilon each for counts and clamped sums."""
    lo, hi = bounds
    if lo >= hi:
        raise InputError("bounds must be (low, high) with low < high", field="bounds")
    n = dp_counts(counts, epsilon / 2)
    s = _laplace(np.asarray(sums), max(abs(lo), abs(hi)), epsilon / 2)
    means = np.clip(s / np.maximum(n, 1), lo, hi)
    return n, means


class PrivacyBudget:
    """A project's epsilon ledger in the governance store (table ``privacy_spend``)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, project_id: str, total: float) -> None:
        self.con, self.project_id, self.total = con, project_id, total

    def spent(self) -> float:
        row = self.con.execute(
            "SELECT coalesce(sum(epsilon), 0) FROM privacy_spend WHERE project_id = ?",
            [self.project_id],
        ).fetchone()
        return float(row[0]) if row else 0.0

    def charge(self, epsilon: float, description: str, at: dt.datetime) -> str:
        """Record a spend, or raise PolicyDenied when it would pass the budget."""
        if epsilon <= 0:
            raise InputError("epsilon must be positive", field="epsilon")
        self.con.execute("BEGIN")
        try:
            spent = self.spent()
            if spent + epsilon > self.total + 1e-12:
                raise PolicyDenied(
                    f"privacy budget of project {self.project_id!r} exhausted: spent "
                    f"{spent:g} of {self.total:g}, this release needs {epsilon:g}",
                    project_id=self.project_id,
                )
            release_id = uuid.uuid4().hex
            self.con.execute(
                "INSERT INTO privacy_spend VALUES (?, ?, ?, ?, ?)",
                [self.project_id, release_id, epsilon, at, description],
            )
            self.con.execute("COMMIT")
        except Exception:
            self.con.execute("ROLLBACK")
            raise
        return release_id
