"""Apache Spark (PySpark): the scale-out engine; ``local[*]`` here, any cluster by master URL.

JSON resources are parsed once per row into Spark's ``VARIANT`` type (``parse_json``) and
navigated with ``variant_get``; FHIRPath collections are ``ARRAY<VARIANT>`` handled with
higher-order functions (``transform``, ``filter``, ``flatten``), exploded once per view.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from axhub.engine.base import RAW_COLUMN, Dialect, Engine
from axhub.errors import ConfigError

log = logging.getLogger(__name__)

_TYPES = {"string": "STRING", "integer": "BIGINT", "decimal": "DOUBLE", "boolean": "BOOLEAN"}
_NUMBER = "('BIGINT', 'INT', 'SMALLINT', 'TINYINT', 'DOUBLE', 'FLOAT')"
_SCALE = r"DECIMAL\([0-9]+,([0-9]+)\)"


class SparkDialect(Dialect):
    name = "spark"

    def quote_ident(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def sql_type(self, kind: str) -> str:
        return _TYPES[kind]

    def list_type(self, kind: str) -> str:
        return f"ARRAY<{_TYPES[kind]}>"

    def error(self, message: str) -> str:
        return f"raise_error({self.string_literal(message)})"

    def transform(self, lst: str, var: str, body: str, index_var: str | None = None) -> str:
        params = f"({var}, {index_var})" if index_var else var
        return f"transform({lst}, {params} -> {body})"

    def index_ref(self, index_var: str) -> str:
        return index_var

    def let(self, value: str, var: str, body: str) -> str:
        return f"element_at(transform(array({value}), {var} -> {body}), 1)"

    def filter(self, lst: str, var: str, cond: str) -> str:
        return f"filter({lst}, {var} -> {cond})"

    def flatten(self, lst: str) -> str:
        return f"flatten({lst})"

    def concat_lists(self, lists: Sequence[str]) -> str:
        return f"concat({', '.join(lists)})" if len(lists) > 1 else lists[0]

    def list_len(self, lst: str) -> str:
        return f"size({lst})"

    def element(self, lst: str, index0: str) -> str:
        if index0.strip().isdigit():
            return f"try_element_at({lst}, {int(index0) + 1})"
        position = f"CAST(({index0}) + 1 AS INT)"
        return f"(CASE WHEN ({index0}) >= 0 THEN try_element_at({lst}, {position}) END)"

    def slice(self, lst: str, start0: str, length: str | None) -> str:
        if length is None:
            length = f"greatest(size({lst}) - ({start0}), 0)"
        return f"slice({lst}, CAST(({start0}) + 1 AS INT), CAST({length} AS INT))"

    def make_list(self, items: Sequence[str]) -> str:
        return f"array({', '.join(items)})"

    def empty_json_list(self) -> str:
        return "CAST(array() AS ARRAY<VARIANT>)"

    def null_json(self) -> str:
        return "CAST(NULL AS VARIANT)"

    def join_strings(self, lst: str, sep: str) -> str:
        return f"array_join({lst}, {sep})"

    def json_get(self, node: str, key: str) -> str:
        return f"variant_get({node}, {self.string_literal(_json_path(key))})"

    def json_as_list(self, value: str) -> str:
        # no try_variant_get casts here: a failed cast costs a JVM exception per row
        return (
            f"(CASE WHEN {value} IS NULL OR is_variant_null({value}) "
            f"THEN CAST(array() AS ARRAY<VARIANT>) WHEN {self.json_is(value, 'array')} "
            f"THEN variant_get({value}, '$', 'array<variant>') ELSE array({value}) END)"
        )

    def json_get_list(self, node: str, key: str) -> str:
        return self.json_as_list(self.json_get(node, key))

    def json_scalar(self, node: str, kind: str) -> str:
        target = {
            "string": "string",
            "integer": "bigint",
            "decimal": "double",
            "boolean": "boolean",
        }
        return f"try_variant_get({node}, '$', '{target[kind]}')"

    def json_is(self, node: str, json_kind: str) -> str:
        schema = f"schema_of_variant({node})"
        if json_kind == "number":
            return f"({schema} IN {_NUMBER} OR {schema} LIKE 'DECIMAL%')"
        if json_kind == "array":
            # a path step into a non-array is NULL (no error); FHIR has no empty arrays and
            # the compiler never builds one, so "has a first element" means "is an array"
            return f"(variant_get({node}, '$[0]') IS NOT NULL)"
        if json_kind == "null":
            return f"is_variant_null({node})"
        return f"({schema} = '{json_kind.upper()}')"

    def json_kind(self, node: str) -> str:
        return (
            f"(CASE WHEN {node} IS NULL THEN NULL WHEN is_variant_null({node}) THEN 'NULL' WHEN "
            f"{self.json_is(node, 'array')} THEN 'ARRAY' ELSE 'OTHER' END)"
        )

    def json_array_length(self, node: str) -> str:
        return f"size(variant_get({node}, '$', 'array<variant>'))"

    def json_array_first(self, node: str) -> str:
        return f"variant_get({node}, '$[0]')"

    def json_decimal(self, node: str) -> str:
        return f"try_variant_get({node}, '$', 'decimal(38,18)')"

    def json_read_scale(self, node: str) -> str:
        scale = f"regexp_extract(schema_of_variant({node}), {self.string_literal(_SCALE)}, 1)"
        return f"try_cast(nullif({scale}, '') AS INT)"

    def to_json(self, sql: str, kind: str) -> str:
        return f"CAST({sql} AS VARIANT)"

    def regexp_matches(self, sql: str, pattern_sql: str) -> str:
        return f"regexp_like({sql}, {pattern_sql})"

    def month_end(self, year_month: str) -> str:
        return f"CAST(last_day(to_date({year_month} || '-01')) AS STRING)"

    def starts_with(self, sql: str, prefix: str) -> str:
        return f"startswith({sql}, {prefix})"

    def ends_with(self, sql: str, suffix: str) -> str:
        return f"endswith({sql}, {suffix})"

    def struct(self, fields: Sequence[tuple[str, str]]) -> str:
        return (
            "named_struct(" + ", ".join(f"{self.string_literal(n)}, {v}" for n, v in fields) + ")"
        )

    def explode(self, lst: str) -> str:
        return f"explode({lst})"

    def root_items(self, resource_col: str, keys: Sequence[str]) -> list[str]:
        # the text too, for the written digits of decimals (pruned when no view reads it)
        return [f"parse_json({resource_col}) AS __res", f"{resource_col} AS {RAW_COLUMN}"]

    def root_node(self) -> str:
        return "__res"

    def root_field(self, index: int, key: str) -> str:
        return self.json_get("__res", key)


def _json_path(key: str) -> str:
    return '$["' + key.replace("\\", "\\\\").replace('"', '\\"') + '"]'


# Session defaults for a small local run; a cluster passes its own master and conf.
LOCAL_CONF: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.ansi.enabled": "true",
    "spark.sql.analyzer.maxIterations": "1000",
    "spark.driver.memory": "1g",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.log.level": "ERROR",
    "spark.ui.showConsoleProgress": "false",
}


class SparkEngine(Engine):
    """Spark SQL over a SparkSession (created from ``master`` unless one is given)."""

    dialect = SparkDialect()

    def __init__(
        self,
        spark: Any = None,
        *,
        master: str = "local[2]",
        conf: dict[str, str] | None = None,
        app_name: str = "axhub-views",
    ) -> None:
        if spark is None:
            try:
                from pyspark.sql import SparkSession
            except ImportError as exc:  # pragma: no cover - pyspark is in the spark extra
                raise ConfigError(
                    "the Spark engine needs pyspark: pip install 'axhub[spark]'"
                ) from exc
            builder = SparkSession.builder.master(master).appName(app_name)
            for key, value in {**LOCAL_CONF, **(conf or {})}.items():
                builder = builder.config(key, value)
            spark = builder.getOrCreate()
            spark.sparkContext.setLogLevel("ERROR")
        # pyspark logs every failed query with its SQL; Engine.query wraps the error once
        logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
        self.spark = spark

    @classmethod
    def from_settings(cls, settings: Any) -> SparkEngine:
        return cls(master=settings.spark_master)

    def _execute(self, sql: str) -> pa.Table:
        return self.spark.sql(sql).toArrow()

    def _write(self, sql: str, out: Path, fmt: str) -> int:
        df = self.spark.sql(sql)
        writer = df.write.mode("overwrite")
        if fmt == "parquet":
            writer.parquet(str(out))
            return int(self.spark.read.parquet(str(out)).count())
        writer.option("header", "true").csv(str(out))
        return int(self.spark.read.option("header", "true").csv(str(out)).count())

    def register_resources(self, name: str, table: pa.Table) -> None:
        self.spark.createDataFrame(table).createOrReplaceTempView(name)

    def register_parquet(self, name: str, path: Path) -> None:
        """Expose a Parquet dataset ``(resource_type, id, resource)`` as ``name``."""
        self.spark.read.parquet(str(path)).createOrReplaceTempView(name)

    def register_ndjson(self, name: str, paths: Sequence[Path]) -> None:
        """Expose FHIR NDJSON files as ``name`` (one resource per line, parsed in SQL)."""
        self.spark.read.text([str(p) for p in paths]).createOrReplaceTempView(f"{name}__lines")
        self.spark.sql(
            f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT "
            "get_json_object(value, '$.resourceType') AS resource_type, "
            "get_json_object(value, '$.id') AS id, value AS resource "
            f"FROM {name}__lines WHERE trim(value) <> ''"
        )
