"""``generate(people, seed, out)``: the whole synthetic region, deterministic for a seed."""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from axhub.errors import InputError
from axhub.fhir import codes
from axhub.fhir.districts import DISTRICTS
from axhub.synth import extras, outcomes, records, report
from axhub.synth import render as r
from axhub.synth import resources as res
from axhub.synth.health import draw_health
from axhub.synth.names import NameTables
from axhub.synth.population import BASELINE, Columns, digits, draw_people
from axhub.synth.sites import (
    DISCREPANCY_RATES,
    SHARED_NAME_DOB_RATE,
    SITES,
    add_clinics,
    assign_visits,
    share_name_and_birth_date,
    site_demographics,
    stroke_admissions,
)
from axhub.synth.sitewriter import Files, Region, ids, take, write_site

log = logging.getLogger(__name__)

GENERATOR_VERSION = "1"


@dataclass
class Drawn:
    """The region in memory (true values, visits, site copies of demographics)."""

    people: int
    seed: int
    streams: list[np.random.SeedSequence]
    names: NameTables
    p: Columns
    shared: np.ndarray
    h: Columns
    risk: Columns
    events: Columns
    visits: Columns
    demo: Columns
    plan: Columns
    vmatrix: np.ndarray
    prescriber: np.ndarray
    person_ids: np.ndarray
    stroke_admission_site: np.ndarray  # SITES index of a 2022-2024 stroke admission, or -1

    def report(self) -> dict[str, Any]:
        """The calibration report of this region."""
        return report.calibration_report(
            self.p, self.h, self.events, self.visits, self.risk, self.plan
        )


def draw_region(people: int, seed: int, *, second_clinic_rate: float = 0.0) -> Drawn:
    """Draw everything that is not a file: people, health, outcomes, visits, site copies.

    ``second_clinic_rate`` > 0 registers that share of clinic users at a second clinic too
    (two Patient records for one person in the ``clinics`` export).
    """
    if people < 1:
        raise InputError("people must be at least 1", field="people", reason=str(people))
    if not 0.0 <= second_clinic_rate <= 1.0:
        raise InputError(
            "second_clinic_rate must be between 0 and 1",
            field="second_clinic_rate",
            reason=str(second_clinic_rate),
        )
    streams = np.random.SeedSequence(seed).spawn(16)
    rng = [np.random.default_rng(s) for s in streams]
    names = NameTables()
    p = draw_people(rng[0], people, names)
    shared = share_name_and_birth_date(rng[1], p)
    h = draw_health(rng[2], p)
    risk, events = outcomes.draw_events(rng[3], p, h)
    visits = add_clinics(rng[7], assign_visits(rng[4], p, h), second_clinic_rate)
    demo = site_demographics(rng[5], p, visits, names)
    plan, indications = records.drug_plan(rng[6], h, p["age"], p["male"])
    h = h | indications  # ground truth: the reason of every prescription
    vmatrix = np.zeros((people, len(SITES)), dtype=bool)
    vmatrix[visits["person"], visits["site"]] = True
    prescriber = records.prescriber_site(vmatrix)
    person_ids = np.char.add("P", digits(np.arange(1, people + 1), 7))
    admission = stroke_admissions(np.random.default_rng(streams[12]), h, vmatrix)
    return Drawn(
        people,
        seed,
        streams,
        names,
        p,
        shared,
        h,
        risk,
        events,
        visits,
        demo,
        plan,
        vmatrix,
        prescriber,
        person_ids,
        admission,
    )


def generate(
    people: int,
    seed: int,
    out: Path | str,
    *,
    gzip_output: bool = False,
    second_clinic_rate: float = 0.0,
) -> dict[str, Any]:
    """Generate the region into ``out`` and return the report (also in manifest.json)."""
    t0 = time.perf_counter()
    d = draw_region(people, seed, second_clinic_rate=second_clinic_rate)
    out = Path(out)
    _prepare_output(out)
    streams, rng14 = d.streams, np.random.default_rng(d.streams[14])
    p, h, risk, events, visits = d.p, d.h, d.risk, d.events, d.visits
    person_ids, names, shared, vmatrix = d.person_ids, d.names, d.shared, d.vmatrix
    t_people = time.perf_counter() - t0

    region = Region(
        seed, p, h, visits, d.demo, d.plan, d.prescriber, person_ids, d.stroke_admission_site
    )
    files = Files(out, gzip_output)
    try:
        outputs = [
            write_site(region, si, np.random.default_rng(streams[8 + si]), files)
            for si in range(len(SITES))
        ]
        phc_patient_of_person = outputs[SITES.index("phc")].patient_of_person
        dev = _write_devices(
            np.random.default_rng(streams[13]),
            files,
            p,
            h,
            vmatrix,
            phc_patient_of_person,
            seed,
            out,
        )
    finally:
        files.close()
    counts = {site: o.counts for site, o in zip(SITES, outputs, strict=True)}
    site_rows = [o.records for o in outputs]
    knuh_patient_of_person = outputs[SITES.index("knuh")].patient_of_person
    meta = _write_metabolomics(rng14, p, h, vmatrix, knuh_patient_of_person, out)

    gt = out / "ground_truth"
    gt.mkdir(parents=True, exist_ok=True)
    persons = _persons_table(p, h, risk, person_ids, names, shared)
    admitted_at = np.array([*SITES, ""], dtype=object)[d.stroke_admission_site]
    persons = persons.append_column(
        "stroke_admission_site", pa.array(admitted_at.astype(str), pa.string())
    )
    pq.write_table(persons, gt / "persons.parquet")
    pq.write_table(pa.concat_tables(site_rows), gt / "site_records.parquet")
    pq.write_table(
        pa.table(
            {
                "person_id": pa.array(person_ids[events["person"]], pa.string()),
                "event": pa.array(events["event"].astype(str), pa.string()),
                "date": pa.array(events["date"]),
            }
        ),
        gt / "events.parquet",
    )

    rep = d.report()
    total_resources = sum(f["lines"] for f in files.written)
    manifest = {
        "generator": "axhub.synth",
        "generator_version": GENERATOR_VERSION,
        "people": people,
        "seed": seed,
        "baseline_date": str(BASELINE),
        "record_period": ["2022-01-01", "2024-12-31"],
        "outcome_horizon_years": outcomes.HORIZON_YEARS,
        "gzip": gzip_output,
        "sites": list(SITES),
        "counts": counts,
        "devices": dev,
        "metabolomics": meta,
        "files": files.written,
        "resources_total": total_resources,
        "discrepancy_rates": DISCREPANCY_RATES,
        "shared_name_and_birth_date": {"rate": SHARED_NAME_DOB_RATE, "people": len(shared)},
        "second_clinic_rate": second_clinic_rate,
        "code_systems": {
            "condition": codes.KCD8,
            "observation": codes.LOINC,
            "unit": codes.UCUM,
            "medication": codes.ATC,
            "metabolite": codes.HMDB,
        },
        "calibration": rep,
    }
    (out / "manifest.json").write_bytes(
        orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    )
    elapsed = time.perf_counter() - t0
    log.info("generated %d people, %d resources in %.1f s", people, total_resources, elapsed)
    return manifest | {
        "seconds": elapsed,
        "seconds_people": t_people,
        "seconds_write": files.seconds,
    }


OUTPUT_ENTRIES = ("sites", "devices", "metabolomics", "ground_truth", "manifest.json")


def _prepare_output(out: Path) -> None:
    """Create ``out``; clear a previous region there, refuse a folder holding anything else.

    Clearing matters: a plain run after a ``--gzip`` run would otherwise leave both
    ``.ndjson`` and ``.ndjson.gz`` copies for ingest to read twice.
    """
    if out.exists() and not out.is_dir():
        raise InputError("output path is a file", path=str(out), reason="not a folder")
    out.mkdir(parents=True, exist_ok=True)
    entries = {p.name for p in out.iterdir()}
    if not entries:
        return
    manifest = out / "manifest.json"
    foreign = sorted(entries - set(OUTPUT_ENTRIES))
    is_region = False
    if manifest.is_file():
        try:
            is_region = orjson.loads(manifest.read_bytes()).get("generator") == "axhub.synth"
        except orjson.JSONDecodeError:
            is_region = False
    if foreign or not is_region:
        raise InputError(
            "output folder is not empty and does not hold a previous synthetic region",
            path=str(out),
            reason=f"unexpected entries: {', '.join(foreign[:5]) or 'no axhub.synth manifest'}",
        )
    for name in OUTPUT_ENTRIES:
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    log.info("cleared the previous region in the output folder")


def _write_devices(
    rng: np.random.Generator,
    files: Files,
    p: Columns,
    h: Columns,
    vmatrix: np.ndarray,
    phc_patient: np.ndarray,
    seed: int,
    out: Path,
) -> dict[str, Any]:
    """Home-device Device/Observation NDJSON and readings.parquet for the enrolled subset."""
    people = extras.enrol(rng, p, h, vmatrix[:, SITES.index("phc")])
    readings = extras.device_readings(rng, people, h, p["age"])
    k = len(people)
    n_kinds = len(extras.KIND_LIST)
    device_id = ids(k * n_kinds, 90, seed)
    enrolled_index = np.searchsorted(people, readings["person"])
    dev_of_reading = take(device_id, enrolled_index * n_kinds + readings["kind"])
    patient = phc_patient[readings["person"]]
    kinds = extras.KIND_LIST
    loinc_key = {
        "bp": "bp_panel",
        "glucose": "glucose_meter",
        "spo2": "spo2",
        "weight": "weight",
        "steps": "steps",
    }
    dev_device_lines = _device_resources(device_id, phc_patient[people], k)
    files.write("devices/Device.000.ndjson", [dev_device_lines])
    ts = res.datetimes(readings["ts"].astype("datetime64[s]"))
    obs_id = ids(len(readings["kind"]), 91, seed)
    pat = r.raw(patient.astype(str))
    is_bp = readings["kind"] == kinds.index("bp")
    bp = np.nonzero(is_bp)[0]
    q = np.nonzero(~is_bp)[0]
    parts: list[pa.Array] = []
    if len(bp):
        parts.append(
            res.bp_observations(
                take(obs_id, bp),
                take(pat, bp),
                None,
                take(ts, bp),
                readings["value"][bp],
                readings["value2"][bp],
                device_ref=take(dev_of_reading, bp),
            )
        )
    if len(q):
        value = r.number(readings["value"][q], np.where(readings["kind"][q] == 3, 1, 0))
        parts.append(
            res.quantity_observations(
                take(obs_id, q),
                take(pat, q),
                None,
                take(ts, q),
                readings["kind"][q],
                value,
                device_ref=take(dev_of_reading, q),
                keys=[loinc_key[kd] for kd in kinds],
            )
        )
    files.write("devices/Observation.000.ndjson", parts)
    loinc = [codes.OBSERVATIONS[loinc_key[kd]].code for kd in kinds]
    units = [codes.OBSERVATIONS[loinc_key[kd]].unit for kd in kinds]
    table = extras.readings_table(
        "phc",
        patient.astype(str),
        np.asarray(dev_of_reading.to_numpy(zero_copy_only=False), dtype=str),
        readings,
        loinc,
        units,
    )
    (out / "devices").mkdir(parents=True, exist_ok=True)
    pq.write_table(table, out / "devices" / "readings.parquet")
    return {"enrolled": int(k), "readings": len(readings["kind"]), "site": "phc"}


def _device_resources(device_id: pa.Array, patient_ids: np.ndarray, k: int) -> bytes:
    n_kinds = len(extras.KIND_LIST)
    kind = np.tile(np.arange(n_kinds), k)
    patient = np.repeat(patient_ids.astype(str), n_kinds)
    names = [
        f'"deviceName":[{{"name":{orjson.dumps(ko).decode()},"type":"user-friendly-name"}},'
        f'{{"name":{orjson.dumps(en).decode()},"type":"other"}}],"type":{{"text":'
        f"{orjson.dumps(en).decode()}}}"
        for ko, en in extras.DEVICE_KINDS.values()
    ]
    if k == 0:
        return b""
    lines = r.join(
        [
            '{"resourceType":"Device","id":"',
            device_id,
            '","status":"active",',
            r.pick(names, kind),
            ',"patient":{"reference":"Patient/',
            r.raw(patient),
            '"}}',
        ]
    )
    return r.buffer_lines(lines)


def _write_metabolomics(
    rng: np.random.Generator,
    p: Columns,
    h: Columns,
    vmatrix: np.ndarray,
    knuh_patient: np.ndarray,
    out: Path,
) -> dict[str, Any]:
    """Research subset: KNUH patients aged 40-79, 25 % sampled (ASSUMPTION)."""
    age = p["age"]
    eligible = vmatrix[:, SITES.index("knuh")] & (age >= 40) & (age <= 79)
    people = np.nonzero(eligible & (rng.random(len(age)) < 0.25))[0]
    values = extras.metabolomics(rng, people, h, p["male"])
    day = rng.integers(0, 365, len(people))
    table = pa.table(
        {
            "site": pa.array(np.full(len(people), "knuh"), pa.string()),
            "patient_id": pa.array(knuh_patient[people].astype(str), pa.string()),
            "sample_date": pa.array(
                np.datetime64("2024-01-01", "D") + day.astype("timedelta64[D]")
            ),
            **{f"{k}_umol_l": pa.array(v) for k, v in values.items()},
        }
    )
    (out / "metabolomics").mkdir(parents=True, exist_ok=True)
    pq.write_table(table, out / "metabolomics" / "panel.parquet")
    hmdb = {k: v[0] for k, v in codes.METABOLITES.items()}
    (out / "metabolomics" / "metabolites.json").write_bytes(
        orjson.dumps({"unit": "umol/L", "hmdb": hmdb}, option=orjson.OPT_SORT_KEYS)
    )
    return {"people": len(people), "site": "knuh", "metabolites": list(values)}


def _persons_table(
    p: Columns,
    h: Columns,
    risk: Columns,
    person_ids: np.ndarray,
    names: NameTables,
    shared: np.ndarray,
) -> pa.Table:
    """Ground-truth person table: true demographics, risk factors and risks."""
    district = p["district"]
    dcode = np.array([d.code for d in DISTRICTS], dtype=object)[district]
    dko = np.array([d.name_ko for d in DISTRICTS], dtype=object)[district]
    surname = names.surname_ko[p["surname"]]
    given = names.given_ko[p["given"]]
    roman = names.surname_en[p["surname"]] + " " + names.given_en[p["given"], 0]
    shared_flag = np.zeros(len(district), dtype=bool)
    shared_flag[shared] = True
    cols: dict[str, Any] = {
        "person_id": pa.array(person_ids, pa.string()),
        "name": pa.array((surname + given).astype(str), pa.string()),
        "family": pa.array(surname.astype(str), pa.string()),
        "given": pa.array(given.astype(str), pa.string()),
        "name_romanised": pa.array(roman.astype(str), pa.string()),
        "sex": pa.array(np.where(p["male"], "male", "female"), pa.string()),
        "birth_date": pa.array(p["birth_date"]),
        "age": pa.array(p["age"]),
        "district_code": pa.array(dcode.astype(str), pa.string()),
        "district": pa.array(dko.astype(str), pa.string()),
        "phone": pa.array(p["phone"].astype(str), pa.string()),
        "road": pa.array(p["road"].astype(str), pa.string()),
        "building_number": pa.array(p["number"]),
        "address_detail": pa.array(p["detail"].astype(str), pa.string()),
        "postal_code": pa.array(p["postal"].astype(str), pa.string()),
        "shares_name_and_birth_date": pa.array(shared_flag),
    }
    for k, v in h.items():
        cols[k] = pa.array(v)
    for k, v in risk.items():
        cols[k] = pa.array(v)
    return pa.table(cols)
