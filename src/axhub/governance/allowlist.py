"""The de-identification allow-list and its compilation to DuckDB SQL.

``data/deid_allowlist.toml`` lists, per resource type, the elements that may pass and how
each is transformed; ``load_allowlist`` validates it (errors name the file and element path)
and ``resource_sql`` compiles one type into a SELECT over ``raw.resources`` that parses each
resource once into a STRUCT shaped by the allow-list (``json_transform``), rebuilds it with
struct and list functions and writes it back with ``json_strip_nulls(to_json(...))``.  A field
not listed is never read.  The SELECT expects the macro ``zone_pseudo`` and the table
``_patient_map(site, patient_id, person_id)`` in the session (``deid.deidentify`` sets both).
"""

from __future__ import annotations

import difflib
import hashlib
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from axhub.errors import ConfigError

TRANSFORMS = frozenset(
    {"keep", "year_month", "concept", "concepts", "coding", "codings", "reference"}
    | {"references", "patient", "district"}
)
# Element names whose whole value may never be copied: they hold names, contact details,
# identifiers or free text.
NEVER_KEEP = frozenset(
    {"name", "telecom", "identifier", "text", "note", "photo", "contact", "address", "line"}
    | {"postalCode", "extension", "modifierExtension", "display", "comment", "description"}
)
_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_REF = r"^([A-Za-z]{1,64})/([A-Za-z0-9.\-]{1,64})(/_history/.*)?$"


@dataclass(frozen=True)
class Nested:
    fields: dict[str, Spec]
    array: bool


Spec = str | Nested


@dataclass(frozen=True)
class AllowList:
    version: str
    sha256: str
    owners: dict[str, str]
    types: dict[str, dict[str, Spec]]
    source: str

    def paths(self, resource_type: str) -> set[str]:
        """Every dotted path the allow-list lets through for a type (arrays flattened)."""
        out = {"resourceType", "id"}

        def walk(prefix: str, spec: Spec) -> None:
            if isinstance(spec, Nested):
                out.add(prefix)
                for name, sub in spec.fields.items():
                    walk(f"{prefix}.{name}", sub)
                return
            out.add(prefix)
            if spec in ("concept", "concepts"):
                out.update({f"{prefix}.coding", *(f"{prefix}.coding.{k}" for k in _CODING)})
            elif spec in ("coding", "codings"):
                out.update(f"{prefix}.{k}" for k in _CODING)
            elif spec in ("reference", "references", "patient"):
                out.add(f"{prefix}.reference")
            elif spec == "district":
                out.update(f"{prefix}.{k}" for k in _ADDRESS)
            elif spec == "keep":
                out.add(prefix + ".*")

        for name, spec in self.types.get(resource_type, {}).items():
            walk(name, spec)
        return out


_CODING = ("system", "code", "display")
_ADDRESS = ("district", "city", "state", "country")


def _parse_spec(value: Any, where: str) -> Spec:
    if isinstance(value, str):
        if value not in TRANSFORMS:
            raise ConfigError(
                f"{where}: unknown transform {value!r}",
                field=where,
                suggestions=difflib.get_close_matches(value, sorted(TRANSFORMS)),
            )
        if value == "keep" and where.rsplit(".", 1)[-1] in NEVER_KEEP:
            raise ConfigError(f"{where}: this element may not be kept as-is", field=where)
        return value
    if isinstance(value, dict) and isinstance(value.get("fields"), dict):
        extra = set(value) - {"fields", "array"}
        if extra:
            raise ConfigError(f"{where}: unknown keys {sorted(extra)}", field=where)
        return Nested(
            {k: _parse_spec(v, f"{where}.{_name(k, where)}") for k, v in value["fields"].items()},
            bool(value.get("array", False)),
        )
    raise ConfigError(f"{where}: expected a transform name or {{fields = ...}}", field=where)


def _name(name: str, where: str) -> str:
    if not _FIELD.match(name):
        raise ConfigError(f"{where}: invalid element name {name!r}", field=where)
    return name


def load_allowlist(path: Path | None = None) -> AllowList:
    """Load and validate an allow-list; errors name the file and the element path."""
    if path is None:
        raw = resources.files("axhub.governance").joinpath("data/deid_allowlist.toml")
        text, source = raw.read_text(), "axhub/governance/data/deid_allowlist.toml"
    else:
        try:
            text, source = Path(path).read_text(encoding="utf-8"), str(path)
        except OSError as exc:
            raise ConfigError(f"cannot read allow-list: {exc}", path=str(path)) from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML in allow-list: {exc}", path=source) from None
    owners = {str(k): str(v) for k, v in doc.get("owners", {}).items()}
    types: dict[str, dict[str, Spec]] = {}
    for rtype, fields in doc.get("types", {}).items():
        where = f"{source} types.{_name(rtype, source)}"
        types[rtype] = {k: _parse_spec(v, f"{where}.{_name(k, where)}") for k, v in fields.items()}
        uses_patient = any(s == "patient" for s in types[rtype].values())
        if uses_patient and rtype not in owners:
            raise ConfigError(f"{where}: uses 'patient' but [owners] names no field", path=source)
    for rtype, owner in owners.items():
        if rtype not in types:
            raise ConfigError(f"{source} owners.{rtype}: type is not allow-listed", path=source)
        if owner != "id" and types[rtype].get(owner) != "patient":
            raise ConfigError(
                f"{source} owners.{rtype}: {owner!r} must be listed with transform 'patient'",
                path=source,
            )
    sha = hashlib.sha256(text.encode()).hexdigest()
    return AllowList(str(doc.get("version", "")), sha, owners, types, source)


# -- SQL generation ---------------------------------------------------------------------------
def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _obj(pairs: list[tuple[str, str]]) -> str:
    args = ", ".join(f"{_lit(k)}, {v}" for k, v in pairs)
    return f"nullif(json_merge_patch('{{}}', json_object({args})), '{{}}'::JSON)"


def _list(list_expr: str, fn: Any, depth: int) -> str:
    e = f"e{depth}"
    body = fn(e)
    return (
        f"nullif(to_json(list_filter(list_transform({list_expr}, lambda {e}: {body}), "
        f"lambda {e}: {e} IS NOT NULL)), '[]'::JSON)"
    )


def _get(src: str, name: str) -> str:
    return f"json_extract({src}, {_lit(f'$.{name}')})"


def _is_patient_ref(ref: str) -> str:
    return f"regexp_extract({ref}, {_lit(_REF)}, 1) = 'Patient'"


def _address(a: str) -> str:
    return _obj([(k, _json_text(_get(a, k))) for k in _ADDRESS])


def _json_text(value: str) -> str:
    """A JSON value only when it is a string (an object or array in its place is dropped)."""
    return f"CASE WHEN json_type({value}) = 'VARCHAR' THEN {value} END"


def _text(x: str) -> str:
    """A typed-struct string leaf; ``json_transform`` renders an object or array put where a
    string belongs as its JSON text, which must not pass: it is dropped."""
    return f"CASE WHEN left({x}, 1) IN ('{{', '[') THEN NULL ELSE {x} END"


def _district(value: str, depth: int) -> str:
    """An Address (JSON), or an array of them, reduced to district, city, state, country."""
    items = f"json_extract({value}, '$[*]')"
    return (
        f"CASE WHEN json_type({value}) = 'ARRAY' THEN {_list(items, _address, depth)} "
        f"ELSE {_address(value)} END"
    )


# Typed reading: each resource is parsed once into a STRUCT shaped by the allow-list
# (``json_transform``), rebuilt with struct and list functions, and written back with
# ``to_json``; empty structs and lists become NULL and ``json_strip_nulls`` drops them.
_CODING_T = '{"system":"VARCHAR","code":"VARCHAR","display":"VARCHAR"}'
_CONCEPT_T = '{"coding":[' + _CODING_T + "]}"
_REF_T = '{"reference":"VARCHAR"}'
_SCHEMA = {
    "keep": '"JSON"',
    "district": '"JSON"',
    "year_month": '"VARCHAR"',
    "concept": _CONCEPT_T,
    "concepts": f"[{_CONCEPT_T}]",
    "coding": _CODING_T,
    "codings": f"[{_CODING_T}]",
    "reference": _REF_T,
    "patient": _REF_T,
    "references": f"[{_REF_T}]",
}


def _schema(spec: Spec) -> str:
    if isinstance(spec, Nested):
        inner = "{" + ", ".join(f'"{k}": {_schema(v)}' for k, v in spec.fields.items()) + "}"
        return f"[{inner}]" if spec.array else inner
    return _SCHEMA[spec]


def _field(x: str, name: str) -> str:
    return f"struct_extract({x}, {_lit(name)})"


def _or_null(expr: str, test: str, depth: int) -> str:
    """``expr`` evaluated once, NULL when ``test`` (over ``v<depth>``) holds."""
    v = f"v{depth}"
    guarded = f"CASE WHEN {test.format(v=v)} THEN NULL ELSE {v} END"
    return f"list_transform([{expr}], lambda {v}: {guarded})[1]"


def _struct(pairs: list[tuple[str, str]], depth: int) -> str:
    """A struct of ``pairs``, or NULL when every member is NULL."""
    body = ", ".join(f'"{k}" := {v}' for k, v in pairs)
    test = " AND ".join(f'{{v}}."{k}" IS NULL' for k, _ in pairs)
    return _or_null(f"struct_pack({body})", test, depth)


def _slist(x: str, fn: Any, depth: int) -> str:
    """``fn`` over the list ``x`` without NULL items; NULL when nothing is left."""
    e = f"e{depth}"
    kept = f"list_filter(list_transform({x}, lambda {e}: {fn(e)}), lambda {e}: {e} IS NOT NULL)"
    return _or_null(kept, "len({v}) = 0", depth)


def _s_coding(c: str, depth: int) -> str:
    return _struct([(k, _text(_field(c, k))) for k in _CODING], depth)


def _s_concept(c: str, depth: int) -> str:
    codings = _slist(_field(c, "coding"), lambda e: _s_coding(e, depth + 1), depth)
    return _struct([("coding", codings)], depth)


def _s_ref(value: str, depth: int) -> str:
    return _struct([("reference", value)], depth)


def _sx(x: str, spec: Spec, depth: int) -> str:
    """SQL rebuilding one element from ``x``, its value in the typed struct."""
    if isinstance(spec, Nested):

        def build(e: str) -> str:
            pairs = [(k, _sx(_field(e, k), s, depth + 1)) for k, s in spec.fields.items()]
            return _struct(pairs, depth)

        return _slist(x, build, depth) if spec.array else build(x)
    ref = _field(x, "reference")
    match spec:
        case "keep":
            return x
        case "year_month":
            return f"left({_text(x)}, 7)"
        case "concept":
            return _s_concept(x, depth)
        case "concepts":
            return _slist(x, lambda e: _s_concept(e, depth + 1), depth)
        case "coding":
            return _s_coding(x, depth)
        case "codings":
            return _slist(x, lambda e: _s_coding(e, depth + 1), depth)
        case "reference":
            return _s_ref(_rewrite(ref), depth)
        case "references":
            return _slist(x, lambda e: _s_ref(_rewrite(_field(e, "reference")), depth + 1), depth)
        case "patient":
            rid = f"regexp_extract({ref}, {_lit(_REF)}, 2)"
            own = f"{_is_patient_ref(ref)} AND {rid} = _owner"
            return _s_ref(f"CASE WHEN {own} THEN 'Patient/' || _person END", depth)
        case "district":  # kept as JSON: an Address on Location, an array elsewhere
            return _district(x, depth)
    raise ConfigError(f"unknown transform {spec!r}")


def _rewrite(ref: str) -> str:
    """SQL for the rewritten reference string ``ref`` (VARCHAR), or NULL."""
    rtype = f"regexp_extract({ref}, {_lit(_REF)}, 1)"
    rid = f"regexp_extract({ref}, {_lit(_REF)}, 2)"
    return (
        f"CASE WHEN NOT regexp_matches({ref}, {_lit(_REF)}) THEN NULL "
        f"WHEN {rtype} = 'Patient' THEN CASE WHEN {rid} = _owner THEN 'Patient/' || _person END "
        f"ELSE {rtype} || '/' || zone_pseudo(_site || '/' || {rtype} || '/' || {rid}) END"
    )


# A site may hold several records of one person (the clinics group: one record per clinic).
# The integrated zone keeps one Patient per (site, person), the most recently updated; every
# resource of the other records already points at ``Patient/<person>``.  The merged records
# are counted in ``DeidReport.orphans`` as the difference between raw and integrated counts.
_ONE_PATIENT_PER_SITE = (
    "QUALIFY row_number() OVER (PARTITION BY _site, _person "
    "ORDER BY last_updated DESC NULLS LAST, src_id) = 1"
)


def resource_sql(allowlist: AllowList, resource_type: str) -> str:
    """The SELECT that de-identifies one resource type from ``raw.resources``."""
    fields = allowlist.types[resource_type]
    owner = allowlist.owners.get(resource_type)
    if owner == "id":
        owner_sql = "r.id"
    elif owner:
        ref = f"struct_extract(struct_extract(_s, {_lit(owner)}), 'reference')"
        owner_sql = f"nullif(regexp_extract({ref}, {_lit(_REF)}, 2), '')"
        owner_sql = f"CASE WHEN {_is_patient_ref(ref)} THEN {owner_sql} END"
    else:
        owner_sql = "NULL::VARCHAR"
    if owner == "id":
        id_sql = "_person"
    else:
        id_sql = "zone_pseudo(_site || '/' || resource_type || '/' || src_id)"
    schema = "{" + ", ".join(f'"{k}": {_schema(v)}' for k, v in fields.items()) + "}"
    pairs = [("resourceType", "resource_type"), ("id", id_sql)]
    pairs += [(k, _sx(_field("_s", k), spec, 0)) for k, spec in fields.items()]
    body = ", ".join(f'"{k}" := {v}' for k, v in pairs)
    return f"""
        SELECT _site AS site, resource_type, {id_sql} AS id, _person AS person_id,
               last_updated, json_strip_nulls(to_json(struct_pack({body}))) AS resource
        FROM (
            SELECT t.*, pm.person_id AS _person
            FROM (
                SELECT r.site AS _site, r.resource_type, r.id AS src_id, r.last_updated, r._s,
                       {owner_sql} AS _owner
                FROM (SELECT *, json_transform(resource, {_lit(schema)}) AS _s
                      FROM raw.resources WHERE resource_type = {_lit(resource_type)}) r
            ) t
            LEFT JOIN _patient_map pm ON pm.site = t._site AND pm.patient_id = t._owner
        )
        {"WHERE _person IS NOT NULL" if owner else ""}
        {_ONE_PATIENT_PER_SITE if owner == "id" else ""}
    """
