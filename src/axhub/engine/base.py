"""The ``Engine`` interface and the ``Dialect`` hooks that the view compiler targets.

The compiler in ``axhub.views.compiler`` writes SQL only through a ``Dialect``: every
difference between DuckDB and Spark SQL (JSON access, lambdas, list functions, explode,
raising an error, type names) is a named method or property here, implemented once per
engine in ``engine/duckdb.py`` and ``engine/spark.py``.

``Engine.run_view`` is the final orchestration (validate, compile, execute, wrap errors);
engines supply a few small hooks (``_execute``, ``_register_source``, ``_write``).
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from axhub.errors import EngineError, InputError

log = logging.getLogger(__name__)

# The resource text beside its parsed form in every compiled view (engines prune it unless
# a view reads the digits of a decimal as written).
RAW_COLUMN = "__raw"
# A JSON string (skipped) or a number token (group 1): the numbers written in a resource.
_NUMBER_TOKENS = r'"(?:[^"\\]|\\.)*"|(-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)'


class Dialect(ABC):
    """SQL building blocks of one engine. Kinds are ``string|integer|decimal|boolean``."""

    name: ClassVar[str]

    # ---- identifiers and literals -------------------------------------------------
    @abstractmethod
    def quote_ident(self, name: str) -> str: ...

    def string_literal(self, value: str) -> str:
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

    @abstractmethod
    def sql_type(self, kind: str) -> str: ...

    @abstractmethod
    def list_type(self, kind: str) -> str: ...

    def cast(self, sql: str, kind: str) -> str:
        return f"CAST({sql} AS {self.sql_type(kind)})"

    def typed_null(self, kind: str, collection: bool = False) -> str:
        return f"CAST(NULL AS {self.list_type(kind) if collection else self.sql_type(kind)})"

    @abstractmethod
    def error(self, message: str) -> str:
        """An expression that raises ``message`` when evaluated."""

    # ---- lists and lambdas -------------------------------------------------------
    @abstractmethod
    def transform(self, lst: str, var: str, body: str, index_var: str | None = None) -> str:
        """Map ``body`` over ``lst``; ``index_var`` (if given) names the position parameter."""

    @abstractmethod
    def index_ref(self, index_var: str) -> str:
        """The 0-based position bound by ``transform(..., index_var=...)``."""

    def is_cheap(self, sql: str) -> bool:
        """Whether repeating ``sql`` costs less than binding it once with ``let``."""
        return False

    @abstractmethod
    def let(self, value: str, var: str, body: str) -> str:
        """``body`` with ``var`` bound to ``value`` (evaluated once)."""

    @abstractmethod
    def filter(self, lst: str, var: str, cond: str) -> str: ...

    @abstractmethod
    def flatten(self, lst: str) -> str: ...

    @abstractmethod
    def concat_lists(self, lists: Sequence[str]) -> str: ...

    @abstractmethod
    def list_len(self, lst: str) -> str: ...

    @abstractmethod
    def element(self, lst: str, index0: str) -> str:
        """Element at 0-based ``index0`` or NULL when out of range."""

    @abstractmethod
    def slice(self, lst: str, start0: str, length: str | None) -> str: ...

    @abstractmethod
    def make_list(self, items: Sequence[str]) -> str: ...

    @abstractmethod
    def empty_json_list(self) -> str: ...

    @abstractmethod
    def null_json(self) -> str:
        """A NULL of the JSON node type."""

    @abstractmethod
    def join_strings(self, lst: str, sep: str) -> str: ...

    # ---- JSON nodes ----------------------------------------------------------------
    @abstractmethod
    def json_get(self, node: str, key: str) -> str:
        """Member ``key`` of JSON ``node`` (JSON value, or NULL when absent)."""

    @abstractmethod
    def json_as_list(self, value: str) -> str:
        """A JSON value as a FHIRPath collection: array -> elements, null/absent -> []."""

    def json_get_list(self, node: str, key: str) -> str:
        """Member ``key`` of ``node`` (a plain name) as a collection."""
        value = self.json_get(node, key)
        return self.let(value, "__v", self.json_as_list("__v"))

    def json_array_get_list(self, node: str, key: str, var: str) -> str:
        """Member ``key`` of every element of the JSON array ``node``, as one collection
        (``var`` is a free lambda variable name)."""
        return self.list_get_list(self.json_as_list(node), key, var)

    def list_get_list(self, lst: str, key: str, var: str) -> str:
        """Member ``key`` of every node of the collection ``lst``, as one collection."""
        return self.flatten(self.transform(lst, var, self.json_get_list(var, key)))

    # Whether json_is/json_kind cost less than json_get (no parse): the compiler then tests
    # for an array before reading a member, instead of after.
    cheap_type_test: ClassVar[bool] = False

    @abstractmethod
    def json_scalar(self, node: str, kind: str) -> str:
        """A JSON primitive as a SQL value of ``kind`` (NULL when the node is NULL)."""

    @abstractmethod
    def json_is(self, node: str, json_kind: str) -> str:
        """Test the JSON type of ``node``: boolean, number, string, array or null (literal)."""

    @abstractmethod
    def json_kind(self, node: str) -> str:
        """'ARRAY' or 'NULL' (JSON null) for those kinds of ``node``; anything else otherwise."""

    @abstractmethod
    def json_array_length(self, node: str) -> str:
        """Length of the JSON array ``node``."""

    @abstractmethod
    def json_array_first(self, node: str) -> str:
        """First element of the JSON array ``node`` (NULL when empty)."""

    def json_decimal_scale(self, node: str) -> str:
        """Digits after the decimal point of a JSON number as written (integer SQL).

        Both engines' JSON readers drop trailing zeros (``2.50`` reads as 2.5), so the
        digits are read from the resource's own text (``RAW_COLUMN``): the first number
        token outside strings whose value equals the node's (decision 0140)."""
        tokens = f"regexp_extract_all({RAW_COLUMN}, {self.string_literal(_NUMBER_TOKENS)}, 1)"
        same = self.filter(
            tokens,
            "__n",
            f"__n <> '' AND TRY_CAST(__n AS DECIMAL(38,18)) = {self.json_decimal(node)}",
        )
        digits = self.regexp_extract(self.element(same, "0"), r"\.([0-9]+)", 1)
        return f"coalesce(length({digits}), {self.json_read_scale(node)}, 0)"

    @abstractmethod
    def json_decimal(self, node: str) -> str:
        """A JSON number as DECIMAL(38,18) (NULL if it is not one or does not fit)."""

    @abstractmethod
    def json_read_scale(self, node: str) -> str:
        """Digits after the decimal point as the engine reads the number (may be fewer than
        written: trailing zeros dropped)."""

    @abstractmethod
    def to_json(self, sql: str, kind: str) -> str:
        """A typed SQL value (``kind`` string/integer/decimal/boolean, or ``json`` for a list
        of JSON nodes, which becomes a JSON array) as a JSON node."""

    # ---- strings -------------------------------------------------------------------
    def concat_strings(self, parts: Sequence[str]) -> str:
        return "(" + " || ".join(parts) + ")"

    def regexp_extract(self, sql: str, pattern: str, group: int) -> str:
        """Group ``group`` of the Python-string regex ``pattern`` in ``sql`` ('' if none)."""
        return f"regexp_extract({sql}, {self.string_literal(pattern)}, {group})"

    @abstractmethod
    def regexp_matches(self, sql: str, pattern_sql: str) -> str:
        """Whether the SQL string ``pattern_sql`` (a regex) matches part of ``sql``."""

    def split_part(self, sql: str, sep: str, index: int) -> str:
        """Part ``index`` (1-based; negative counts from the end; '' if none) of ``sql``."""
        return f"split_part({sql}, {self.string_literal(sep)}, {index})"

    @abstractmethod
    def month_end(self, year_month: str) -> str:
        """``'YYYY-MM'`` string -> the month's last day as ``'YYYY-MM-DD'`` string."""

    @abstractmethod
    def starts_with(self, sql: str, prefix: str) -> str: ...

    @abstractmethod
    def ends_with(self, sql: str, suffix: str) -> str: ...

    def contains(self, sql: str, part: str) -> str:
        return f"contains({sql}, {part})"

    def substring(self, sql: str, start0: str, length: str | None) -> str:
        """Substring from the 0-based ``start0`` (SQL), of ``length`` characters or to the end."""
        if length is None:
            return f"substring({sql}, ({start0}) + 1)"
        return f"substring({sql}, ({start0}) + 1, {length})"

    def length(self, sql: str) -> str:
        return f"length({sql})"

    def replace(self, sql: str, old: str, new: str) -> str:
        return f"replace({sql}, {old}, {new})"

    # ---- rows and the root ---------------------------------------------------------
    @abstractmethod
    def struct(self, fields: Sequence[tuple[str, str]]) -> str: ...

    def struct_field(self, struct: str, name: str) -> str:
        return f"{struct}.{self.quote_ident(name)}"

    @abstractmethod
    def explode(self, lst: str) -> str:
        """Select-list expression turning a list into one row per element."""

    @abstractmethod
    def root_items(self, resource_col: str, keys: Sequence[str]) -> list[str]:
        """Select-list items computed once per resource (the parsed root and its fields)."""

    @abstractmethod
    def root_node(self) -> str:
        """The resource as a JSON node, in terms of ``root_items``."""

    @abstractmethod
    def root_field(self, index: int, key: str) -> str:
        """Top-level member ``key`` (the ``index``-th of ``root_items``'s keys)."""


class Engine(ABC):
    """Runs compiled SQL-on-FHIR views over a table ``(resource_type, id, resource JSON)``."""

    dialect: Dialect

    def run_view(
        self, view: Any, source: str = "resources", *, where_sql: str | None = None
    ) -> pa.Table:
        """Validate and compile ``view`` (dict, path or ViewDefinition), run it, return Arrow.

        ``source`` is a table or view name holding ``resource_type``, ``id``, ``resource``.
        """
        from axhub.views.compiler import compile_view
        from axhub.views.model import ViewDefinition

        vd = _as_view(view, ViewDefinition)
        compiled = compile_view(vd, self.dialect, source, where_sql=where_sql)
        started = time.perf_counter()
        table = self.query(compiled.sql)
        table = compiled.conform(table)
        log.info(
            "view %s: %d rows in %.2fs on %s",
            vd.name or vd.resource,
            table.num_rows,
            time.perf_counter() - started,
            self.dialect.name,
        )
        return table

    def query(self, sql: str) -> pa.Table:
        """Run one SQL statement and return Arrow; backend errors become ``EngineError``."""
        try:
            return self._execute(sql)
        except EngineError:
            raise
        except Exception as exc:  # the one place backend errors are wrapped
            raise EngineError(f"{self.dialect.name} failed: {_first_line(exc)}", sql=sql) from exc

    def write_view(
        self, view: Any, out: Path, fmt: str = "parquet", source: str = "resources"
    ) -> int:
        """Run ``view`` and write it as Parquet or CSV; returns the number of rows."""
        from axhub.views.compiler import compile_view
        from axhub.views.model import ViewDefinition

        if fmt not in ("parquet", "csv"):
            raise InputError(f"unknown output format {fmt!r}", field="format", reason="parquet|csv")
        vd = _as_view(view, ViewDefinition)
        compiled = compile_view(vd, self.dialect, source)
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            return self._write(compiled.sql, out, fmt)
        except EngineError:
            raise
        except Exception as exc:
            raise EngineError(
                f"{self.dialect.name} failed: {_first_line(exc)}", sql=compiled.sql
            ) from exc

    @abstractmethod
    def _execute(self, sql: str) -> pa.Table: ...

    @abstractmethod
    def _write(self, sql: str, out: Path, fmt: str) -> int: ...

    @abstractmethod
    def register_resources(self, name: str, table: pa.Table) -> None:
        """Expose an Arrow table ``(resource_type, id, resource)`` as ``name``."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the backend."""


def _as_view(view: Any, cls: Any) -> Any:
    if isinstance(view, cls):
        return view
    if isinstance(view, Path):
        return cls.load(view)
    return cls.parse(view)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
