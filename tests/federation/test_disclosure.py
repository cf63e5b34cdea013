"""Set algebra on released counts (``axhub.federation.disclosure``), without the nodes."""

from __future__ import annotations

import numpy as np

from axhub.federation.disclosure import atoms, derivable_small_group


def sets(n: int, *ranges: tuple[int, int]) -> np.ndarray:
    m = np.zeros((n, len(ranges)), dtype=bool)
    for j, (lo, hi) in enumerate(ranges):
        m[lo:hi, j] = True
    return m


def test_atoms_are_the_cells_of_the_venn_diagram() -> None:
    a, sizes = atoms(sets(100, (0, 50), (40, 60)))
    assert sorted(sizes.tolist()) == [10, 10, 40]  # A only, both, B only; outsiders dropped
    assert a.shape == (2, 3)


def test_a_chain_of_three_queries_singles_out_five_persons() -> None:
    # |A| - |B| - |C| = persons 45..49, while every pair differs by 15 or more
    member = sets(100, (0, 50), (0, 30), (30, 45))
    assert derivable_small_group(member, 10) is not None
    assert derivable_small_group(member[:, :2], 10) is None
    assert derivable_small_group(member, 5) is None  # five persons are not below a minimum of 5


def test_everyone_but_a_few_is_a_difference_from_the_public_total() -> None:
    assert derivable_small_group(sets(100, (0, 100), (0, 95)), 10) is not None
    assert derivable_small_group(sets(100, (0, 100), (0, 90)), 10) is None


def test_overlaps_that_reveal_only_differences_of_counts_are_allowed() -> None:
    # A = 0..49, F = 5..59: |A| - |F| = 5 - 10 describes no set of persons
    assert derivable_small_group(sets(100, (0, 50), (5, 60)), 10) is None
    # unions and intersections: |A| + |B| - |A or B| = |A and B| (3 persons)
    member = sets(100, (0, 50), (47, 80), (0, 80))
    assert derivable_small_group(member, 10) is not None


def test_past_the_budget_the_answer_is_cannot_rule_out() -> None:
    rng = np.random.default_rng(1)
    member = rng.random((60, 12)) < 0.5  # many tiny atoms
    assert derivable_small_group(member, 10, budget=5) == "too many small combinations to audit"
