"""Who asks: principals (people and agents) and the research projects they work on."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from axhub.governance.purposes import Purpose


class Role(StrEnum):
    CLINICIAN = "clinician"  # a clinician at one site
    CARE_MANAGER = "care_manager"  # manages a care team's caseload
    CARE_WORKER = "care_worker"  # visits people on one care team
    RESEARCHER = "researcher"  # works on an approved project
    PUBLIC_HEALTH_ANALYST = "public_health_analyst"
    AGENT = "agent"  # software agent acting for a care team
    OPERATOR = "operator"  # runs the hub; reads no personal data


@dataclass(frozen=True)
class Project:
    """A research / AI-training project approved by a data review committee (DRB).

    ``scope`` lists the resource types the DRB approved; ``purposes`` the approved purposes;
    ``expires`` ends the processing period (PIPA Art. 28-4, 2023 amendment).
    """

    project_id: str
    drb_approval_id: str
    purposes: frozenset[Purpose]
    scope: frozenset[str]
    expires: dt.datetime
    epsilon_budget: float = 0.0  # total differential-privacy budget for releases

    def __post_init__(self) -> None:
        if self.expires.tzinfo is None:
            raise ValueError(f"project {self.project_id}: expires must be timezone-aware")


@dataclass(frozen=True)
class Principal:
    """The one asking.  ``principal_id`` is a staff or agent id, never a patient id."""

    principal_id: str
    role: Role
    site: str | None = None  # clinicians
    care_team: str | None = None  # care managers, care workers, agents
    project_id: str | None = None  # researchers
    on_behalf_of: str | None = None  # agents: the care-team member they act for
    attributes: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
