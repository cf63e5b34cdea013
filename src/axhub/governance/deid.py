"""De-identification at the site edge: raw zone -> integrated zone, vectorised in DuckDB.

The allow-list (``data/deid_allowlist.toml``) is compiled into one DuckDB SQL statement per
resource type that parses each resource once into a STRUCT shaped by the allow-list
(``json_transform``), rebuilds it with struct/list functions and writes it back with
``to_json``; a field not listed is dropped, a type not listed is dropped whole.  Ids and
references are replaced by keyed pseudonyms (``pseudonym.register_sql``); references to the
record's own patient become ``Patient/<person pseudonym>``.

Person linkage across sites is an input: a table ``(site, patient_id, person_id)`` from the
linkage unit.  A patient it does not cover keeps a site-level pseudonym.  The output is
``<data_dir>/integrated.duckdb``; the re-identification codebook goes to the key store
(``keys/reid.duckdb``), apart from the output.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import os
import re
import time
import tomllib
import uuid
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from axhub.config import Settings
from axhub.errors import ConfigError, InputError, NotFoundError
from axhub.governance.audit import AuditLog, Clock, utc_now
from axhub.governance.keys import KeyStore, codebook_path
from axhub.governance.pseudonym import register_sql

log = logging.getLogger(__name__)

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
ZONE_KEY = "zone"


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
    """


# -- the build --------------------------------------------------------------------------------
@dataclass
class DeidReport:
    run_id: str
    allowlist_version: str
    allowlist_sha256: str
    resources_in: dict[str, int] = field(default_factory=dict)
    resources_out: dict[str, int] = field(default_factory=dict)
    dropped_types: dict[str, int] = field(default_factory=dict)
    orphans: dict[str, int] = field(default_factory=dict)
    persons: int = 0
    patients: int = 0
    linked_patients: int = 0
    mapping_unmatched: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def integrated_path(settings: Settings) -> Path:
    return settings.data_dir / "integrated.duckdb"


def _load_mapping(con: duckdb.DuckDBPyConnection, mapping: pa.Table | None) -> None:
    con.execute("CREATE TEMP TABLE _mapping (site VARCHAR, patient_id VARCHAR, person_id VARCHAR)")
    if mapping is None:
        return
    if "patient_id" not in mapping.column_names and "record_id" in mapping.column_names:
        # the linkage unit's output names the site's Patient.id ``record_id``
        mapping = mapping.rename_columns(
            ["patient_id" if c == "record_id" else c for c in mapping.column_names]
        )
    missing = {"site", "patient_id", "person_id"} - set(mapping.column_names)
    if missing:
        raise InputError(
            f"linkage mapping lacks columns {sorted(missing)}",
            field=",".join(sorted(missing)),
            reason="expected (site, patient_id, person_id)",
        )
    con.register("_mapping_in", mapping.select(["site", "patient_id", "person_id"]))
    con.execute(
        "INSERT INTO _mapping SELECT CAST(site AS VARCHAR), CAST(patient_id AS VARCHAR), "
        "CAST(person_id AS VARCHAR) FROM _mapping_in"
    )
    con.unregister("_mapping_in")
    bad = con.execute(
        "SELECT count(*) FROM _mapping WHERE site IS NULL OR patient_id IS NULL "
        "OR person_id IS NULL"
    ).fetchone()
    if bad and bad[0]:
        raise InputError(
            f"linkage mapping has {bad[0]} rows with an empty column",
            reason="site, patient_id and person_id are required",
        )
    clash = con.execute(
        "SELECT site, count(DISTINCT person_id) FROM _mapping GROUP BY site, patient_id "
        "HAVING count(DISTINCT person_id) > 1 LIMIT 1"
    ).fetchone()
    if clash:
        raise InputError(
            "linkage mapping gives one site patient several person ids",
            field="person_id",
            site=clash[0],
        )
    raw_sites = {r[0] for r in con.execute("SELECT DISTINCT site FROM raw.resources").fetchall()}
    for (site,) in con.execute("SELECT DISTINCT site FROM _mapping ORDER BY 1").fetchall():
        if site not in raw_sites:
            raise NotFoundError(
                f"linkage mapping names unknown site {site!r}",
                suggestions=difflib.get_close_matches(site, sorted(raw_sites)) or sorted(raw_sites),
                field="site",
            )


def deidentify(
    settings: Settings,
    audit: AuditLog,
    *,
    mapping: pa.Table | None = None,
    allowlist: AllowList | None = None,
    actor: str = "operator",
    clock: Clock = utc_now,
) -> DeidReport:
    """Rebuild the integrated zone from the raw zone; returns counts (no personal data)."""
    allowlist = allowlist or load_allowlist()
    raw_path = settings.raw_zone_path
    if not raw_path.exists():
        raise NotFoundError(
            f"no raw zone at {raw_path}: run `axhub ingest` first", path=str(raw_path)
        )
    started = time.perf_counter()
    report = DeidReport(uuid.uuid4().hex, allowlist.version, allowlist.sha256)
    out_path = integrated_path(settings)
    keys = KeyStore(settings)
    cb_path = codebook_path(settings)
    keys.ensure_dir()
    tmp_out = out_path.with_name(out_path.name + ".building")
    tmp_cb = cb_path.with_name(cb_path.name + ".building")
    for p in (tmp_out, tmp_cb):
        p.unlink(missing_ok=True)
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH {_lit(str(raw_path))} AS raw (READ_ONLY)")
        register_sql(con, "zone_pseudo", keys.key(ZONE_KEY))
        _load_mapping(con, mapping)
        con.execute("""
            CREATE TEMP TABLE _patient_map AS
            SELECT p.site, p.id AS patient_id, m.person_id AS regional_id,
                   zone_pseudo('site:' || p.site || '/' || p.id) AS site_key,
                   zone_pseudo(CASE WHEN m.person_id IS NOT NULL THEN 'person:' || m.person_id
                                    ELSE 'site:' || p.site || '/' || p.id END) AS person_id
            FROM raw.resources p
            LEFT JOIN _mapping m ON m.site = p.site AND m.patient_id = p.id
            WHERE p.resource_type = 'Patient'
        """)
        row = con.execute(
            "SELECT count(*), count(regional_id), count(DISTINCT person_id) FROM _patient_map"
        ).fetchone()
        assert row is not None
        report.patients, report.linked_patients, report.persons = row
        unmatched = con.execute(
            "SELECT count(*) FROM _mapping m ANTI JOIN _patient_map p "
            "ON p.site = m.site AND p.patient_id = m.patient_id"
        ).fetchone()
        report.mapping_unmatched = unmatched[0] if unmatched else 0
        counts = con.execute(
            "SELECT resource_type, count(*) FROM raw.resources GROUP BY 1 ORDER BY 1"
        ).fetchall()
        report.resources_in = {t: n for t, n in counts}
        report.dropped_types = {t: n for t, n in counts if t not in allowlist.types}

        con.execute(f"ATTACH {_lit(str(tmp_out))} AS out")
        con.execute("""
            CREATE TABLE out.resources (
                site VARCHAR NOT NULL, resource_type VARCHAR NOT NULL, id VARCHAR NOT NULL,
                person_id VARCHAR, last_updated TIMESTAMPTZ, resource JSON NOT NULL,
                PRIMARY KEY (site, resource_type, id))
        """)
        for rtype in sorted(allowlist.types):
            if rtype not in report.resources_in:
                continue
            con.execute(f"INSERT INTO out.resources {resource_sql(allowlist, rtype)}")
        out_counts = con.execute(
            "SELECT resource_type, count(*) FROM out.resources GROUP BY 1"
        ).fetchall()
        report.resources_out = {t: n for t, n in out_counts}
        report.orphans = {
            t: report.resources_in[t] - report.resources_out.get(t, 0)
            for t in allowlist.types
            if t in report.resources_in and report.resources_in[t] != report.resources_out.get(t, 0)
        }
        con.execute("""
            CREATE TABLE out.person_keys AS
            SELECT DISTINCT person_id, site, site_key FROM _patient_map ORDER BY person_id
        """)
        report.seconds = round(time.perf_counter() - started, 3)
        con.execute(
            "CREATE TABLE out.deid_runs (run_id VARCHAR, finished TIMESTAMPTZ, "
            "allowlist_version VARCHAR, allowlist_sha256 VARCHAR, report JSON)"
        )
        con.execute(
            "INSERT INTO out.deid_runs VALUES (?, ?, ?, ?, ?)",
            [
                report.run_id,
                clock(),
                allowlist.version,
                allowlist.sha256,
                json.dumps(report.to_dict()),
            ],
        )
        con.execute("DETACH out")
        con.execute(f"ATTACH {_lit(str(tmp_cb))} AS cb")
        con.execute(
            "CREATE TABLE cb.codebook AS SELECT person_id, site, patient_id, regional_id "
            "FROM _patient_map ORDER BY person_id"
        )
        con.execute("DETACH cb")
    finally:
        con.close()
    os.chmod(tmp_cb, 0o600)
    tmp_cb.replace(cb_path)
    tmp_out.replace(out_path)
    manifest = {
        **report.to_dict(),
        "finished": clock().isoformat(),
        "settings": settings.public_dict(),
        "output": str(out_path),
    }
    out_path.with_suffix(".manifest.json").write_text(json.dumps(manifest, indent=2))
    audit.append(
        "deidentify",
        actor=actor,
        role="operator",
        purpose="operations",
        detail={
            "run_id": report.run_id,
            "allowlist_sha256": allowlist.sha256,
            "resources_out": sum(report.resources_out.values()),
            "persons": report.persons,
        },
    )
    log.info(
        "de-identified %d resources for %d persons in %.1fs",
        sum(report.resources_out.values()),
        report.persons,
        report.seconds,
    )
    return report
