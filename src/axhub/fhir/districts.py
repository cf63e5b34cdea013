"""The 25 administrative districts of Chuncheon (1 eup, 9 myeon, 15 administrative dong).

Source of the list and the structure: Encyclopedia of Korean Culture (encykorea.aks.ac.kr
E0058016) and the namu-wiki mirrors cited in ``../shared/data/calibration/
korea-chuncheon-facts.md`` §1.3.  Populations carry their own source in ``population_source``;
where no count was found the value is an ASSUMPTION chosen so that the 25 units add up to the
MOIS resident-registration total of 286,069 (Dec 2024, karl5044.tistory.com/m/1316) and the
outlying myeon hold about 3-4 % of residents (calibration file §1.3 generator hint).

``share_65`` is the share of residents aged 65+; sourced for Nam-myeon (50 %) and Buksan-myeon
(54 %) in 2024 (karl5044), the rest ASSUMPTION consistent with the 2021 mean ages of the
myeon (mstoday.co.kr idxno=75488) and chosen so the city total is 21.5 % (2024, karl5044).

``roads`` are road names used to build road-name addresses; ``postal_prefix`` the first three
digits of the 5-digit postcodes.  Both are ILLUSTRATIVE (plausible Chuncheon road names and
the Chuncheon 24xxx postcode range, not verified per district).
"""

from __future__ import annotations

from dataclasses import dataclass

from axhub.errors import NotFoundError

CITY_KO = "춘천시"
CITY_EN = "Chuncheon-si"
STATE_KO = "강원특별자치도"  # Gangwon Special Self-Governing Province since 11 Jun 2023
STATE_EN = "Gangwon-do"
CITY_POPULATION_2024 = 286_069  # MOIS Dec 2024 (karl5044.tistory.com/m/1316)
CITY_SHARE_65_2024 = 0.215  # 61,370 aged 65+ in 2024 (karl5044.tistory.com/m/1316)

ASSUMPTION = "ASSUMPTION (no count found; fills the 2024 total)"


@dataclass(frozen=True)
class District:
    """One eup / myeon / administrative dong of Chuncheon."""

    code: str  # stable axhub code (romanised slug)
    name_ko: str  # Hangul name as written in addresses, e.g. "퇴계동"
    name_en: str  # Revised Romanization, e.g. "Toegye-dong"
    kind: str  # eup | myeon | dong
    urban: bool  # True for the 15 dong (the Chuncheon basin urban area)
    area: str  # urban | suburban | rural
    population: int
    population_source: str
    share_65: float
    share_65_source: str
    roads: tuple[str, ...]
    postal_prefix: str

    @property
    def sourced(self) -> bool:
        """True when the population is a retrieved count rather than an assumption."""
        return not self.population_source.startswith("ASSUMPTION")


_S65 = "ASSUMPTION (consistent with 2021 mean ages; tuned to the 21.5 % city total)"

DISTRICTS: tuple[District, ...] = (
    District("sinbuk-eup", "신북읍", "Sinbuk-eup", "eup", False, "suburban", 11_000,
             ASSUMPTION, 0.27, _S65, ("신북로", "율문길", "맥국길"), "243"),
    District("dong-myeon", "동면", "Dong-myeon", "myeon", False, "suburban", 19_684,
             "19,684 (Jan 2019, kado.net idxno=1009470)", 0.20, _S65,
             ("만천로", "장학길", "순환대로"), "243"),
    District("dongnae-myeon", "동내면", "Dongnae-myeon", "myeon", False, "suburban", 18_000,
             "~18,000 (2024, karl5044.tistory.com/m/1316)", 0.15, _S65,
             ("거두길", "신촌길", "학곡길"), "244"),
    District("dongsan-myeon", "동산면", "Dongsan-myeon", "myeon", False, "rural", 1_500,
             ASSUMPTION, 0.42, _S65 + "; mean age 57.5 in 2021 (mstoday idxno=75488)",
             ("조양길", "원창길"), "244"),
    District("sindong-myeon", "신동면", "Sindong-myeon", "myeon", False, "rural", 2_300,
             ASSUMPTION, 0.36, _S65, ("김유정로", "증리길"), "244"),
    District("nam-myeon", "남면", "Nam-myeon", "myeon", False, "rural", 1_076,
             "1,076 (namu mirror, undated)", 0.50,
             "50 % (2024, karl5044.tistory.com/m/1316)", ("가정길", "발산길"), "244"),
    District("namsan-myeon", "남산면", "Namsan-myeon", "myeon", False, "rural", 1_700,
             ASSUMPTION, 0.40, _S65 + "; mean age 56.1 in 2021 (mstoday idxno=75488)",
             ("강촌로", "방곡길"), "244"),
    District("seo-myeon", "서면", "Seo-myeon", "myeon", False, "rural", 2_300,
             ASSUMPTION, 0.33, _S65, ("박사로", "금산길"), "242"),
    District("sabuk-myeon", "사북면", "Sabuk-myeon", "myeon", False, "rural", 1_300,
             ASSUMPTION, 0.45, _S65, ("화악지암길", "오탄길"), "242"),
    District("buksan-myeon", "북산면", "Buksan-myeon", "myeon", False, "rural", 945,
             "945 (2024, karl5044.tistory.com/m/1316)", 0.54,
             "54 % (2024, karl5044.tistory.com/m/1316)", ("추곡길", "청평길"), "242"),
    District("gyo-dong", "교동", "Gyo-dong", "dong", True, "urban", 5_500,
             ASSUMPTION, 0.28, _S65, ("교동길", "중앙로"), "242"),
    District("joun-dong", "조운동", "Joun-dong", "dong", True, "urban", 3_000,
             ASSUMPTION + "; smallest dong in 2024 (karl5044)", 0.30, _S65,
             ("조운길", "낙원길"), "242"),
    District("yaksamyeong-dong", "약사명동", "Yaksamyeong-dong", "dong", True, "urban", 7_500,
             ASSUMPTION, 0.27, _S65, ("약사길", "영서로"), "242"),
    District("geunhwa-dong", "근화동", "Geunhwa-dong", "dong", True, "urban", 7_000,
             ASSUMPTION, 0.24, _S65, ("근화길", "공지로"), "242"),
    District("soyang-dong", "소양동", "Soyang-dong", "dong", True, "urban", 9_243,
             "9,243 (Feb 2022, Korean Wikipedia mirror)", 0.27, _S65,
             ("소양로", "봉의산길"), "242"),
    District("hupyeong1-dong", "후평1동", "Hupyeong 1-dong", "dong", True, "urban", 15_063,
             "ASSUMPTION: legal-dong Hupyeong 1-3 49,012 (Oct 2019, namu.live/b/city/972654) "
             "minus Hupyeong 2- and 3-dong counts", 0.22, _S65,
             ("후석로", "동부로"), "243"),
    District("hupyeong2-dong", "후평2동", "Hupyeong 2-dong", "dong", True, "urban", 15_320,
             "15,320 (Jan 2019, kado.net idxno=1009470)", 0.23, _S65,
             ("후평로", "동내로"), "243"),
    District("hupyeong3-dong", "후평3동", "Hupyeong 3-dong", "dong", True, "urban", 18_629,
             "18,629 (Apr 2018, kado.net idxno=913106)", 0.21, _S65,
             ("공단로", "후석로"), "243"),
    District("hyoja1-dong", "효자1동", "Hyoja 1-dong", "dong", True, "urban", 5_500,
             ASSUMPTION, 0.27, _S65, ("효자로", "춘천로"), "242"),
    District("hyoja2-dong", "효자2동", "Hyoja 2-dong", "dong", True, "urban", 8_500,
             ASSUMPTION, 0.22, _S65, ("효자로", "백령로"), "242"),
    District("hyoja3-dong", "효자3동", "Hyoja 3-dong", "dong", True, "urban", 6_492,
             ASSUMPTION, 0.24, _S65, ("효석로", "안마산로"), "242"),
    District("seoksa-dong", "석사동", "Seoksa-dong", "dong", True, "urban", 38_373,
             "38,373 (Apr 2018, kado.net idxno=913106)", 0.19, _S65,
             ("석사로", "스포츠타운길", "남춘로"), "244"),
    District("toegye-dong", "퇴계동", "Toegye-dong", "dong", True, "urban", 46_822,
             "46,822 (2024, karl5044.tistory.com/m/1316)", 0.17, _S65,
             ("퇴계로", "남춘로", "충혼길"), "244"),
    District("gangnam-dong", "강남동", "Gangnam-dong", "dong", True, "urban", 17_043,
             "17,043 (Jan 2019, kado.net idxno=1009470)", 0.21, _S65,
             ("영서로", "송암로"), "244"),
    District("sinsau-dong", "신사우동", "Sinsau-dong", "dong", True, "urban", 22_279,
             "22,279 (end Feb 2022/23, kwnews.co.kr aid=221030900139)", 0.19, _S65,
             ("신사우로", "소양강로", "우석로"), "242"),
)  # fmt: skip

BY_CODE: dict[str, District] = {d.code: d for d in DISTRICTS}
BY_NAME_KO: dict[str, District] = {d.name_ko: d for d in DISTRICTS}


def district(key: str) -> District:
    """Look a district up by code or Hangul name; unknown names fail with suggestions."""
    found = BY_CODE.get(key) or BY_NAME_KO.get(key)
    if found is None:
        import difflib

        names = [*BY_CODE, *BY_NAME_KO]
        raise NotFoundError(
            f"unknown Chuncheon district {key!r}",
            suggestions=difflib.get_close_matches(key, names, n=3) or sorted(BY_CODE)[:5],
        )
    return found


def total_population() -> int:
    """Sum of the 25 district populations (equals the 2024 MOIS total)."""
    return sum(d.population for d in DISTRICTS)
