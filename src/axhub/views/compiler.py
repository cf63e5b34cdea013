"""Compile a validated ViewDefinition into one SQL statement for a ``Dialect``.

Model: a FHIRPath value is a JSON *collection* (a SQL list of JSON nodes), an *optional
node* (one JSON node or NULL), or a typed *scalar* (NULL = empty). Navigation maps over
lists with lambdas; a select tree compiles to an expression giving, per resource, the list
of its output rows (structs), exploded once at the top. Views that give exactly one row per
resource skip the list and select their columns directly. ``repeat`` is a pre-order
traversal unrolled to ``REPEAT_DEPTH`` levels that raises when data nests deeper.
Nothing is evaluated per resource in Python.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from axhub.engine.base import Dialect
from axhub.errors import UnsupportedFeature, ViewDefinitionError
from axhub.views import fhirpath as fp
from axhub.views.model import COLUMN_KINDS, Column, Select, ViewDefinition

REPEAT_DEPTH = 10
_SIMPLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[\d+\])?$")

# FHIRPath primitive types that ofType()/as may name, lower-case first letter: the column
# kinds of the model, except that temporal types keep their own FHIRPath type.
_PRIMITIVES = {
    **COLUMN_KINDS,
    "date": "date",
    "dateTime": "dateTime",
    "instant": "dateTime",
    "time": "time",
}
# FHIR complex data types: ofType(T) on a choice element reads ``<name>T``.
_DATA_TYPES = {
    "Address", "Age", "Annotation", "Attachment", "CodeableConcept", "CodeableReference",
    "Coding", "ContactDetail", "ContactPoint", "Contributor", "Count", "DataRequirement",
    "Distance", "Dosage", "Duration", "Expression", "HumanName", "Identifier", "Meta",
    "Money", "ParameterDefinition", "Period", "Quantity", "Range", "Ratio", "RatioRange",
    "Reference", "RelatedArtifact", "SampledData", "Signature", "Timing", "TriggerDefinition",
    "UsageContext", "Availability", "ExtendedContactDetail", "VirtualServiceDetail",
}  # fmt: skip
# Elements whose FHIR type is known to be ``date`` (used by lowBoundary/highBoundary).
_DATE_ELEMENTS = {"birthDate", "date", "issued"}


def _flat_shape(sel: Select, at_root: bool) -> bool:
    """No repeat/unionAll, and forEach only as a resource-level forEachOrNull."""
    if sel.repeat or sel.union_all:
        return False
    if sel.for_each is not None:
        if not (sel.for_each_or_null and at_root):
            return False
        at_root = False
    return all(_flat_shape(sub, at_root) for sub in sel.selects)


def _cmp_kind(t: str | None) -> str | None:
    if t is None:
        return None
    if t in ("integer", "decimal"):
        return "decimal"
    if t == "boolean":
        return "boolean"
    return "string"


@dataclass(frozen=True)
class V:
    """A compiled FHIRPath value: ``kind`` is root, opt, coll or scalar."""

    sql: str
    kind: str
    t: str | None = None  # FHIRPath type of the value / elements when known
    member_of: tuple[str, str] | None = None  # (node, key) when sql is that node's member


@dataclass(frozen=True)
class Ctx:
    focus: V
    index: str
    where: str


@dataclass
class CompiledView:
    sql: str
    columns: list[Column]
    dialect: Dialect = field(repr=False)

    def conform(self, table: pa.Table) -> pa.Table:
        """Rename to the declared column names (engines may change case)."""
        return table.rename_columns([c.name for c in self.columns])


def compile_view(
    view: ViewDefinition, dialect: Dialect, source: str, *, where_sql: str | None = None
) -> CompiledView:
    """Compile ``view`` to SQL reading ``source`` (a relation with resource_type, resource)."""
    return _Compiler(view, dialect).compile(source, where_sql)


class _Compiler:
    def __init__(self, view: ViewDefinition, dialect: Dialect) -> None:
        self.view = view
        self.d = dialect
        self.root_keys: list[str] = []
        self.hoisted: list[tuple[str, str]] = []
        self.counter = 0

    # ---- driver --------------------------------------------------------------------
    def compile(self, source: str, where_sql: str | None) -> CompiledView:
        d = self.d
        root = V("", "root")
        ctx = Ctx(root, "0", "")
        columns = self.view.columns
        filters = [
            self.as_bool(self.expr(w.expr, Ctx(root, "0", w.where)), w.where, strict=True)
            for w in self.view.where
        ]
        flat = self.one_row(self.view.select, ctx)
        if flat is not None:
            exprs = dict(flat)
            select_list = ", ".join(f"{exprs[c.name]} AS {d.quote_ident(c.name)}" for c in columns)
            body = None
        else:
            # columns with one value per resource are computed once, beside the explode
            own, parts = self.own_and_parts(self.view.select, ctx)
            body = self.product([], parts)
            once = dict(own)
            outer = [
                d.quote_ident(c.name) if c.name in once else d.struct_field("__r", c.name)
                for c in columns
            ]
            select_list = ", ".join(
                f"{o} AS {d.quote_ident(c.name)}" for o, c in zip(outer, columns, strict=True)
            )
            once_list = "".join(f"{sql} AS {d.quote_ident(n)}, " for n, sql in own)
        items = ", ".join(d.root_items("resource", self.root_keys))
        rtype = d.string_literal(self.view.resource)
        inner = f"SELECT {items} FROM {source} WHERE resource_type = {rtype}"
        if where_sql:
            inner += f" AND ({where_sql})"
        if self.hoisted:
            extra = ", ".join(f"{sql} AS {alias}" for alias, sql in self.hoisted)
            inner = f"SELECT *, {extra} FROM ({inner}) __base"
        cond = " AND ".join(f"({f}) IS TRUE" for f in filters)
        where_clause = f" WHERE {cond}" if cond else ""
        if body is None:
            sql = f"SELECT {select_list} FROM ({inner}) __src{where_clause}"
        else:
            sql = (
                f"SELECT {select_list} FROM (SELECT {once_list}{d.explode(body)} AS __r "
                f"FROM ({inner}) __src{where_clause}) __rows"
            )
        return CompiledView(sql=sql, columns=columns, dialect=d)

    def var(self, prefix: str = "x") -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def bind(self, sql: str, body: Callable[[str], str]) -> str:
        """``body(x)`` with ``x`` bound to ``sql`` once (no textual duplication)."""
        if _SIMPLE.match(sql) or self.d.is_cheap(sql):
            return body(sql)
        v = self.var("b")
        return self.d.let(sql, v, body(v))

    def as_list(self, value: str) -> str:
        """A JSON value as a collection (array elements, or the value, or empty)."""
        return self.bind(value, self.d.json_as_list)

    # ---- select tree -----------------------------------------------------------------
    def one_row(self, sel: Select, ctx: Ctx) -> list[tuple[str, str]] | None:
        """Columns of a select that yields exactly one row per focus, else None.

        At the resource level a ``forEachOrNull`` over at most one node (``...first()``)
        is one row too: the node is computed once per resource (a hoisted column) and the
        columns read it (NULL when absent, ``%rowIndex`` 0).
        """
        if not _flat_shape(sel, ctx.focus.kind == "root"):
            return None
        if sel.for_each is not None:
            where = f"{sel.where}.forEachOrNull"
            v = self.expr(sel.for_each, Ctx(ctx.focus, ctx.index, where))
            if v.kind != "opt":
                return None
            ctx = Ctx(V(self.hoist(v.sql), "opt", v.t), "0", sel.where)
        out = [(c.name, self.column(c, ctx)) for c in sel.columns]
        for sub in sel.selects:
            cols = self.one_row(sub, ctx)
            if cols is None:
                return None
            out.extend(cols)
        return out

    def hoist(self, sql: str) -> str:
        """Compute a resource-level expression once per resource; returns its column."""
        alias = f"__h{len(self.hoisted) + 1}"
        self.hoisted.append((alias, sql))
        return alias

    def rows(self, sel: Select, ctx: Ctx) -> str:
        d = self.d
        if sel.for_each is None and not sel.repeat:
            return self.inner_rows(sel, ctx)
        if sel.repeat:
            items = self.repeat_items(sel, ctx)
        else:
            assert sel.for_each is not None
            where = f"{sel.where}.{'forEachOrNull' if sel.for_each_or_null else 'forEach'}"
            items = self.as_coll(self.expr(sel.for_each, Ctx(ctx.focus, ctx.index, where)))
        e, i = self.var("e"), self.var("i")
        inner = self.inner_rows(sel, Ctx(V(e, "opt"), d.index_ref(i), sel.where))
        result = d.flatten(d.transform(items, e, inner, index_var=i))
        if sel.for_each_or_null:
            # no items: the children see one empty focus (%rowIndex 0); if that yields no
            # rows either, one row of nulls
            null_row = d.struct(
                [(c.name, d.typed_null(c.kind, c.collection)) for c in sel.all_columns()]
            )
            empty = self.inner_rows(sel, Ctx(V(d.null_json(), "opt"), "0", sel.where))
            result = (
                f"(CASE WHEN {d.list_len(items)} > 0 THEN {result} "
                f"WHEN {d.list_len(empty)} > 0 THEN {empty} ELSE {d.make_list([null_row])} END)"
            )
        return result

    def own_and_parts(
        self, sel: Select, ctx: Ctx
    ) -> tuple[list[tuple[str, str]], list[tuple[str, list[Column]]]]:
        """Columns with one value per focus, and the row lists to take the product of."""
        d = self.d
        own = [(c.name, self.column(c, ctx)) for c in sel.columns]
        parts: list[tuple[str, list[Column]]] = []
        for sub in sel.selects:
            flat = self.one_row(sub, ctx)
            if flat is not None:
                own.extend(flat)
            else:
                parts.append((self.rows(sub, ctx), sub.all_columns()))
        if sel.union_all:
            branches = [self.rows(b, ctx) for b in sel.union_all]
            parts.append((d.concat_lists(branches), sel.union_all[0].all_columns()))
        return own, parts

    def inner_rows(self, sel: Select, ctx: Ctx) -> str:
        own, parts = self.own_and_parts(sel, ctx)
        return self.product(own, parts)

    def product(self, own: list[tuple[str, str]], parts: list[tuple[str, list[Column]]]) -> str:
        """The rows: ``own`` columns crossed with every row of every part, in order."""
        d = self.d
        if not parts:
            return d.make_list([d.struct(own)])
        if not own and len(parts) == 1:
            return parts[0][0]
        # the focus's own columns are evaluated once and copied into each of its rows
        o = self.var("o")
        names = [(n, d.struct_field(o, n)) for n, _ in own]
        row_vars = [self.var("r") for _ in parts]
        for rv, (_, cols) in zip(row_vars, parts, strict=True):
            names.extend((c.name, d.struct_field(rv, c.name)) for c in cols)
        body = d.transform(parts[-1][0], row_vars[-1], d.struct(names))
        for rv, (lst, _) in zip(reversed(row_vars[:-1]), reversed(parts[:-1]), strict=True):
            body = d.flatten(d.transform(lst, rv, body))
        return d.let(d.struct(own), o, body) if own else body

    def repeat_items(self, sel: Select, ctx: Ctx) -> str:
        """Pre-order traversal of the nodes reached by applying the repeat paths recursively."""
        d = self.d

        def children(node: V) -> str:
            lists = [
                self.as_coll(self.expr(p, Ctx(node, ctx.index, f"{sel.where}.repeat[{k}]")))
                for k, p in enumerate(sel.repeat)
            ]
            return lists[0] if len(lists) == 1 else d.concat_lists(lists)

        def preorder(depth: int) -> tuple[str, str]:
            n = self.var("n")
            kids = children(V(n, "opt"))
            if depth == 0:
                message = f"{sel.where}.repeat: data nests deeper than {REPEAT_DEPTH} levels"
                return n, (
                    f"(CASE WHEN {d.list_len(kids)} > 0 THEN {d.error(message)} "
                    f"ELSE {d.make_list([n])} END)"
                )
            m, sub = preorder(depth - 1)
            return n, d.concat_lists([d.make_list([n]), d.flatten(d.transform(kids, m, sub))])

        m, sub = preorder(REPEAT_DEPTH - 1)
        return d.flatten(d.transform(children(ctx.focus), m, sub))

    def column(self, col: Column, ctx: Ctx) -> str:
        d = self.d
        v = self.expr(col.expr, Ctx(ctx.focus, ctx.index, f"{col.where}.path"))
        if col.collection:
            if v.kind == "scalar":
                empty = f"CAST({d.make_list([])} AS {d.list_type(col.kind)})"
                return self.bind(
                    d.cast(v.sql, col.kind),
                    lambda x: f"(CASE WHEN {x} IS NULL THEN {empty} ELSE {d.make_list([x])} END)",
                )
            e = self.var("e")
            return d.transform(self.as_coll(v), e, d.json_scalar(e, col.kind))
        return d.cast(self.as_scalar(v, col.kind, f"{col.where}.path"), col.kind)

    # ---- value conversions ---------------------------------------------------------------
    def as_coll(self, v: V) -> str:
        d = self.d
        if v.kind == "coll":
            return v.sql
        if v.kind == "val":
            if v.member_of is not None:
                return self.d.json_get_list(*v.member_of)
            return self.as_list(v.sql)
        if v.kind == "root":
            return d.make_list([d.root_node()])
        if v.kind == "opt":
            return self.bind(
                v.sql,
                lambda x: (
                    f"(CASE WHEN {x} IS NULL THEN {d.empty_json_list()} "
                    f"ELSE {d.make_list([x])} END)"
                ),
            )
        node = d.to_json(v.sql, _cmp_kind(v.t) or "string")
        return (
            f"(CASE WHEN {v.sql} IS NULL THEN {d.empty_json_list()} ELSE {d.make_list([node])} END)"
        )

    def as_opt(self, v: V, where: str) -> str:
        d = self.d
        msg = f"{where}: expression returned more than one value (use collection: true or first())"
        if v.kind == "opt":
            return v.sql
        if v.kind == "root":
            return d.root_node()
        if v.kind == "scalar":
            return d.to_json(v.sql, _cmp_kind(v.t) or "string")
        if v.kind == "val":
            return self.bind(v.sql, lambda x: self._val_single(x, d.error(msg)))
        return self.bind(
            v.sql,
            lambda c: (
                f"(CASE WHEN {d.list_len(c)} > 1 THEN {d.error(msg)} ELSE {d.element(c, '0')} END)"
            ),
        )

    def _val_single(self, x: str, many: str) -> str:
        """The one node of JSON value ``x`` (an array is a collection); ``many`` if more."""
        d = self.d
        return (
            f"(CASE {d.json_kind(x)} WHEN 'NULL' THEN NULL "
            f"WHEN 'ARRAY' THEN (CASE {d.json_array_length(x)} WHEN 0 THEN NULL "
            f"WHEN 1 THEN {d.json_array_first(x)} ELSE {many} END) ELSE {x} END)"
        )

    def list_to_val(self, lst: str) -> str:
        """A list of JSON nodes as a JSON value; never an empty array (empty is NULL)."""
        d = self.d
        if not d.cheap_type_test:
            return self.bind(
                lst, lambda f: f"(CASE WHEN {d.list_len(f)} > 0 THEN {d.to_json(f, 'json')} END)"
            )

        def val(f: str) -> str:
            # one node that is not an array is its own JSON value: no re-encoding
            one = d.element(f, "0")
            return (
                f"(CASE {d.list_len(f)} WHEN 0 THEN NULL WHEN 1 THEN (CASE WHEN "
                f"{d.json_is(one, 'array')} THEN {d.to_json(f, 'json')} ELSE {one} END) "
                f"ELSE {d.to_json(f, 'json')} END)"
            )

        return self.bind(lst, val)

    def _val_count(self, x: str) -> str:
        d = self.d
        return (
            f"(CASE coalesce({d.json_kind(x)}, 'NULL') WHEN 'NULL' THEN 0 "
            f"WHEN 'ARRAY' THEN {d.json_array_length(x)} ELSE 1 END)"
        )

    def as_scalar(self, v: V, kind: str | None, where: str) -> str:
        d = self.d
        if v.kind == "scalar":
            return v.sql if kind is None else d.cast(v.sql, kind)
        return d.json_scalar(self.as_opt(v, where), kind or _cmp_kind(v.t) or "string")

    def as_bool(self, v: V, where: str, strict: bool = False) -> str:
        d = self.d
        if v.kind == "scalar":
            if v.t != "boolean" and strict:
                raise ViewDefinitionError(
                    f"{where}: expression must give a boolean", field=where, reason="not boolean"
                )
            return v.sql
        msg = f"{where}: expression must give a boolean"
        return self.bind(
            self.as_opt(v, where),
            lambda node: (
                f"(CASE WHEN {node} IS NULL THEN NULL WHEN {d.json_is(node, 'boolean')} "
                f"THEN {d.json_scalar(node, 'boolean')} ELSE {d.error(msg)} END)"
            ),
        )

    # ---- expressions ---------------------------------------------------------------------
    def expr(self, node: fp.Node, ctx: Ctx) -> V:
        if isinstance(node, fp.Literal):
            return self.literal(node.value, node.type)
        if isinstance(node, fp.Constant):
            return self.constant(node, ctx)
        if isinstance(node, fp.This):
            return ctx.focus
        if isinstance(node, fp.Member):
            if node.base is None and ctx.focus.kind == "root" and node.name == self.view.resource:
                return ctx.focus
            base = ctx.focus if node.base is None else self.expr(node.base, ctx)
            return self.member(base, node.name)
        if isinstance(node, fp.Index):
            lst = self.as_coll(self.expr(node.base, ctx))
            idx = self.as_scalar(self.expr(node.index, ctx), "integer", ctx.where)
            return V(self.d.element(lst, idx), "opt")
        if isinstance(node, fp.Call):
            return self.call(node, ctx)
        if isinstance(node, fp.Unary):
            v = self.expr(node.operand, ctx)
            kind = _cmp_kind(v.t) if v.t in ("integer", "decimal") else "decimal"
            s = self.as_scalar(v, kind, ctx.where)
            return V(f"(-{s})" if node.op == "-" else s, "scalar", v.t or "decimal")
        if isinstance(node, fp.Binary):
            return self.binary(node, ctx)
        if isinstance(node, fp.TypeOp):
            typed = self.of_type(node.base, node.type_name, ctx)
            if node.op == "as":
                return typed
            return V(f"({self.d.list_len(self.as_coll(typed))} > 0)", "scalar", "boolean")
        raise UnsupportedFeature(f"{ctx.where}: unsupported FHIRPath construct", field=ctx.where)

    def literal(self, value: Any, t: str) -> V:
        d = self.d
        if t == "empty":
            return V(d.empty_json_list(), "coll")
        if t == "boolean":
            return V("TRUE" if value else "FALSE", "scalar", "boolean")
        if t == "integer":
            return V(str(int(value)), "scalar", "integer")
        if t == "decimal":
            return V(d.cast(str(value), "decimal"), "scalar", "decimal")
        return V(d.string_literal(str(value)), "scalar", t)

    def constant(self, node: fp.Constant, ctx: Ctx) -> V:
        if node.name == "rowIndex":
            return V(ctx.index, "scalar", "integer")
        if node.name == "resource" or node.name == "rootResource":
            return V("", "root")
        const = self.view.constants.get(node.name)
        if const is None:
            raise ViewDefinitionError(
                f"{ctx.where}: undefined constant %{node.name} at offset {node.pos}",
                field=ctx.where,
                reason=f"undefined constant %{node.name}",
                position=node.pos,
            )
        return self.literal(const.value, const.type)

    def member(self, base: V, name: str) -> V:
        d = self.d
        t = "date" if name in _DATE_ELEMENTS else None
        if base.kind == "root":
            if name not in self.root_keys:
                self.root_keys.append(name)
            idx = self.root_keys.index(name)
            return V(d.root_field(idx, name), "val", t)
        if base.kind == "opt":
            member_of = (base.sql, name) if _SIMPLE.match(base.sql) else None
            return V(d.json_get(base.sql, name), "val", t, member_of)
        if base.kind == "val":
            # objects (the common case) stay cheap JSON member access; an array (a
            # collection) is flattened and re-encoded as a JSON array
            e = self.var("e")

            def nav(x: str) -> str:
                as_json = self.list_to_val(d.json_array_get_list(x, name, e))
                if d.cheap_type_test:
                    return (
                        f"(CASE WHEN {d.json_is(x, 'array')} THEN {as_json} "
                        f"ELSE {d.json_get(x, name)} END)"
                    )
                # a member of an array is NULL: only then is the array case tested
                return (
                    f"coalesce({d.json_get(x, name)}, CASE WHEN {d.json_is(x, 'array')} "
                    f"THEN {as_json} END)"
                )

            return V(self.bind(base.sql, nav), "val", t)
        if base.kind == "coll":
            e = self.var("e")
            return V(d.list_get_list(base.sql, name, e), "coll", t)
        return V(d.empty_json_list(), "coll")

    def of_type(self, base_node: fp.Node, type_name: str, ctx: Ctx) -> V:
        """``X.ofType(T)``: a choice element (``valueQuantity``) or a filter by type."""
        d = self.d
        prim = _PRIMITIVES.get(type_name)
        if isinstance(base_node, fp.Member) and (prim is not None or type_name in _DATA_TYPES):
            owner = ctx.focus if base_node.base is None else self.expr(base_node.base, ctx)
            v = self.member(owner, base_node.name + type_name[0].upper() + type_name[1:])
            return V(v.sql, v.kind, prim or type_name)
        base = self.expr(base_node, ctx)
        e = self.var("e")
        if prim is not None:
            kind = _cmp_kind(prim)
            json_kind = {"decimal": "number", "boolean": "boolean"}.get(kind or "", "string")
            return V(d.filter(self.as_coll(base), e, d.json_is(e, json_kind)), "coll", prim)
        rt = d.json_scalar(d.json_get(e, "resourceType"), "string")
        cond = f"({rt} = {d.string_literal(type_name)})"
        return V(d.filter(self.as_coll(base), e, cond), "coll")

    # ---- operators -----------------------------------------------------------------------
    def binary(self, node: fp.Binary, ctx: Ctx) -> V:
        d = self.d
        op = node.op
        if op in ("and", "or", "xor", "implies"):
            a = self.as_bool(self.expr(node.left, ctx), ctx.where)
            b = self.as_bool(self.expr(node.right, ctx), ctx.where)
            sql = {
                "and": f"({a} AND {b})",
                "or": f"({a} OR {b})",
                "xor": f"({a} <> {b})",
                "implies": f"((NOT {a}) OR {b})",
            }[op]
            return V(sql, "scalar", "boolean")
        left = self.expr(node.left, ctx)
        right = self.expr(node.right, ctx)
        if op == "|":
            return V(d.concat_lists([self.as_coll(left), self.as_coll(right)]), "coll")
        if op in ("=", "!=", "~", "!~", "<", ">", "<=", ">="):
            return self.compare(op, left, right, ctx.where)
        if op in ("in", "contains"):
            item, coll = (left, right) if op == "in" else (right, left)
            e = self.var("e")
            eq = self.compare("=", V(e, "opt", coll.t), item, ctx.where)
            found = d.list_len(d.filter(self.as_coll(coll), e, f"({eq.sql}) IS TRUE"))
            return V(f"({found} > 0)", "scalar", "boolean")
        if op == "&":
            a = self.as_scalar(left, "string", ctx.where)
            b = self.as_scalar(right, "string", ctx.where)
            return V(
                d.concat_strings([f"coalesce({a}, '')", f"coalesce({b}, '')"]), "scalar", "string"
            )
        if op == "+" and "string" in (left.t, right.t):
            a = self.as_scalar(left, "string", ctx.where)
            b = self.as_scalar(right, "string", ctx.where)
            return V(d.concat_strings([a, b]), "scalar", "string")
        if op in ("+", "-", "*", "/", "div", "mod"):
            both_int = left.t == "integer" and right.t == "integer"
            kind = "integer" if both_int and op != "/" else "decimal"
            a = self.as_scalar(left, kind, ctx.where)
            b = self.as_scalar(right, kind, ctx.where)
            if op == "div":
                sql = (
                    f"CAST(floor({a} / {b}) AS {d.sql_type('integer')})"
                    if both_int
                    else f"floor({a} / {b})"
                )
            elif op == "mod":
                sql = f"({a} % {b})"
            elif op == "/":
                sql = f"(CASE WHEN {b} = 0 THEN NULL ELSE {a} / {b} END)"
            else:
                sql = f"({a} {op} {b})"
            return V(sql, "scalar", kind)
        raise UnsupportedFeature(
            f"{ctx.where}: operator {op!r} at offset {node.pos} is not supported",
            field=ctx.where,
            position=node.pos,
        )

    def compare(self, op: str, left: V, right: V, where: str) -> V:
        d = self.d
        fast = self._compare_member_string(op, left, right, where)
        if fast is not None:
            return fast
        for side, v in (("left", left), ("right", right)):
            if v.kind == "val" and not (_SIMPLE.match(v.sql) or d.is_cheap(v.sql)):

                def bound(x: str, side: str = side, v: V = v) -> str:
                    lv = V(x, "val", v.t) if side == "left" else left
                    rv = V(x, "val", v.t) if side == "right" else right
                    return self.compare(op, lv, rv, where).sql

                return V(self.bind(v.sql, bound), "scalar", "boolean")
        sql_op = {"=": "=", "!=": "<>", "~": "=", "!~": "<>"}.get(op, op)
        multi = [v for v in (left, right) if v.kind in ("coll", "val")]
        lk, rk = _cmp_kind(left.t), _cmp_kind(right.t)
        kind = lk or rk
        if lk and rk and lk != rk:
            kind = "decimal" if "decimal" in (lk, rk) else "string"
        if kind is None:
            a, b = self.as_opt(left, where), self.as_opt(right, where)
            if op in ("=", "!=") and multi:
                a, b = self._single(left), self._single(right)

            def dyn(x: str, y: str) -> str:
                num = f"({d.json_is(x, 'number')} AND {d.json_is(y, 'number')})"
                nx, ny = d.json_scalar(x, "decimal"), d.json_scalar(y, "decimal")
                sx, sy = d.json_scalar(x, "string"), d.json_scalar(y, "string")
                return f"(CASE WHEN {num} THEN {nx} {sql_op} {ny} ELSE {sx} {sql_op} {sy} END)"

            sql = self.bind(a, lambda x: self.bind(b, lambda y: dyn(x, y)))
        else:
            if op in ("=", "!=") and multi:
                a = self._scalar_first(left, kind)
                b = self._scalar_first(right, kind)
            else:
                a, b = self.as_scalar(left, kind, where), self.as_scalar(right, kind, where)
            if op in ("~", "!~") and kind == "string":
                a, b = f"lower({a})", f"lower({b})"
            sql = f"({a} {sql_op} {b})"
        if op in ("~", "!~"):
            sql = f"coalesce({sql}, {'FALSE' if op == '~' else 'TRUE'})"
        if op in ("=", "!=") and multi:
            # collections of different sizes are not equal
            sizes = " OR ".join(
                f"{d.list_len(v.sql) if v.kind == 'coll' else self._val_count(v.sql)} > 1"
                for v in multi
            )
            sql = f"(CASE WHEN {sizes} THEN {'FALSE' if op == '=' else 'TRUE'} ELSE {sql} END)"
        return V(sql, "scalar", "boolean")

    def _compare_member_string(self, op: str, left: V, right: V, where: str) -> V | None:
        """``node.key = 'text'`` (or ``!=``) with a string on one side, where the dialect's
        type tests are cheap: read the member as text once and compare it; only when that
        text looks like an array (starts with '[') take the exact collection comparison."""
        d = self.d
        if not d.cheap_type_test or op not in ("=", "!="):
            return None
        pairs = [(a, b) for a, b in ((left, right), (right, left)) if a.kind == "val"]
        found = [
            (member, other)
            for member, other in pairs
            if member.member_of is not None
            and _cmp_kind(member.t) in (None, "string")
            and other.kind == "scalar"
            and _cmp_kind(other.t) == "string"
        ]
        if not found:
            return None
        member, other = found[0]
        exact = V(member.sql, "val", member.t)  # no member_of: the general path
        general = self.compare(op, *((exact, other) if member is left else (other, exact)), where)
        sql_op = "=" if op == "=" else "<>"
        value = self.as_scalar(other, "string", where)

        def shape(x: str) -> str:
            is_array = d.starts_with(x, d.string_literal("["))
            return f"(CASE WHEN {is_array} THEN {general.sql} ELSE ({x} {sql_op} {value}) END)"

        text = d.json_scalar(member.sql, "string")
        return V(self.bind(text, shape), "scalar", "boolean")

    def _single(self, v: V) -> str:
        if v.kind == "coll":
            return self.d.element(v.sql, "0")
        if v.kind == "val":
            return self.bind(v.sql, lambda x: self._val_single(x, "NULL"))
        return self.as_opt(v, "")

    def _scalar_first(self, v: V, kind: str) -> str:
        if v.kind in ("coll", "val"):
            return self.d.json_scalar(self._single(v), kind)
        return self.as_scalar(v, kind, "")

    # ---- functions -----------------------------------------------------------------------
    def call(self, node: fp.Call, ctx: Ctx) -> V:
        fn = _FUNCTIONS.get(node.name)
        if fn is None:
            raise UnsupportedFeature(
                f"{ctx.where}: FHIRPath function {node.name}() at offset {node.pos} "
                "is not supported",
                field=ctx.where,
                reason=f"unsupported function {node.name}()",
                position=node.pos,
            )
        arity = _ARITY[node.name]
        if not arity[0] <= len(node.args) <= arity[1]:
            raise ViewDefinitionError(
                f"{ctx.where}: {node.name}() at offset {node.pos} takes {arity[0]}-{arity[1]} "
                f"arguments, got {len(node.args)}",
                field=ctx.where,
                position=node.pos,
            )
        if node.name == "ofType":
            arg = node.args[0]
            if not isinstance(arg, fp.Member) or arg.base is not None:
                raise ViewDefinitionError(
                    f"{ctx.where}: ofType() at offset {node.pos} needs a type name",
                    field=ctx.where,
                    position=node.pos,
                )
            return self.of_type(node.base or fp.This(node.pos), arg.name, ctx)
        base = ctx.focus if node.base is None else self.expr(node.base, ctx)
        return fn(self, base, node, ctx)

    def lambda_arg(self, base: V, arg: fp.Node, ctx: Ctx) -> tuple[str, str, V]:
        """Bind each element of ``base`` to a lambda variable and compile ``arg`` on it."""
        e = self.var("e")
        v = self.expr(arg, Ctx(V(e, "opt", base.t), ctx.index, ctx.where))
        return e, self.as_coll(base), v


def _fn_where(c: _Compiler, base: V, node: fp.Call, ctx: Ctx) -> V:
    e, coll, cond = c.lambda_arg(base, node.args[0], ctx)
    return V(c.d.filter(coll, e, f"({c.as_bool(cond, ctx.where)}) IS TRUE"), "coll", base.t)


def _fn_exists(c: _Compiler, base: V, node: fp.Call, ctx: Ctx) -> V:
    if node.args:
        base = _fn_where(c, base, node, ctx)
    if base.kind == "scalar":
        return V(f"({base.sql} IS NOT NULL)", "scalar", "boolean")
    if base.kind == "opt":
        return V(f"({base.sql} IS NOT NULL)", "scalar", "boolean")
    if base.kind == "val":
        return V(f"({c.bind(base.sql, c._val_count)} > 0)", "scalar", "boolean")
    return V(f"({c.d.list_len(c.as_coll(base))} > 0)", "scalar", "boolean")


def _fn_empty(c: _Compiler, base: V, node: fp.Call, ctx: Ctx) -> V:
    v = _fn_exists(c, base, node, ctx)
    return V(f"(NOT {v.sql})", "scalar", "boolean")


def _fn_first(c: _Compiler, base: V, node: fp.Call, ctx: Ctx) -> V:
    if base.kind in ("scalar", "opt", "root"):
        return base
    if base.kind == "val":
        d = c.d
        return V(
            c.bind(
                base.sql,
                lambda x: (
                    f"(CASE WHEN {x} IS NULL OR {d.json_is(x, 'null')} THEN NULL "
                    f"WHEN {d.json_is(x, 'array')} THEN {d.json_array_first(x)} ELSE {x} END)"
                ),
            ),
            "opt",
            base.t,
        )
    return V(c.d.element(base.sql, "0"), "opt", base.t)


def _fn_last(c: _Compiler, base: V, node: fp.Call, ctx: Ctx) -> V:
    if base.kind in ("scalar", "opt", "root"):
        return base
    coll = c.as_coll(base)
    return V(c.bind(coll, lambda x: c.d.element(x, f"({c.d.list_len(x)} - 1)")), "opt", base.t)


def _fn_single(c: _Compiler, base: V, node: fp.Call, ctx: Ctx) -> V:
    return V(c.as_opt(base, ctx.where), "opt", base.t) if base.kind != "scalar" else base


def _int_arg(c: _Compiler, node: fp.Call, ctx: Ctx, i: int = 0) -> str:
    return c.as_scalar(c.expr(node.args[i], ctx), "integer", ctx.where)


def _fn_tail(c: _Compiler, base: V, node: fp.Call, ctx: Ctx) -> V:
    return V(c.d.slice(c.as_coll(base), "1", None), "coll", base.t)


def _fn_skip(c: _Compiler, base: V, node: fp.Call, ctx: Ctx) -> V:
    return V(
        c.d.slice(c.as_coll(base), f"greatest({_int_arg(c, node, ctx)}, 0)", None), "coll", base.t
    )


def _fn_take(c: _Compiler, base: V, node: fp.Call, ctx: Ctx) -> V:
    n = f"greatest({_int_arg(c, node, ctx)}, 0)"
    return V(c.d.slice(c.as_coll(base), "0", n), "coll", base.t)


def _fn_count(c: _Compiler, base: V, node: fp.Call, ctx: Ctx) -> V:
    return V(c.d.list_len(c.as_coll(base)), "scalar", "integer")


def _fn_not(c: _Compiler, base: V, node: fp.Call, ctx: Ctx) -> V:
    return V(f"(NOT {c.as_bool(base, ctx.where)})", "scalar", "boolean")


def _fn_extension(c: _Compiler, base: V, node: fp.Call, ctx: Ctx) -> V:
    url = c.as_scalar(c.expr(node.args[0], ctx), "string", ctx.where)
    ext = c.member(base, "extension")
    e = c.var("e")
    cond = f"({c.d.json_scalar(c.d.json_get(e, 'url'), 'string')} = {url})"
    return V(c.d.filter(c.as_coll(ext), e, cond), "coll")


def _fn_join(c: _Compiler, base: V, node: fp.Call, ctx: Ctx) -> V:
    d = c.d
    sep = c.as_scalar(c.expr(node.args[0], ctx), "string", ctx.where) if node.args else "''"
    coll = c.as_coll(base)
    e = c.var("e")
    strings = d.transform(coll, e, d.json_scalar(e, "string"))
    return V(
        f"(CASE WHEN {d.list_len(coll)} = 0 THEN NULL ELSE {d.join_strings(strings, sep)} END)",
        "scalar",
        "string",
    )


def _fn_resource_key(c: _Compiler, base: V, node: fp.Call, ctx: Ctx) -> V:
    if base.kind == "root":
        return V(c.as_scalar(c.member(base, "id"), "string", ctx.where), "scalar", "string")
    return V(c.as_scalar(c.member(base, "id"), "string", ctx.where), "scalar", "string")


def _fn_reference_key(c: _Compiler, base: V, node: fp.Call, ctx: Ctx) -> V:
    d = c.d
    type_name = None
    if node.args:
        arg = node.args[0]
        if not isinstance(arg, fp.Member) or arg.base is not None:
            raise ViewDefinitionError(
                f"{ctx.where}: getReferenceKey() takes a resource type name", field=ctx.where
            )
        type_name = arg.name

    def key_of(node_sql: str) -> str:
        def from_ref(ref: str) -> str:
            # [base/]Type/id[/_history/version]: the last two segments before _history
            rtype = d.split_part(ref, "/", -2)
            key = d.split_part(ref, "/", -1)
            if type_name is None:
                return f"(CASE WHEN {rtype} <> '' THEN nullif({key}, '') END)"
            return f"(CASE WHEN {rtype} = {d.string_literal(type_name)} THEN nullif({key}, '') END)"

        ref = d.json_scalar(d.json_get(node_sql, "reference"), "string")
        return c.bind(d.split_part(ref, "/_history/", 1), from_ref)

    if base.kind in ("opt", "root"):
        return V(c.bind(c.as_opt(base, ctx.where), key_of), "scalar", "string")
    if base.kind == "val":
        e, k = c.var("e"), c.var("k")

        def keys(x: str) -> str:
            many = d.transform(d.json_as_list(x), e, d.to_json(key_of(e), "string"))
            many = d.filter(many, k, f"{k} IS NOT NULL")
            return (
                f"(CASE WHEN {d.json_is(x, 'array')} THEN {c.list_to_val(many)} "
                f"ELSE {d.to_json(key_of(x), 'string')} END)"
            )

        return V(c.bind(base.sql, keys), "val", "string")
    if base.kind == "scalar":
        return V("CAST(NULL AS " + d.sql_type("string") + ")", "scalar", "string")
    e, k = c.var("e"), c.var("k")
    found = d.transform(base.sql, e, d.to_json(key_of(e), "string"))
    return V(d.filter(found, k, f"{k} IS NOT NULL"), "coll", "string")


def _fn_boundary(high: bool) -> Callable[[_Compiler, V, fp.Call, Ctx], V]:
    def fn(c: _Compiler, base: V, node: fp.Call, ctx: Ctx) -> V:
        d = c.d
        if base.t in ("decimal", "integer"):
            sql = c.bind(c.as_opt(base, ctx.where), lambda x: _decimal_boundary(d, x, high))
            return V(sql, "scalar", "decimal")
        if base.t in ("date", "dateTime", "time"):
            build = {"date": _date_boundary, "dateTime": _datetime_boundary, "time": _time_boundary}
            s = c.as_scalar(base, "string", ctx.where)
            return V(c.bind(s, lambda x: build[base.t or "date"](d, x, high)), "scalar", base.t)

        def dynamic(node: str) -> str:
            def text(x: str) -> str:
                is_time = d.regexp_matches(x, d.string_literal("^[0-9]{2}:"))
                has_t = d.contains(x, d.string_literal("T"))
                return (
                    f"(CASE WHEN {x} IS NULL THEN NULL WHEN {is_time} "
                    f"THEN {_time_boundary(d, x, high)} WHEN {has_t} "
                    f"THEN {_datetime_boundary(d, x, high)} ELSE {_date_boundary(d, x, high)} END)"
                )

            number = _decimal_boundary(d, node, high)
            return (
                f"(CASE WHEN {d.json_is(node, 'number')} THEN {d.to_json(number, 'decimal')} "
                f"ELSE {d.to_json(c.bind(d.json_scalar(node, 'string'), text), 'string')} END)"
            )

        return V(c.bind(c.as_opt(base, ctx.where), dynamic), "opt")

    return fn


def _decimal_boundary(d: Dialect, node: str, high: bool) -> str:
    x = d.json_scalar(node, "decimal")
    scale = d.json_decimal_scale(node)
    half = f"(0.5 / power(10, {scale}))"
    unit = f"power(10, {scale} + 1)"
    return f"(floor(({x} {'+' if high else '-'} {half}) * {unit} + 0.5) / {unit})"


def _date_part(d: Dialect, s: str, high: bool) -> str:
    date = d.regexp_extract(s, r"^([0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?)", 1)
    if not high:
        return (
            f"(CASE length({date}) WHEN 4 THEN {date} || '-01-01' "
            f"WHEN 7 THEN {date} || '-01' ELSE {date} END)"
        )
    month_end = d.month_end(date)
    return (
        f"(CASE length({date}) WHEN 4 THEN {date} || '-12-31' "
        f"WHEN 7 THEN {month_end} ELSE {date} END)"
    )


def _time_part(t: str, high: bool) -> str:
    if high:
        return (
            f"(CASE length({t}) WHEN 0 THEN '23:59:59.999' WHEN 2 THEN {t} || ':59:59.999' "
            f"WHEN 5 THEN {t} || ':59.999' WHEN 8 THEN {t} || '.999' ELSE rpad({t}, 12, '9') END)"
        )
    return (
        f"(CASE length({t}) WHEN 0 THEN '00:00:00.000' WHEN 2 THEN {t} || ':00:00.000' "
        f"WHEN 5 THEN {t} || ':00.000' WHEN 8 THEN {t} || '.000' ELSE rpad({t}, 12, '0') END)"
    )


def _date_boundary(d: Dialect, s: str, high: bool) -> str:
    return f"(CASE WHEN {s} IS NULL THEN NULL ELSE {_date_part(d, s, high)} END)"


def _datetime_boundary(d: Dialect, s: str, high: bool) -> str:
    t = d.regexp_extract(s, r"T([0-9:.]+)", 1)
    tz = d.regexp_extract(s, r"(Z|[+-][0-9]{2}:[0-9]{2})$", 1)
    tz_default = "'-12:00'" if high else "'+14:00'"
    zone = f"(CASE WHEN {tz} = '' THEN {tz_default} ELSE {tz} END)"
    return (
        f"(CASE WHEN {s} IS NULL THEN NULL ELSE "
        f"{_date_part(d, s, high)} || 'T' || {_time_part(t, high)} || {zone} END)"
    )


def _time_boundary(d: Dialect, s: str, high: bool) -> str:
    t = d.regexp_extract(s, r"^([0-9:.]+)", 1)
    return f"(CASE WHEN {s} IS NULL THEN NULL ELSE {_time_part(t, high)} END)"


def _string_fn(
    build: Callable[[Dialect, str, list[str]], str], out: str = "string"
) -> Callable[[_Compiler, V, fp.Call, Ctx], V]:
    def fn(c: _Compiler, base: V, node: fp.Call, ctx: Ctx) -> V:
        s = c.as_scalar(base, "string", ctx.where)
        args = [c.as_scalar(c.expr(a, ctx), None, ctx.where) for a in node.args]
        return V(build(c.d, s, args), "scalar", out)

    return fn


def _fn_iif(c: _Compiler, base: V, node: fp.Call, ctx: Ctx) -> V:
    cond = c.as_bool(c.expr(node.args[0], ctx), ctx.where)
    a = c.expr(node.args[1], ctx)
    kind = _cmp_kind(a.t) or "string"
    a_sql = c.as_scalar(a, kind, ctx.where)
    b_sql = (
        c.as_scalar(c.expr(node.args[2], ctx), kind, ctx.where) if len(node.args) > 2 else "NULL"
    )
    return V(f"(CASE WHEN {cond} IS TRUE THEN {a_sql} ELSE {b_sql} END)", "scalar", a.t or "string")


def _fn_convert(kind: str) -> Callable[[_Compiler, V, fp.Call, Ctx], V]:
    def fn(c: _Compiler, base: V, node: fp.Call, ctx: Ctx) -> V:
        s = c.as_scalar(base, "string", ctx.where)
        if kind == "string":
            return V(s, "scalar", "string")
        return V(f"TRY_CAST({s} AS {c.d.sql_type(kind)})", "scalar", kind)

    return fn


def _fn_has_value(c: _Compiler, base: V, node: fp.Call, ctx: Ctx) -> V:
    return _fn_exists(c, base, fp.Call(node.pos, None, "exists"), ctx)


_FUNCTIONS: dict[str, Callable[[_Compiler, V, fp.Call, Ctx], V]] = {
    "where": _fn_where,
    "exists": _fn_exists,
    "empty": _fn_empty,
    "first": _fn_first,
    "last": _fn_last,
    "single": _fn_single,
    "tail": _fn_tail,
    "skip": _fn_skip,
    "take": _fn_take,
    "count": _fn_count,
    "not": _fn_not,
    "ofType": _fn_first,  # dispatched in _Compiler.call before this table is used
    "extension": _fn_extension,
    "join": _fn_join,
    "getResourceKey": _fn_resource_key,
    "getReferenceKey": _fn_reference_key,
    "lowBoundary": _fn_boundary(high=False),
    "highBoundary": _fn_boundary(high=True),
    "hasValue": _fn_has_value,
    "iif": _fn_iif,
    "toString": _fn_convert("string"),
    "toInteger": _fn_convert("integer"),
    "toDecimal": _fn_convert("decimal"),
    "lower": _string_fn(lambda d, s, a: f"lower({s})"),
    "upper": _string_fn(lambda d, s, a: f"upper({s})"),
    "length": _string_fn(lambda d, s, a: d.length(s), "integer"),
    "startsWith": _string_fn(lambda d, s, a: d.starts_with(s, a[0]), "boolean"),
    "endsWith": _string_fn(lambda d, s, a: d.ends_with(s, a[0]), "boolean"),
    "contains": _string_fn(lambda d, s, a: d.contains(s, a[0]), "boolean"),
    "matches": _string_fn(lambda d, s, a: d.regexp_matches(s, a[0]), "boolean"),
    "replace": _string_fn(lambda d, s, a: d.replace(s, a[0], a[1])),
    "substring": _string_fn(lambda d, s, a: d.substring(s, a[0], a[1] if len(a) > 1 else None)),
}
_ARITY: dict[str, tuple[int, int]] = {
    "where": (1, 1),
    "exists": (0, 1),
    "empty": (0, 0),
    "first": (0, 0),
    "last": (0, 0),
    "single": (0, 0),
    "tail": (0, 0),
    "skip": (1, 1),
    "take": (1, 1),
    "count": (0, 0),
    "not": (0, 0),
    "ofType": (1, 1),
    "extension": (1, 1),
    "join": (0, 1),
    "getResourceKey": (0, 0),
    "getReferenceKey": (0, 1),
    "lowBoundary": (0, 1),
    "highBoundary": (0, 1),
    "hasValue": (0, 0),
    "iif": (2, 3),
    "toString": (0, 0),
    "toInteger": (0, 0),
    "toDecimal": (0, 0),
    "lower": (0, 0),
    "upper": (0, 0),
    "length": (0, 0),
    "startsWith": (1, 1),
    "endsWith": (1, 1),
    "contains": (1, 1),
    "matches": (1, 1),
    "replace": (2, 2),
    "substring": (1, 2),
}
