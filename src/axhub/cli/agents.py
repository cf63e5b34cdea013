"""``axhub agents ...``: the agents' tools, the clinician's approval worklist, team worklist."""

from __future__ import annotations

import typer

agents_app = typer.Typer(
    help="Care agents: tools and action classes, pending approvals, decisions, team worklist.",
    no_args_is_help=True,
)


@agents_app.command("tools")
def tools_command() -> None:
    """List the agent tools with their action class (clinical = never autonomous)."""
    from axhub.agents.tools import AUTONOMOUS, TOOLS

    for t in TOOLS.values():
        auto = "autonomous" if t.action_class in AUTONOMOUS else "needs clinician approval"
        typer.echo(f"{t.name:<27} {t.action_class.value:<9} {auto:<24} {t.description}")


@agents_app.command("approvals")
def approvals_command(
    team: str | None = typer.Option(None, "--team", help="Only this care team's people."),
) -> None:
    """Pending clinical proposals, oldest first (the clinician's approval worklist)."""
    from axhub.agents import approvals
    from axhub.care.store import CareStore
    from axhub.cli.main import handle_errors, settings

    @handle_errors
    def run() -> None:
        pending = approvals.pending(CareStore.open(settings()), care_team=team)
        for a in pending:
            typer.echo(
                f"#{a.id} {a.person_id} {a.action.get('change')} {a.action.get('drug')} "
                f"({a.requested_at:%Y-%m-%d %H:%M} UTC): {a.rationale}"
            )
        typer.echo(f"{len(pending)} pending")

    run()


@agents_app.command("decide")
def decide_command(
    approval_id: int = typer.Argument(..., help="Approval id from `axhub agents approvals`."),
    approve: bool = typer.Option(..., "--approve/--reject", help="Approve or reject the proposal."),
    by: str = typer.Option(..., "--by", help="The deciding clinician's staff id."),
    site: str = typer.Option(..., "--site", help="The clinician's site (knuh, hallym, phc, ...)."),
    reason: str = typer.Option(..., "--reason", help="Why (kept with the decision)."),
) -> None:
    """A clinician approves or rejects a pending proposal (agents can never decide)."""
    from axhub.agents import approvals
    from axhub.care.store import CareStore
    from axhub.cli.main import handle_errors, settings
    from axhub.governance.principals import Principal, Role

    @handle_errors
    def run() -> None:
        clinician = Principal(by, Role.CLINICIAN, site=site)
        a = approvals.decide(
            CareStore.open(settings()), approval_id, by=clinician, approve=approve, reason=reason
        )
        typer.echo(f"#{a.id} {a.status} by {a.decided_by}")

    run()


@agents_app.command("worklist")
def worklist_command(
    team: str = typer.Option(..., "--team", help="Care team id."),
    on_behalf_of: str = typer.Option(
        ..., "--on-behalf-of", help="The team member the coordinator agent acts for."
    ),
    language: str = typer.Option("ko", "--language", help="Summary language: ko or en."),
    limit: int = typer.Option(30, "--limit", help="Rows to print."),
) -> None:
    """Run the care-coordinator agent: ranked worklist and the team's daily summary."""
    from axhub.agents.care_agents import CareAgents
    from axhub.agents.runtime import AgentRuntime
    from axhub.agents.writer import LLMConfig, MessageWriter
    from axhub.care.models import utcnow
    from axhub.care.store import CareStore
    from axhub.cli.main import handle_errors, settings
    from axhub.governance.access import GovernedStore

    @handle_errors
    def run() -> None:
        s = settings()
        rt = AgentRuntime(
            CareStore.open(s), GovernedStore(s), care_team=team, on_behalf_of=on_behalf_of,
            writer=MessageWriter(LLMConfig.from_settings(s)),
        )  # fmt: skip
        result, items = CareAgents(rt).coordinate(utcnow(), language=language)
        for rank, it in enumerate(items[:limit], 1):
            typer.echo(
                f"{rank:>3} {it['kind']:<8} {it['person_id']} {it['what']:<24} {it['label']}"
            )
        typer.echo(str(result.outcome["summary"]))

    run()


def register(app: typer.Typer) -> None:
    app.add_typer(agents_app, name="agents")
