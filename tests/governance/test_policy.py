"""decide() is pure and deny-by-default; ensure_allowed() audits and raises."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from axhub.errors import ConfigError, PolicyDenied
from axhub.governance.policy import AccessRequest, decide, ensure_allowed, load_policy
from axhub.governance.principals import Principal, Project, Role
from axhub.governance.purposes import AccessLevel, Purpose

from .conftest import NOW

POLICY = load_policy()
PROJECT = Project(
    "stroke-2026",
    "DRB-KNUH-2026-014",
    frozenset({Purpose.RESEARCH}),
    frozenset({"Patient", "Condition"}),
    NOW + dt.timedelta(days=90),
    2.0,
)
RESEARCHER = Principal("r-lee", Role.RESEARCHER, project_id="stroke-2026")


def req(principal: Principal, purpose: str, action: str = "read", **kw) -> AccessRequest:
    return AccessRequest(principal, purpose, action, kw.pop("now", NOW), **kw)


@pytest.mark.parametrize(
    ("principal", "purpose", "action", "rule", "level"),
    [
        (
            Principal("dr-kim", Role.CLINICIAN, site="knuh"),
            "treatment",
            "read",
            "care.clinician.treatment",
            AccessLevel.IDENTIFIABLE,
        ),
        (
            Principal("cw-park", Role.CARE_WORKER, care_team="t1"),
            "care_at_home",
            "reidentify",
            "care.team.home",
            AccessLevel.IDENTIFIABLE,
        ),
        (
            Principal("agent-1", Role.AGENT, care_team="t1", on_behalf_of="cm-choi"),
            "care_at_home",
            "read",
            "care.agent.home",
            AccessLevel.IDENTIFIABLE,
        ),
        (
            Principal("ph-1", Role.PUBLIC_HEALTH_ANALYST),
            "public_health_statistics",
            "aggregate",
            "public-health.aggregate",
            AccessLevel.AGGREGATE,
        ),
        (
            Principal("op", Role.OPERATOR),
            "operations",
            "deidentify",
            "operator.pipeline",
            AccessLevel.NONE,
        ),
    ],
)
def test_allows_name_the_rule_and_level(principal, purpose, action, rule, level) -> None:
    d = decide(req(principal, purpose, action), POLICY)
    assert d.allowed and d.policy_id == rule and d.level is level
    assert rule in d.reason


def test_researcher_on_approved_project_gets_pseudonymous_access() -> None:
    d = decide(req(RESEARCHER, "research", project=PROJECT, resource_types=("Condition",)), POLICY)
    assert d.allowed and d.level is AccessLevel.PSEUDONYMOUS
    assert d.policy_id == "research.approved-project"


@pytest.mark.parametrize(
    ("principal", "purpose", "action", "why"),
    [
        (
            Principal("ph-1", Role.PUBLIC_HEALTH_ANALYST),
            "public_health_statistics",
            "read",
            "no rule lets",
        ),  # aggregate-only: no person-level reads
        (Principal("op", Role.OPERATOR), "treatment", "read", "no rule lets"),
        (Principal("dr-kim", Role.CLINICIAN), "treatment", "read", "no site"),
        (Principal("agent-1", Role.AGENT, care_team="t1"), "care_at_home", "read", "acts for"),
        (
            Principal("agent-1", Role.AGENT, care_team="t1", on_behalf_of="x"),
            "care_at_home",
            "reidentify",
            "no rule lets",
        ),
        (Principal("dr-kim", Role.CLINICIAN, site="knuh"), "ai_training", "read", "no rule lets"),
        (Principal("r-x", Role.RESEARCHER), "research", "read", "names no project"),
    ],
)
def test_denies_say_why(principal, purpose, action, why) -> None:
    d = decide(req(principal, purpose, action), POLICY)
    assert not d.allowed and why in d.reason


def test_expired_approval_is_denied_with_its_id_and_date() -> None:
    later = PROJECT.expires + dt.timedelta(seconds=1)
    d = decide(req(RESEARCHER, "research", project=PROJECT, now=later), POLICY)
    assert not d.allowed
    assert "DRB-KNUH-2026-014" in d.reason and "expired" in d.reason
    assert d.policy_id == "research.approved-project"


def test_project_scope_limits_purpose_and_resource_types() -> None:
    assert not decide(req(RESEARCHER, "ai_training", project=PROJECT), POLICY).allowed
    d = decide(
        req(RESEARCHER, "research", project=PROJECT, resource_types=("Observation",)), POLICY
    )
    assert not d.allowed and "Observation" in d.reason
    other = Project("other", "DRB-1", PROJECT.purposes, PROJECT.scope, PROJECT.expires)
    assert "not registered" in decide(req(RESEARCHER, "research", project=other), POLICY).reason


def test_naive_time_is_denied() -> None:
    d = decide(
        req(
            Principal("dr", Role.CLINICIAN, site="knuh"), "treatment", now=NOW.replace(tzinfo=None)
        ),
        POLICY,
    )
    assert not d.allowed


KNOWN = {p.value for p in Purpose}


@given(
    purpose=st.text(min_size=0, max_size=30).filter(lambda s: s not in KNOWN),
    role=st.sampled_from(list(Role)),
    action=st.sampled_from(["read", "reidentify", "aggregate", "release", "deidentify"]),
    site=st.one_of(st.none(), st.just("knuh")),
)
def test_unknown_purpose_is_always_denied(purpose, role, action, site) -> None:
    p = Principal("x", role, site=site, care_team="t1", project_id="stroke-2026", on_behalf_of="y")
    d = decide(req(p, purpose, action, project=PROJECT), POLICY)
    assert not d.allowed and d.policy_id == "default-deny" and "unknown purpose" in d.reason


@given(
    role=st.sampled_from(list(Role)),
    purpose=st.sampled_from(sorted(KNOWN)),
    action=st.sampled_from(["read", "reidentify", "aggregate", "release", "manage"]),
)
def test_decide_is_pure_and_every_allow_names_an_existing_rule(role, purpose, action) -> None:
    p = Principal(
        "x", role, site="knuh", care_team="t1", project_id="stroke-2026", on_behalf_of="y"
    )
    r = req(p, purpose, action, project=PROJECT)
    first, second = decide(r, POLICY), decide(r, POLICY)
    assert first == second
    if first.allowed:
        rule = next(x for x in POLICY.rules if x.rule_id == first.policy_id)
        assert role in rule.roles and Purpose(purpose) in rule.purposes
        assert action in rule.actions


def test_ensure_allowed_audits_allow_and_deny(audit) -> None:
    doc = Principal("dr-kim", Role.CLINICIAN, site="knuh")
    ensure_allowed(req(doc, "treatment"), POLICY, audit)
    with pytest.raises(PolicyDenied) as exc:
        ensure_allowed(req(doc, "marketing"), POLICY, audit)
    assert exc.value.decision.policy_id == "default-deny"
    entries = list(audit.entries())
    assert [e["outcome"] for e in entries] == ["allow", "deny"]
    assert entries[0]["policy_id"] == "care.clinician.treatment"
    assert audit.verify().entries == 2


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (
            '[[rule]]\nid="a"\nroles=["surgeon"]\npurposes=["treatment"]\nactions=["read"]\n'
            'level="identifiable"',
            "unknown role",
        ),
        (
            '[[rule]]\nid="a"\nroles=["clinician"]\npurposes=["treatmnt"]\nactions=["read"]\n'
            'level="identifiable"',
            "unknown purpose",
        ),
        (
            '[[rule]]\nid="a"\nroles=["clinician"]\npurposes=["treatment"]\nactions=["delete"]\n'
            'level="identifiable"',
            "unknown actions",
        ),
        ('[[rule]]\nroles=["clinician"]', "needs an id"),
        ("[[rule]\n", "invalid TOML"),
    ],
)
def test_bad_policy_files_name_the_problem(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_policy(path)
    assert needle in str(exc.value) and str(path) in str(exc.value)
