"""Access policy as data: ``decide()`` is pure, ``ensure_allowed()`` audits and raises.

Rules live in a TOML table (``data/policy.toml`` by default) with ids.  Deny by default:
a request is allowed only when a rule matches its role, purpose and action and all of the
rule's conditions hold; every allow names the rule that granted it.
"""

from __future__ import annotations

import datetime as dt
import difflib
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from axhub.errors import ConfigError, PolicyDenied
from axhub.governance.principals import Principal, Project, Role
from axhub.governance.purposes import AccessLevel, Purpose

if TYPE_CHECKING:
    from axhub.governance.audit import AuditLog

ACTIONS = frozenset(
    {"read", "reidentify", "aggregate", "release", "deidentify", "import_consent", "manage"}
    | {"audit", "export", "import_research_data"}
)
CONDITIONS = frozenset({"site", "care_team", "project", "on_behalf_of"})
DEFAULT_DENY = "default-deny"


@dataclass(frozen=True)
class Rule:
    rule_id: str
    description: str
    roles: frozenset[Role]
    purposes: frozenset[Purpose]
    actions: frozenset[str]
    level: AccessLevel
    require: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    version: str
    rules: tuple[Rule, ...]
    consent_defaults: dict[Purpose, str]
    source: str


@dataclass(frozen=True)
class AccessRequest:
    """One question for the policy.  ``now`` is passed in: ``decide`` reads no clock."""

    principal: Principal
    purpose: str
    action: str
    now: dt.datetime
    resource_types: tuple[str, ...] | None = None  # None = every type the grant allows
    project: Project | None = None  # the registered project named by principal.project_id
    detail: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    policy_id: str
    level: AccessLevel = AccessLevel.NONE

    def __bool__(self) -> bool:
        return self.allowed


def _set(raw: dict[str, Any], key: str, kind: type, where: str) -> frozenset[Any]:
    values = raw.get(key, [])
    if not isinstance(values, list):
        raise ConfigError(f"{where}: {key} must be a list", field=key)
    out = set()
    for v in values:
        try:
            out.add(kind(v))
        except ValueError:
            choices = [str(c) for c in kind.__members__.values()]  # type: ignore[attr-defined]
            raise ConfigError(
                f"{where}: unknown {key[:-1]} {v!r}",
                field=key,
                suggestions=difflib.get_close_matches(str(v), choices) or choices,
            ) from None
    return frozenset(out)


def load_policy(path: Path | None = None) -> Policy:
    """Load and validate a rules table; errors name the file, the rule and the field."""
    if path is None:
        text = resources.files("axhub.governance").joinpath("data/policy.toml").read_text()
        source = "axhub/governance/data/policy.toml"
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read policy file: {exc}", path=str(path)) from None
        source = str(path)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML in policy: {exc}", path=source) from None
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, raw in enumerate(doc.get("rule", [])):
        where = f"{source} rule[{i}]"
        rid = raw.get("id")
        if not isinstance(rid, str) or not rid:
            raise ConfigError(f"{where}: rule needs an id", path=source, field=f"rule[{i}].id")
        if rid in seen:
            raise ConfigError(f"{where}: duplicate rule id {rid!r}", path=source, field="id")
        seen.add(rid)
        where = f"{source} rule {rid!r}"
        actions = frozenset(raw.get("actions", []))
        if unknown := actions - ACTIONS:
            raise ConfigError(f"{where}: unknown actions {sorted(unknown)}", field="actions")
        require = tuple(raw.get("require", []))
        if bad := set(require) - CONDITIONS:
            raise ConfigError(f"{where}: unknown conditions {sorted(bad)}", field="require")
        try:
            level = AccessLevel(raw.get("level", ""))
        except ValueError:
            raise ConfigError(
                f"{where}: unknown level {raw.get('level')!r}", field="level"
            ) from None
        rules.append(
            Rule(
                rule_id=rid,
                description=str(raw.get("description", "")),
                roles=_set(raw, "roles", Role, where),
                purposes=_set(raw, "purposes", Purpose, where),
                actions=actions,
                level=level,
                require=require,
            )
        )
    defaults: dict[Purpose, str] = {}
    for name, value in doc.get("consent", {}).items():
        purpose = _set({"purposes": [name]}, "purposes", Purpose, f"{source} [consent]")
        if value not in ("permit", "deny"):
            raise ConfigError(
                f"{source} [consent]: {name} must be 'permit' or 'deny'", field=f"consent.{name}"
            )
        defaults[next(iter(purpose))] = value
    if missing := set(Purpose) - set(defaults):
        raise ConfigError(
            f"{source} [consent]: no default for {sorted(m.value for m in missing)}",
            field="consent",
        )
    return Policy(str(doc.get("version", "")), tuple(rules), defaults, source)


def _condition_failure(cond: str, req: AccessRequest, purpose: Purpose) -> str | None:
    """Why ``cond`` does not hold for ``req``, or None when it holds."""
    p = req.principal
    if cond == "site":
        return None if p.site else "principal names no site"
    if cond == "care_team":
        return None if p.care_team else "principal belongs to no care team"
    if cond == "on_behalf_of":
        return None if p.on_behalf_of else "agent names no care-team member it acts for"
    # cond == "project"
    proj = req.project
    if not p.project_id:
        return "principal names no project"
    if proj is None or proj.project_id != p.project_id:
        return f"project {p.project_id!r} is not registered"
    if not proj.drb_approval_id:
        return f"project {proj.project_id!r} has no data review committee approval"
    if req.now >= proj.expires:
        return (
            f"approval {proj.drb_approval_id} of project {proj.project_id!r} expired on "
            f"{proj.expires.isoformat()}"
        )
    if purpose not in proj.purposes:
        return f"purpose {purpose.value!r} is outside project {proj.project_id!r}"
    if req.resource_types is not None and (extra := set(req.resource_types) - proj.scope):
        return f"resource types {sorted(extra)} are outside project {proj.project_id!r} scope"
    return None


def decide(request: AccessRequest, policy: Policy) -> Decision:
    """The decision for ``request`` under ``policy``.  Pure: same input, same answer."""
    try:
        purpose = Purpose(request.purpose)
    except ValueError:
        near = difflib.get_close_matches(str(request.purpose), [p.value for p in Purpose])
        hint = f" (did you mean {', '.join(near)}?)" if near else ""
        return Decision(False, f"unknown purpose {request.purpose!r}{hint}", DEFAULT_DENY)
    if request.action not in ACTIONS:
        return Decision(False, f"unknown action {request.action!r}", DEFAULT_DENY)
    if request.now.tzinfo is None:
        return Decision(False, "request time must be timezone-aware", DEFAULT_DENY)
    role = request.principal.role
    if not isinstance(role, Role):
        return Decision(False, f"unknown role {role!r}", DEFAULT_DENY)
    first_failure: Decision | None = None
    for rule in policy.rules:
        if role not in rule.roles or purpose not in rule.purposes:
            continue
        if request.action not in rule.actions:
            continue
        failures = [f for c in rule.require if (f := _condition_failure(c, request, purpose))]
        if not failures:
            return Decision(
                True, f"granted by {rule.rule_id}: {rule.description}", rule.rule_id, rule.level
            )
        first_failure = first_failure or Decision(False, "; ".join(failures), rule.rule_id)
    if first_failure is not None:
        return first_failure
    return Decision(
        False,
        f"no rule lets a {role.value} {request.action} for {purpose.value}",
        DEFAULT_DENY,
    )


def ensure_allowed(request: AccessRequest, policy: Policy, audit: AuditLog) -> Decision:
    """Decide, write the decision to the audit log, and raise ``PolicyDenied`` on a deny."""
    decision = decide(request, policy)
    audit.record_decision(request, decision)
    if not decision.allowed:
        raise PolicyDenied(
            f"access denied: {decision.reason}",
            decision=decision,
            policy_id=decision.policy_id,
            purpose=request.purpose,
            action=request.action,
        )
    return decision
