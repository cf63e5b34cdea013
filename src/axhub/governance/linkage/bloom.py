"""Site side: hardened Bloom-filter encodings (CLKs) of identifying fields.

Method (see docs/linkage.md and decisions 0060-0064):

* q-gram tokenisation of each normalised field (Schnell, Bachteler & Reiher 2009, BMC Med
  Inform Decis Mak 9:41), tokens prefixed by their field so the same q-gram in two fields
  maps to different bits;
* all fields of a record in one filter, the cryptographic long-term key (CLK; Schnell,
  Bachteler & Reiher 2011), with a number of hash functions per field as the field weight;
* keyed **random hashing**: each token's k bit positions come from HMAC-SHA-256 under the
  shared secret, independently of each other, instead of the double-hashing progression
  g1 + i*g2 that the cryptanalysis of Niedermeyer, Steinmetzer, Kroll & Schnell (2014,
  J Priv Confid 6(2)) exploits;
* hardening (Ranbaduge & Schnell 2020 review; Franke, Sehili, Rohde & Rahm comparison):
  ``balance`` appends the complement and permutes the bits with a keyed permutation, so every
  encoding has exactly half its bits set and the filter weight (which leaks name length and
  field frequency) is constant (Schnell & Borgs 2016); ``xor_fold`` XORs the two halves
  (Schnell, Borgs & Encarnação 2016); an optional record salt (e.g. birth year) is mixed into
  every token's HMAC (salting, evaluated by Chen, Schnell et al. 2022).

Tokenisation runs as one DuckDB statement over the Arrow table; HMACs are computed once per
distinct token (a few thousand), and record filters are OR-reductions of token rows in NumPy.
No Python loop runs per record.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Literal

import duckdb
import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from axhub.errors import ConfigError, InputError

log = logging.getLogger(__name__)

TokenKind = Literal["qgram", "positional", "whole"]
Hardening = Literal["balance", "xor_fold"]

META_FINGERPRINT = b"axhub.linkage.fingerprint"
META_KEY_ID = b"axhub.linkage.key_id"
META_BITS = b"axhub.linkage.bits"
MIN_SECRET_BYTES = 16
_ROW_CHUNK = 400_000  # token rows OR-reduced per NumPy step (bounds memory to ~50 MB at 1024 bits)


@dataclass(frozen=True)
class FieldSpec:
    """One identifying field: which column, how it is cut into tokens, and its weight k.

    ``kind``: ``qgram`` (overlapping q-grams, padded with ``_`` so first and last letters
    count), ``positional`` (each character tagged with its position: dates, postcodes), or
    ``whole`` (the value as one token: sex, district code).
    """

    column: str
    k: int
    kind: TokenKind = "qgram"
    q: int = 2


@dataclass(frozen=True)
class EncodingConfig:
    """Everything the sites must agree on, apart from the secret.

    ``length`` is the filter length in bits before hardening (multiple of 64); ``salt_column``
    names a column whose value is mixed into every token HMAC of the record.
    """

    fields: tuple[FieldSpec, ...]
    length: int = 1024
    hardening: tuple[Hardening, ...] = ("balance",)
    salt_column: str | None = None
    id_column: str = "record_id"
    blocking: tuple[tuple[str, ...], ...] = ()
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.fields:
            raise ConfigError("linkage encoding needs at least one field", field="fields")
        if self.length % 64 or self.length <= 0:
            raise ConfigError(
                "filter length must be a positive multiple of 64 bits",
                field="length",
                reason=str(self.length),
            )
        for f in self.fields:
            if f.k < 1 or f.k > 64:
                raise ConfigError("k must be within 1..64", field=f"fields.{f.column}.k")
            if f.kind == "qgram" and f.q < 1:
                raise ConfigError("q must be at least 1", field=f"fields.{f.column}.q")
        for spec in self.blocking:
            for part in spec:
                col, _, width = part.partition(":")
                if not col or (width and not width.isdigit()):
                    raise ConfigError(
                        "blocking key part must be 'column' or 'column:prefix_length'",
                        field="blocking",
                        reason=part,
                    )
        for step in self.hardening:
            if step not in ("balance", "xor_fold"):
                raise ConfigError(
                    f"unknown hardening step {step!r}",
                    field="hardening",
                    suggestions=["balance", "xor_fold"],
                )

    @property
    def blocking_columns(self) -> list[str]:
        return sorted({p.partition(":")[0] for spec in self.blocking for p in spec})

    @property
    def output_bits(self) -> int:
        bits = self.length
        for step in self.hardening:
            bits = bits * 2 if step == "balance" else bits // 2
        return bits

    def fingerprint(self) -> str:
        """Hash of the public parameters; every site's encodings must carry the same one."""
        doc = asdict(self)
        doc["extra"] = dict(self.extra)
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def _secret_bytes(secret: bytes | str) -> bytes:
    raw = secret.encode() if isinstance(secret, str) else bytes(secret)
    if len(raw) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"linkage secret must be at least {MIN_SECRET_BYTES} bytes",
            field="secret",
        )
    return raw


def _subkey(secret: bytes, label: str) -> bytes:
    # HMAC zero-pads short keys, so b"k" and b"k\0" would be one key: hash the secret with
    # its length first so that every distinct secret gives distinct subkeys.
    root = hashlib.sha256(len(secret).to_bytes(4, "big") + secret).digest()
    return hmac.digest(root, b"axhub-linkage/" + label.encode(), "sha256")


def key_id(secret: bytes | str) -> str:
    """Public check value of the secret: lets the linkage unit see that all sites used one key."""
    return _subkey(_secret_bytes(secret), "key-id")[:8].hex()


def _token_sql(spec: FieldSpec, index: int, salt: str | None) -> str:
    """SQL yielding (_rid, f, salt, tok) rows for one field (one row per token)."""
    salt_sql = f"coalesce(CAST(\"{salt}\" AS VARCHAR), '')" if salt else "''"
    clean = f"regexp_replace(lower(CAST(\"{spec.column}\" AS VARCHAR)), '[^a-z0-9]', '', 'g')"
    if spec.kind == "whole":
        tok = "v"
    elif spec.kind == "positional":
        tok = "unnest(list_transform(range(1, length(v) + 1), lambda i: i || ':' || v[i]))"
    else:
        pad = "_" * max(spec.q - 1, 0)
        tok = (
            f"unnest(list_transform(range(1, length(v) + {2 * len(pad)} - {spec.q} + 2), "
            f"lambda i: substr('{pad}' || v || '{pad}', i, {spec.q})))"
        )
    return (
        f"SELECT _rid, {index} AS f, salt, {tok} AS tok FROM "
        f"(SELECT _rid, {clean} AS v, {salt_sql} AS salt FROM _enc_input) WHERE v <> ''"
    )


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """Inner and outer HMAC-SHA-256 pads (RFC 2104) so the HMAC can run inside DuckDB SQL."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def hmac_sql(message_sql: str) -> str:
    """SQL for hex HMAC-SHA-256 of a VARCHAR expression; parameters $opad and $ipad are the pads."""
    return f"sha256($opad::BLOB || unhex(sha256($ipad::BLOB || encode({message_sql}))))"


def _blocking_sql(config: EncodingConfig) -> str:
    """One keyed blocking key per spec: 16 hex digits of HMAC(spec number, cleaned parts)."""
    cols = []
    for i, spec in enumerate(config.blocking):
        parts = []
        for part in spec:
            col, _, width = part.partition(":")
            clean = f"regexp_replace(lower(CAST(\"{col}\" AS VARCHAR)), '[^a-z0-9]', '', 'g')"
            parts.append(f"nullif({f'left({clean}, {width})' if width else clean}, '')")
        msg = f"concat_ws(chr(31), 'block{i}', {', '.join(parts)})"
        guard = " OR ".join(f"{p} IS NULL" for p in parts)
        cols.append(f"CASE WHEN {guard} THEN NULL ELSE left({hmac_sql(msg)}, 16) END AS block_{i}")
    return f"SELECT {', '.join(cols)} FROM _enc_input ORDER BY _rid"


def _token_positions(
    fields: NDArray[np.int64],
    tokens: list[str],
    salts: list[str],
    config: EncodingConfig,
    token_key: bytes,
) -> NDArray[np.uint64]:
    """Packed single-token filters: row t has the k keyed random positions of distinct token t."""
    n = len(tokens)
    words = config.length // 64
    bits = np.zeros((n, config.length), dtype=bool)
    ks = np.array([config.fields[i].k for i in fields], dtype=np.int64)
    kmax = int(ks.max()) if n else 0
    blocks = (kmax + 15) // 16
    raw = bytearray()
    # One HMAC per distinct (field, token, salt): thousands, independent of the record count.
    for fi, tok, salt in zip(fields.tolist(), tokens, salts, strict=True):
        msg = f"{config.fields[fi].column}\x1f{tok}\x1f{salt}".encode()
        for b in range(blocks):
            raw += hmac.digest(token_key, bytes([b]) + msg, "sha512")
    if n:
        words32 = np.frombuffer(bytes(raw), dtype="<u4").reshape(n, blocks * 16)[:, :kmax]
        pos = (words32 % np.uint32(config.length)).astype(np.int64)
        use = np.arange(kmax)[None, :] < ks[:, None]
        rows = np.broadcast_to(np.arange(n)[:, None], pos.shape)
        bits[rows[use], pos[use]] = True
    packed = np.packbits(bits, axis=1)
    return packed.view(np.uint64).reshape(n, words)


def _permutation(key: bytes, bits: int) -> NDArray[np.int64]:
    seed = int.from_bytes(hmac.digest(key, f"perm/{bits}".encode(), "sha256"), "big")
    return np.random.Generator(np.random.PCG64(seed)).permutation(bits)


def harden(
    filters: NDArray[np.uint8], config: EncodingConfig, secret: bytes | str
) -> NDArray[np.uint8]:
    """Apply the configured hardening steps to packed filters (rows of bytes)."""
    perm_key = _subkey(_secret_bytes(secret), "permutation")
    out = filters
    for step in config.hardening:
        bits = np.unpackbits(out, axis=1).astype(bool)
        if step == "balance":
            both = np.concatenate([bits, ~bits], axis=1)
            bits = both[:, _permutation(perm_key, both.shape[1])]
        else:
            half = bits.shape[1] // 2
            bits = bits[:, :half] ^ bits[:, half : 2 * half]
        out = np.packbits(bits, axis=1)
    return out


def encode(table: pa.Table, secret: bytes | str, config: EncodingConfig) -> pa.Table:
    """Encode a site's identifier table into hardened CLKs.

    ``table`` holds ``config.id_column`` (an opaque local record reference, never an MRN) and
    the normalised identifier columns named in ``config.fields``. Returns a table with
    ``record_id`` (string), ``clk`` (fixed-size binary) and one keyed blocking key
    ``block_<i>`` per ``config.blocking`` spec (null where a part is missing), with the
    configuration fingerprint, key id and bit length in the schema metadata. Nothing else
    leaves the site.
    """
    key = _secret_bytes(secret)
    needed = [config.id_column, *(f.column for f in config.fields)]
    if config.salt_column:
        needed.append(config.salt_column)
    needed += [c for c in config.blocking_columns if c not in needed]
    missing = [c for c in needed if c not in table.column_names]
    if missing:
        raise InputError(
            "identifier table lacks columns the encoding needs",
            field=", ".join(missing),
            reason=f"has {', '.join(table.column_names)}",
        )
    n = table.num_rows
    ids = table.column(config.id_column).cast(pa.string())
    if ids.null_count:
        raise InputError("record id is null", field=config.id_column)
    con = duckdb.connect()
    data = table.select(needed[1:]).append_column("_rid", pa.array(np.arange(n), pa.int64()))
    con.register("_enc_input", data)
    union = " UNION ALL ".join(
        _token_sql(f, i, config.salt_column) for i, f in enumerate(config.fields)
    )
    con.execute(f"CREATE TEMP TABLE toks AS {union}")
    con.execute(
        "CREATE TEMP TABLE uniq AS SELECT (row_number() OVER (ORDER BY f, tok, salt)) - 1 AS tid, "
        "f, tok, salt FROM (SELECT DISTINCT f, tok, salt FROM toks)"
    )
    uniq = con.sql("SELECT f, tok, salt FROM uniq ORDER BY tid").fetchnumpy()
    rows = con.sql(
        "SELECT t._rid AS rid, u.tid FROM toks t JOIN uniq u USING (f, tok, salt) ORDER BY rid"
    ).fetchnumpy()
    blocks: pa.Table | None = None
    if config.blocking:
        ipad, opad = hmac_pads(_subkey(key, "blocking"))
        rel = con.sql(_blocking_sql(config), params={"opad": opad, "ipad": ipad})
        blocks = rel.to_arrow_table()
    con.close()
    token_rows = _token_positions(
        np.asarray(uniq["f"], dtype=np.int64),
        [str(t) for t in uniq["tok"]],
        [str(s) for s in uniq["salt"]],
        config,
        _subkey(key, "tokens"),
    )
    rid = np.asarray(rows["rid"], dtype=np.int64)
    tid = np.asarray(rows["tid"], dtype=np.int64)
    words = config.length // 64
    filters = np.zeros((n, words), dtype=np.uint64)
    for lo in range(0, len(rid), _ROW_CHUNK):
        hi = min(lo + _ROW_CHUNK, len(rid))
        # extend the chunk to the end of its last record so every record is reduced once
        if hi < len(rid):
            hi = int(np.searchsorted(rid, rid[hi - 1], side="right"))
        r, t = rid[lo:hi], tid[lo:hi]
        starts = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])
        filters[r[starts]] = np.bitwise_or.reduceat(token_rows[t], starts, axis=0)
    empty = int(n - len(np.unique(rid))) if n else 0
    if empty:
        log.info("linkage encode: %d of %d records had no identifying tokens", empty, n)
    packed = filters.view(np.uint8).reshape(n, words * 8)
    hardened = harden(packed, config, key) if config.hardening else packed
    nbytes = hardened.shape[1]
    clk = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(nbytes), n, [None, pa.py_buffer(np.ascontiguousarray(hardened).tobytes())]
    )
    block_fields = [pa.field(f"block_{i}", pa.string()) for i in range(len(config.blocking))]
    schema = pa.schema(
        [pa.field("record_id", pa.string()), pa.field("clk", pa.binary(nbytes)), *block_fields],
        metadata={
            META_FINGERPRINT: config.fingerprint().encode(),
            META_KEY_ID: key_id(key).encode(),
            META_BITS: str(config.output_bits).encode(),
        },
    )
    block_cols = [blocks.column(f.name) for f in block_fields] if blocks is not None else []
    return pa.Table.from_arrays([ids.combine_chunks(), clk, *block_cols], schema=schema)


def clk_matrix(encodings: pa.Table) -> NDArray[np.uint8]:
    """The ``clk`` column as an (n, bytes) uint8 matrix (zero-copy where possible)."""
    col = encodings.column("clk").combine_chunks()
    width = col.type.byte_width
    buf = col.buffers()[1]
    if buf is None:
        return np.zeros((0, width), dtype=np.uint8)
    arr = np.frombuffer(buf, dtype=np.uint8, count=(col.offset + len(col)) * width)
    return arr.reshape(-1, width)[col.offset :]
