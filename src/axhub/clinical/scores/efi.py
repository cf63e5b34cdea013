"""Electronic Frailty Index deficits and the code → deficit-flag table.

The 36 deficits are Clegg 2016 Box 1; their KCD-8/ICD-10 and ATC prefixes in
``data/efi_deficits.csv`` are the hub's own mapping choice (see that file's header and
docs/decisions/0047-efi-mapping-and-boundary.md).  Flags are built in DuckDB, one pass.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources

import duckdb
import pyarrow as pa

from axhub.errors import InputError

POLYPHARMACY_MIN_DRUGS = 5  # hub rule: ≥5 distinct ATC level-5 substances (decision 0047)
ATC_LEVEL5_LENGTH = 7


@dataclass(frozen=True)
class Deficit:
    id: str
    name: str
    icd10_prefixes: tuple[str, ...]
    atc_prefixes: tuple[str, ...]
    mapping_source: str


def _load() -> tuple[Deficit, ...]:
    path = resources.files("axhub.clinical.scores").joinpath("data/efi_deficits.csv")
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))

    def split(s: str) -> tuple[str, ...]:
        return tuple(p for p in s.split(";") if p)

    return tuple(
        Deficit(
            r["id"],
            r["name"],
            split(r["icd10_prefixes"]),
            split(r["atc_prefixes"]),
            r["mapping_source"],
        )
        for r in rows
    )


DEFICITS: tuple[Deficit, ...] = _load()


def _check(table: pa.Table, needed: tuple[str, ...], what: str) -> None:
    for col in needed:
        if col not in table.column_names:
            raise InputError(f"{what} table lacks column {col}", field=col, reason="missing column")


def efi_flags_from_codes(
    persons: pa.Table, conditions: pa.Table, medications: pa.Table | None = None
) -> pa.Table:
    """One row per ``persons.person_id`` with the 36 ``efi_<id>`` yes/no flags.

    ``conditions``: (person_id, code) with KCD-8/ICD-10 codes, dotted or not.
    ``medications``: (person_id, atc) current prescriptions.  A code absent from the record
    means the deficit is absent (as in the eFI's primary-care use); ``housebound`` has no code
    and is always "no" unless the caller overrides it.
    """
    _check(persons, ("person_id",), "persons")
    _check(conditions, ("person_id", "code"), "conditions")
    if medications is None:
        medications = pa.table(
            {
                "person_id": pa.array([], persons.column("person_id").type),
                "atc": pa.array([], pa.string()),
            }
        )
    _check(medications, ("person_id", "atc"), "medications")
    icd = [(d.id, p.replace(".", "").upper()) for d in DEFICITS for p in d.icd10_prefixes]
    atc = [(d.id, p.upper()) for d in DEFICITS for p in d.atc_prefixes]
    icd_map = pa.table({"deficit": [a for a, _ in icd], "prefix": [b for _, b in icd]})
    atc_map = pa.table({"deficit": [a for a, _ in atc], "prefix": [b for _, b in atc]})
    con = duckdb.connect()
    try:
        for name, tbl in (
            ("persons", persons),
            ("conds", conditions),
            ("meds", medications),
            ("icd_map", icd_map),
            ("atc_map", atc_map),
        ):
            con.register(name, tbl)
        hits = f"""
            SELECT DISTINCT c.person_id, m.deficit FROM conds c JOIN icd_map m
              ON starts_with(upper(replace(CAST(c.code AS VARCHAR), '.', '')), m.prefix)
            UNION
            SELECT DISTINCT d.person_id, m.deficit FROM meds d JOIN atc_map m
              ON starts_with(upper(CAST(d.atc AS VARCHAR)), m.prefix)
            UNION
            SELECT person_id, 'polypharmacy' FROM meds
              WHERE length(CAST(atc AS VARCHAR)) >= {ATC_LEVEL5_LENGTH}
              GROUP BY person_id
              HAVING count(DISTINCT upper(CAST(atc AS VARCHAR))) >= {POLYPHARMACY_MIN_DRUGS}
        """
        cols = ",\n".join(
            f"coalesce(bool_or(h.deficit = '{d.id}'), false) AS efi_{d.id}" for d in DEFICITS
        )
        sql = f"""
            WITH hits AS ({hits})
            SELECT p.person_id, {cols}
            FROM persons p LEFT JOIN hits h ON h.person_id = p.person_id
            GROUP BY p.person_id ORDER BY p.person_id
        """
        return con.sql(sql).to_arrow_table()
    finally:
        con.close()
