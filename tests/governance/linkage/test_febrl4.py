"""Accuracy on FEBRL4 (5,000 x 5,000 records, 5,000 true links): target F1 >= 0.99."""

from __future__ import annotations

import pyarrow as pa

from axhub.governance.linkage import FEBRL_ENCODING, FEBRL_LINK, encode, evaluate, link


def test_febrl4_f1_at_least_099(febrl4: tuple[pa.Table, pa.Table, pa.Table], secret: str) -> None:
    a, b, truth = febrl4
    enc = {"a": encode(a, secret, FEBRL_ENCODING), "b": encode(b, secret, FEBRL_ENCODING)}
    quality = evaluate(link(enc, FEBRL_LINK), truth)
    assert quality.true_pairs == 5000
    assert quality.f1 >= 0.99, str(quality)
    assert quality.precision >= 0.99, str(quality)
