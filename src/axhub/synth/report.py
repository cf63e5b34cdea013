"""Calibration report: achieved figures of a generated region next to their targets."""

from __future__ import annotations

from typing import Any

import numpy as np

from axhub.fhir.districts import DISTRICTS
from axhub.synth import calibration as cal
from axhub.synth.health import band_index
from axhub.synth.outcomes import HORIZON_YEARS
from axhub.synth.population import Columns
from axhub.synth.sites import SITES


def _r(x: float) -> float:
    return round(float(x), 4)


def _mean(values: np.ndarray) -> float | None:
    """Rounded mean, None for an empty selection (tiny regions)."""
    return round(float(values.mean()), 4) if len(values) else None


def achieved(h: Columns, p: Columns, key: str, sex: str, lo: int, hi: int) -> float:
    """Share of people of ``sex`` ("male", "female", "all") aged lo..hi with ``key``."""
    age = p["age"]
    mask = (age >= lo) & (age <= hi)
    if sex != "all":
        mask &= p["male"] == (sex == "male")
    return float(h[key][mask].mean()) if mask.any() else float("nan")  # nan: no one in range


def prescribing_report(p: Columns, h: Columns, plan: Columns) -> dict[str, Any]:
    """Achieved prescribing figures next to the cited rates they are drawn from (records.py)."""
    from axhub.synth import records as rx

    n = len(p["age"])
    per_person = np.bincount(plan["person"], minlength=n)
    old = p["age"] >= 65

    def people_on(keys: tuple[str, ...]) -> np.ndarray:
        on = np.zeros(n, dtype=bool)
        on[plan["person"][np.isin(plan["drug"], [rx.DRUG_INDEX[k] for k in keys])]] = True
        return on

    treated = h["bp_treated"]
    classes = {
        "A": people_on(("losartan", "telmisartan")),
        "C": people_on(("amlodipine",)),
        "D": people_on(("hydrochlorothiazide",)),
        "B": people_on(("bisoprolol",)),
    }
    n_classes = np.sum([c.astype(int) for c in classes.values()], axis=0)
    noac = people_on(("apixaban", "rivaroxaban", "edoxaban"))
    oac = h["oac"]
    return {
        "polypharmacy_65": {
            "target": rx.POLYPHARMACY_65.value,
            "achieved": _mean(per_person[old] >= 5),
            "source": rx.POLYPHARMACY_65.source,
            "note": "national share of people 65+ with a claim on >= 5 medicines for >= 90 days; "
            "the region models few conditions, so this is a known gap, not a target",
        },
        "antihypertensive_classes": {
            name: {
                "target": rx.HTN_CLASS_SHARE[letter],
                "achieved": _mean(classes[letter][treated]) if treated.any() else None,
            }
            for letter, name in (
                ("A", "arb"),
                ("C", "ccb"),
                ("D", "thiazide"),
                ("B", "beta_blocker"),
            )
        }
        | {
            "two_or_more": {
                "target": rx.HTN_COMBINATION.value,
                "achieved": _mean(n_classes[treated] >= 2) if treated.any() else None,
            },
            "source": rx.HTN_FACT_SHEET,
        },
        "noac_among_anticoagulated": {
            "target": rx.NOAC_SHARE.value,
            "achieved": _mean(noac[oac]) if oac.any() else None,
            "source": rx.NOAC_SHARE.source,
        },
    }


def calibration_report(
    p: Columns,
    h: Columns,
    events: Columns,
    visits: Columns,
    risk: Columns,
    plan: Columns | None = None,
) -> dict[str, Any]:
    n = len(p["age"])
    age = p["age"]
    counts = np.bincount(p["district"], minlength=len(DISTRICTS))
    total_pop = sum(d.population for d in DISTRICTS)
    districts = [
        {
            "code": d.code,
            "name_ko": d.name_ko,
            "kind": d.kind,
            "target_share": _r(d.population / total_pop),
            "achieved_share": _r(counts[i] / n),
            "people": int(counts[i]),
            "population_sourced": d.sourced,
            "target_share_65": d.share_65,
            "achieved_share_65": _mean(age[p["district"] == i] >= 65) if counts[i] else None,
        }
        for i, d in enumerate(DISTRICTS)
    ]
    band = band_index(age)
    prevalence: dict[str, Any] = {}
    for key, target in cal.PREVALENCE.items():
        rows = []
        for b, label in enumerate(cal.PREV_BAND_LABELS):
            for sex, tgt in (("male", target.male[b]), ("female", target.female[b])):
                mask = (band == b) & (p["male"] == (sex == "male"))
                rows.append(
                    {
                        "band": label,
                        "sex": sex,
                        "target": tgt,
                        "n": int(mask.sum()),
                        "achieved": _mean(h[key][mask]) if mask.any() else None,
                    }
                )
        adult = age >= 19
        prevalence[key] = {
            "basis": target.basis,
            "bands": rows,
            "adult_male": _mean(h[key][adult & p["male"]]) if n else None,
            "adult_female": _mean(h[key][adult & ~p["male"]]) if n else None,
            "national_headline_age_standardised": cal.HEADLINE_2023.get(key),
        }
    fpg, a1c = h["fasting_glucose"], h["hba1c"]
    derived = {
        **h,
        # Prediabetes as in KNHANES 2011 (people without diabetes): FPG 100-125 mg/dL; or FPG
        # 100-125 or HbA1c 5.7-6.4 %.
        "prediabetes_fpg": ~h["diabetes"] & (fpg >= 100) & (fpg < 126),
        "prediabetes_fpg_or_a1c": ~h["diabetes"]
        & (((fpg >= 100) & (fpg < 126)) | ((a1c >= 5.7) & (a1c < 6.5))),
    }
    anchors = []
    for key, sex, lo, hi, tgt, tol, source in cal.ANCHORS:
        got = achieved(derived, p, key, sex, lo, hi)
        anchors.append(
            {
                "indicator": key,
                "sex": sex,
                "ages": f"{lo}-{hi}",
                "target": tgt,
                "achieved": _r(got),
                "tolerance": tol,
                "ok": bool(abs(got - tgt) <= tol),
                "source": source,
            }
        )
    htn = h["hypertension"]
    dm = h["diabetes"]
    names, freq = np.unique(events["event"], return_counts=True)
    ev_counts = {str(k): int(v) for k, v in zip(names, freq, strict=True)}
    stroke_rate = ev_counts.get("stroke", 0) / n / HORIZON_YEARS * 1e5
    pairs = np.unique(visits["person"] * len(SITES) + visits["site"])
    sites_per_person = np.bincount(np.bincount(pairs // len(SITES), minlength=n), minlength=4)
    site_people = np.bincount(pairs % len(SITES), minlength=len(SITES))
    site_records = np.bincount(visits["site"], minlength=len(SITES))
    return {
        "people": n,
        "share_65": {"target": cal.SHARE_65_TARGET, "achieved": _mean(age >= 65)},
        "male_share": {"target": cal.MALE_SHARE_TARGET, "achieved": _mean(p["male"])},
        "districts": districts,
        "prevalence": prevalence,
        "anchors": anchors,
        "care_cascade": {
            "hypertension_treated": {
                "target": cal.HTN_TREATED,
                "achieved": _mean(h["bp_treated"][htn]),
            },
            "hypertension_controlled": {
                "target": cal.HTN_CONTROLLED,
                "achieved": _mean((h["bp_treated"] & (h["sbp"] < 140) & (h["dbp"] < 90))[htn]),
            },
            "diabetes_treated": {
                "target": cal.DM_TREATED,
                "achieved": _mean(h["diabetes_treated"][dm]),
            },
            "diabetes_hba1c_lt_6_5": {
                "target": cal.DM_HBA1C_LT65,
                "achieved": _mean(h["hba1c"][dm] < 6.5),
            },
        }
        if htn.any() and dm.any()
        else {},
        "mean_bp_adults": {
            sex: {
                "sbp": _mean(h["sbp"][(age >= 20) & (p["male"] == (sex == "male"))]),
                "dbp": _mean(h["dbp"][(age >= 20) & (p["male"] == (sex == "male"))]),
            }
            for sex in ("male", "female")
        }
        | {
            "reference": "2013-14 KNHANES men 120.2/78.5, women 116.0/73.2 (Yonsei Med J "
            "2018;59:356), a younger population"
        },
        "events_5y": ev_counts,
        "stroke_incidence_per_100k_year": {
            "target": cal.STROKE_CRUDE_PER_100K,
            "achieved": round(stroke_rate, 1),
            "source": "KDCA 2022 (naeil.com/news/read/533733)",
        },
        "sites_per_person": {str(i): int(c) for i, c in enumerate(sites_per_person) if i},
        "people_per_site": {s: int(site_people[i]) for i, s in enumerate(SITES)},
        "patient_records_per_site": {s: int(site_records[i]) for i, s in enumerate(SITES)},
        "mean_prevent_stroke_10y_adults": _mean(risk["prevent_stroke_10y"][age >= 30])
        if (age >= 30).any()
        else None,
    } | ({"prescribing": prescribing_report(p, h, plan)} if plan is not None else {})


def format_report(rep: dict[str, Any]) -> str:
    """Human-readable summary of the calibration report."""
    lines = [
        f"people {rep['people']:,}  65+ {rep['share_65']['achieved']:.1%} "
        f"(target {rep['share_65']['target']:.1%})  male {rep['male_share']['achieved']:.1%} "
        f"(target {rep['male_share']['target']:.1%})",
        "prevalence by band (achieved / target), men | women:",
    ]
    for key, block in rep["prevalence"].items():
        cells = []
        for row_m, row_f in zip(block["bands"][0::2], block["bands"][1::2], strict=True):
            am = row_m["achieved"]
            af = row_f["achieved"]
            men = f"{_pct(am)}/{_pct(row_m['target'])}"
            women = f"{_pct(af)}/{_pct(row_f['target'])}"
            cells.append(f"{row_m['band']} {men}|{women}")
        lines.append(f"  {key:<20} " + "  ".join(cells))
        head = block.get("national_headline_age_standardised")
        if head:
            lines.append(
                f"  {'':<20} adults (crude) men {_pct(block['adult_male'])} women "
                f"{_pct(block['adult_female'])}; national headline 2023 (age-standardised) "
                f"men {_pct(head[0])} women {_pct(head[1])}"
            )
    lines.append("sourced anchors:")
    for a in rep["anchors"]:
        mark = "ok " if a["ok"] else "OFF"
        lines.append(
            f"  [{mark}] {a['indicator']} {a['sex']} {a['ages']}: {a['achieved']:.1%} vs "
            f"{a['target']:.1%} ±{a['tolerance']:.1%} ({a['source']})"
        )
    s = rep["stroke_incidence_per_100k_year"]
    lines.append(
        f"stroke incidence {s['achieved']}/100k/y (target {s['target']}); "
        f"5-year events {rep['events_5y']}"
    )
    lines.append("districts (achieved share / target share):")
    for d in rep["districts"]:
        lines.append(
            f"  {d['name_ko']:<6} {d['achieved_share']:.2%} / {d['target_share']:.2%}"
            f"  65+ {_pct(d['achieved_share_65'])} / {d['target_share_65']:.0%}"
        )
    lines.append(
        f"people per site {rep['people_per_site']}; sites per person {rep['sites_per_person']}"
    )
    rx = rep.get("prescribing")
    if rx:
        poly = rx["polypharmacy_65"]
        lines.append(
            f"65+ on 5 or more medicines {_pct(poly['achieved'])}% (national claims "
            f"{_pct(poly['target'])}%: the region models fewer conditions)"
        )
    return "\n".join(lines)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.1f}"
