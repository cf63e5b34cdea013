"""FHIR R4 (4.0.1) resource types and the formats of ids and references.

The list is the resource index of FHIR R4, https://hl7.org/fhir/R4/resourcelist.html
(146 types, counting Binary, Bundle and Parameters).  The id and reference formats are
those of the R4 datatypes page,
https://hl7.org/fhir/R4/datatypes.html#id and https://hl7.org/fhir/R4/references.html.
"""

from __future__ import annotations

import difflib
import re

R4_RESOURCE_TYPES: frozenset[str] = frozenset(
    """
    Account ActivityDefinition AdverseEvent AllergyIntolerance Appointment AppointmentResponse
    AuditEvent Basic Binary BiologicallyDerivedProduct BodyStructure Bundle CapabilityStatement
    CarePlan CareTeam CatalogEntry ChargeItem ChargeItemDefinition Claim ClaimResponse
    ClinicalImpression CodeSystem Communication CommunicationRequest CompartmentDefinition
    Composition ConceptMap Condition Consent Contract Coverage CoverageEligibilityRequest
    CoverageEligibilityResponse DetectedIssue Device DeviceDefinition DeviceMetric DeviceRequest
    DeviceUseStatement DiagnosticReport DocumentManifest DocumentReference
    EffectEvidenceSynthesis Encounter Endpoint EnrollmentRequest EnrollmentResponse
    EpisodeOfCare EventDefinition Evidence EvidenceVariable ExampleScenario ExplanationOfBenefit
    FamilyMemberHistory Flag Goal GraphDefinition Group GuidanceResponse HealthcareService
    ImagingStudy Immunization ImmunizationEvaluation ImmunizationRecommendation
    ImplementationGuide InsurancePlan Invoice Library Linkage List Location Measure
    MeasureReport Media Medication MedicationAdministration MedicationDispense
    MedicationKnowledge MedicationRequest MedicationStatement MedicinalProduct
    MedicinalProductAuthorization MedicinalProductContraindication MedicinalProductIndication
    MedicinalProductIngredient MedicinalProductInteraction MedicinalProductManufactured
    MedicinalProductPackaged MedicinalProductPharmaceutical MedicinalProductUndesirableEffect
    MessageDefinition MessageHeader MolecularSequence NamingSystem NutritionOrder Observation
    ObservationDefinition OperationDefinition OperationOutcome Organization
    OrganizationAffiliation Parameters Patient PaymentNotice PaymentReconciliation Person
    PlanDefinition Practitioner PractitionerRole Procedure Provenance Questionnaire
    QuestionnaireResponse RelatedPerson RequestGroup ResearchDefinition
    ResearchElementDefinition ResearchStudy ResearchSubject RiskAssessment
    RiskEvidenceSynthesis Schedule SearchParameter ServiceRequest Slot Specimen
    SpecimenDefinition StructureDefinition StructureMap Subscription Substance
    SubstanceNucleicAcid SubstancePolymer SubstanceProtein SubstanceReferenceInformation
    SubstanceSourceMaterial SubstanceSpecification SupplyDelivery SupplyRequest Task
    TerminologyCapabilities TestReport TestScript ValueSet VerificationResult
    VisionPrescription
    """.split()  # noqa: SIM905 - one block of names reads better than 146 literals
)

#: FHIR ``id``: 1 to 64 of ``A-Z a-z 0-9 - .``
ID_PATTERN = r"[A-Za-z0-9\-\.]{1,64}"

_TYPES = "|".join(sorted(R4_RESOURCE_TYPES))
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

#: A well-formed ``Reference.reference``: a contained ``#id``; a ``urn:uuid:`` or ``urn:oid:``
#: (Bundle-local); a relative or absolute literal ``[base/]Type/id[/_history/vid]``; or a
#: conditional ``Type?search`` as bulk exports (Synthea) write them.  Written in the common
#: subset of RE2 (DuckDB) and Python ``re`` so that both paths use the same text.
REFERENCE_PATTERN = (
    rf"#{ID_PATTERN}|#"
    rf"|urn:uuid:{_UUID}"
    r"|urn:oid:[0-2](\.(0|[1-9][0-9]*))+"
    rf"|(https?://[^\s/?#]+(/[^\s/?#]+)*/)?({_TYPES})/{ID_PATTERN}(/_history/{ID_PATTERN})?"
    rf"|({_TYPES})\?\S+"
)

#: The same forms with no ``"``, ``,`` or ``\\`` inside a reference: a subset of
#: :data:`REFERENCE_PATTERN` whose matches can be joined with ``,`` and quoted without
#: ambiguity, so that the vectorised ingest pre-check tests all of a resource's references
#: with one regular expression (a reference outside the subset goes to the precise check).
PLAIN_REFERENCE_PATTERN = (
    rf"#{ID_PATTERN}|#"
    rf"|urn:uuid:{_UUID}"
    r"|urn:oid:[0-2](\.(0|[1-9][0-9]*))+"
    rf"|(https?://[^\s/?#\\\",]+(/[^\s/?#\\\",]+)*/)?({_TYPES})/{ID_PATTERN}"
    rf"(/_history/{ID_PATTERN})?"
    rf"|({_TYPES})\?[^\s\\\",]+"
)

_ID_RE = re.compile(rf"^{ID_PATTERN}$")
_REF_RE = re.compile(rf"^({REFERENCE_PATTERN})$")


def is_resource_type(name: object) -> bool:
    """True when ``name`` is an R4 resource type."""
    return isinstance(name, str) and name in R4_RESOURCE_TYPES


def is_id(value: object) -> bool:
    """True when ``value`` is a well-formed FHIR id."""
    return isinstance(value, str) and _ID_RE.fullmatch(value) is not None


def is_reference(value: object) -> bool:
    """True when ``value`` is a well-formed ``Reference.reference`` string."""
    return isinstance(value, str) and _REF_RE.fullmatch(value) is not None


def suggest_resource_type(name: str) -> list[str]:
    """Close R4 resource type names for a misspelt one ("did you mean ...")."""
    return difflib.get_close_matches(name, sorted(R4_RESOURCE_TYPES), n=3, cutoff=0.6)
