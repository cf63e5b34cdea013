"""The medication-safety knowledge base: vocabulary, properties and cited interactions as data.

Every row of every file under ``data/`` names its source (a ``source_id`` from
``sources.csv`` plus a locator: label section, table, criterion).  Loading validates each
row and fails with an :class:`~axhub.errors.InputError` naming the file, line and field.
Nothing here is a clinical fact in code: the code only reads, checks and indexes the data.
"""

from __future__ import annotations

import csv
import tomllib
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from axhub.errors import InputError
from axhub.medsafety.model import (
    ANALOGY_SOURCES,
    DRUG_PROPERTIES,
    EFFECTS,
    FOOD_PROPERTIES,
    OPPOSITE_EFFECT,
    SEVERITIES,
    SEVERITY_RANK,
    VERIFICATION,
    Cited,
    Control,
    DrugEntry,
    ElderlyCriterion,
    FoodEntry,
    Knowledge,
    KnownInteraction,
    Source,
)

DATA_DIR = Path(__file__).with_name("data")

__all__ = [
    "ANALOGY_SOURCES",
    "DATA_DIR",
    "DRUG_PROPERTIES",
    "EFFECTS",
    "FOOD_PROPERTIES",
    "KNOWLEDGE_FILES",
    "OPPOSITE_EFFECT",
    "SEVERITIES",
    "SEVERITY_RANK",
    "VERIFICATION",
    "Cited",
    "Control",
    "DrugEntry",
    "ElderlyCriterion",
    "FoodEntry",
    "Knowledge",
    "KnownInteraction",
    "Source",
    "default_knowledge",
    "load_knowledge",
    "verification_counts",
]

# Files whose rows are clinical assertions; each carries a ``verified`` column (V, S or U).
KNOWLEDGE_FILES = (
    "food_interactions.csv",
    "drug_interactions.csv",
    "onc_high_priority.csv",
    "controls.csv",
    "drug_properties.csv",
    "food_properties.csv",
    "elderly_criteria.csv",
    "anticholinergic.csv",
)


def _rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """CSV rows with their 1-based line numbers; header and required fields are checked."""
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(
                "data file lacks columns", path=str(path), line=1, field=",".join(missing)
            )
        for row in reader:
            line = reader.line_num
            for col in required:
                if not (row.get(col) or "").strip():
                    raise InputError("empty required field", path=str(path), line=line, field=col)
            yield line, {k: (v or "").strip() for k, v in row.items() if k is not None}


def _check_source(sources: dict[str, Source], value: str, path: Path, line: int) -> None:
    for sid in value.split("|"):
        if sid not in sources:
            raise InputError(
                f"unknown source {sid!r}",
                path=str(path),
                line=line,
                field="source",
                reason=f"known sources: {', '.join(sorted(sources))}",
            )


def _choice(value: str, allowed: tuple[str, ...], path: Path, line: int, col: str) -> str:
    if value not in allowed:
        raise InputError(
            f"{col} {value!r} not one of {', '.join(allowed)}", path=str(path), line=line, field=col
        )
    return value


def _cited(r: dict[str, str], path: Path, line: int, locator: str | None = None) -> Cited:
    """The citation of one row, with its verification status checked (decision 0059)."""
    verified = _choice(r["verified"], VERIFICATION, path, line, "verified")
    loc = r["locator"] if locator is None else locator
    return Cited(r["source"], loc, f"{path.name}:{line}", verified)


def verification_counts(data_dir: Path | None = None) -> dict[str, dict[str, int]]:
    """Rows per verification status (V, S, U) for every knowledge file, as stored."""
    root = data_dir or DATA_DIR
    out: dict[str, dict[str, int]] = {}
    for name in KNOWLEDGE_FILES:
        counts = dict.fromkeys(VERIFICATION, 0)
        path = root / name
        for line, r in _rows(path, ("verified",)):
            counts[_choice(r["verified"], VERIFICATION, path, line, "verified")] += 1
        out[name] = counts
    return out


def _level(value: str, path: Path, line: int) -> int:
    try:
        level = int(value)
    except ValueError:
        raise InputError(
            "level is not an integer", path=str(path), line=line, field="level"
        ) from None
    if not 1 <= level <= 3:
        raise InputError("level must be 1, 2 or 3", path=str(path), line=line, field="level")
    return level


class _Targets:
    """Resolves a target token: a drug id or ``atc:PREFIX`` (every drug whose ATC starts so)."""

    def __init__(self, drugs: list[DrugEntry], index: dict[str, int]) -> None:
        self.drugs = drugs
        self.index = index

    def expand(self, token: str, path: Path, line: int, col: str) -> list[int]:
        if token.startswith("atc:"):
            prefix = token[4:]
            hits = [i for i, d in enumerate(self.drugs) if d.atc.startswith(prefix)]
            if not hits:
                raise InputError(
                    f"ATC prefix {prefix!r} matches no drug", path=str(path), line=line, field=col
                )
            return hits
        if token not in self.index:
            raise InputError(f"unknown drug {token!r}", path=str(path), line=line, field=col)
        return [self.index[token]]


def load_knowledge(data_dir: Path | None = None) -> Knowledge:
    """Load and validate every data file; errors name the file, line and field."""
    root = data_dir or DATA_DIR
    p = root / "sources.csv"
    sources = {
        r["source_id"]: Source(r["source_id"], r["citation"], r["url"], r["licence"], r["verified"])
        for _, r in _rows(p, ("source_id", "citation", "url", "licence", "verified"))
    }

    p = root / "drugs.csv"
    drugs: list[DrugEntry] = []
    drug_index: dict[str, int] = {}
    for line, r in _rows(p, ("drug_id", "name_en", "name_ko", "atc", "source")):
        _check_source(sources, r["source"], p, line)
        if r["drug_id"] in drug_index:
            raise InputError("duplicate drug_id", path=str(p), line=line, field="drug_id")
        drug_index[r["drug_id"]] = len(drugs)
        aliases = tuple(a.strip() for a in r.get("aliases", "").split("|") if a.strip())
        drugs.append(DrugEntry(r["drug_id"], r["name_en"], r["name_ko"], r["atc"], aliases))

    p = root / "foods.csv"
    foods: list[FoodEntry] = []
    food_index: dict[str, int] = {}
    for line, r in _rows(p, ("food_id", "name_en", "name_ko", "category", "source")):
        _check_source(sources, r["source"], p, line)
        if r["food_id"] in food_index:
            raise InputError("duplicate food_id", path=str(p), line=line, field="food_id")
        food_index[r["food_id"]] = len(foods)
        aliases = tuple(a.strip() for a in r.get("aliases", "").split("|") if a.strip())
        foods.append(FoodEntry(r["food_id"], r["name_en"], r["name_ko"], r["category"], aliases))

    targets = _Targets(drugs, drug_index)
    prop_cols = ("property", "level", "source", "locator", "verified")

    p = root / "drug_properties.csv"
    drug_props = np.zeros((len(drugs), len(DRUG_PROPERTIES)), dtype=np.int8)
    drug_prop_cited: dict[tuple[int, str], Cited] = {}
    for line, r in _rows(p, ("drug_id", *prop_cols)):
        _check_source(sources, r["source"], p, line)
        (di,) = targets.expand(r["drug_id"], p, line, "drug_id")
        prop = _choice(r["property"], DRUG_PROPERTIES, p, line, "property")
        if (di, prop) in drug_prop_cited:
            raise InputError("duplicate property row", path=str(p), line=line, field="property")
        drug_props[di, DRUG_PROPERTIES.index(prop)] = _level(r["level"], p, line)
        drug_prop_cited[(di, prop)] = _cited(r, p, line)

    p = root / "food_properties.csv"
    food_props = np.zeros((len(foods), len(FOOD_PROPERTIES)), dtype=np.int8)
    certainty = np.ones((len(foods), len(FOOD_PROPERTIES)), dtype=np.float32)
    food_prop_cited: dict[tuple[int, str], Cited] = {}
    for line, r in _rows(p, ("food_id", *prop_cols)):
        _check_source(sources, r["source"], p, line)
        if r["food_id"] not in food_index:
            raise InputError("unknown food", path=str(p), line=line, field="food_id")
        fi = food_index[r["food_id"]]
        prop = _choice(r["property"], FOOD_PROPERTIES, p, line, "property")
        if (fi, prop) in food_prop_cited:
            raise InputError("duplicate property row", path=str(p), line=line, field="property")
        col = FOOD_PROPERTIES.index(prop)
        food_props[fi, col] = _level(r["level"], p, line)
        if r["source"] in ANALOGY_SOURCES:
            certainty[fi, col] = 0.5
        food_prop_cited[(fi, prop)] = _cited(r, p, line)

    mechanisms = tomllib.loads((root / "mechanisms.toml").read_text(encoding="utf-8"))
    known_food = list(_load_food_interactions(root, sources, targets, food_index, mechanisms))
    known_drug = list(_load_drug_interactions(root, sources, targets, mechanisms))
    outside: dict[str, int] = {}
    known_drug.extend(_load_onc(root, sources, drug_index, outside))
    controls = list(_load_controls(root, sources, drug_index, food_index))
    criteria = list(_load_criteria(root, sources, targets))

    p = root / "anticholinergic.csv"
    acb = np.zeros(len(drugs), dtype=np.int8)
    acb_cited: dict[int, Cited] = {}
    for line, r in _rows(p, ("drug_id", "points", "source", "locator", "verified")):
        _check_source(sources, r["source"], p, line)
        (di,) = targets.expand(r["drug_id"], p, line, "drug_id")
        if di in acb_cited:
            raise InputError("duplicate drug", path=str(p), line=line, field="drug_id")
        acb[di] = _level(r["points"], p, line)
        acb_cited[di] = _cited(r, p, line)

    return Knowledge(
        sources=sources,
        drugs=drugs,
        foods=foods,
        drug_index=drug_index,
        food_index=food_index,
        drug_props=drug_props,
        food_props=food_props,
        food_prop_certainty=certainty,
        drug_prop_cited=drug_prop_cited,
        food_prop_cited=food_prop_cited,
        known_food=known_food,
        known_drug=known_drug,
        controls=controls,
        criteria=criteria,
        anticholinergic=acb,
        anticholinergic_cited=acb_cited,
        mechanisms=mechanisms,
        outside_vocabulary=outside,
    )


@lru_cache(maxsize=1)
def default_knowledge() -> Knowledge:
    """The bundled knowledge base, loaded once per process (it is read-only)."""
    return load_knowledge()


_INTERACTION_COLS = ("severity", "effect", "mechanism", "source", "locator", "verified")


def _interaction_fields(
    r: dict[str, str], p: Path, line: int, mechanisms: dict[str, Any]
) -> tuple[str, str, str, Cited]:
    severity = _choice(r["severity"], SEVERITIES[1:], p, line, "severity")
    effect = _choice(r["effect"], EFFECTS, p, line, "effect")
    if r["mechanism"] not in mechanisms:
        raise InputError(
            f"mechanism {r['mechanism']!r} has no text in mechanisms.toml",
            path=str(p),
            line=line,
            field="mechanism",
        )
    return severity, effect, r["mechanism"], _cited(r, p, line)


def _load_food_interactions(
    root: Path,
    sources: dict[str, Source],
    targets: _Targets,
    food_index: dict[str, int],
    mechanisms: dict[str, Any],
) -> Iterator[KnownInteraction]:
    p = root / "food_interactions.csv"
    for line, r in _rows(p, ("target", "food_id", *_INTERACTION_COLS)):
        _check_source(sources, r["source"], p, line)
        if r["food_id"] not in food_index:
            raise InputError("unknown food", path=str(p), line=line, field="food_id")
        severity, effect, mechanism, cited = _interaction_fields(r, p, line, mechanisms)
        for di in targets.expand(r["target"], p, line, "target"):
            yield KnownInteraction(
                di, food_index[r["food_id"]], "food", severity, effect, mechanism, cited
            )


def _load_drug_interactions(
    root: Path, sources: dict[str, Source], targets: _Targets, mechanisms: dict[str, Any]
) -> Iterator[KnownInteraction]:
    p = root / "drug_interactions.csv"
    for line, r in _rows(p, ("a", "b", *_INTERACTION_COLS)):
        _check_source(sources, r["source"], p, line)
        severity, effect, mechanism, cited = _interaction_fields(r, p, line, mechanisms)
        for a in targets.expand(r["a"], p, line, "a"):
            for b in targets.expand(r["b"], p, line, "b"):
                if a != b:
                    yield KnownInteraction(a, b, "drug", severity, effect, mechanism, cited)


def _load_onc(
    root: Path, sources: dict[str, Source], drug_index: dict[str, int], outside: dict[str, int]
) -> Iterator[KnownInteraction]:
    """ONC high-priority class pairs, expanded over the members that are in the vocabulary."""
    p = root / "onc_high_priority.csv"
    cols = ("onc_id", "object_members", "precipitant_members", "consequence_en", "consequence_ko")
    for line, r in _rows(p, (*cols, "source", "locator", "verified")):
        _check_source(sources, r["source"], p, line)
        cited = _cited(r, p, line, f"{r['onc_id']}: {r['locator']}")
        seen: set[tuple[int, int]] = set()
        for col in ("object_members", "precipitant_members"):
            unknown = [m for m in r[col].split() if m not in drug_index]
            if unknown:
                raise InputError(
                    f"ONC member(s) not in drugs.csv: {', '.join(unknown)}",
                    path=str(p),
                    line=line,
                    field=col,
                )
        for a_name in r["object_members"].split():
            for b_name in r["precipitant_members"].split():
                a, b = drug_index[a_name], drug_index[b_name]
                key = (min(a, b), max(a, b))
                if a == b or key in seen:
                    continue
                seen.add(key)
                yield KnownInteraction(
                    a,
                    b,
                    "drug",
                    "contraindicated",
                    "toxicity",
                    "onc",
                    cited,
                    consequence=r["consequence_en"],
                    consequence_ko=r["consequence_ko"],
                )


def _load_controls(
    root: Path, sources: dict[str, Source], drug_index: dict[str, int], food_index: dict[str, int]
) -> Iterator[Control]:
    p = root / "controls.csv"
    for line, r in _rows(p, ("a", "b", "kind", "source", "locator", "verified")):
        _check_source(sources, r["source"], p, line)
        kind = _choice(r["kind"], ("food", "drug"), p, line, "kind")
        other = food_index if kind == "food" else drug_index
        if r["a"] not in drug_index:
            raise InputError("unknown drug", path=str(p), line=line, field="a")
        if r["b"] not in other:
            raise InputError(f"unknown {kind}", path=str(p), line=line, field="b")
        cited = _cited(r, p, line)
        yield Control(drug_index[r["a"]], other[r["b"]], kind, cited)


def _load_criteria(
    root: Path, sources: dict[str, Source], targets: _Targets
) -> Iterator[ElderlyCriterion]:
    p = root / "elderly_criteria.csv"
    cols = ("criterion_id", "targets", "min_age", "severity", "summary_en", "summary_ko")
    for line, r in _rows(p, (*cols, "source", "locator", "verified")):
        _check_source(sources, r["source"], p, line)
        members: list[int] = []
        for token in r["targets"].split():
            members.extend(targets.expand(token, p, line, "targets"))
        try:
            min_age = int(r["min_age"])
        except ValueError:
            raise InputError(
                "min_age is not an integer", path=str(p), line=line, field="min_age"
            ) from None
        yield ElderlyCriterion(
            r["criterion_id"],
            tuple(sorted(set(members))),
            min_age,
            _choice(r["severity"], SEVERITIES[1:], p, line, "severity"),
            r["summary_en"],
            r["summary_ko"],
            _cited(r, p, line),
        )
