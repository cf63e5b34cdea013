"""The agent loop: observe → decide → act over typed tools, every step audited.

``AgentRuntime.start(...)`` opens a run: it asks the governance boundary whether the agent may
act for its care team (``GovernedStore.ensure(agent, "care_at_home", "read")``; denied runs are
recorded as such) and writes an ``agent_runs`` row at once, so a crash leaves a trace.  Each
``Run.call`` validates the input model, refuses a clinical tool that is not backed by an
approved approval (the tool itself checks the approval row), executes the tool, validates the
output model, appends the step (tool, class, input, output or error) to the run, and records it
through ``GovernedStore.record_agent_action`` with the pseudonymous person id only.
``Run.finish`` stores the rationale and outcome.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from axhub.agents.tools import NOTIFY_TEAM, ActionClass, ToolContext, tool
from axhub.agents.writer import MessageWriter
from axhub.care.models import AgentRun, utcnow
from axhub.care.store import CareStore
from axhub.errors import AxhubError, InputError
from axhub.governance.principals import Principal, Role

log = logging.getLogger(__name__)

PURPOSE = "care_at_home"


class Governance(Protocol):
    """The two governance calls the runtime makes (``GovernedStore`` provides both)."""

    def ensure(self, principal: Principal, purpose: str, action: str) -> Any: ...

    def record_agent_action(
        self,
        agent: Principal,
        purpose: str,
        action: str,
        *,
        subjects: Any = (),
        detail: dict[str, object] | None = None,
    ) -> None: ...


@dataclass
class PlannedCall:
    """One action the planner wants, with the reason (the rationale goes into the audit)."""

    tool: str
    args: dict[str, Any]
    why: str


@dataclass
class Plan:
    rationale: str
    calls: list[PlannedCall] = field(default_factory=list)

    def add(self, tool_name: str, why: str, **args: Any) -> None:
        self.calls.append(PlannedCall(tool_name, args, why))


def _jsonable(v: Any) -> Any:
    if isinstance(v, BaseModel):
        return v.model_dump(mode="json")
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, datetime):
        return v.isoformat()
    return v


@dataclass
class Run:
    """An open agent run: call tools, then finish."""

    runtime: AgentRuntime
    ctx: ToolContext
    run_id: int
    person_id: str | None
    steps: list[dict[str, Any]] = field(default_factory=list)

    def call(self, name: str, why: str = "", **args: Any) -> BaseModel:
        t = tool(name)
        step: dict[str, Any] = {"tool": name, "class": t.action_class.value, "why": why,
                                "input": _jsonable(args)}  # fmt: skip
        try:
            try:
                x = t.input_model.model_validate(args)
            except ValidationError as exc:
                raise InputError(f"invalid input for tool {name}", field=_loc(exc),
                                 reason=exc.errors()[0]["msg"]) from None  # fmt: skip
            out = t.output_model.model_validate(t.fn(self.ctx, x))
        except AxhubError as exc:
            step.update(outcome="refused", error=type(exc).__name__, message=exc.message)
            self._record(step)
            raise
        except Exception as exc:  # recorded (type only: a message may hold values), re-raised
            step.update(outcome="failed", error=type(exc).__name__)
            self._record(step)
            raise
        step.update(outcome="done", output=_jsonable(out))
        if t.action_class in NOTIFY_TEAM:
            step["care_team_notified"] = True
        self._record(step)
        return out

    def _record(self, step: dict[str, Any]) -> None:
        self.steps.append(step)
        subjects = [str(step["input"]["person_id"])] if "person_id" in step["input"] else []
        detail: dict[str, object] = {"run_id": self.run_id, "tool": step["tool"],
                                     "class": step["class"], "why": step["why"],
                                     "outcome": step["outcome"]}  # fmt: skip
        for key in ("approval_id", "task_id", "message_id", "level"):
            val = (step.get("output") or {}).get(key, step["input"].get(key))
            if val is not None:
                detail[key] = val
        self.runtime.governance.record_agent_action(
            self.ctx.agent, PURPOSE, f"tool:{step['tool']}", subjects=subjects, detail=detail
        )
        with self.runtime.store.session() as s:
            row = s.get(AgentRun, self.run_id)
            if row is not None:
                row.steps = list(self.steps)

    def finish(self, rationale: str, outcome: dict[str, Any], status: str = "done") -> RunResult:
        classes = sorted({st["class"] for st in self.steps if st["outcome"] == "done"})
        outcome = {**_jsonable(outcome), "action_classes": classes}
        with self.runtime.store.session() as s:
            row = s.get(AgentRun, self.run_id)
            if row is not None:
                row.status, row.rationale, row.outcome = status, rationale, outcome
                row.finished_at, row.steps = self.ctx.now, list(self.steps)
        self.runtime.governance.record_agent_action(
            self.ctx.agent, PURPOSE, "run:finish",
            subjects=[self.person_id] if self.person_id else [],
            detail={"run_id": self.run_id, "status": status, "steps": len(self.steps)},
        )  # fmt: skip
        return RunResult(self.run_id, status, rationale, outcome, list(self.steps))


def _loc(exc: ValidationError) -> str:
    return ".".join(str(p) for p in exc.errors()[0]["loc"]) or "(input)"


@dataclass(frozen=True)
class RunResult:
    run_id: int
    status: str
    rationale: str
    outcome: dict[str, Any]
    steps: list[dict[str, Any]]

    def tools_done(self) -> list[str]:
        return [s["tool"] for s in self.steps if s["outcome"] == "done"]


class AgentRuntime:
    """Runs agents for one care team on behalf of one team member."""

    def __init__(
        self,
        store: CareStore,
        governance: Governance,
        *,
        care_team: str,
        on_behalf_of: str,
        writer: MessageWriter | None = None,
    ) -> None:
        self.store = store
        self.governance = governance
        self.care_team = care_team
        self.on_behalf_of = on_behalf_of
        self.writer = writer or MessageWriter()

    def principal(self, agent: str) -> Principal:
        return Principal(f"agent-{agent}", Role.AGENT, care_team=self.care_team,
                         on_behalf_of=self.on_behalf_of)  # fmt: skip

    def start(
        self,
        agent: str,
        trigger: str,
        *,
        person_id: str | None,
        inputs: dict[str, Any],
        now: datetime | None = None,
    ) -> Run:
        now = now or utcnow()
        principal = self.principal(agent)
        self.governance.ensure(principal, PURPOSE, "read")
        with self.store.session() as s:
            row = AgentRun(agent=agent, person_id=person_id, trigger=trigger[:80],
                           status="running", started_at=now, inputs=_jsonable(inputs))  # fmt: skip
            s.add(row)
            s.flush()
            run_id = row.id
        ctx = ToolContext(self.store, principal, self.writer, now, run_id)
        return Run(self, ctx, run_id, person_id)


__all__ = ["ActionClass", "AgentRuntime", "Plan", "PlannedCall", "Run", "RunResult"]
