"""People of the region: district, age, sex, birth date, Hangul name, phone, road-name address.

Every column is a NumPy array over all people; nothing loops per person.
"""

from __future__ import annotations

import numpy as np

from axhub.fhir.districts import DISTRICTS
from axhub.synth import calibration as cal
from axhub.synth.names import NameTables

BASELINE = np.datetime64("2025-01-01", "D")  # index date: records before, events after
DAYS_PER_YEAR = 365.2425

Columns = dict[str, np.ndarray]


def _band_probs_for_district(share_65: float) -> np.ndarray:
    """Age-band probabilities of one district: the city pyramid rescaled to its 65+ share."""
    shares = np.array([b[2] for b in cal.AGE_BANDS])
    old = np.array([b[0] >= 65 for b in cal.AGE_BANDS])
    young_total = shares[~old].sum()
    old_total = shares[old].sum()
    p = np.where(old, shares / old_total * share_65, shares / young_total * (1 - share_65))
    return p / p.sum()


def _male_share(age: np.ndarray) -> np.ndarray:
    cuts = np.array([a for a, _ in cal.MALE_SHARE_BY_AGE])
    vals = np.array([v for _, v in cal.MALE_SHARE_BY_AGE])
    return vals[np.searchsorted(cuts, age, side="right") - 1]


def digits(values: np.ndarray, width: int) -> np.ndarray:
    """Non-negative integers as zero-padded strings (empty input → empty string array)."""
    if len(values) == 0:
        return np.zeros(0, dtype=f"<U{width}")
    return np.char.zfill(np.asarray(values).astype(str), width)


def draw_people(rng: np.random.Generator, n: int, names: NameTables) -> Columns:
    """Draw ``n`` people with true demographics (before any site noise)."""
    pops = np.array([d.population for d in DISTRICTS], dtype=float)
    district = rng.choice(len(DISTRICTS), size=n, p=pops / pops.sum())

    band = np.zeros(n, dtype=np.int64)
    u_band = rng.random(n)
    for di, d in enumerate(DISTRICTS):
        mask = district == di
        cdf = np.cumsum(_band_probs_for_district(d.share_65))
        band[mask] = np.minimum(np.searchsorted(cdf, u_band[mask], side="right"), len(cdf) - 1)
    lo = np.array([b[0] for b in cal.AGE_BANDS])[band]
    hi = np.array([b[1] for b in cal.AGE_BANDS])[band]
    # Uniform within each band, except 85+ where survival thins the oldest years
    # (geometric weights 0.8 per year: ASSUMPTION).
    u_age = rng.random(n)
    age = lo + np.floor(u_age * (hi - lo + 1)).astype(np.int64)
    oldest = lo >= 85
    if oldest.any():
        w = 0.8 ** np.arange(20)
        cdf = np.cumsum(w / w.sum())
        age[oldest] = 85 + np.searchsorted(cdf, u_age[oldest], side="right")
    male = rng.random(n) < _male_share(age)

    # Birth date: age completed years at BASELINE plus a uniform fraction of a year.
    days = np.floor((age + rng.random(n)) * DAYS_PER_YEAR).astype(np.int64) + 1
    birth = BASELINE - days.astype("timedelta64[D]")
    age = np.floor((BASELINE - birth).astype(np.int64) / DAYS_PER_YEAR).astype(np.int64)
    birth_year = birth.astype("datetime64[Y]").astype(np.int64) + 1970

    surname = names.draw_surnames(rng, n)
    given = names.draw_given(rng, birth_year, male)

    phone = draw_phones(rng, n)
    road, number, detail, postal = draw_addresses(rng, district)
    return {
        "district": district,
        "age": age,
        "male": male,
        "birth_date": birth,
        "surname": surname,
        "given": given,
        "phone": phone,
        "road": road,
        "number": number,
        "detail": detail,
        "postal": postal,
    }


def draw_phones(rng: np.random.Generator, n: int) -> np.ndarray:
    mid = digits(rng.integers(2000, 10000, n), 4)
    last = digits(rng.integers(0, 10000, n), 4)
    return np.char.add(np.char.add(np.char.add("010-", mid), "-"), last).astype(object)


def draw_addresses(
    rng: np.random.Generator, district: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Road name, building number, apartment detail ('' if none) and postcode per person."""
    n = len(district)
    road = np.empty(n, dtype=object)
    postal = np.empty(n, dtype=object)
    u = rng.random(n)
    pc_suffix = digits(rng.integers(0, 100, n), 2)
    urban = np.zeros(n, dtype=bool)
    for di, d in enumerate(DISTRICTS):
        mask = district == di
        roads = np.array(d.roads, dtype=object)
        road[mask] = roads[np.floor(u[mask] * len(roads)).astype(np.int64)]
        postal[mask] = np.char.add(d.postal_prefix, pc_suffix[mask]).astype(object)
        urban[mask] = d.urban
    number = (1 + rng.geometric(0.02, n)).clip(1, 400)
    # Apartment detail for 60 % of urban residents (ASSUMPTION; Chuncheon dong are apartment-heavy).
    apt = urban & (rng.random(n) < 0.6)
    dong = rng.integers(101, 116, n).astype(str)
    ho = (rng.integers(1, 16, n) * 100 + rng.integers(1, 5, n)).astype(str)
    detail = np.where(apt, np.char.add(np.char.add(np.char.add(dong, "동 "), ho), "호"), "").astype(
        object
    )
    return road, number, detail, postal
