"""Linkage-unit side: match CLKs from all sites, cluster, and issue regional person ids.

The linkage unit holds no secret and sees only ``(site, record_id, clk, block_<i>)``. Steps,
all vectorised over whole arrays:

1. **Blocking**: records of different sites (record systems) sharing a keyed blocking key
   ``block_<i>`` become candidate pairs (decision 0061); optionally also Hamming
   locality-sensitive hashing on the bit vectors (Indyk & Motwani 1998; used for Bloom-filter
   PPRL by Durham 2012 and Karapiperis & Verykios 2015): each of ``lsh_tables`` tables samples
   ``lsh_bits`` bit positions, and records agreeing on all of them pair up.
2. **Scoring** by the Dice coefficient on packed ``uint64`` words with ``np.bitwise_count``.
3. **Clustering** across all sites, best link first, with at most one record per site in a
   cluster (each site holds one record per person), which also makes every site pair
   one-to-one; computed in rounds of mutual best links (Borůvka), each round vectorised.
   ``one_per_site=False`` gives plain connected components instead.
4. **Person ids**: HMAC-SHA-256 under the linkage unit's own key of the cluster's smallest
   member, computed in DuckDB SQL: stable as long as the cluster keeps its smallest member.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from axhub.errors import ConfigError, InputError
from axhub.governance.linkage.bloom import (
    META_BITS,
    META_FINGERPRINT,
    META_KEY_ID,
    clk_matrix,
    hmac_pads,
    hmac_sql,
)

log = logging.getLogger(__name__)

_PAIR_CHUNK = 1_000_000  # candidate pairs scored per NumPy step


@dataclass(frozen=True)
class LinkConfig:
    """Linkage-unit parameters. ``person_key`` is the linkage unit's own key for person ids."""

    threshold: float = 0.80
    lsh_tables: int = 0
    lsh_bits: int = 18
    max_bucket: int = 2000
    seed: int = 20261126
    one_per_site: bool = True
    person_key: bytes = b"axhub-linkage-unit-person-ids"
    id_prefix: str = "rp-"

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ConfigError("threshold must be within (0, 1]", field="threshold")
        if not 1 <= self.lsh_bits <= 63 or self.lsh_tables < 0:
            raise ConfigError("lsh_bits must be 1..63 and lsh_tables >= 0", field="lsh")


@dataclass
class Candidates:
    """All records stacked: packed bit matrix, site index, record ids and site names."""

    bits: NDArray[np.uint8]
    site: NDArray[np.int32]
    record_id: pa.Array
    sites: list[str]
    blocks: list[pa.ChunkedArray]


def _stack(encodings_by_site: Mapping[str, pa.Table]) -> Candidates:
    if len(encodings_by_site) < 2:
        raise InputError("linkage needs encodings from at least two sites", field="sites")
    metas = set()
    mats, sites, ids = [], [], []
    names = sorted(encodings_by_site)
    for si, name in enumerate(names):
        table = encodings_by_site[name]
        extra = [c for c in table.column_names if c not in ("record_id", "clk")]
        if table.column_names[:2] != ["record_id", "clk"] or any(
            not c.startswith("block_") for c in extra
        ):
            raise InputError(
                "encodings must have the columns record_id, clk and block_<i> only",
                field=name,
                reason=f"has {', '.join(table.column_names)}",
            )
        meta = table.schema.metadata or {}
        metas.add((meta.get(META_FINGERPRINT), meta.get(META_KEY_ID), meta.get(META_BITS)))
        mats.append(clk_matrix(table))
        sites.append(np.full(table.num_rows, si, dtype=np.int32))
        ids.append(table.column("record_id").combine_chunks())
    if len(metas) != 1 or None in next(iter(metas)):
        raise InputError(
            "sites used different encoding parameters or secrets (fingerprint/key id differ)",
            field="schema metadata",
            reason=f"{len(metas)} distinct parameter sets",
        )
    widths = {m.shape[1] for m in mats}
    if len(widths) != 1 or next(iter(widths)) % 8:
        raise InputError("encodings differ in length or are not a multiple of 64 bits", field="clk")
    block_names = [c for c in encodings_by_site[names[0]].column_names if c.startswith("block_")]
    blocks = [
        pa.chunked_array(
            [c for name in names for c in encodings_by_site[name].column(b).chunks], pa.string()
        )
        for b in block_names
    ]
    return Candidates(
        bits=np.ascontiguousarray(np.concatenate(mats)),
        site=np.concatenate(sites),
        record_id=pa.concat_arrays(ids),
        sites=names,
        blocks=blocks,
    )


def _pairs_in_buckets(
    keys: NDArray[np.int64] | NDArray[np.uint64],
    site: NDArray[np.int32],
    max_bucket: int,
    valid: NDArray[np.bool_] | None = None,
) -> tuple[NDArray[np.int64], int]:
    """All cross-site pairs of records sharing a key, encoded as i * n + j with i < j."""
    n = len(keys)
    order = np.argsort(keys, kind="stable")
    if valid is not None:
        order = order[valid[order]]
    ks = keys[order]
    starts = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]])
    sizes = np.diff(np.r_[starts, len(ks)])
    oversize = int((sizes > max_bucket).sum())
    keep = (sizes >= 2) & (sizes <= max_bucket)
    starts, sizes = starts[keep], sizes[keep]
    if len(starts) == 0:
        return np.empty(0, dtype=np.int64), oversize
    # position of each member inside its bucket; partners are the members after it
    member_start = np.repeat(starts, sizes)
    member_pos = np.arange(len(member_start)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    member_pos = member_pos + member_start  # absolute position in `order`
    partners = np.repeat(starts + sizes, sizes) - member_pos - 1
    left = np.repeat(member_pos, partners)
    offs = np.arange(len(left)) - np.repeat(np.cumsum(partners) - partners, partners)
    right = left + 1 + offs
    a, b = order[left], order[right]
    cross = site[a] != site[b]
    a, b = a[cross], b[cross]
    lo, hi = np.minimum(a, b).astype(np.int64), np.maximum(a, b).astype(np.int64)
    return lo * n + hi, oversize


def candidate_pairs(cands: Candidates, config: LinkConfig) -> NDArray[np.int64]:
    """Distinct candidate pairs (codes i * n + j): union of the sites' encoded blocking keys
    and, if configured, Hamming-LSH tables on the bit vectors."""
    n_bits = cands.bits.shape[1] * 8
    rng = np.random.Generator(np.random.PCG64(config.seed))
    weights = (np.uint64(1) << np.arange(config.lsh_bits, dtype=np.uint64)).astype(np.uint64)
    found: list[NDArray[np.int64]] = []
    oversize = 0
    for column in cands.blocks:  # one pass per blocking key, vectorised over all records
        codes = pc.dictionary_encode(column).combine_chunks().indices
        valid = np.asarray(pc.is_valid(codes))
        keys = np.asarray(codes.fill_null(0), dtype=np.int64)
        pairs, big = _pairs_in_buckets(keys, cands.site, config.max_bucket, valid)
        oversize += big
        found.append(pairs)
    for _ in range(config.lsh_tables):  # a handful of tables, each vectorised over all records
        pos = rng.choice(n_bits, size=config.lsh_bits, replace=False)
        sampled = (cands.bits[:, pos // 8] >> (7 - pos % 8).astype(np.uint8)) & 1
        keys = (sampled.astype(np.uint64) @ weights).astype(np.int64)
        pairs, big = _pairs_in_buckets(keys, cands.site, config.max_bucket)
        oversize += big
        found.append(pairs)
        if sum(len(f) for f in found) > 4 * _PAIR_CHUNK:
            found = [np.unique(np.concatenate(found))]
    if oversize:
        log.warning("linkage: %d blocks above max_bucket were skipped", oversize)
    return np.unique(np.concatenate(found)) if found else np.empty(0, dtype=np.int64)


def dice(
    bits: NDArray[np.uint8], left: NDArray[np.int64], right: NDArray[np.int64]
) -> NDArray[np.float64]:
    """Dice coefficient 2|a&b| / (|a|+|b|) of rows ``left`` and ``right`` of a packed matrix."""
    words = bits.view(np.uint64)
    weight = np.bitwise_count(words).sum(axis=1, dtype=np.int64)
    out = np.empty(len(left), dtype=np.float64)
    for lo in range(0, len(left), _PAIR_CHUNK):
        hi = lo + _PAIR_CHUNK
        li, ri = left[lo:hi], right[lo:hi]
        common = np.bitwise_count(words[li] & words[ri]).sum(axis=1, dtype=np.int64)
        denom = weight[li] + weight[ri]
        out[lo:hi] = np.where(denom > 0, 2.0 * common / np.maximum(denom, 1), 0.0)
    return out


def _cluster_one_per_site(
    n: int,
    left: NDArray[np.int64],
    right: NDArray[np.int64],
    score: NDArray[np.float64],
    site: NDArray[np.int32],
) -> NDArray[np.int64]:
    """Clusters with at most one record per site, merged best link first.

    Borůvka-style rounds: every cluster picks its best link to a cluster with no site in
    common; clusters whose choices are mutual merge. The best remaining link is always
    mutual, so each round merges at least one pair, and the result is the greedy
    (best-first) constrained single-linkage clustering computed a round, not a pair, at a
    time. One record per site per cluster implies a one-to-one match between any two sites.
    """
    label = np.arange(n, dtype=np.int64)
    mask = (np.int64(1) << site.astype(np.int64)).astype(np.int64)
    order = np.lexsort((right, left, -score))
    left, right = left[order], right[order]
    while len(left):
        cu, cv = label[left], label[right]
        valid = (cu != cv) & ((mask[cu] & mask[cv]) == 0)
        left, right, cu, cv = left[valid], right[valid], cu[valid], cv[valid]
        if not len(left):
            break
        m = len(left)
        ends = np.r_[cu, cv]
        edge = np.r_[np.arange(m), np.arange(m)]
        # edges are in score order, so a cluster's lowest edge number is its best link
        by_end = np.lexsort((edge, ends))
        first = by_end[np.r_[True, ends[by_end][1:] != ends[by_end][:-1]]]
        wins = np.bincount(edge[first], minlength=m)
        merge = np.flatnonzero(wins == 2)
        if not len(merge):  # cannot happen: the best remaining link is always mutual
            break
        root = np.minimum(cu[merge], cv[merge])
        other = np.maximum(cu[merge], cv[merge])
        remap = np.arange(n, dtype=np.int64)
        remap[other] = root
        mask[root] |= mask[other]
        label = remap[label]
    return label


def _components(n: int, left: NDArray[np.int64], right: NDArray[np.int64]) -> NDArray[np.int64]:
    """Connected components by min-label propagation with pointer jumping."""
    label = np.arange(n, dtype=np.int64)
    while True:
        m = np.minimum(label[left], label[right])
        new = label.copy()
        np.minimum.at(new, left, m)
        np.minimum.at(new, right, m)
        new = new[new]
        if np.array_equal(new, label):
            return label
        label = new


def match(encodings_by_site: Mapping[str, pa.Table], config: LinkConfig) -> pa.Table:
    """Scored candidate pairs at or above the threshold (before one-to-one and clustering)."""
    cands = _stack(encodings_by_site)
    left, right, score = _scored(cands, config)
    return _pairs_table(cands, left, right, score)


def _scored(
    cands: Candidates, config: LinkConfig
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    n = len(cands.site)
    codes = candidate_pairs(cands, config)
    left, right = codes // n, codes % n
    score = dice(cands.bits, left, right)
    keep = score >= config.threshold
    log.info(
        "linkage: %d records, %d candidate pairs, %d at or above %.2f",
        n,
        len(codes),
        int(keep.sum()),
        config.threshold,
    )
    return left[keep], right[keep], score[keep]


def _pairs_table(
    cands: Candidates, left: NDArray[np.int64], right: NDArray[np.int64], score: NDArray[np.float64]
) -> pa.Table:
    site_names = pa.array(cands.sites)
    return pa.table(
        {
            "site_a": site_names.take(pa.array(cands.site[left])),
            "record_a": cands.record_id.take(pa.array(left)),
            "site_b": site_names.take(pa.array(cands.site[right])),
            "record_b": cands.record_id.take(pa.array(right)),
            "dice": pa.array(score),
        }
    )


def person_ids(
    site: pa.Array, record_id: pa.Array, cluster: NDArray[np.int64], config: LinkConfig
) -> pa.Array:
    """One id per cluster: HMAC-SHA-256(person_key, smallest 'site<US>record_id' of the cluster)."""
    ipad, opad = hmac_pads(config.person_key)
    con = duckdb.connect()
    con.register(
        "_members",
        pa.table({"row": np.arange(len(cluster)), "site": site, "rid": record_id, "c": cluster}),
    )
    query = (
        "WITH rep AS (SELECT c, min(site || chr(31) || rid) AS m FROM _members GROUP BY c) "
        f"SELECT $prefix || left({hmac_sql('rep.m')}, 24) AS person_id "
        "FROM _members JOIN rep USING (c) ORDER BY _members.row"
    )
    out = con.sql(
        query,
        params={"prefix": config.id_prefix, "opad": opad, "ipad": ipad},
    ).to_arrow_table()
    con.close()
    return out.column("person_id").combine_chunks()


def link(encodings_by_site: Mapping[str, pa.Table], config: LinkConfig) -> pa.Table:
    """Link all sites' encodings: ``(site, record_id, person_id)``, one row per record."""
    cands = _stack(encodings_by_site)
    n = len(cands.site)
    left, right, score = _scored(cands, config)
    if config.one_per_site:
        cluster = _cluster_one_per_site(n, left, right, score, cands.site)
    else:
        cluster = _components(n, left, right)
    site_col = pa.array(cands.sites).take(pa.array(cands.site))
    pid = person_ids(site_col, cands.record_id, cluster, config)
    log.info(
        "linkage: %d records from %d sites in %d clusters",
        n,
        len(cands.sites),
        len(np.unique(cluster)),
    )
    return pa.table({"site": site_col, "record_id": cands.record_id, "person_id": pid})
