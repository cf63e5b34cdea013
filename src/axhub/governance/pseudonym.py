"""Keyed pseudonyms: HMAC-SHA256 truncated to 128 bits (32 hex characters).

The same function runs in Python (single values, tests) and as a DuckDB macro (whole
columns, vectorised).  The macro is HMAC written out with DuckDB's ``sha256`` over blobs:
``H((K xor opad) || H((K xor ipad) || m))`` with the padded key held in session variables,
never in SQL text (SQL text ends up in error messages).  Keys come from ``keys.KeyStore``:
one per project, so the same person has unlinkable pseudonyms in different projects.
"""

from __future__ import annotations

import hashlib
import hmac
import re

import duckdb

PSEUDONYM_CHARS = 32
_BLOCK = 64
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


def pseudonym(key: bytes, value: str) -> str:
    """The pseudonym of ``value`` under ``key``."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:PSEUDONYM_CHARS]


def _pads(key: bytes) -> tuple[bytes, bytes]:
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def register_sql(con: duckdb.DuckDBPyConnection, name: str, key: bytes) -> None:
    """Create the temporary SQL macro ``name(text) -> pseudonym`` keyed by ``key``."""
    if not _NAME.match(name):
        raise ValueError(f"invalid macro name {name!r}")
    ipad, opad = _pads(key)
    con.execute(f"SET VARIABLE {name}_ipad = $1", [ipad])
    con.execute(f"SET VARIABLE {name}_opad = $1", [opad])
    con.execute(
        f"CREATE OR REPLACE TEMP MACRO {name}(x) AS left(sha256(getvariable('{name}_opad') || "
        f"unhex(sha256(getvariable('{name}_ipad') || encode(x)))), {PSEUDONYM_CHARS})"
    )


def forget_sql(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Remove a macro's key material from the session (before handing it to other code)."""
    con.execute(f"DROP MACRO IF EXISTS {name}")
    con.execute(f"RESET VARIABLE {name}_ipad")
    con.execute(f"RESET VARIABLE {name}_opad")
