"""Differencing by combinations of queries: which small groups do released counts pin down?

A node has answered queries of a project whose populations it knows exactly.  The researcher
knows their sizes (the released counts).  From counts alone an attacker can compute the size
of any set whose indicator is a **linear combination** of the released sets' indicators (set
algebra on the same predicates: ``|A| - |A and B|``, ``|A| + |B| - |A or B|``, and longer
chains: ``|A| - |B| - |C|`` when ``B`` and ``C`` split part of ``A``).  Every such set is a
union of **atoms**, the cells of the Venn diagram of the released populations (persons with the
same in/out pattern over all of them), and a union of atoms ``u`` is derivable exactly when
``u`` lies in the row space of the set-by-atom incidence matrix (the atoms' indicators are
linearly independent), i.e. when ``u`` is orthogonal to that matrix's null space.

:func:`derivable_small_group` looks for a derivable union of atoms with 1 to ``minimum - 1``
persons; the node refuses a query whose population would create one (decision 0128; the
auditing of count queries by linear dependence follows the statistical-database literature:
Chin & Ozsoyoglu, IEEE TSE 1982; Adam & Wortmann, ACM Computing Surveys 1989).  It is exact for
exact counts and conservative for noisy ones.  Only unions of atoms smaller than ``minimum``
can be small, so the search enumerates those, within a budget; past the budget it answers
"cannot rule out" (the node then refuses too).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

TOLERANCE = 1e-8


def atoms(member: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Atoms of a persons x sets membership matrix: (sets x atoms incidence, atom sizes);
    persons in no set are left out (nothing released describes them)."""
    member = np.asarray(member, dtype=bool)
    member = member[member.any(axis=1)]
    if member.size == 0:
        return np.zeros((member.shape[1], 0)), np.zeros(0, dtype=np.int64)
    rows, counts = np.unique(member, axis=0, return_counts=True)
    return rows.T.astype(float), counts.astype(np.int64)


def null_space(a: np.ndarray) -> np.ndarray:
    """Orthonormal basis (columns) of the null space of ``a`` (sets x atoms)."""
    if a.shape[1] == 0:
        return np.zeros((0, 0))
    _, s, vt = np.linalg.svd(a, full_matrices=True)
    rank = int((s > TOLERANCE * max(a.shape) * (s[0] if s.size else 1.0)).sum())
    return np.asarray(vt[rank:].T)


def _unions(sizes: np.ndarray, small: list[int], limit: int) -> Iterator[list[int]]:
    """Non-empty subsets of the small atoms whose total size stays below ``limit``."""

    def grow(start: int, chosen: list[int], total: int) -> Iterator[list[int]]:
        for k in range(start, len(small)):
            a = small[k]
            if total + sizes[a] < limit:
                yield [*chosen, a]
                yield from grow(k + 1, [*chosen, a], total + int(sizes[a]))

    yield from grow(0, [], 0)


def derivable_small_group(member: np.ndarray, minimum: int, *, budget: int = 50_000) -> str | None:
    """Why the released sets (columns of ``member``) pin down a group of 1 to ``minimum - 1``
    persons, or None when no such group is derivable.  The reason names no size (a refusal
    that said how small the group is would itself release it)."""
    if minimum <= 1:
        return None
    a, sizes = atoms(member)
    if sizes.size == 0:
        return None
    null = null_space(a)
    order = np.argsort(sizes, kind="stable")
    small = [int(i) for i in order if sizes[i] < minimum]
    for n, chosen in enumerate(_unions(sizes, small, minimum)):
        if n >= budget:
            return "too many small combinations to audit"
        if null.shape[1] == 0 or np.abs(null[chosen].sum(axis=0)).max() < TOLERANCE:
            return (
                "combined with earlier answered queries of this project, the released counts "
                f"would single out a group of fewer than {minimum} persons"
            )
    return None
