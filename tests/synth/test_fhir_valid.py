"""Every line is JSON, structurally valid FHIR, and every reference resolves within its site."""

from __future__ import annotations

import importlib
import re
from collections import defaultdict

import pytest

from axhub.synth.sites import SITES

from ._util import read_ndjson

fhir_r4b = pytest.importorskip(
    "fhir.resources.R4B", reason="fhir.resources is in the dev extra (pip install -e '.[dev]')"
)


def _model(resource_type: str):
    module = importlib.import_module(f"fhir.resources.R4B.{resource_type.lower()}")
    return getattr(module, resource_type)


def test_sample_of_every_file_validates_as_fhir(region):
    out, manifest = region
    checked = defaultdict(int)
    for entry in manifest["files"]:
        resources = read_ndjson(out / entry["path"])
        # Every Patient, and a stride sample of the big files (all shapes appear in it).
        step = 1 if resources and resources[0]["resourceType"] == "Patient" else 13
        for res in resources[::step]:
            _model(res["resourceType"]).model_validate(res)
            checked[res["resourceType"]] += 1
    assert set(checked) >= {"Patient", "Encounter", "Observation", "Condition",
                            "MedicationRequest", "Organization", "Location", "Device"}  # fmt: skip


def test_invalid_resource_is_rejected_by_the_validator():
    """The validator used above does catch a malformed resource (guards the test itself)."""
    bad = {"resourceType": "Observation", "status": "final", "code": {"coding": "I10"}}
    with pytest.raises(ValueError):
        _model("Observation").model_validate(bad)


def test_every_reference_resolves_within_the_site(region):
    out, _ = region
    ref = re.compile(rb'"reference":"([A-Za-z]+)/([^"]+)"')
    rid = re.compile(rb'^\{"resourceType":"([A-Za-z]+)","id":"([^"]+)"', re.MULTILINE)
    for site in SITES:
        data = b"".join(
            (out / "sites" / site / f"{t}.000.ndjson").read_bytes()
            for t in ("Patient", "Encounter", "Observation", "Condition", "MedicationRequest",
                      "Organization", "Location")
        )  # fmt: skip
        ids = set(rid.findall(data))
        assert len(ids) == data.count(b"\n")  # every line starts with type and id; ids unique
        refs = ref.findall(data)
        assert len(refs) > len(ids)
        missing = {r for r in refs if r not in ids}
        assert not missing, (site, sorted(missing)[:5])
    # The regexes do find a dangling reference.
    assert not set(ref.findall(b'"reference":"Patient/nope"')) <= ids


def test_codes_use_the_contract_systems(region):
    out, _ = region
    systems = defaultdict(set)
    for site in SITES:
        for rtype in ("Observation", "Condition", "MedicationRequest"):
            for res in read_ndjson(out / "sites" / site / f"{rtype}.000.ndjson"):
                key = "medicationCodeableConcept" if rtype == "MedicationRequest" else "code"
                systems[rtype].add(res[key]["coding"][0]["system"])
                vq = res.get("valueQuantity")
                if vq:
                    assert vq["system"] == "http://unitsofmeasure.org"
                    assert vq["code"] == vq["unit"]
    assert systems["Observation"] == {"http://loinc.org"}
    assert systems["Condition"] == {"http://www.hl7korea.or.kr/CodeSystem/kostat-kcd-8"}
    assert systems["MedicationRequest"] == {"http://www.whocc.no/atc"}


def test_blood_pressure_panel_has_systolic_and_diastolic_components(region):
    out, _ = region
    panels = [o for o in read_ndjson(out / "sites/knuh/Observation.000.ndjson")
              if o["code"]["coding"][0]["code"] == "85354-9"]  # fmt: skip
    assert panels
    for o in panels:
        comp = {c["code"]["coding"][0]["code"]: c["valueQuantity"]["value"] for c in o["component"]}
        assert set(comp) == {"8480-6", "8462-4"}
        assert comp["8480-6"] > comp["8462-4"]
