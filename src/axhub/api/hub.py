"""What the API and the dashboard do, as plain functions of a caller: the hub's services.

Every read of the integrated zone goes through ``GovernedStore`` (decided, filtered by consent
and care relationship, audited); released tables go through its small-cell suppression.
Home readings, alerts, tasks and approvals come from the care operational store. Routers in
``api/`` and pages in ``web/`` call these functions and never open a store themselves.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import duckdb
import pyarrow as pa

from axhub.api.auth import Caller, TokenTable
from axhub.config import Settings
from axhub.errors import InputError, NotFoundError, PolicyDenied
from axhub.fhir.districts import BY_NAME_KO, DISTRICTS
from axhub.governance.access import GovernedStore
from axhub.governance.principals import Role

log = logging.getLogger(__name__)

KCD_SYSTEM = "http://www.hl7korea.or.kr/CodeSystem/kostat-kcd-8"
#: ATC prefixes of blood-pressure-lowering drugs (WHO ATC index; same list as
#: ``axhub.clinical.features`` uses for ``bp_treated``)
BP_ATC = ("C02", "C03", "C07", "C08", "C09")
CARE_TEAM_ROLES = (Role.CARE_MANAGER, Role.CARE_WORKER, Role.AGENT)


def kcd_groups() -> dict[str, dict[str, Any]]:
    """KCD-8 groups (ICD-10 categories with their source) from the bundled views library."""
    text = resources.files("axhub.views").joinpath("library/kcd8_groups.json").read_text("utf-8")
    return {g["group"]: g for g in json.loads(text)["groups"]}


@dataclass(frozen=True)
class Indicator:
    """A district indicator: people with ``numerator`` among people with ``denominator``."""

    key: str
    label_en: str
    label_ko: str
    numerator: str  # SQL predicate over the per-person table ``pp``
    denominator: str  # SQL predicate ("true" = everyone)
    kind: str  # risk | access


def _cond_flag(group: str) -> str:
    cats = ", ".join(f"'{c}'" for c in kcd_groups()[group]["categories"])
    return f"list_has_any(cats, [{cats}])"


def indicators() -> dict[str, Indicator]:
    """The region page's indicators (condition groups from ``kcd8_groups.json``)."""
    atc = " OR ".join(f"starts_with(a, '{p}')" for p in BP_ATC)
    bp_treated = f"len(list_filter(atcs, lambda a: {atc})) > 0"
    items = [
        Indicator("hypertension", "Hypertension recorded", "고혈압 진단 기록",
                  _cond_flag("hypertension"), "true", "risk"),
        Indicator("diabetes", "Diabetes recorded", "당뇨병 진단 기록",
                  _cond_flag("diabetes"), "true", "risk"),
        Indicator("stroke", "Stroke recorded", "뇌졸중 진단 기록",
                  _cond_flag("stroke"), "true", "risk"),
        Indicator("atrial_fibrillation", "Atrial fibrillation recorded", "심방세동 진단 기록",
                  _cond_flag("atrial_fibrillation"), "true", "risk"),
        Indicator("htn_untreated", "Hypertension without a BP-lowering prescription",
                  "혈압약 처방 없는 고혈압", f"NOT ({bp_treated})",
                  _cond_flag("hypertension"), "access"),
        Indicator("no_encounter", "No recorded encounter", "진료 기록 없음",
                  "encounters = 0", "true", "access"),
    ]  # fmt: skip
    return {i.key: i for i in items}


#: per-person table over the governed ``resources`` view (one row per person)
PERSONS_SQL = """
WITH pt AS (
  SELECT person_id,
         any_value(json_extract_string(resource, '$.address[0].district')) AS district,
         any_value(json_extract_string(resource, '$.gender')) AS sex,
         any_value(json_extract_string(resource, '$.birthDate')) AS birth
  FROM resources WHERE resource_type = 'Patient' AND person_id IS NOT NULL GROUP BY person_id),
cd AS (
  SELECT person_id, list_distinct(flatten(list(list_transform(
           json_extract_string(resource, '$.code.coding[*].code'), lambda c: left(c, 3))))) AS cats
  FROM resources WHERE resource_type = 'Condition' GROUP BY person_id),
md AS (
  SELECT person_id, list_distinct(flatten(list(
           json_extract_string(resource, '$.medicationCodeableConcept.coding[*].code')))) AS atcs
  FROM resources WHERE resource_type = 'MedicationRequest' GROUP BY person_id),
en AS (
  SELECT person_id, count(*) AS encounters
  FROM resources WHERE resource_type = 'Encounter' GROUP BY person_id)
SELECT pt.person_id, coalesce(pt.district, '(unknown)') AS district, pt.sex,
       $year - TRY_CAST(left(pt.birth, 4) AS INTEGER) AS age,
       coalesce(cd.cats, []::VARCHAR[]) AS cats, coalesce(md.atcs, []::VARCHAR[]) AS atcs,
       coalesce(en.encounters, 0) AS encounters
FROM pt LEFT JOIN cd USING (person_id) LEFT JOIN md USING (person_id)
        LEFT JOIN en USING (person_id)
"""

_DONG = ", ".join(f"'{d.name_ko}'" for d in DISTRICTS if d.kind == "dong")
AREA_SQL = f"CASE WHEN district IN ({_DONG}) THEN 'dong' ELSE 'eup_myeon' END"


def _released(table: pa.Table, row: str, col: str) -> dict[str, dict[str, int | None]]:
    out: dict[str, dict[str, int | None]] = {}
    for r, c, n in zip(
        table.column(row).to_pylist(),
        table.column(col).to_pylist(),
        table.column("n").to_pylist(),
        strict=True,
    ):
        out.setdefault(str(r), {})[str(c)] = n
    return out


def _rate(cells: dict[str, int | None]) -> dict[str, Any]:
    yes, total = cells.get("yes"), cells.get("(total)")
    rate = None if yes is None or not total else round(yes / total, 4)
    return {"numerator": yes, "denominator": total, "rate": rate, "suppressed": yes is None}


@dataclass
class Hub:
    """The services behind the API and the dashboard, for one data folder."""

    settings: Settings
    store: GovernedStore
    tokens: TokenTable
    _care: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, settings: Settings) -> Hub:
        return cls(settings, GovernedStore(settings), TokenTable.open(settings))

    @property
    def care(self) -> Any:
        """The care operational store (opened on first use, migrated to its schema)."""
        from axhub.care.store import CareStore

        with self._lock:
            if self._care is None:
                self._care = CareStore.open(self.settings)
            return self._care

    # -- released aggregates ------------------------------------------------------------
    def _aggregate(self, caller: Caller, select: str, row: str) -> pa.Table:
        year = dt.date.today().year
        sql = PERSONS_SQL.replace("$year", str(year))
        return self.store.aggregate(
            caller.principal, caller.purpose.value, f"WITH pp AS ({sql}) {select}",
            row=row, col="status", count="n",
            resource_types=["Patient", "Condition", "MedicationRequest", "Encounter"],
        )  # fmt: skip

    def district_indicator(self, caller: Caller, key: str) -> dict[str, Any]:
        """One indicator per district and per area kind, released with small-cell suppression."""
        known = indicators()
        if key not in known:
            import difflib

            raise NotFoundError(
                f"unknown indicator {key!r}",
                suggestions=difflib.get_close_matches(key, known, n=3) or sorted(known),
            )
        ind = known[key]
        status = f"CASE WHEN {ind.numerator} THEN 'yes' ELSE 'no' END AS status"
        by_district = _released(
            self._aggregate(
                caller,
                f"SELECT district, {status}, count(*) AS n FROM pp "
                f"WHERE {ind.denominator} GROUP BY ALL",
                "district",
            ),
            "district",
            "status",
        )
        by_area = _released(
            self._aggregate(
                caller,
                f"SELECT {AREA_SQL} AS area, {status}, count(*) AS n FROM pp "
                f"WHERE {ind.denominator} GROUP BY ALL",
                "area",
            ),
            "area",
            "status",
        )
        rows = []
        for d in DISTRICTS:
            cells = by_district.get(d.name_ko, {})
            rows.append(
                {"district": d.name_ko, "district_en": d.name_en, "kind": d.kind,
                 "urban": d.urban, **_rate(cells)}
            )  # fmt: skip
        rows.sort(key=lambda r: (r["rate"] is None, -(r["rate"] or 0.0), r["district_en"]))
        return {
            "indicator": key,
            "label": {"en": ind.label_en, "ko": ind.label_ko},
            "kind": ind.kind,
            "districts": rows,
            "areas": {a: _rate(by_area.get(a, {})) for a in ("dong", "eup_myeon")},
            "region": _rate(by_district.get("(total)", {})),
            "release": "counts 1-9 hidden, with complementary cells (decision 0078)",
        }

    def cohort_counts(self, caller: Caller, criteria: dict[str, Any]) -> dict[str, Any]:
        """People matching the criteria, by district; released with small-cell suppression."""
        where = ["true"]
        lo, hi = criteria.get("age_min"), criteria.get("age_max")
        if lo is not None:
            where.append(f"age >= {int(lo)}")
        if hi is not None:
            where.append(f"age <= {int(hi)}")
        sex = criteria.get("sex")
        if sex:
            if sex not in ("female", "male"):
                raise InputError("sex must be female or male", field="sex", reason=str(sex))
            where.append(f"sex = '{sex}'")
        groups = kcd_groups()
        for g in criteria.get("conditions") or []:
            if g not in groups:
                raise NotFoundError(f"unknown condition group {g!r}", suggestions=sorted(groups))
            where.append(_cond_flag(g))
        area = criteria.get("area")
        if area:
            if area not in ("dong", "eup_myeon"):
                raise InputError("area must be dong or eup_myeon", field="area", reason=area)
            where.append(f"{AREA_SQL} = '{area}'")
        status = f"CASE WHEN {' AND '.join(where)} THEN 'yes' ELSE 'no' END AS status"
        released = _released(
            self._aggregate(
                caller, f"SELECT district, {status}, count(*) AS n FROM pp GROUP BY ALL",
                "district",
            ),
            "district",
            "status",
        )  # fmt: skip
        rows = []
        for d in DISTRICTS:
            cells = released.get(d.name_ko, {})
            n = cells.get("yes")
            rows.append(
                {"district": d.name_ko, "district_en": d.name_en, "kind": d.kind, "count": n,
                 "suppressed": n is None}
            )  # fmt: skip
        total = released.get("(total)", {})
        return {
            "criteria": criteria,
            "total": total.get("yes"),
            "total_suppressed": total.get("yes") is None,
            "districts": rows,
            "release": "counts 1-9 hidden, with complementary cells (decision 0078)",
        }

    # -- person level (care purposes only) ----------------------------------------------
    def ensure_person(self, caller: Caller, person_id: str, *, decide: bool = True) -> None:
        """Refuse unless the caller may see this person for care.

        Care purposes only; care-team roles only for people enrolled with their team. With
        ``decide`` the policy decision is asked (and audited) here; reads ask it themselves.
        """
        p = caller.principal
        if not caller.care:
            raise PolicyDenied(
                "person-level data is for care purposes only", purpose=caller.purpose.value
            )
        if decide:
            self.store.ensure(p, caller.purpose.value, "read")
        if p.role in CARE_TEAM_ROLES:
            try:
                team = self.care.enrolment(person_id).care_team
            except NotFoundError:
                team = None
            if team is None or team != p.care_team:
                raise PolicyDenied(
                    "this person is not enrolled with your care team", care_team=p.care_team
                )

    def person_records(self, caller: Caller, person_id: str) -> pa.Table:
        """The person's governed records (consent and care relationship applied)."""
        self.ensure_person(caller, person_id, decide=False)  # read() decides and audits
        table = self.store.read(
            caller.principal,
            caller.purpose.value,
            ["Patient", "Condition", "Observation", "MedicationRequest", "Encounter"],
            persons=[person_id],
        )
        if table.num_rows == 0 and caller.principal.role is Role.CLINICIAN:
            raise NotFoundError("no records for this person at your site", person_id=person_id)
        return table


def district_name(name_ko: str) -> str:
    d = BY_NAME_KO.get(name_ko)
    return d.name_en if d else name_ko


def connect_memory() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB session for shaping tables already read through the boundary."""
    return duckdb.connect(config={"threads": 1})  # many small sessions run side by side
