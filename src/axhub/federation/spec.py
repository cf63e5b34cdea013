"""What a researcher may ask a site: a validated query spec and its SQL over the governed rows.

A query is one of four whitelisted aggregate kinds (the DataSHIELD pattern: only
non-disclosive aggregate functions, each checked by the site's policy before it returns;
``../shared/reference/federation-linkage-privacy.md`` §2.4-2.5):

* ``count``    cohort feasibility: how many persons match the cohort;
* ``district`` district indicator: cohort persons and all persons per home district;
* ``mean``     mean of the latest value of one LOINC observation in the cohort;
* ``quantile`` histogram of that value over public bin edges (the coordinator interpolates
  quantiles from the summed histograms).

Every value that reaches SQL is checked against a closed set (KCD-8 groups from the views
library, sexes, the 25 districts, a LOINC code pattern, integers), then inlined as a quoted
literal: the governed session's aggregate calls take SQL text only.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from axhub.errors import InputError
from axhub.fhir.districts import DISTRICTS
from axhub.views.library import kcd8_groups

KINDS = ("count", "district", "mean", "quantile")
SEXES = ("female", "male", "other", "unknown")
LOINC_RE = re.compile(r"^\d{1,8}-\d$")
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_BINS = 40  # label columns at most 40 values (dsBase nfilter.levels.max; GovernedStore)


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def condition_groups() -> dict[str, list[str]]:
    """KCD-8 group name -> three-character categories (``views/library/kcd8_groups.json``)."""
    return {g["group"]: list(g["categories"]) for g in kcd8_groups()["groups"]}


def district_names() -> list[str]:
    """Hangul names of the 25 districts: the public partition keys of district releases."""
    return sorted(d.name_ko for d in DISTRICTS)


@dataclass(frozen=True)
class Cohort:
    """Persons with a Patient record at the site, filtered by conditions, sex, age, district."""

    conditions: tuple[str, ...] = ()  # any of these KCD-8 groups
    sex: str | None = None
    age_min: int | None = None
    age_max: int | None = None
    age_at_year: int = 2026  # age = this year - birth year
    districts: tuple[str, ...] = ()

    def validate(self) -> None:
        groups = condition_groups()
        for i, g in enumerate(self.conditions):
            if g not in groups:
                raise InputError(
                    f"unknown condition group {g!r}; known: {', '.join(sorted(groups))}",
                    field=f"cohort.conditions[{i}]",
                )
        if self.sex is not None and self.sex not in SEXES:
            raise InputError(f"sex must be one of {SEXES}", field="cohort.sex")
        for name in ("age_min", "age_max", "age_at_year"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
                raise InputError("must be a non-negative integer", field=f"cohort.{name}")
        if self.age_min is not None and self.age_max is not None and self.age_min > self.age_max:
            raise InputError("age_min is above age_max", field="cohort.age_min")
        known = set(district_names())
        for i, d in enumerate(self.districts):
            if d not in known:
                raise InputError(f"unknown district {d!r}", field=f"cohort.districts[{i}]")

    def sql(self) -> str:
        """``SELECT person_id, district`` of the cohort over view ``resources``."""
        where = ["TRUE"]
        if self.sex is not None:
            where.append(f"sex = {_lit(self.sex)}")
        if self.age_min is not None:
            where.append(f"{self.age_at_year} - birth_year >= {int(self.age_min)}")
        if self.age_max is not None:
            where.append(f"{self.age_at_year} - birth_year <= {int(self.age_max)}")
        if self.districts:
            where.append(f"district IN ({', '.join(_lit(d) for d in self.districts)})")
        if self.conditions:
            groups = condition_groups()
            system = _lit(kcd8_groups()["system"])
            prefixes = sorted({c for g in self.conditions for c in groups[g]})
            test = " OR ".join(f"starts_with(x->>'code', {_lit(p)})" for p in prefixes)
            where.append(
                "person_id IN (SELECT person_id FROM resources WHERE resource_type = 'Condition'"
                " AND len(list_filter(CAST(coalesce(json_extract(resource, '$.code.coding[*]'),"
                f" []) AS JSON[]), lambda x: x->>'system' = {system} AND ({test}))) > 0)"
            )
        return (
            "SELECT person_id, district FROM (SELECT person_id, resource->>'$.gender' AS sex, "
            "TRY_CAST(substr(resource->>'$.birthDate', 1, 4) AS INTEGER) AS birth_year, "
            "coalesce(resource->>'$.address[0].district', '(unknown)') AS district "
            "FROM resources WHERE resource_type = 'Patient' AND person_id IS NOT NULL "
            "QUALIFY row_number() OVER (PARTITION BY person_id ORDER BY id) = 1) "
            f"WHERE {' AND '.join(where)}"
        )


@dataclass(frozen=True)
class QuerySpec:
    """One federated query, as the coordinator sends it to every site."""

    query_id: str
    project_id: str
    researcher_id: str
    kind: str
    cohort: Cohort = field(default_factory=Cohort)
    measure: str | None = None  # LOINC code (mean, quantile)
    bounds: tuple[float, float] | None = None  # public value bounds (mean with DP; clamping)
    bins: tuple[float, ...] = ()  # public bin edges (quantile)
    probs: tuple[float, ...] = (0.25, 0.5, 0.75)  # quantiles the coordinator interpolates
    epsilon: float | None = None  # OpenDP noise charged to the project's budget at each site
    purpose: str = "research"

    def validate(self) -> None:
        for name in ("query_id", "project_id", "researcher_id"):
            if not ID_RE.match(str(getattr(self, name))):
                raise InputError("must be a short id (letters, digits, . _ -)", field=name)
        if self.kind not in KINDS:
            raise InputError(f"kind must be one of {KINDS}", field="kind")
        self.cohort.validate()
        if self.kind in ("mean", "quantile") and (
            self.measure is None or not LOINC_RE.match(self.measure)
        ):
            raise InputError("a LOINC code such as '2345-7' is required", field="measure")
        numbers = [*(self.bounds or ()), *self.bins, *self.probs, self.epsilon or 0.0]
        if not all(math.isfinite(v) for v in numbers):
            raise InputError("numbers must be finite", field="query")
        if self.bounds is not None and not self.bounds[0] < self.bounds[1]:
            raise InputError("bounds must be (low, high) with low < high", field="bounds")
        if self.kind == "mean" and self.epsilon is not None and self.bounds is None:
            raise InputError("a DP mean needs public bounds", field="bounds")
        if self.kind == "quantile":
            edges = list(self.bins)
            if len(edges) < 2 or len(edges) - 1 > MAX_BINS or edges != sorted(set(edges)):
                raise InputError(f"bins must be 2 to {MAX_BINS + 1} increasing edges", field="bins")
            if any(not 0 < p < 1 for p in self.probs):
                raise InputError("probabilities must be in (0, 1)", field="probs")
        if self.epsilon is not None and not self.epsilon > 0:
            raise InputError("epsilon must be positive", field="epsilon")

    # -- SQL over the governed rows ----------------------------------------------------------
    def value_sql(self) -> str:
        """``SELECT person_id, district, value``: the latest value of the measure per person."""
        assert self.measure is not None
        code = _lit(self.measure)
        codes = "json_extract_string(resource, '$.code.coding[*].code')"
        comp = (
            "list_filter(CAST(coalesce(json_extract(resource, '$.component[*]'), []) AS JSON[]), "
            f"lambda x: list_contains(json_extract_string(x, '$.code.coding[*].code'), {code}))[1]"
        )
        return (
            "SELECT c.person_id, c.district, o.value FROM "
            f"({self.cohort.sql()}) c JOIN (SELECT person_id, value FROM (SELECT person_id, "
            "resource->>'$.effectiveDateTime' AS t, coalesce(CASE WHEN list_contains("
            f"{codes}, {code}) THEN TRY_CAST(resource->>'$.valueQuantity.value' AS DOUBLE) END, "
            f"TRY_CAST(({comp})->>'$.valueQuantity.value' AS DOUBLE)) AS value "
            "FROM resources WHERE resource_type = 'Observation') WHERE value IS NOT NULL "
            "QUALIFY row_number() OVER (PARTITION BY person_id ORDER BY t DESC NULLS LAST) = 1) o "
            "ON o.person_id = c.person_id"
        )

    def population_sql(self) -> str:
        """The persons this query describes (the cohort, or the cohort with a value)."""
        if self.kind in ("mean", "quantile"):
            return f"SELECT person_id, district, value FROM ({self.value_sql()})"
        return self.cohort.sql()

    def bin_labels(self) -> list[str]:
        e = self.bins
        return [f"{i:02d}:[{e[i]:g},{e[i + 1]:g})" for i in range(len(e) - 1)]

    def bin_sql(self) -> str:
        """CASE expression putting ``value`` in its bin (values outside the edges: dropped)."""
        e, labels = self.bins, self.bin_labels()
        arms = " ".join(
            f"WHEN value >= {e[i]!r} AND value < {e[i + 1]!r} THEN {_lit(labels[i])}"
            for i in range(len(labels))
        )
        return f"CASE {arms} END"

    # -- wire form -----------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QuerySpec:
        """Build and validate a spec from its JSON form; unknown fields are refused."""
        known = set(cls.__dataclass_fields__)
        extra = sorted(set(data) - known)
        if extra:
            raise InputError(f"unknown query fields: {', '.join(extra)}", field=extra[0])
        c = dict(data.get("cohort") or {})
        cextra = sorted(set(c) - set(Cohort.__dataclass_fields__))
        if cextra:
            raise InputError(f"unknown cohort fields: {', '.join(cextra)}", field="cohort")
        try:
            cohort = Cohort(
                conditions=tuple(c.get("conditions") or ()),
                sex=c.get("sex"),
                age_min=c.get("age_min"),
                age_max=c.get("age_max"),
                age_at_year=int(c.get("age_at_year", 2026)),
                districts=tuple(c.get("districts") or ()),
            )
            bounds = data.get("bounds")
            spec = cls(
                query_id=str(data["query_id"]),
                project_id=str(data["project_id"]),
                researcher_id=str(data["researcher_id"]),
                kind=str(data["kind"]),
                cohort=cohort,
                measure=data.get("measure"),
                bounds=(float(bounds[0]), float(bounds[1])) if bounds else None,
                bins=tuple(float(b) for b in data.get("bins") or ()),
                probs=tuple(float(p) for p in data.get("probs") or (0.25, 0.5, 0.75)),
                epsilon=float(data["epsilon"]) if data.get("epsilon") is not None else None,
                purpose=str(data.get("purpose", "research")),
            )
        except KeyError as exc:
            raise InputError(f"missing query field {exc.args[0]!r}", field=exc.args[0]) from None
        except (TypeError, ValueError) as exc:
            raise InputError(f"bad query field: {exc}", field="query") from None
        spec.validate()
        return spec
