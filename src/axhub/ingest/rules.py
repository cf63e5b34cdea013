"""Elements a resource must carry to be stored, kept as data.

Each rule is a FHIR R4 element with minimum cardinality 1 (so valid FHIR always has it) that
the views and scores read.  Source: the R4 resource pages, https://hl7.org/fhir/R4/<type>.html
(cardinality column).  A choice element ``value[x]`` lists its allowed JSON names.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RequiredElement:
    resource_type: str
    element: str  # as FHIR names it, e.g. "medication[x]"
    json_names: tuple[str, ...]  # the JSON keys that satisfy it

    @property
    def path(self) -> str:
        return f"$.{self.element}"

    @property
    def reason(self) -> str:
        return f"{self.resource_type}.{self.element} is required (FHIR R4 cardinality 1..1)"


def _r(resource_type: str, element: str, *json_names: str) -> RequiredElement:
    return RequiredElement(resource_type, element, json_names or (element,))


REQUIRED_ELEMENTS: tuple[RequiredElement, ...] = (
    _r("Observation", "status"),
    _r("Observation", "code"),
    _r("Condition", "subject"),
    _r("Encounter", "status"),
    _r("Encounter", "class"),
    _r("MedicationRequest", "status"),
    _r("MedicationRequest", "intent"),
    _r("MedicationRequest", "subject"),
    _r("MedicationRequest", "medication[x]", "medicationCodeableConcept", "medicationReference"),
    _r("Procedure", "status"),
    _r("Procedure", "subject"),
    _r("DiagnosticReport", "status"),
    _r("DiagnosticReport", "code"),
    _r("AllergyIntolerance", "patient"),
    _r("Immunization", "status"),
    _r("Immunization", "vaccineCode"),
    _r("Immunization", "patient"),
    _r("DocumentReference", "status"),
    _r("DocumentReference", "content"),
)
