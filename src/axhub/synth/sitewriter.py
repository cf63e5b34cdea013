"""Write one site's bulk-export NDJSON files (Patient, Encounter, Observation, ...)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa

from axhub.fhir.districts import DISTRICTS
from axhub.synth import records
from axhub.synth import render as r
from axhub.synth import resources as res
from axhub.synth.population import Columns, digits
from axhub.synth.sites import CLINIC_IDS, SITES, branch_location_id

CHUNK = 50_000  # rows rendered at a time: bounds memory; larger chunks render slower per row
RENDER_THREADS = 2  # chunks rendered concurrently (2 cores)
RENDER_AHEAD = 2  # rendered chunks waiting to be written, at most
MRN_PREFIX = {"knuh": "K", "hallym": "H", "phc": "P", "clinics": "C"}


def ids(n: int, domain: int, seed: int) -> pa.Array:
    return r.hex_ids(np.arange(n, dtype=np.int64), domain, seed)


def take(arr: pa.Array, idx: np.ndarray) -> pa.Array:
    return arr.take(pa.array(idx, type=pa.int64()))


def chunks(n: int) -> list[slice]:
    return [slice(i, min(i + CHUNK, n)) for i in range(0, n, CHUNK)] or [slice(0, 0)]


Part: TypeAlias = pa.Array | bytes | Callable[[], pa.Array]


@dataclass
class Files:
    """NDJSON files of one run; records what was written for the manifest.

    A part given as a callable is rendered on a small thread pool (Arrow kernels release the
    GIL), up to ``RENDER_AHEAD`` chunks ahead, and written in the order given.
    """

    out: Path
    gzip: bool
    written: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0  # time spent rendering and writing lines (not in the manifest)
    pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(RENDER_THREADS, thread_name_prefix="render")
    )

    def write(self, rel: str, parts: Iterable[Part]) -> None:
        t0 = time.perf_counter()
        w = r.NdjsonWriter(self.out / rel, self.gzip)
        window: deque[Future[pa.Array] | bytes | pa.Array] = deque()

        def emit() -> None:
            item = window.popleft()
            if isinstance(item, bytes):
                w.write_raw(item)
            else:
                w.write(item.result() if isinstance(item, Future) else item)

        try:
            for part in parts:
                window.append(self.pool.submit(part) if callable(part) else part)
                while len(window) > RENDER_AHEAD:
                    emit()
            while window:
                emit()
        finally:
            for item in window:
                if isinstance(item, Future):
                    item.cancel()
            w.close()
            self.seconds += time.perf_counter() - t0
        self.written.append(
            {"path": str(w.path.relative_to(self.out)), "lines": w.lines, "bytes": w.bytes}
        )

    def close(self) -> None:
        self.pool.shutdown(wait=True)


@dataclass
class Region:
    """Everything the site writers share."""

    seed: int
    p: Columns
    h: Columns
    visits: Columns
    demo: Columns
    plan: Columns
    prescriber: np.ndarray
    person_ids: np.ndarray
    stroke_admission_site: np.ndarray


@dataclass
class SiteOutput:
    counts: dict[str, int]
    records: pa.Table
    patient_of_person: np.ndarray  # site Patient.id per person ("" if not a patient here)


def write_site(region: Region, si: int, rng: np.random.Generator, files: Files) -> SiteOutput:
    """Draw and write all resources of site ``SITES[si]``."""
    site = SITES[si]
    p, h, seed = region.p, region.h, region.seed
    sel = np.nonzero(region.visits["site"] == si)[0]
    sel = sel[rng.permutation(len(sel))]  # site order unrelated to person order
    vp = region.visits["person"][sel]
    nv = len(vp)
    pid = ids(nv, si * 10 + 0, seed)
    mrn = np.char.add(MRN_PREFIX[site], digits(rng.permutation(nv) + 100001, 8))
    if site == "clinics":
        org = np.array(CLINIC_IDS, dtype=object)[region.visits["clinic"][sel]]
    else:
        org = np.full(nv, site, dtype=object)
    patient_of_person = np.full(len(p["age"]), "", dtype=object)
    patient_of_person[vp] = np.asarray(pid.to_numpy(zero_copy_only=False), dtype=object)

    admitted = (region.stroke_admission_site[vp] == si) & region.visits["primary"][sel]
    enc = records.encounters(rng, vp, h, admitted)
    n_enc = len(enc["visit"])
    enc_id = ids(n_enc, si * 10 + 1, seed)
    enc_patient = take(pid, enc["visit"])
    if site == "phc":
        dist = p["district"][enc["person"]]
        is_branch = np.array([d.kind != "dong" for d in DISTRICTS])[dist]
        branch = np.array([branch_location_id(i) for i in range(len(DISTRICTS))], dtype=object)
        loc = np.where(is_branch, branch[dist], "phc-main").astype(str)
    else:
        loc = np.char.add(org[enc["visit"]].astype(str), "-main")
    enc_org = org[enc["visit"]].astype(str)
    last_of_visit = np.zeros(nv, dtype=np.int64)
    last_of_visit[enc["visit"][enc["last"]]] = np.nonzero(enc["last"])[0]
    first_of_visit = np.zeros(nv, dtype=np.int64)
    first_of_visit[enc["visit"][enc["first"]]] = np.nonzero(enc["first"])[0]

    cols = {k: v[sel] for k, v in region.demo.items()}
    cols |= {"id": pid, "mrn": r.raw(mrn), "org": r.raw(org.astype(str)), "male": p["male"][vp]}
    base = f"sites/{site}"
    updated = res.datetimes(enc["end"][last_of_visit])
    files.write(f"{base}/Patient.000.ndjson", [res.patients(site, cols, updated)])

    def encounter_parts() -> Iterator[Part]:
        for s in chunks(n_enc):
            yield partial(
                res.encounters,
                enc_id[s],
                enc_patient[s],
                enc["start"][s],
                enc["end"][s],
                r.raw(loc[s]),
                r.raw(enc_org[s]),
                enc["inpatient"][s],
            )

    files.write(f"{base}/Encounter.000.ndjson", encounter_parts())

    obs = records.observations(rng, site, enc, h, p["age"], p["male"])
    enc_time = res.datetimes(enc["start"])
    n_bp, n_q, n_sm = len(obs["bp_enc"]), len(obs["enc"]), len(obs["smoking_enc"])
    obs_id = ids(n_bp + n_q + n_sm, si * 10 + 2, seed)

    def observation_parts() -> Iterator[Part]:
        for s in chunks(n_bp):
            e = obs["bp_enc"][s]
            yield partial(
                res.bp_observations,
                obs_id[s],
                take(enc_patient, e),
                take(enc_id, e),
                take(enc_time, e),
                obs["sbp"][s],
                obs["dbp"][s],
            )
        for s in chunks(n_q):
            e = obs["enc"][s]
            yield partial(
                res.quantity_observations,
                obs_id[n_bp + s.start : n_bp + s.stop],
                take(enc_patient, e),
                take(enc_id, e),
                take(enc_time, e),
                obs["key"][s],
                r.number(obs["value"][s], obs["decimals"][s]),
            )
        e = obs["smoking_enc"]
        if len(e):
            yield partial(
                res.smoking_observations,
                obs_id[n_bp + n_q :],
                take(enc_patient, e),
                take(enc_id, e),
                take(enc_time, e),
                h["smoking_status"][enc["person"][e]],
            )

    files.write(f"{base}/Observation.000.ndjson", observation_parts())

    cond = records.conditions(rng, site, vp, h, admitted)
    c_enc = first_of_visit[cond["visit"]]
    cond_lines = (
        [
            res.conditions(
                ids(len(c_enc), si * 10 + 3, seed),
                take(enc_patient, c_enc),
                take(enc_id, c_enc),
                enc["start"][c_enc],
                cond["key"],
            )
        ]
        if len(c_enc)
        else []
    )
    files.write(f"{base}/Condition.000.ndjson", cond_lines)

    prescribing = region.visits["primary"][sel][enc["visit"]]
    med = records.medication_requests(si, enc, region.plan, region.prescriber, prescribing)
    m_enc = med["enc"]
    med_lines = (
        [
            res.medication_requests(
                ids(len(m_enc), si * 10 + 4, seed),
                take(enc_patient, m_enc),
                take(enc_id, m_enc),
                enc["start"][m_enc],
                med["drug"],
                enc["last"][m_enc],
            )
        ]
        if len(m_enc)
        else []
    )
    files.write(f"{base}/MedicationRequest.000.ndjson", med_lines)
    files.write(f"{base}/Organization.000.ndjson", [res.organizations(site)])
    files.write(f"{base}/Location.000.ndjson", [res.locations(site)])

    counts = {
        "Patient": nv,
        "Encounter": n_enc,
        "Observation": n_bp + n_q + n_sm,
        "Condition": len(c_enc),
        "MedicationRequest": len(m_enc),
    }
    flags = {k: pa.array(v) for k, v in cols.items() if k.startswith("flag_")}
    table = pa.table(
        {
            "site": pa.array(np.full(nv, site), pa.string()),
            "patient_id": pid,
            "person_id": pa.array(region.person_ids[vp], pa.string()),
            "mrn": pa.array(mrn, pa.string()),
            "organization": pa.array(org.astype(str), pa.string()),
            **flags,
        }
    )
    return SiteOutput(counts, table, patient_of_person)
