"""Properties of the hardened CLK encoder (Hypothesis) and its input checks."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from axhub.errors import ConfigError, InputError
from axhub.governance.linkage import EncodingConfig, FieldSpec, encode, key_id
from axhub.governance.linkage.bloom import clk_matrix

NAME = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=4, max_size=14)
DATE = st.dates().map(lambda d: d.strftime("%Y%m%d"))
KEY = st.binary(min_size=16, max_size=48)

PLAIN = EncodingConfig(
    fields=(FieldSpec("name", 10), FieldSpec("dob", 6, "positional"), FieldSpec("sex", 3, "whole")),
    hardening=(),
)
BALANCED = EncodingConfig(fields=PLAIN.fields, hardening=("balance",))
FOLDED = EncodingConfig(fields=PLAIN.fields, hardening=("xor_fold",))


def _table(names: list[str], dobs: list[str], sexes: list[str] | None = None) -> pa.Table:
    return pa.table(
        {
            "record_id": [f"r{i}" for i in range(len(names))],
            "name": names,
            "dob": dobs,
            "sex": sexes or ["f"] * len(names),
        }
    )


def _bits(table: pa.Table) -> np.ndarray:
    return np.unpackbits(clk_matrix(table), axis=1).astype(bool)


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2 * float((a & b).sum()) / float(a.sum() + b.sum())


def _typo(name: str, at: int) -> str:
    i = at % len(name)
    return name[:i] + ("x" if name[i] != "x" else "y") + name[i + 1 :]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=NAME, dob=DATE, key=KEY)
def test_same_input_and_key_gives_same_encoding(name: str, dob: str, key: bytes) -> None:
    t = _table([name], [dob])
    assert (
        clk_matrix(encode(t, key, BALANCED)).tobytes()
        == clk_matrix(encode(t, key, BALANCED)).tobytes()
    )


@settings(max_examples=15, deadline=None)
@given(names=st.lists(NAME, min_size=8, max_size=8, unique=True), dob=DATE, k1=KEY, k2=KEY)
def test_different_key_gives_unrelated_encodings(
    names: list[str], dob: str, k1: bytes, k2: bytes
) -> None:
    if k1 == k2:
        return
    t = _table(names, [dob] * len(names))
    a, b = _bits(encode(t, k1, PLAIN)), _bits(encode(t, k2, PLAIN))
    # the same record under two keys: Dice as for two independent random filters
    for i in range(len(names)):
        pa_, pb_ = a[i].mean(), b[i].mean()
        random_dice = 2 * pa_ * pb_ / (pa_ + pb_)
        assert abs(_dice(a[i], b[i]) - random_dice) < 0.2
    assert encode(t, k1, PLAIN).schema.metadata != encode(t, k2, PLAIN).schema.metadata


@settings(max_examples=20, deadline=None)
@given(
    name=st.text(alphabet="abcdefghijklmnopqrstuvw", min_size=8, max_size=14),
    dob=DATE,
    at=st.integers(0, 20),
    key=KEY,
)
def test_small_typo_keeps_high_dice(name: str, dob: str, at: int, key: bytes) -> None:
    t = _table([name, _typo(name, at)], [dob, dob])
    bits = _bits(encode(t, key, PLAIN))
    assert _dice(bits[0], bits[1]) >= 0.75
    balanced = _bits(encode(t, key, BALANCED))
    assert _dice(balanced[0], balanced[1]) >= 0.85


@settings(max_examples=15, deadline=None)
@given(names=st.lists(NAME, min_size=1, max_size=20), dob=DATE, key=KEY)
def test_balanced_density_is_exactly_one_half(names: list[str], dob: str, key: bytes) -> None:
    bits = _bits(encode(_table(names, [dob] * len(names)), key, BALANCED))
    assert bits.shape[1] == 2 * BALANCED.length
    assert (bits.sum(axis=1) == BALANCED.length).all()


def test_xor_fold_halves_length_and_keeps_typo_similarity() -> None:
    t = _table(["gimminjon", "gimminjun", "bagseoyon"], ["19500101"] * 3)
    bits = _bits(encode(t, "k" * 16, FOLDED))
    assert bits.shape[1] == FOLDED.length // 2 == FOLDED.output_bits
    assert _dice(bits[0], bits[1]) > _dice(bits[0], bits[2])


def test_salt_changes_encoding_of_identical_names() -> None:
    salted = EncodingConfig(fields=PLAIN.fields, hardening=(), salt_column="year")
    t = _table(["gimminjon"] * 2, ["19500101"] * 2).append_column(
        "year", pa.array(["1950", "1951"])
    )
    bits = _bits(encode(t, "k" * 16, salted))
    assert _dice(bits[0], bits[1]) < 0.6


def test_missing_fields_and_empty_records_encode() -> None:
    t = pa.table(
        {"record_id": ["a", "b"], "name": [None, "gim"], "dob": [None, None], "sex": [None, "m"]}
    )
    bits = _bits(encode(t, "k" * 16, PLAIN))
    assert bits[0].sum() == 0 and bits[1].sum() > 0


def test_blocking_keys_are_keyed_and_null_when_a_part_is_missing() -> None:
    cfg = EncodingConfig(fields=PLAIN.fields, blocking=(("name", "dob:4"),))
    t = _table(["gimminjon", "gimminjon", "gim"], ["19500101", "19501231", ""])
    b1 = encode(t, "k" * 16, cfg).column("block_0").to_pylist()
    b2 = encode(t, "j" * 16, cfg).column("block_0").to_pylist()
    assert b1[0] == b1[1] and b1[2] is None
    assert b1[0] != b2[0] and len(b1[0]) == 16


def test_key_id_is_public_check_value() -> None:
    assert key_id("a" * 16) == key_id(b"a" * 16) != key_id("b" * 16)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"fields": ()}, "fields"),
        ({"fields": PLAIN.fields, "length": 1000}, "length"),
        ({"fields": (FieldSpec("n", 0),)}, "fields.n.k"),
        ({"fields": PLAIN.fields, "hardening": ("rot13",)}, "hardening"),
        ({"fields": PLAIN.fields, "blocking": (("dob:x",),)}, "blocking"),
    ],
)
def test_bad_config_is_refused(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError) as err:
        EncodingConfig(**kwargs)
    assert err.value.fields["field"] == field


def test_short_secret_and_missing_column_are_refused() -> None:
    t = _table(["gim"], ["19500101"])
    with pytest.raises(ConfigError):
        encode(t, "short", PLAIN)
    with pytest.raises(InputError) as err:
        encode(t.drop_columns(["dob"]), "k" * 16, PLAIN)
    assert "dob" in str(err.value)
