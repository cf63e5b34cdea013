"""The four sites, who visits which, and each site's own (imperfect) copy of demographics.

Visit rules and discrepancy rates are ASSUMPTIONS (no source gives them); they are written
into the manifest so that linkage results can be judged against them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from axhub.fhir.districts import DISTRICTS
from axhub.synth.names import NameTables
from axhub.synth.population import Columns, draw_addresses, draw_phones

SITES = ("knuh", "hallym", "phc", "clinics")


@dataclass(frozen=True)
class Org:
    """An Organization (and its main Location) of one site."""

    id: str
    site: str
    name_ko: str
    name_en: str
    district: str  # Hangul district name of its address
    road: str


ORGS: tuple[Org, ...] = (
    # Address: 156 Baengnyeong-ro (knuh.or.kr); Hallym Chuncheon Sacred Heart (hallym.or.kr).
    Org(
        "knuh",
        "knuh",
        "강원대학교병원",
        "Kangwon National University Hospital",
        "효자3동",
        "백령로 156",
    ),
    Org(
        "hallym",
        "hallym",
        "한림대학교 춘천성심병원",
        "Hallym University Chuncheon Sacred Heart Hospital",
        "교동",
        "삭주로 77",
    ),
    Org(
        "phc", "phc", "춘천시보건소", "Chuncheon City Public Health Center", "근화동", "영서로 2125"
    ),
    # Private clinics: FICTIONAL names and addresses.
    Org(
        "clinic-01",
        "clinics",
        "봄내내과의원",
        "Bomnae Internal Medicine Clinic",
        "퇴계동",
        "퇴계로 101",
    ),
    Org(
        "clinic-02",
        "clinics",
        "소양가정의학과의원",
        "Soyang Family Medicine Clinic",
        "소양동",
        "소양로 55",
    ),
    Org("clinic-03", "clinics", "석사연합의원", "Seoksa United Clinic", "석사동", "석사로 80"),
    Org(
        "clinic-04",
        "clinics",
        "후평내과의원",
        "Hupyeong Internal Medicine Clinic",
        "후평2동",
        "후평로 30",
    ),
    Org("clinic-05", "clinics", "온의신경과의원", "Onui Neurology Clinic", "강남동", "영서로 1900"),
    Org("clinic-06", "clinics", "우두가정의원", "Udu Family Clinic", "신사우동", "신사우로 45"),
    Org(
        "clinic-07",
        "clinics",
        "명동내과의원",
        "Myeongdong Internal Medicine Clinic",
        "조운동",
        "중앙로 60",
    ),
    Org("clinic-08", "clinics", "효자의원", "Hyoja Clinic", "효자2동", "효자로 120"),
)
CLINIC_IDS = tuple(o.id for o in ORGS if o.site == "clinics")

# Public-health branch posts, one per eup/myeon.  Dong-myeon and Namsan-myeon branches are
# sourced (health-promotion branches; chuncheon.go.kr press release nttId=500326); the others
# are ASSUMPTION (the real network had 4 branches + 11 posts in 2013).
BRANCH_DISTRICTS = tuple(i for i, d in enumerate(DISTRICTS) if d.kind != "dong")


def branch_location_id(district_index: int) -> str:
    return f"phc-{DISTRICTS[district_index].code}"


def branch_name(district_index: int) -> str:
    d = DISTRICTS[district_index]
    kind = "보건지소" if d.code in ("dong-myeon", "namsan-myeon", "sinbuk-eup") else "보건진료소"
    return f"{d.name_ko} {kind}"


# Discrepancy rates of each site's copy of demographics (ASSUMPTION).
DISCREPANCY_RATES: dict[str, dict[str, float]] = {
    "knuh": {
        "romanised_name": 0.02,
        "name_typo": 0.01,
        "birth_date_typo": 0.005,
        "old_address": 0.08,
        "old_phone": 0.10,
        "missing_phone": 0.02,
        "missing_address": 0.01,
    },
    "hallym": {
        "romanised_name": 0.06,
        "name_typo": 0.015,
        "birth_date_typo": 0.008,
        "old_address": 0.10,
        "old_phone": 0.12,
        "missing_phone": 0.03,
        "missing_address": 0.02,
    },
    "phc": {
        "romanised_name": 0.005,
        "name_typo": 0.02,
        "birth_date_typo": 0.01,
        "old_address": 0.05,
        "old_phone": 0.15,
        "missing_phone": 0.10,
        "missing_address": 0.01,
    },
    "clinics": {
        "romanised_name": 0.04,
        "name_typo": 0.03,
        "birth_date_typo": 0.01,
        "old_address": 0.12,
        "old_phone": 0.15,
        "missing_phone": 0.05,
        "missing_address": 0.06,
    },
}
# Share of people given the same name and birth date as another (different) person.
SHARED_NAME_DOB_RATE = 0.003


def assign_visits(rng: np.random.Generator, p: Columns, h: Columns) -> Columns:
    """(person, site) pairs: each person visits 1-3 sites (rules documented in docs/synth.md)."""
    n = len(p["age"])
    area = np.array([d.area for d in DISTRICTS], dtype=object)[p["district"]]
    rural = area == "rural"
    suburban = area == "suburban"
    old = p["age"] >= 65
    chronic = h["hypertension_aware"] | h["diabetes_aware"] | h["dyslipidaemia_aware"]
    severe = h["prior_stroke"] | h["atrial_fibrillation"] | (h["egfr"] < 30)
    u = rng.random((n, 5))
    p_phc = np.where(rural, 0.85, np.where(suburban, 0.35, 0.12)) + 0.1 * old
    p_clinic = np.where(rural, 0.35, 0.6) + 0.25 * chronic
    p_hosp = np.where(severe, 0.95, 0.10 + 0.10 * old + 0.10 * chronic)
    hosp = u[:, 0] < p_hosp
    knuh_first = u[:, 1] < np.where(h["prior_stroke"] | h["atrial_fibrillation"], 0.55, 0.5)
    both = hosp & severe & (u[:, 2] < 0.15)
    visits = np.zeros((n, 4), dtype=bool)
    visits[:, 0] = hosp & (knuh_first | both)
    visits[:, 1] = hosp & (~knuh_first | both)
    visits[:, 2] = u[:, 3] < p_phc
    visits[:, 3] = u[:, 4] < p_clinic
    none = ~visits.any(axis=1)
    visits[none & rural, 2] = True
    visits[none & ~rural, 3] = True
    four = visits.sum(axis=1) > 3
    visits[four & rural, 3] = False
    visits[four & ~rural, 2] = False
    person, site = np.nonzero(visits)
    return {"person": person, "site": site}


# ASSUMPTION: share of clinic users also registered at a second clinic when enabled
# (``generate(..., second_clinic_rate=...)``; off by default because the downstream
# integrated zone keys one Patient per person and site).
SECOND_CLINIC_RATE = 0.10


def add_clinics(rng: np.random.Generator, visits: Columns, second_rate: float = 0.0) -> Columns:
    """Give each ``clinics`` visit a clinic, and a second, different clinic to a few people.

    Adds ``clinic`` (index into CLINIC_IDS, -1 for other sites) and ``primary`` (False only for
    the second clinic record, which does not prescribe).  The same person then has two Patient
    records in the ``clinics`` export, one per clinic, with independent discrepancies.
    """
    site = visits["site"]
    person = visits["person"]
    at_clinic = site == SITES.index("clinics")
    n_clinics = len(CLINIC_IDS)
    clinic = np.where(at_clinic, rng.integers(0, n_clinics, len(site)), -1)
    second = at_clinic & (rng.random(len(site)) < second_rate)
    other = (clinic + rng.integers(1, n_clinics, len(site))) % n_clinics
    out = {
        "person": np.concatenate([person, person[second]]),
        "site": np.concatenate([site, site[second]]),
        "clinic": np.concatenate([clinic, other[second]]),
        "primary": np.concatenate([np.ones(len(site), bool), np.zeros(int(second.sum()), bool)]),
    }
    order = np.lexsort((~out["primary"], out["site"], out["person"]))
    return {k: v[order] for k, v in out.items()}


def site_demographics(
    rng: np.random.Generator, p: Columns, visits: Columns, names: NameTables
) -> Columns:
    """Each visit's copy of the person's demographics with site-specific discrepancies."""
    person = visits["person"]
    site = visits["site"]
    m = len(person)
    rate = {
        k: np.array([DISCREPANCY_RATES[s][k] for s in SITES])[site]
        for k in DISCREPANCY_RATES["knuh"]
    }
    flags = {k: rng.random(m) < r for k, r in rate.items()}

    surname = p["surname"][person]
    given = p["given"][person]
    given_ko = np.where(flags["name_typo"], names.given_typo[given], names.given_ko[given])
    family_ko = names.surname_ko[surname]
    roman = flags["romanised_name"]
    style = rng.integers(0, 3, m)
    alt = rng.random(m) < 0.3
    family_en = np.where(alt, names.surname_alt[surname], names.surname_en[surname])
    given_en = names.given_en[given, style]
    upper = rng.random(m) < 0.3
    text_en = (family_en + " " + given_en).astype(object)
    text_en = np.where(upper, np.char.upper(text_en.astype(str)).astype(object), text_en)
    family = np.where(
        roman, np.where(upper, np.char.upper(family_en.astype(str)), family_en), family_ko
    )
    given_out = np.where(
        roman, np.where(upper, np.char.upper(given_en.astype(str)), given_en), given_ko
    )
    text = np.where(roman, text_en, family_ko + given_ko)

    birth = p["birth_date"][person].copy()
    shift = np.where(rng.random(m) < 0.5, 1, -1) * rng.integers(1, 4, m)
    birth = np.where(flags["birth_date_typo"], birth + shift.astype("timedelta64[D]"), birth)

    phone = p["phone"][person].copy()
    new_phone = draw_phones(rng, m)
    phone = np.where(flags["old_phone"], new_phone, phone)

    district = p["district"][person].copy()
    moved = flags["old_address"]
    other_district = np.where(rng.random(m) < 0.5, rng.choice(len(DISTRICTS), m), district)
    o_road, o_number, o_detail, o_postal = draw_addresses(rng, other_district)
    road = np.where(moved, o_road, p["road"][person])
    number = np.where(moved, o_number, p["number"][person])
    detail = np.where(moved, o_detail, p["detail"][person])
    postal = np.where(moved, o_postal, p["postal"][person])
    district = np.where(moved, other_district, district)
    out: Columns = {
        "text": text,
        "family": family,
        "given": given_out,
        "birth_date": birth,
        "phone": phone,
        "district": district,
        "road": road,
        "number": number,
        "detail": detail,
        "postal": postal,
        "has_phone": ~flags["missing_phone"],
        "has_address": ~flags["missing_address"],
    }
    for k, v in flags.items():
        out[f"flag_{k}"] = v
    return out


def share_name_and_birth_date(rng: np.random.Generator, p: Columns) -> np.ndarray:
    """Give a few people the name and birth date of another person of the same sex.

    Returns the indices of the people changed (the true table keeps the shared values).
    """
    n = len(p["age"])
    k = round(n * SHARED_NAME_DOB_RATE)
    if k == 0 or n < 4:
        return np.zeros(0, dtype=np.int64)
    chosen = rng.choice(n, size=2 * k, replace=False)
    a, b = chosen[:k], chosen[k:]
    same_sex = p["male"][a] == p["male"][b]
    a, b = a[same_sex], b[same_sex]
    for col in ("surname", "given", "birth_date"):
        p[col][a] = p[col][b]
    p["age"][a] = p["age"][b]
    return np.sort(a)


# ASSUMPTION: share of people with a prior stroke whose stroke happened in the record window
# (2022-2024) and was admitted to a university hospital they visit.
RECENT_STROKE_SHARE = 0.4


def stroke_admissions(rng: np.random.Generator, h: Columns, vmatrix: np.ndarray) -> np.ndarray:
    """Per person the SITES index of a stroke admission in the record window, or -1.

    KNUH hosts the regional cardiocerebrovascular centre and Hallym the regional emergency
    centre (calibration file §1.4); a person visiting both is admitted to one (KNUH 55 %,
    ASSUMPTION).
    """
    n = len(vmatrix)
    knuh, hallym = vmatrix[:, SITES.index("knuh")], vmatrix[:, SITES.index("hallym")]
    recent = h["prior_stroke"] & (rng.random(n) < RECENT_STROKE_SHARE)
    prefer_knuh = rng.random(n) < 0.55
    site = np.where(knuh & (prefer_knuh | ~hallym), SITES.index("knuh"),
                    np.where(hallym, SITES.index("hallym"), -1))  # fmt: skip
    return np.where(recent, site, -1)
