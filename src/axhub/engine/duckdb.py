"""DuckDB: the default, embedded engine (a file or in memory).

The JSON functions are statically linked in the DuckDB wheel; this module never calls
``INSTALL`` (which would try the network).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from axhub.engine.base import RAW_COLUMN, Dialect, Engine
from axhub.errors import EngineError

log = logging.getLogger(__name__)

_TYPES = {"string": "VARCHAR", "integer": "BIGINT", "decimal": "DOUBLE", "boolean": "BOOLEAN"}
_EXTRACT = re.compile(r"^json_extract\(([A-Za-z_][A-Za-z0-9_]*(?:\[\d+\])?), '(\$[^']*)'\)$")
# JSON type tests on the text of a node. Every JSON node the compiled SQL handles, except the
# raw resource text, is DuckDB-serialised (json_extract, CAST to JSON[], to_json, json()):
# minified, so its first character tells its type without parsing it again.
_FIRST_CHAR = {
    "array": "'['",
    "string": "'\"'",
}


class DuckDBDialect(Dialect):
    name = "duckdb"
    cheap_type_test = True

    def quote_ident(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def string_literal(self, value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    def sql_type(self, kind: str) -> str:
        return _TYPES[kind]

    def list_type(self, kind: str) -> str:
        return _TYPES[kind] + "[]"

    def error(self, message: str) -> str:
        return f"error({self.string_literal(message)})"

    def transform(self, lst: str, var: str, body: str, index_var: str | None = None) -> str:
        if index_var is None:
            return f"list_transform({lst}, lambda {var}: {body})"
        return f"list_transform({lst}, lambda {var}, {index_var}: {body})"

    def is_cheap(self, sql: str) -> bool:
        # a member of a lambda variable or root field is one small JSON parse: bound once
        # (a let costs less than parsing the node again for each type test)
        return False

    def let(self, value: str, var: str, body: str) -> str:
        return f"list_transform([{value}], lambda {var}: {body})[1]"

    def index_ref(self, index_var: str) -> str:
        return f"({index_var} - 1)"

    def filter(self, lst: str, var: str, cond: str) -> str:
        return f"list_filter({lst}, lambda {var}: {cond})"

    def flatten(self, lst: str) -> str:
        return f"flatten({lst})"

    def concat_lists(self, lists: Sequence[str]) -> str:
        return f"list_concat({', '.join(lists)})" if len(lists) > 1 else lists[0]

    def list_len(self, lst: str) -> str:
        return f"len({lst})"

    def element(self, lst: str, index0: str) -> str:
        return f"({lst})[({index0}) + 1]"

    def slice(self, lst: str, start0: str, length: str | None) -> str:
        if length is None:
            return f"({lst})[({start0}) + 1:]"
        return f"({lst})[({start0}) + 1:({start0}) + ({length})]"

    def make_list(self, items: Sequence[str]) -> str:
        return "[" + ", ".join(items) + "]"

    def empty_json_list(self) -> str:
        return "CAST([] AS JSON[])"

    def null_json(self) -> str:
        return "CAST(NULL AS JSON)"

    def join_strings(self, lst: str, sep: str) -> str:
        return f"array_to_string({lst}, {sep})"

    def json_get(self, node: str, key: str) -> str:
        # a member of a member is one path (one parse): '$.a.b' is NULL when a is an
        # array, as json_extract(json_extract(x, '$.a'), '$.b') is
        m = _EXTRACT.match(node)
        if m is not None:
            return f"json_extract({m.group(1)}, '{m.group(2)}.{_path_key(key)}')"
        return f"json_extract({node}, '$.{_path_key(key)}')"

    def json_as_list(self, value: str) -> str:
        text = f"CAST({value} AS VARCHAR)"
        return (
            f"(CASE WHEN {value} IS NULL OR {text} = 'null' THEN CAST([] AS JSON[]) "
            f"WHEN starts_with({text}, '[') THEN CAST({value} AS JSON[]) ELSE [{value}] END)"
        )

    def json_array_get_list(self, node: str, key: str, var: str) -> str:
        # one parse of the array gives the members of all its elements
        return self._flat_members(f"json_extract({node}, '$[*].{_path_key(key)}')", var)

    def list_get_list(self, lst: str, key: str, var: str) -> str:
        members = f"list_transform({lst}, lambda {var}: {self.json_get(var, key)})"
        return self._flat_members(members, var)

    def _flat_members(self, members: str, var: str) -> str:
        """Member values (absent ones NULL or left out) as a collection. Only when one of
        them is an array are they expanded one by one (lists of one element cost more than
        the JSON parse); otherwise NULLs and JSON nulls are dropped."""
        m = var + "_m"
        text = f"CAST({var} AS VARCHAR)"
        any_array = f"list_bool_or(list_transform({m}, lambda {var}: starts_with({text}, '[')))"
        return self.let(
            members,
            m,
            f"(CASE WHEN {any_array} THEN flatten(list_transform({m}, lambda {var}: "
            f"{self.json_as_list(var)})) ELSE list_filter({m}, lambda {var}: {var} IS NOT NULL "
            f"AND {text} <> 'null') END)",
        )

    def json_scalar(self, node: str, kind: str) -> str:
        if kind == "string":
            m = _EXTRACT.match(node)
            if m is not None:
                return f"json_extract_string({m.group(1)}, '{m.group(2)}')"
            return f"json_extract_string({node}, '$')"
        return f"TRY_CAST({node} AS {_TYPES[kind]})"

    def json_is(self, node: str, json_kind: str) -> str:
        text = f"CAST({node} AS VARCHAR)"
        if json_kind in _FIRST_CHAR:
            return f"starts_with({text}, {_FIRST_CHAR[json_kind]})"
        if json_kind == "null":
            return f"({text} = 'null')"
        if json_kind == "boolean":
            return f"({text} IN ('true', 'false'))"
        return f"(substr({text}, 1, 1) IN ('-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9'))"

    def json_kind(self, node: str) -> str:
        text = f"CAST({node} AS VARCHAR)"
        return (
            f"(CASE WHEN {text} = 'null' THEN 'NULL' WHEN starts_with({text}, '[') THEN 'ARRAY' "
            f"WHEN {node} IS NOT NULL THEN 'OTHER' END)"
        )

    def json_array_length(self, node: str) -> str:
        return f"json_array_length({node})"

    def json_array_first(self, node: str) -> str:
        return f"json_extract({node}, '$[0]')"

    def json_decimal(self, node: str) -> str:
        return f"TRY_CAST(CAST({node} AS VARCHAR) AS DECIMAL(38,18))"

    def json_read_scale(self, node: str) -> str:
        text = f"CAST({node} AS VARCHAR)"
        return f"length(regexp_extract({text}, '\\.([0-9]+)', 1))"

    def to_json(self, sql: str, kind: str) -> str:
        return f"to_json({sql})"

    def regexp_matches(self, sql: str, pattern_sql: str) -> str:
        return f"regexp_matches({sql}, {pattern_sql})"

    def month_end(self, year_month: str) -> str:
        return f"CAST(last_day(CAST({year_month} || '-01' AS DATE)) AS VARCHAR)"

    def starts_with(self, sql: str, prefix: str) -> str:
        return f"starts_with({sql}, {prefix})"

    def ends_with(self, sql: str, suffix: str) -> str:
        return f"ends_with({sql}, {suffix})"

    def struct(self, fields: Sequence[tuple[str, str]]) -> str:
        return "{" + ", ".join(f"{self.string_literal(n)}: {v}" for n, v in fields) + "}"

    def explode(self, lst: str) -> str:
        return f"unnest({lst})"

    def root_items(self, resource_col: str, keys: Sequence[str]) -> list[str]:
        # json() re-serialises (minified), like every other node; pruned when unused
        items = [f"json({resource_col}) AS __res", f"{resource_col} AS {RAW_COLUMN}"]
        if keys:
            paths = ", ".join(f"'$.{_path_key(k)}'" for k in keys)
            items.append(f"json_extract({resource_col}, [{paths}]) AS __rf")
        return items

    def root_node(self) -> str:
        return "__res"

    def root_field(self, index: int, key: str) -> str:
        return f"__rf[{index + 1}]"


def _path_key(key: str) -> str:
    """A member name as a quoted JSON path step, inside a SQL string literal."""
    return '"' + key.replace('"', '\\"').replace("'", "''") + '"'


class DuckDBEngine(Engine):
    """DuckDB, in memory (``path=None``) or on a database file."""

    dialect = DuckDBDialect()

    def __init__(
        self,
        path: Path | str | None = None,
        *,
        threads: int = 0,
        memory_limit: str = "",
        read_only: bool = False,
        connection: duckdb.DuckDBPyConnection | None = None,
    ) -> None:
        if connection is not None:
            self.con = connection
        else:
            self.con = duckdb.connect(str(path) if path else ":memory:", read_only=read_only)
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        if memory_limit:
            self.con.execute(f"SET memory_limit = '{memory_limit}'")
        self.con.execute("SET preserve_insertion_order = false")
        self.con.execute("SET enable_progress_bar = false")  # would print into command output

    @classmethod
    def from_settings(
        cls, settings: Any, path: Path | None = None, *, read_only: bool = False
    ) -> DuckDBEngine:
        return cls(
            path,
            threads=settings.duckdb_threads,
            memory_limit=settings.duckdb_memory_limit,
            read_only=read_only,
        )

    def export_resources(self, out_dir: Path, table: str = "resources") -> int:
        """Write ``(resource_type, id, resource)`` as Parquet partitioned by resource type.

        This is the layout Spark reads (``SparkEngine.register_parquet``): one folder per
        ``resource_type=...``, so a view scans only its own type.
        """
        out_dir.mkdir(parents=True, exist_ok=True)
        target = str(out_dir).replace("'", "''")
        sql = (
            f"COPY (SELECT resource_type, id, CAST(resource AS VARCHAR) AS resource FROM {table}) "
            f"TO '{target}' (FORMAT PARQUET, COMPRESSION ZSTD, PARTITION_BY (resource_type), "
            "OVERWRITE_OR_IGNORE)"
        )
        try:
            row = self.con.execute(sql).fetchone()
        except duckdb.Error as exc:
            raise EngineError(f"duckdb failed: {exc}", sql=sql) from exc
        return int(row[0]) if row else 0

    def _execute(self, sql: str) -> pa.Table:
        return self.con.sql(sql).to_arrow_table()

    def _write(self, sql: str, out: Path, fmt: str) -> int:
        target = str(out).replace("'", "''")
        options = "FORMAT PARQUET, COMPRESSION ZSTD" if fmt == "parquet" else "FORMAT CSV, HEADER"
        row = self.con.execute(f"COPY ({sql}) TO '{target}' ({options})").fetchone()
        return int(row[0]) if row else 0

    def register_resources(self, name: str, table: pa.Table) -> None:
        self.con.register(name, table)

    def close(self) -> None:
        self.con.close()
