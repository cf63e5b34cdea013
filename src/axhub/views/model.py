"""The SQL-on-FHIR v2 ViewDefinition, validated before any SQL is generated.

``ViewDefinition.parse(obj)`` checks the structure (types, required fields, one value per
constant, forEach/forEachOrNull/repeat exclusive, unionAll branches with the same columns,
unique column names) and parses every FHIRPath expression. Every error is a
``ViewDefinitionError`` naming the JSON path (``select[0].column[1].path``) and the reason.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axhub.errors import ViewDefinitionError
from axhub.views import fhirpath

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

# FHIR primitive types a column may declare, with the SQL-neutral kind the engine produces.
COLUMN_KINDS: dict[str, str] = {
    "boolean": "boolean",
    "integer": "integer",
    "positiveInt": "integer",
    "unsignedInt": "integer",
    "integer64": "integer",
    "decimal": "decimal",
    "string": "string",
    "code": "string",
    "id": "string",
    "uri": "string",
    "url": "string",
    "canonical": "string",
    "oid": "string",
    "uuid": "string",
    "markdown": "string",
    "base64Binary": "string",
    "date": "string",
    "dateTime": "string",
    "instant": "string",
    "time": "string",
}

_CONSTANT_TYPES: dict[str, str] = {
    "valueBase64Binary": "string",
    "valueBoolean": "boolean",
    "valueCanonical": "string",
    "valueCode": "string",
    "valueDate": "date",
    "valueDateTime": "dateTime",
    "valueDecimal": "decimal",
    "valueId": "string",
    "valueInstant": "dateTime",
    "valueInteger": "integer",
    "valueInteger64": "integer",
    "valueOid": "string",
    "valueString": "string",
    "valuePositiveInt": "integer",
    "valueTime": "time",
    "valueUnsignedInt": "integer",
    "valueUri": "string",
    "valueUrl": "string",
    "valueUuid": "string",
}


def _fail(where: str, reason: str) -> ViewDefinitionError:
    return ViewDefinitionError(
        f"invalid ViewDefinition at {where}: {reason}", field=where, reason=reason
    )


def _expr(value: Any, where: str) -> fhirpath.Node:
    if not isinstance(value, str):
        raise _fail(where, f"must be a FHIRPath string, got {type(value).__name__}")
    try:
        return fhirpath.parse(value)
    except ViewDefinitionError as exc:
        raise ViewDefinitionError(
            f"invalid ViewDefinition at {where}: {exc.message}",
            field=where,
            reason=exc.reason,
            position=exc.fields.get("position"),
        ) from None


def _list(obj: dict[str, Any], key: str, where: str) -> list[Any]:
    value = obj.get(key, [])
    if not isinstance(value, list):
        raise _fail(f"{where}.{key}" if where else key, "must be an array")
    return value


@dataclass(frozen=True)
class Column:
    name: str
    path: str
    expr: fhirpath.Node
    type: str | None
    collection: bool
    where: str

    @property
    def kind(self) -> str:
        """The value kind of the output column: string, integer, decimal or boolean."""
        return COLUMN_KINDS.get(self.type or "string", "string")


@dataclass(frozen=True)
class Select:
    where: str
    columns: tuple[Column, ...] = ()
    selects: tuple[Select, ...] = ()
    union_all: tuple[Select, ...] = ()
    for_each: fhirpath.Node | None = None
    for_each_or_null: bool = False
    repeat: tuple[fhirpath.Node, ...] = ()

    def column_names(self) -> list[str]:
        names = [c.name for c in self.columns]
        for sub in self.selects:
            names.extend(sub.column_names())
        if self.union_all:
            names.extend(self.union_all[0].column_names())
        return names

    def all_columns(self) -> list[Column]:
        cols = list(self.columns)
        for sub in self.selects:
            cols.extend(sub.all_columns())
        if self.union_all:
            cols.extend(self.union_all[0].all_columns())
        return cols


@dataclass(frozen=True)
class ConstantDef:
    name: str
    value: Any
    type: str


@dataclass(frozen=True)
class Where:
    path: str
    expr: fhirpath.Node
    where: str


@dataclass(frozen=True)
class ViewDefinition:
    resource: str
    select: Select
    where: tuple[Where, ...] = ()
    constants: dict[str, ConstantDef] = field(default_factory=dict)
    name: str | None = None
    title: str | None = None
    description: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def columns(self) -> list[Column]:
        return self.select.all_columns()

    @classmethod
    def load(cls, path: Path) -> ViewDefinition:
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ViewDefinitionError(
                f"{path}: not JSON: {exc.msg}", path=str(path), line=exc.lineno
            ) from None
        return cls.parse(obj)

    @classmethod
    def parse(cls, obj: Any) -> ViewDefinition:
        if not isinstance(obj, dict):
            raise _fail("$", "a ViewDefinition must be a JSON object")
        rt = obj.get("resourceType")
        if rt is not None and rt != "ViewDefinition":
            raise _fail("resourceType", f"must be 'ViewDefinition', got {rt!r}")
        resource = obj.get("resource")
        if not isinstance(resource, str) or not _NAME.match(resource):
            raise _fail("resource", "required: the FHIR resource type the view reads")
        constants: dict[str, ConstantDef] = {}
        for i, c in enumerate(_list(obj, "constant", "")):
            where = f"constant[{i}]"
            if not isinstance(c, dict) or not isinstance(c.get("name"), str):
                raise _fail(where, "a constant needs a name")
            values = [k for k in c if k.startswith("value")]
            if len(values) != 1:
                raise _fail(where, f"constant {c['name']!r} needs exactly one value[x]")
            key = values[0]
            if key not in _CONSTANT_TYPES:
                raise _fail(f"{where}.{key}", "unsupported constant type")
            constants[c["name"]] = ConstantDef(c["name"], c[key], _CONSTANT_TYPES[key])
        selects = _list(obj, "select", "")
        if not selects:
            raise _fail("select", "required: at least one select")
        root = Select(
            where="", selects=tuple(_select(s, f"select[{i}]") for i, s in enumerate(selects))
        )
        wheres = []
        for i, w in enumerate(_list(obj, "where", "")):
            where = f"where[{i}].path"
            if not isinstance(w, dict):
                raise _fail(f"where[{i}]", "must be an object with a path")
            wheres.append(Where(w.get("path", ""), _expr(w.get("path"), where), where))
        seen: dict[str, str] = {}
        for col in root.all_columns():
            if col.name in seen:
                raise _fail(
                    col.where, f"duplicate column name {col.name!r} (also {seen[col.name]})"
                )
            seen[col.name] = col.where
        return cls(
            resource=resource,
            select=root,
            where=tuple(wheres),
            constants=constants,
            name=obj.get("name"),
            title=obj.get("title"),
            description=obj.get("description"),
            raw=obj,
        )


def _select(obj: Any, where: str) -> Select:
    if not isinstance(obj, dict):
        raise _fail(where, "a select must be an object")
    known = {"column", "select", "unionAll", "forEach", "forEachOrNull", "repeat", "extension"}
    for key in obj:
        if key not in known:
            raise _fail(f"{where}.{key}", "unknown element")
    iterators = [k for k in ("forEach", "forEachOrNull", "repeat") if k in obj]
    if len(iterators) > 1:
        raise _fail(where, f"{' and '.join(iterators)} cannot be combined")
    for_each = None
    repeat: tuple[fhirpath.Node, ...] = ()
    if "forEach" in obj:
        for_each = _expr(obj["forEach"], f"{where}.forEach")
    if "forEachOrNull" in obj:
        for_each = _expr(obj["forEachOrNull"], f"{where}.forEachOrNull")
    if "repeat" in obj:
        paths = obj["repeat"]
        if not isinstance(paths, list) or not paths:
            raise _fail(f"{where}.repeat", "must be a non-empty array of FHIRPath strings")
        repeat = tuple(_expr(p, f"{where}.repeat[{i}]") for i, p in enumerate(paths))
    columns = []
    for i, c in enumerate(_list(obj, "column", where)):
        cw = f"{where}.column[{i}]"
        if not isinstance(c, dict):
            raise _fail(cw, "a column must be an object")
        name = c.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise _fail(f"{cw}.name", "a column name must match ^[A-Za-z][A-Za-z0-9_]*$")
        ctype = c.get("type")
        if ctype is not None and ctype not in COLUMN_KINDS:
            raise _fail(f"{cw}.type", f"unsupported column type {ctype!r}")
        coll = c.get("collection", False)
        if not isinstance(coll, bool):
            raise _fail(f"{cw}.collection", "must be true or false")
        columns.append(
            Column(name, c.get("path", ""), _expr(c.get("path"), f"{cw}.path"), ctype, coll, cw)
        )
    subs = tuple(
        _select(s, f"{where}.select[{i}]") for i, s in enumerate(_list(obj, "select", where))
    )
    unions = tuple(
        _select(s, f"{where}.unionAll[{i}]") for i, s in enumerate(_list(obj, "unionAll", where))
    )
    if unions:
        first = unions[0].column_names()
        for i, branch in enumerate(unions[1:], start=1):
            if branch.column_names() != first:
                raise _fail(
                    f"{where}.unionAll[{i}]",
                    f"unionAll branches must have the same columns in the same order: "
                    f"{branch.column_names()} vs {first}",
                )
    if not columns and not subs and not unions:
        raise _fail(where, "a select needs column, select or unionAll")
    return Select(
        where=where,
        columns=tuple(columns),
        selects=subs,
        union_all=unions,
        for_each=for_each,
        for_each_or_null="forEachOrNull" in obj,
        repeat=repeat,
    )
