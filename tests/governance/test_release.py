"""Small-cell and complementary suppression resist recovery from totals; DP mechanisms."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from axhub.errors import InputError
from axhub.governance.release import dp_counts, dp_means, suppress


def eliminate(published: np.ndarray):
    """Gauss-Jordan over Q of the row/column equations in the hidden cells.

    Independent of the library's SVD test.  Returns (hidden cells, reduced rows, pivots).
    """
    rows, cols = published.shape
    hidden = [(i, j) for i in range(rows) for j in range(cols) if np.isnan(published[i, j])]
    index = {c: k for k, c in enumerate(hidden)}
    eqs = []
    lines = [[(i, j) for j in range(cols - 1)] + [(i, cols - 1)] for i in range(rows)]
    lines += [[(i, j) for i in range(rows - 1)] + [(rows - 1, j)] for j in range(cols)]
    for line in lines:  # sum of the line's cells - its total = 0
        coef = [Fraction(0)] * len(hidden)
        const = Fraction(0)
        for n, cell in enumerate(line):
            sign = -1 if n == len(line) - 1 else 1
            if cell in index:
                coef[index[cell]] += sign
            else:
                const -= sign * Fraction(int(published[cell]))
        eqs.append([*coef, const])
    pivots, r = [], 0
    for c in range(len(hidden)):
        p = next((k for k in range(r, len(eqs)) if eqs[k][c] != 0), None)
        if p is None:
            continue
        eqs[r], eqs[p] = eqs[p], eqs[r]
        eqs[r] = [x / eqs[r][c] for x in eqs[r]]
        for k in range(len(eqs)):
            if k != r and eqs[k][c] != 0:
                eqs[k] = [a - eqs[k][c] * b for a, b in zip(eqs[k], eqs[r], strict=True)]
        pivots.append(c)
        r += 1
    return hidden, eqs, pivots


def attacker(published: np.ndarray) -> dict[tuple[int, int], Fraction]:
    """Hidden cells recovered exactly: their pivot row has no free variables."""
    hidden, eqs, pivots = eliminate(published)
    found = {}
    for k, c in enumerate(pivots):
        if all(eqs[k][j] == 0 for j in range(len(hidden)) if j != c):
            found[hidden[c]] = eqs[k][-1]
    return found


def test_primary_suppression_alone_is_recoverable_and_ours_is_not() -> None:
    table = np.array([[20, 3, 15], [12, 30, 40], [25, 22, 18]])
    naive = np.vstack(
        [np.hstack([table, table.sum(1, keepdims=True)]), np.append(table.sum(0), table.sum())]
    ).astype(float)
    naive[0, 1] = np.nan
    assert attacker(naive) == {(0, 1): 3}
    result = suppress(table)
    assert result.hidden[0, 1] and result.primary[0, 1]
    assert attacker(result.published()) == {}
    assert result.hidden.sum() == 4  # one rectangle, the cheapest
    assert not result.hidden[1, :].any() and not result.hidden[-1, :].any()


def test_small_margins_are_hidden_too() -> None:
    table = np.array([[2, 1, 0], [30, 40, 50], [25, 26, 27]])
    result = suppress(table)
    assert result.hidden[0, 3]  # row total 3 is itself a small cell
    assert attacker(result.published()) == {}
    assert not result.hidden[0, 2]  # zero is published (not a small cell)


def test_nothing_hidden_when_nothing_small() -> None:
    result = suppress(np.array([[10, 0], [11, 12]]))
    assert not result.hidden.any()


@settings(max_examples=150, deadline=None)
@given(
    arrays(np.int64, st.tuples(st.integers(1, 4), st.integers(1, 4)), elements=st.integers(0, 40))
)
def test_no_hidden_cell_is_recoverable_from_totals(table) -> None:
    result = suppress(table)
    ext = result.values
    assert (result.hidden[(ext >= 1) & (ext <= 9)]).all()  # every small cell hidden
    assert attacker(result.published()) == {}


def feasible_values(published: np.ndarray, top: int) -> dict[tuple[int, int], set[int]] | None:
    """Every value each hidden cell takes over all integer fillings in 0..top consistent with
    the published cells and totals (None when the search would be too large)."""
    hidden, eqs, pivots = eliminate(published)
    free = [c for c in range(len(hidden)) if c not in pivots]
    if (top + 1) ** len(free) > 20_000:
        return None
    seen: dict[tuple[int, int], set[int]] = {h: set() for h in hidden}
    for combo in itertools.product(range(top + 1), repeat=len(free)):
        x = dict(zip(free, combo, strict=True))
        for k, c in enumerate(pivots):
            x[c] = eqs[k][-1] - sum(eqs[k][f] * v for f, v in zip(free, combo, strict=True))
        if all(v >= 0 and v == int(v) for v in x.values()):
            for c, v in x.items():
                seen[hidden[c]].add(int(v))
    return seen


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.int64, st.tuples(st.integers(2, 3), st.integers(2, 3)), elements=st.integers(0, 14))
)
def test_hidden_small_cells_keep_more_than_one_possible_value(table) -> None:
    result = suppress(table)
    # the attacker is even told the true grand total as an upper bound for every cell
    values = feasible_values(result.published(), int(result.values[-1, -1]))
    assume(values is not None)
    assert values is not None
    for cell in map(tuple, np.argwhere(result.primary)):
        assert len(values[(int(cell[0]), int(cell[1]))]) > 1, cell


def test_bad_tables_are_refused() -> None:
    with pytest.raises(InputError):
        suppress(np.array([[1, -2]]))
    with pytest.raises(InputError):
        suppress(np.array([1, 2, 3]))


def test_dp_counts_are_unbiased_and_scaled_by_epsilon() -> None:
    truth = np.full(2000, 500)
    loose, tight = dp_counts(truth, 0.1), dp_counts(truth, 2.0)
    assert abs(loose.mean() - 500) < 1.5 and abs(tight.mean() - 500) < 0.2
    # Laplace(b): mean absolute deviation is b = 1/epsilon
    assert 7 < np.abs(loose - 500).mean() < 13 and np.abs(tight - 500).mean() < 0.8
    assert (dp_counts(np.zeros(500, dtype=int), 0.5) >= 0).all()  # clamped at zero


def test_dp_means_stay_within_bounds() -> None:
    _, means = dp_means([100, 0], [7000, 0], (0, 120), 1.0)
    assert 0 <= means[1] <= 120 and abs(means[0] - 70) < 25
    with pytest.raises(InputError):
        dp_means([1], [1], (5, 5), 1.0)
    with pytest.raises(InputError):
        dp_counts([1], 0.0)
