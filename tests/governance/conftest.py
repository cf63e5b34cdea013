"""Fixtures for governance tests: small raw zones shaped like the ingest contract."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path

import duckdb
import pytest

from axhub.config import Settings
from axhub.governance.audit import AuditLog

RAW_DDL = """
CREATE TABLE resources (
    site VARCHAR, resource_type VARCHAR, id VARCHAR, version_id VARCHAR,
    last_updated TIMESTAMPTZ, resource JSON, source_file VARCHAR,
    source_line BIGINT, run_id VARCHAR, PRIMARY KEY (site, resource_type, id))
"""
NOW = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)


def write_raw_zone(path: Path, rows: Iterable[tuple[str, dict]]) -> None:
    """A raw zone (ingest contract shape) holding ``(site, resource)`` rows."""
    con = duckdb.connect(str(path))
    con.execute(RAW_DDL)
    con.executemany(
        "INSERT INTO resources VALUES (?, ?, ?, '1', ?, ?, 'fixture.ndjson', ?, 'r1')",
        [
            (site, r["resourceType"], r["id"], NOW, json.dumps(r, ensure_ascii=False), i)
            for i, (site, r) in enumerate(rows, start=1)
        ],
    )
    con.close()


def korean_patient(
    pid: str, name: str, phone: str, mrn: str, birth: str, district: str, gender: str = "female"
) -> dict:
    return {
        "resourceType": "Patient",
        "id": pid,
        "identifier": [{"system": "urn:oid:1.2.410.knuh.mrn", "value": mrn}],
        "name": [{"text": name, "family": name[0], "given": [name[1:]]}],
        "telecom": [{"system": "phone", "value": phone}],
        "gender": gender,
        "birthDate": birth,
        "address": [
            {
                "text": f"강원특별자치도 춘천시 {district} 중앙로 12",
                "line": ["중앙로 12"],
                "district": district,
                "city": "춘천시",
                "postalCode": "24345",
            }
        ],
        "text": {"status": "generated", "div": f"<div>{name}</div>"},
    }


def condition(cid: str, pid: str, code: str, onset: str) -> dict:
    return {
        "resourceType": "Condition",
        "id": cid,
        "subject": {"reference": f"Patient/{pid}", "display": "환자 이름"},
        "code": {
            "coding": [
                {
                    "system": "http://www.hl7korea.or.kr/CodeSystem/kostat-kcd-8",
                    "code": code,
                    "display": code,
                }
            ],
            "text": "자유 기술 메모",
        },
        "onsetDateTime": onset,
        "note": [{"text": "보호자 연락처 010-9999-0000"}],
        "encounter": {"reference": f"Encounter/e-{cid}"},
    }


# Two sites; person A is at both sites (different local ids), person B only at hallym.
REGION = [
    ("knuh", korean_patient("k1", "김영희", "010-1234-5678", "KN0001", "1948-03-15", "퇴계동")),
    ("knuh", condition("c1", "k1", "I63.9", "2025-02-01")),
    ("hallym", korean_patient("h7", "김영희", "010-1234-5678", "HL7777", "1948-03-15", "퇴계동")),
    ("hallym", condition("c9", "h7", "I10", "2024-06-10")),
    (
        "hallym",
        korean_patient(
            "h8", "박철수", "033-250-1111", "HL8888", "1952-11-02", "신북읍", gender="male"
        ),
    ),
    ("hallym", condition("c10", "h8", "E11.9", "2023-01-05")),
    ("hallym", condition("c11", "nobody", "E11.9", "2023-01-05")),  # orphan
    (
        "hallym",
        {"resourceType": "DocumentReference", "id": "d1", "subject": {"reference": "Patient/h8"}},
    ),
]
MAPPING = {
    "site": ["knuh", "hallym", "hallym"],
    "patient_id": ["k1", "h7", "h8"],
    "person_id": ["R-0001", "R-0001", "R-0002"],
}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", secret_key="test-secret")


@pytest.fixture
def audit(settings: Settings) -> AuditLog:
    return AuditLog.open(settings, clock=lambda: NOW)


@pytest.fixture
def region(settings: Settings) -> Settings:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    write_raw_zone(settings.raw_zone_path, REGION)
    return settings
