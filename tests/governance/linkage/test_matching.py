"""Linkage unit: blocking, Dice, one-to-one, clusters across sites, person ids, input checks."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from axhub.errors import InputError
from axhub.governance.linkage import (
    REGION_ENCODING,
    REGION_LINK,
    EncodingConfig,
    FieldSpec,
    LinkConfig,
    encode,
    link,
    match,
)
from axhub.governance.linkage.matching import (
    _cluster_one_per_site,
    _components,
    _pairs_in_buckets,
    dice,
)

PEOPLE = [  # family, given, birth date, sex, phone, district
    ("gim", "minjun", "19500304", "m", "01012345678", "toegyedong"),
    ("i", "suyun", "19621111", "f", "01022223333", "hyojadong"),
    ("bag", "jihun", "19880101", "m", "01055556666", "sinbukeup"),
    ("gim", "minjun", "19500304", "m", "01099998888", "dongnaemyun"),  # namesake, same birth date
]


def _site(rows: list[tuple[str, ...]], prefix: str) -> pa.Table:
    cols = list(zip(*rows, strict=True))
    return pa.table(
        {
            "record_id": [f"{prefix}{i}" for i in range(len(rows))],
            "family": cols[0],
            "given": cols[1],
            "name": [f + g for f, g in zip(cols[0], cols[1], strict=True)],
            "birth_date": cols[2],
            "birth_year": [d[:4] for d in cols[2]],
            "sex": cols[3],
            "phone": cols[4],
            "district": cols[5],
        }
    )


def test_links_typo_and_new_phone_and_keeps_namesakes_apart(secret: str) -> None:
    a = _site(PEOPLE, "a")
    changed = [
        ("gim", "minjon", "19500304", "m", "01012345678", "toegyedong"),  # typo in given name
        ("i", "suyun", "19621111", "f", "01077770000", "hyojadong"),  # new phone
        ("bag", "jihun", "19880101", "m", "01055556666", "soyangdong"),  # moved
        ("gim", "minjun", "19500304", "m", "01099998888", "dongnaemyun"),
    ]
    b = _site(changed, "b")
    c = _site(PEOPLE[:1], "c")
    enc = {s: encode(t, secret, REGION_ENCODING) for s, t in {"a": a, "b": b, "c": c}.items()}
    out = link(enc, REGION_LINK).to_pylist()
    pid = {(r["site"], r["record_id"]): r["person_id"] for r in out}
    assert len(out) == 9
    for i in range(4):
        assert pid[("a", f"a{i}")] == pid[("b", f"b{i}")]
    assert pid[("c", "c0")] == pid[("a", "a0")]
    assert pid[("a", "a0")] != pid[("a", "a3")]  # namesakes with another phone and district
    assert len(set(pid.values())) == 4


def test_person_ids_are_stable_keyed_and_pseudonymous(secret: str) -> None:
    enc = {s: encode(_site(PEOPLE, s), secret, REGION_ENCODING) for s in ("a", "b")}
    first = link(enc, REGION_LINK).column("person_id").to_pylist()
    again = link(enc, REGION_LINK).column("person_id").to_pylist()
    other_key = link(enc, LinkConfig(threshold=0.7, person_key=b"another-unit-key")).column(
        "person_id"
    )
    assert first == again
    assert set(first).isdisjoint(other_key.to_pylist())
    assert all(p.startswith("rp-") and len(p) == 27 for p in first)
    assert not any(r in p for p in first for r in ("a0", "b0", "gim"))


def test_linkage_unit_input_contains_no_plaintext_identifier(secret: str) -> None:
    people = [(*p[:5], p[5]) for p in PEOPLE]
    table = _site(people, "site-a-")
    enc = encode(table, secret, REGION_ENCODING)
    sink = io.BytesIO()
    with ipc.new_stream(sink, enc.schema) as writer:
        writer.write_table(enc)
    wire = sink.getvalue()
    plaintexts = set()
    for fam, giv, dob, _sex, phone, district in people:
        plaintexts |= {fam + giv, giv, dob, dob[:4] + "-" + dob[4:6], phone, phone[3:], district}
    assert set(enc.column_names) == {"record_id", "clk"} | {
        f"block_{i}" for i in range(len(REGION_ENCODING.blocking))
    }
    for value in plaintexts:
        assert value.encode() not in wire, value


def test_sites_with_different_secrets_or_parameters_are_refused(secret: str) -> None:
    a = encode(_site(PEOPLE, "a"), secret, REGION_ENCODING)
    b = encode(_site(PEOPLE, "b"), secret + "x", REGION_ENCODING)
    with pytest.raises(InputError, match="different encoding parameters or secrets"):
        link({"a": a, "b": b}, REGION_LINK)
    other = EncodingConfig(fields=(FieldSpec("name", 9),), blocking=REGION_ENCODING.blocking)
    c = encode(_site(PEOPLE, "c"), secret, other)
    with pytest.raises(InputError):
        link({"a": a, "c": c}, REGION_LINK)
    with pytest.raises(InputError, match="at least two sites"):
        link({"a": a}, REGION_LINK)
    with pytest.raises(InputError, match="columns"):
        link({"a": a.append_column("name", pa.array(["x"] * 4)), "b": a}, REGION_LINK)


def test_match_returns_scored_cross_site_pairs(secret: str) -> None:
    enc = {s: encode(_site(PEOPLE, s), secret, REGION_ENCODING) for s in ("a", "b")}
    pairs = match(enc, REGION_LINK).to_pylist()
    exact = [p for p in pairs if p["record_a"][1:] == p["record_b"][1:]]
    assert len(exact) == 4 and all(p["dice"] == 1.0 for p in exact)
    assert all(p["site_a"] != p["site_b"] for p in pairs)


def test_pairs_in_buckets_enumerates_every_cross_site_pair_once() -> None:
    keys = np.array([5, 5, 5, 7, 7, 9, 5], dtype=np.int64)
    site = np.array([0, 1, 1, 0, 0, 1, 2], dtype=np.int32)
    codes, oversize = _pairs_in_buckets(keys, site, max_bucket=10)
    n = len(keys)
    got = sorted((int(c // n), int(c % n)) for c in codes)
    assert got == [(0, 1), (0, 2), (0, 6), (1, 6), (2, 6)]
    assert oversize == 0
    _, oversize = _pairs_in_buckets(keys, site, max_bucket=3)
    assert oversize == 1


def test_dice_matches_definition() -> None:
    rng = np.random.default_rng(1)
    bits = rng.integers(0, 256, size=(5, 16), dtype=np.uint8)
    left, right = np.array([0, 1, 2]), np.array([3, 4, 2])
    unpacked = np.unpackbits(bits, axis=1).astype(int)
    expect = [
        2 * (unpacked[i] & unpacked[j]).sum() / (unpacked[i].sum() + unpacked[j].sum())
        for i, j in zip(left, right, strict=True)
    ]
    assert np.allclose(dice(bits, left, right), expect)


def test_clusters_hold_one_record_per_site_best_link_first() -> None:
    # records 0,3 at site 0; 1,2 at site 1; 4 at site 2
    # 0-1 (0.9) beats 0-2 (0.8); 3-2 (0.85); 4 links to 0 (0.95) and to 3 (0.7)
    left = np.array([0, 0, 3, 4, 4, 1])
    right = np.array([1, 2, 2, 0, 3, 3])
    score = np.array([0.9, 0.8, 0.85, 0.95, 0.7, 0.99])
    site = np.array([0, 1, 1, 0, 2], dtype=np.int32)
    label = _cluster_one_per_site(5, left, right, score, site)
    # 1-3 (0.99) first, then 4-0 (0.95); 0-1 would put 0 and 3 (both site 0) together: refused
    assert label[1] == label[3] and label[4] == label[0]
    assert label[0] != label[1]
    # then 0-2 (0.8) joins 2 to {0, 4}; 3-2 would give {1, 3} a second site-1 record
    assert label[2] == label[0]
    clusters: dict[int, list[int]] = {}
    for i, lab in enumerate(label.tolist()):
        clusters.setdefault(lab, []).append(int(site[i]))
    assert all(len(s) == len(set(s)) for s in clusters.values())


def test_components_join_chains_across_sites() -> None:
    label = _components(6, np.array([0, 2, 4]), np.array([1, 1, 3]))
    assert label[0] == label[1] == label[2] and label[3] == label[4] and label[5] == 5
    assert len(set(label.tolist())) == 3


def test_hamming_lsh_alone_finds_near_duplicates(secret: str) -> None:
    no_keys = EncodingConfig(fields=REGION_ENCODING.fields, salt_column="birth_year")
    a = encode(_site(PEOPLE, "a"), secret, no_keys)
    b = encode(_site(PEOPLE, "b"), secret, no_keys)
    assert match({"a": a, "b": b}, LinkConfig(threshold=0.76)).num_rows == 0  # no blocking
    lsh = LinkConfig(threshold=0.76, lsh_tables=16, lsh_bits=12)
    pairs = match({"a": a, "b": b}, lsh).to_pylist()
    assert {(p["record_a"], p["record_b"]) for p in pairs} >= {("a0", "b0"), ("a1", "b1")}
