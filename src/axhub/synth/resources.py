"""FHIR R4 JSON templates of the resources a site exports (rendered column-wise).

Shapes are documented in docs/synth.md; every reference is relative (``Patient/<id>``).
"""

from __future__ import annotations

import numpy as np
import orjson
import pyarrow as pa

from axhub.fhir import codes
from axhub.fhir.districts import CITY_KO, DISTRICTS, STATE_KO
from axhub.synth import render as r
from axhub.synth.records import CONDITION_KEYS, DRUG_KEYS, QUANTITIES
from axhub.synth.sites import BRANCH_DISTRICTS, ORGS, branch_location_id, branch_name

TZ = "+09:00"  # Korea Standard Time


def _j(value: str) -> str:
    """A Python string as JSON string text (with quotes)."""
    return orjson.dumps(value).decode()


def datetimes(values: np.ndarray) -> pa.Array:
    """ISO date-times with the KST offset."""
    return r.iso_datetimes(values, TZ)


def dates(values: np.ndarray) -> pa.Array:
    return r.iso_dates(values)


def _meta(last_updated: pa.Array) -> list[r.Piece]:
    return [',"meta":{"versionId":"1","lastUpdated":"', last_updated, '"}']


def patients(site: str, cols: dict, last_updated: pa.Array) -> pa.Array:
    """Patient lines.  ``cols`` holds the site copy of demographics (see sites.py)."""
    n = len(cols["id"])
    district_ko = r.pick([d.name_ko for d in DISTRICTS], cols["district"])
    road = r.text(pa.array(cols["road"], pa.string()))
    number = r.integer(cols["number"])
    has_detail = cols["detail"] != ""
    detail = r.optional(has_detail, r.concat([", ", r.text(pa.array(cols["detail"], pa.string()))]))
    detailed = r.concat([number, detail])
    line = r.concat([road, " ", detailed])
    # KR Core road-name address extension (district = city level, roadName, detailedAddress,
    # complements = dong), as in the KR Core Patient examples.
    address = r.concat(
        [
            ',"address":[{"extension":[{"url":"',
            codes.KRCORE_ROAD_NAME_ADDRESS,
            f'","extension":[{{"url":"district","valueString":"{STATE_KO} {CITY_KO}"}},'
            '{"url":"roadName","valueString":"',
            road,
            '"},{"url":"detailedAddress","valueString":"',
            detailed,
            '"},{"url":"complements","valueString":"',
            district_ko,
            f'"}}]}}],"use":"home","type":"physical","text":"{STATE_KO} {CITY_KO} ',
            line,
            " (",
            district_ko,
            ')","line":["',
            line,
            f'"],"city":"{CITY_KO}","district":"',
            district_ko,
            f'","state":"{STATE_KO}","postalCode":"',
            r.raw(cols["postal"]),
            '","country":"KR"}]',
        ]
    )
    telecom = r.concat(
        [',"telecom":[{"system":"phone","value":"', r.raw(cols["phone"]), '","use":"mobile"}]']
    )
    gender = r.pick(["female", "male"], cols["male"].astype(np.int64))
    return (
        r.join(
            [
                '{"resourceType":"Patient","id":"',
                cols["id"],
                '"',
                *_meta(last_updated),
                ',"identifier":[{"type":{"coding":[{"system":"',
                codes.V2_0203,
                '","code":"MR","display":"Medical record number"}]},"system":"',
                codes.MRN_SYSTEM_PREFIX + site,
                '","value":"',
                cols["mrn"],
                '"}],"active":true,',
                '"name":[{"use":"official","text":"',
                r.text(cols["text"]),
                '","family":"',
                r.text(cols["family"]),
                '","given":["',
                r.text(cols["given"]),
                '"]}]',
                r.optional(cols["has_phone"], telecom),
                ',"gender":"',
                gender,
                '","birthDate":"',
                dates(cols["birth_date"]),
                '"',
                r.optional(cols["has_address"], address),
                ',"managingOrganization":{"reference":"Organization/',
                cols["org"],
                '"}}',
            ]
        )
        if n
        else pa.array([], pa.string())
    )


ENCOUNTER_CLASS_FRAGMENTS = [
    f'"class":{{"system":"{codes.V3_ACT_CODE}","code":"AMB","display":"ambulatory"}},'
    '"type":[{"text":"외래 진료 (outpatient visit)"}]',
    f'"class":{{"system":"{codes.V3_ACT_CODE}","code":"IMP","display":"inpatient encounter"}},'
    '"type":[{"text":"입원 (inpatient admission)"}]',
]


def encounters(
    ids: pa.Array,
    patient_ref: pa.Array,
    start: np.ndarray,
    end: np.ndarray,
    location: pa.Array,
    org: pa.Array,
    inpatient: np.ndarray,
) -> pa.Array:
    """Encounter lines: ambulatory visits, or inpatient admissions where ``inpatient``."""
    end_s = datetimes(end)
    return r.join(
        [
            '{"resourceType":"Encounter","id":"',
            ids,
            '"',
            *_meta(end_s),
            ',"status":"finished",',
            r.pick(ENCOUNTER_CLASS_FRAGMENTS, inpatient.astype(np.int64)),
            ',"subject":{"reference":"Patient/',
            patient_ref,
            '"},"period":{"start":"',
            datetimes(start),
            '","end":"',
            end_s,
            '"},"location":[{"location":{"reference":"Location/',
            location,
            '"}}],"serviceProvider":{"reference":"Organization/',
            org,
            '"}}',
        ]
    )


def _category(code: str) -> str:
    display = {
        "vital-signs": "Vital Signs",
        "laboratory": "Laboratory",
        "social-history": "Social History",
        "activity": "Activity",
    }[code]
    return (
        f'"category":[{{"coding":[{{"system":"{codes.OBSERVATION_CATEGORY}","code":"{code}",'
        f'"display":"{display}"}}]}}]'
    )


def _obs_code(key: str) -> str:
    o = codes.OBSERVATIONS[key]
    return (
        f'{_category(o.category)},"code":{{"coding":[{{"system":"{codes.LOINC}","code":"{o.code}",'
        f'"display":{_j(o.display)}}}],"text":{_j(o.display_ko)}}}'
    )


def _unit(key: str) -> str:
    unit = codes.OBSERVATIONS[key].unit
    return f',"unit":{_j(unit)},"system":"{codes.UCUM}","code":{_j(unit)}}}'


QUANTITY_CODE_FRAGMENTS = [_obs_code(q.key) for q in QUANTITIES]
QUANTITY_UNIT_FRAGMENTS = [_unit(q.key) for q in QUANTITIES]


def quantity_observations(
    ids: pa.Array,
    patient_ref: pa.Array,
    encounter_ref: pa.Array | None,
    effective: pa.Array,
    key: np.ndarray,
    value: pa.Array,
    device_ref: pa.Array | None = None,
    keys: list[str] | None = None,
) -> pa.ChunkedArray:
    """Observations with a valueQuantity; ``key`` indexes ``keys`` (default: QUANTITIES).

    Rendered one code at a time (lines grouped by code, in row order within a code) so that
    the long code and unit fragments are literals rather than per-row copies.
    """
    if keys is None:
        code_frags, unit_frags = QUANTITY_CODE_FRAGMENTS, QUANTITY_UNIT_FRAGMENTS
    else:
        code_frags = [_obs_code(k) for k in keys]
        unit_frags = [_unit(k) for k in keys]
    chunks = []
    for k in np.unique(key):
        rows = np.nonzero(key == k)[0]
        idx = pa.array(rows, type=pa.int64())
        device = (
            [',"device":{"reference":"Device/', device_ref.take(idx), '"}']
            if device_ref is not None
            else []
        )
        enc = (
            [',"encounter":{"reference":"Encounter/', encounter_ref.take(idx), '"}']
            if encounter_ref is not None
            else []
        )
        eff = effective.take(idx)
        chunks.append(
            r.join(
                [
                    '{"resourceType":"Observation","id":"',
                    ids.take(idx),
                    '"',
                    *_meta(eff),
                    ',"status":"final",',
                    code_frags[int(k)],
                    ',"subject":{"reference":"Patient/',
                    patient_ref.take(idx),
                    '"}',
                    *enc,
                    ',"effectiveDateTime":"',
                    eff,
                    '"',
                    *device,
                    ',"valueQuantity":{"value":',
                    value.take(idx),
                    unit_frags[int(k)],
                    "}",
                ]
            )
        )
    return pa.chunked_array(chunks, type=pa.string())


def _component(key: str, value: pa.Array) -> list[r.Piece]:
    o = codes.OBSERVATIONS[key]
    return [
        f'{{"code":{{"coding":[{{"system":"{codes.LOINC}","code":"{o.code}",'
        f'"display":{_j(o.display)}}}],"text":{_j(o.display_ko)}}},"valueQuantity":{{"value":',
        value,
        _unit(key),
        "}",
    ]


def bp_observations(
    ids: pa.Array,
    patient_ref: pa.Array,
    encounter_ref: pa.Array | None,
    effective: pa.Array,
    sbp: np.ndarray,
    dbp: np.ndarray,
    device_ref: pa.Array | None = None,
) -> pa.Array:
    enc = (
        [',"encounter":{"reference":"Encounter/', encounter_ref, '"}']
        if encounter_ref is not None
        else []
    )
    device = [',"device":{"reference":"Device/', device_ref, '"}'] if device_ref is not None else []
    return r.join(
        [
            '{"resourceType":"Observation","id":"',
            ids,
            '"',
            *_meta(effective),
            ',"status":"final",',
            _obs_code("bp_panel"),
            ',"subject":{"reference":"Patient/',
            patient_ref,
            '"}',
            *enc,
            ',"effectiveDateTime":"',
            effective,
            '"',
            *device,
            ',"component":[',
            *_component("sbp", r.integer(sbp)),
            ",",
            *_component("dbp", r.integer(dbp)),
            "]}",
        ]
    )


SMOKING_FRAGMENTS = [
    f'"valueCodeableConcept":{{"coding":[{{"system":"{codes.SNOMED}","code":"{c.code}",'
    f'"display":{_j(c.display)}}}],"text":{_j(c.display_ko)}}}'
    for c in (
        codes.SMOKING_STATUS["never"],
        codes.SMOKING_STATUS["former"],
        codes.SMOKING_STATUS["current"],
    )
]


def smoking_observations(
    ids: pa.Array,
    patient_ref: pa.Array,
    encounter_ref: pa.Array,
    effective: pa.Array,
    status: np.ndarray,
) -> pa.Array:
    return r.join(
        [
            '{"resourceType":"Observation","id":"',
            ids,
            '"',
            *_meta(effective),
            ',"status":"final",',
            _obs_code("smoking_status"),
            ',"subject":{"reference":"Patient/',
            patient_ref,
            '"},"encounter":{"reference":"Encounter/',
            encounter_ref,
            '"},"effectiveDateTime":"',
            effective,
            '",',
            r.pick(SMOKING_FRAGMENTS, status),
            "}",
        ]
    )


def _condition_code(key: str) -> str:
    c = codes.CONDITIONS[key]
    return (
        f'"code":{{"coding":[{{"system":"{c.system}","code":"{c.code}",'
        f'"display":{_j(c.display_ko)}}}],"text":{_j(c.display)}}}'
    )


CONDITION_FRAGMENTS = [_condition_code(k) for k in CONDITION_KEYS]


def conditions(
    ids: pa.Array,
    patient_ref: pa.Array,
    encounter_ref: pa.Array,
    recorded: np.ndarray,
    key: np.ndarray,
) -> pa.Array:
    rec = datetimes(recorded)
    return r.join(
        [
            '{"resourceType":"Condition","id":"',
            ids,
            '"',
            *_meta(rec),
            ',"clinicalStatus":{"coding":[{"system":"',
            codes.CONDITION_CLINICAL,
            '","code":"active"}]},"verificationStatus":{"coding":[{"system":"',
            codes.CONDITION_VERIFICATION,
            '","code":"confirmed"}]},"category":[{"coding":[{"system":"',
            codes.CONDITION_CATEGORY,
            '","code":"encounter-diagnosis","display":"Encounter Diagnosis"}]}],',
            r.pick(CONDITION_FRAGMENTS, key),
            ',"subject":{"reference":"Patient/',
            patient_ref,
            '"},"encounter":{"reference":"Encounter/',
            encounter_ref,
            '"},"recordedDate":"',
            rec,
            '"}',
        ]
    )


def _drug(key: str) -> str:
    d = codes.MEDICATIONS[key]
    return (
        f'"medicationCodeableConcept":{{"coding":[{{"system":"{codes.ATC}","code":"{d.atc}",'
        f'"display":{_j(d.name_ko)}}}],"text":{_j(f"{d.name_ko} ({d.name_en})")}}}'
    )


DRUG_FRAGMENTS = [_drug(k) for k in DRUG_KEYS]
DOSE_FRAGMENTS = [
    f'"dosageInstruction":[{{"text":{_j(codes.MEDICATIONS[k].dose_text)}}}]' for k in DRUG_KEYS
]


def medication_requests(
    ids: pa.Array,
    patient_ref: pa.Array,
    encounter_ref: pa.Array,
    authored: np.ndarray,
    drug: np.ndarray,
    active: np.ndarray,
) -> pa.Array:
    when = datetimes(authored)
    return r.join(
        [
            '{"resourceType":"MedicationRequest","id":"',
            ids,
            '"',
            *_meta(when),
            ',"status":"',
            r.pick(["completed", "active"], active.astype(np.int64)),
            '","intent":"order","category":[{"coding":[{"system":"',
            codes.MEDREQ_CATEGORY,
            '","code":"outpatient","display":"Outpatient"}]}],',
            r.pick(DRUG_FRAGMENTS, drug),
            ',"subject":{"reference":"Patient/',
            patient_ref,
            '"},"encounter":{"reference":"Encounter/',
            encounter_ref,
            '"},"authoredOn":"',
            when,
            '",',
            r.pick(DOSE_FRAGMENTS, drug),
            ',"dispenseRequest":{"expectedSupplyDuration":{"value":30,"unit":"일","system":"',
            codes.UCUM,
            '","code":"d"}}}',
        ]
    )


def _address(district_ko: str, road: str) -> dict:
    return {
        "use": "work",
        "text": f"{STATE_KO} {CITY_KO} {road} ({district_ko})",
        "line": [road],
        "city": CITY_KO,
        "district": district_ko,
        "state": STATE_KO,
        "country": "KR",
    }


def organizations(site: str) -> bytes:
    """Organization lines of one site (a handful; orjson is fine here)."""
    lines = []
    for o in ORGS:
        if o.site != site:
            continue
        res = {
            "resourceType": "Organization",
            "id": o.id,
            "meta": {"versionId": "1", "lastUpdated": "2024-12-31T00:00:00+09:00"},
            "active": True,
            "type": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/organization-type",
                            "code": "prov",
                            "display": "Healthcare Provider",
                        }
                    ]
                }
            ],
            "name": o.name_ko,
            "alias": [o.name_en],
            "address": [_address(o.district, o.road)],
        }
        lines.append(orjson.dumps(res))
    return b"".join(line + b"\n" for line in lines)


def location_ids(site: str) -> list[str]:
    ids = [f"{o.id}-main" for o in ORGS if o.site == site]
    if site == "phc":
        ids += [branch_location_id(i) for i in BRANCH_DISTRICTS]
    return ids


def locations(site: str) -> bytes:
    """Location lines: each organization's main site; the health centre's branch posts."""
    rows = []
    for o in ORGS:
        if o.site == site:
            rows.append((f"{o.id}-main", o.name_ko, o.id, o.district, o.road))
    if site == "phc":
        for i in BRANCH_DISTRICTS:
            d = DISTRICTS[i]
            rows.append((branch_location_id(i), branch_name(i), "phc", d.name_ko, d.roads[0]))
    out = []
    for lid, name, org, district_ko, road in rows:
        res = {
            "resourceType": "Location",
            "id": lid,
            "meta": {"versionId": "1", "lastUpdated": "2024-12-31T00:00:00+09:00"},
            "status": "active",
            "name": name,
            "mode": "instance",
            "address": _address(district_ko, road),
            "managingOrganization": {"reference": f"Organization/{org}"},
        }
        out.append(orjson.dumps(res) + b"\n")
    return b"".join(out)
