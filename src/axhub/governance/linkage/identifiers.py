"""Site side: pull identifying fields out of FHIR Patients and normalise them for encoding.

Reads Patients from bulk NDJSON files or from the raw zone's ``resources`` table with one
DuckDB statement each, then normalises all columns at once in SQL:

* name: NFC, Hangul romanised by the Revised Romanization (``romanize``), Latin spellings
  folded to a romanisation skeleton (``SKELETON_RULES``) so that "Lee", "Yi", "Rhee" and RR
  "I" (이) agree; family and given name kept apart and joined;
* birth date ``YYYYMMDD`` and birth year; sex ``m``/``f``/``o``/``u``;
* phone: digits, country code +82 replaced by the trunk 0, last 8 digits kept (the shared
  prefix 010 of every mobile number carries no information);
* district: ``address[0].district`` romanised (the Hangul district name, e.g. 퇴계동).

The output never leaves the site: only ``encode()``'s output does.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from axhub.errors import InputError
from axhub.governance.linkage.romanize import romanize

# Folding of romanised Korean names to a skeleton, applied in order (RE2 patterns) to the
# family and the given name separately. Our own rules, tested against the RR form of every
# surname in axhub.synth.names.SURNAMES and its common spellings (KOSTAT 2015 surname list):
# they merge aspirated/plain stops (k/g, t/d, p/b, ch/j), vowel spellings (eo/u as in the
# McCune-Reischauer-style "Jung", "Suh"; oo/u; ee/i),
# a silent h after a vowel (Ahn, Oh) and an initial r/l before i/y (Lee, Rhee, Ryu).
SKELETON_RULES: tuple[tuple[str, str], ...] = (
    ("[^a-z]", ""),
    ("sh", "s"),
    ("ch", "j"),
    ("^rh", "r"),
    ("ee", "i"),
    ("oo", "u"),
    ("^[lry]([iy])", "\\1"),
    ("^r", "n"),
    ("eo", "u"),
    ("eu", "u"),
    ("wu", "u"),
    ("ai", "ae"),
    ("oi", "oe"),
    ("([aeiou])h", "\\1"),
    ("ar([^aeiou]|$)", "a\\1"),
    ("k", "g"),
    ("p", "b"),
    ("t", "d"),
)

_PATIENT_FIELDS = """
    json_extract_string(r, '$.id') AS record_id,
    json_extract(r, '$.name[*]') AS names,
    json_extract_string(r, '$.birthDate') AS birth_date_raw,
    json_extract_string(r, '$.gender') AS gender,
    json_extract(r, '$.telecom[*]') AS telecoms,
    json_extract_string(r, '$.address[0].district') AS district_raw,
    json_extract_string(r, '$.managingOrganization.reference') AS source
"""


def skeleton_sql(expr: str) -> str:
    """SQL applying ``SKELETON_RULES`` to a lower-case romanised expression."""
    out = f"lower({expr})"
    for pattern, repl in SKELETON_RULES:
        out = f"regexp_replace({out}, '{pattern}', '{repl}', 'g')"
    return out


def patients_from_ndjson(paths: list[Path]) -> pa.Table:
    """Raw identifying fields of every Patient in the given NDJSON(.gz) files."""
    existing = [str(p) for p in paths if p.exists()]
    if not existing:
        raise InputError("no Patient NDJSON file found", path=", ".join(map(str, paths)))
    con = duckdb.connect()
    try:
        return con.sql(
            f"SELECT {_PATIENT_FIELDS} FROM (SELECT json AS r FROM read_json_objects($p, "
            "format = 'newline_delimited')) WHERE json_extract_string(r, '$.resourceType') "
            "= 'Patient'",
            params={"p": existing},
        ).to_arrow_table()
    except duckdb.Error as exc:
        raise InputError(
            "cannot read Patient NDJSON", path=", ".join(existing), reason=str(exc)
        ) from exc
    finally:
        con.close()


def site_patient_files(site_dir: Path) -> list[Path]:
    """``Patient.*.ndjson`` / ``.ndjson.gz`` files of one site folder of a synthetic region."""
    return sorted(site_dir.glob("Patient.*.ndjson")) + sorted(site_dir.glob("Patient.*.ndjson.gz"))


def patients_from_raw_zone(con: duckdb.DuckDBPyConnection, site: str) -> pa.Table:
    """Raw identifying fields of one site's current Patients in the raw zone."""
    return con.sql(
        f"SELECT {_PATIENT_FIELDS} FROM (SELECT resource::JSON AS r FROM resources "
        "WHERE site = $site AND resource_type = 'Patient')",
        params={"site": site},
    ).to_arrow_table()


def normalise(patients: pa.Table) -> pa.Table:
    """Identifier table for ``encode``: record_id, family, given, name, birth_date, birth_year,
    sex, phone, district, and ``source`` (``managingOrganization`` reference: the record
    system within a site, e.g. one clinic of the clinics group). All strings, missing values
    null. One SQL pass over all rows."""
    con = duckdb.connect()
    con.register("_pat", patients)
    picked = con.sql(
        r"""
        WITH n AS (
            SELECT *,
                -- prefer a name written in Hangul; else the first name
                coalesce(
                    list_filter(CAST(names AS JSON[]),
                        lambda x: regexp_matches(coalesce(x->>'text', ''), '[가-힣]'))[1],
                    CAST(names AS JSON[])[1]) AS nm,
                list_filter(CAST(telecoms AS JSON[]), lambda x: x->>'system' = 'phone')[1]
                    ->>'value' AS phone_raw
            FROM _pat
        )
        SELECT record_id,
            nfc_normalize(coalesce(nm->>'family',
                CASE WHEN regexp_matches(nm->>'text', '^[가-힣]') THEN left(nm->>'text', 1)
                     ELSE split_part(trim(nm->>'text'), ' ', 1) END)) AS family_raw,
            nfc_normalize(coalesce(array_to_string(CAST(nm->'given' AS VARCHAR[]), ''),
                CASE WHEN regexp_matches(nm->>'text', '^[가-힣]')
                     THEN replace(substr(nm->>'text', 2), ' ', '')
                     ELSE regexp_replace(trim(nm->>'text'), '^\S+\s*', '') END)) AS given_raw,
            birth_date_raw, gender, phone_raw, district_raw, source
        FROM n
        """
    ).to_arrow_table()
    family = romanize(picked.column("family_raw"), con)
    given = romanize(picked.column("given_raw"), con)
    district = romanize(picked.column("district_raw"), con)
    con.register(
        "_pk",
        picked.append_column("family_rr", family)
        .append_column("given_rr", given)
        .append_column("district_rr", district),
    )
    out = con.sql(
        f"""
        WITH s AS (
            SELECT record_id,
                nullif({skeleton_sql("family_rr")}, '') AS family,
                nullif({skeleton_sql("given_rr")}, '') AS given,
                nullif(regexp_replace(birth_date_raw, '[^0-9]', '', 'g'), '') AS birth_date,
                CASE lower(gender) WHEN 'male' THEN 'm' WHEN 'female' THEN 'f'
                    WHEN 'other' THEN 'o' WHEN 'unknown' THEN 'u' END AS sex,
                nullif(regexp_replace(
                    regexp_replace(phone_raw, '[^0-9+]', '', 'g'), '^\\+?82', '0'), '') AS phone,
                nullif(regexp_replace(lower(district_rr), '[^a-z0-9]', '', 'g'), '') AS district,
                source
            FROM _pk
        )
        SELECT record_id, family, given,
            nullif(coalesce(family, '') || coalesce(given, ''), '') AS name,
            CASE WHEN length(birth_date) = 8 THEN birth_date END AS birth_date,
            CASE WHEN length(birth_date) >= 4 THEN left(birth_date, 4) END AS birth_year,
            sex, right(replace(phone, '+', ''), 8) AS phone, district, source
        FROM s
        """
    ).to_arrow_table()
    con.close()
    nulls = out.column("record_id").null_count
    if nulls:
        raise InputError("Patient without id", field="Patient.id", reason=f"{nulls} records")
    return out
