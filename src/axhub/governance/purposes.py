"""Purposes of use and levels of access.

Each purpose maps to an HL7 v3 ActReason (PurposeOfUse) code, which is how FHIR Consent
(``provision.purpose``) and AuditEvent (``agent.purposeOfUse``) name it.  AI training has no
v3 code, so it gets an axhub code in the axhub purpose code system.
"""

from __future__ import annotations

import difflib
from enum import StrEnum

from axhub.errors import NotFoundError

V3_ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
AXHUB_PURPOSE = "https://axhub.dev/fhir/CodeSystem/purpose-of-use"


class Purpose(StrEnum):
    """Why data is used.  The set is closed: anything else is an unknown purpose."""

    TREATMENT = "treatment"
    CARE_AT_HOME = "care_at_home"
    RESEARCH = "research"
    PUBLIC_HEALTH_STATISTICS = "public_health_statistics"
    AI_TRAINING = "ai_training"
    QUALITY_IMPROVEMENT = "quality_improvement"
    OPERATIONS = "operations"


class AccessLevel(StrEnum):
    """How much of a person the granted access may see, most to least."""

    IDENTIFIABLE = "identifiable"  # person-level, re-identifiable through the audited codebook
    PSEUDONYMOUS = "pseudonymous"  # person-level under a per-project pseudonym
    AGGREGATE = "aggregate"  # released tables only, after small-cell suppression / DP
    NONE = "none"  # administrative actions that read no personal data


# Purpose -> (system, code) for FHIR Consent and AuditEvent.
PURPOSE_CODES: dict[Purpose, tuple[str, str]] = {
    Purpose.TREATMENT: (V3_ACT_REASON, "TREAT"),
    Purpose.CARE_AT_HOME: (V3_ACT_REASON, "COC"),  # coordination of care
    Purpose.RESEARCH: (V3_ACT_REASON, "HRESCH"),
    Purpose.PUBLIC_HEALTH_STATISTICS: (V3_ACT_REASON, "PUBHLTH"),
    Purpose.AI_TRAINING: (AXHUB_PURPOSE, "ai-training"),
    Purpose.QUALITY_IMPROVEMENT: (V3_ACT_REASON, "HQUALIMP"),
    Purpose.OPERATIONS: (V3_ACT_REASON, "HSYSADMIN"),
}
_BY_CODE: dict[tuple[str, str], Purpose] = {v: k for k, v in PURPOSE_CODES.items()}

CARE_PURPOSES = frozenset({Purpose.TREATMENT, Purpose.CARE_AT_HOME})


def parse_purpose(name: str) -> Purpose:
    """The purpose called ``name``; an unknown name raises with "did you mean"."""
    try:
        return Purpose(name)
    except ValueError:
        choices = [p.value for p in Purpose]
        raise NotFoundError(
            f"unknown purpose {name!r}",
            suggestions=difflib.get_close_matches(str(name), choices, n=3) or choices,
        ) from None


def purpose_from_coding(system: str | None, code: str | None) -> Purpose | None:
    """The purpose a FHIR coding names, or None when it names none of ours."""
    if code is None:
        return None
    if system is None:
        matches = [p for (_, c), p in _BY_CODE.items() if c == code]
        return matches[0] if len(matches) == 1 else None
    return _BY_CODE.get((system, code))


def purpose_coding(purpose: Purpose) -> dict[str, str]:
    """The FHIR Coding for a purpose."""
    system, code = PURPOSE_CODES[purpose]
    return {"system": system, "code": code, "display": purpose.value.replace("_", " ")}
