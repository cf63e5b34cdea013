"""``axhub serve`` (API, CDS Hooks and dashboard) and ``axhub tokens`` (API access tokens)."""

from __future__ import annotations

from pathlib import Path

import typer

from axhub.api.server import DEFAULT_HOST, DEFAULT_PORT
from axhub.config import Settings

tokens_app = typer.Typer(help="Issue, list and revoke API access tokens.", no_args_is_help=True)


def _settings(data_dir: Path | None) -> Settings:
    from axhub.cli.main import settings

    s = settings()
    return s.model_copy(update={"data_dir": data_dir}) if data_dir else s


def serve_command(
    host: str = typer.Option(DEFAULT_HOST, "--host", help="Address to listen on."),
    port: int = typer.Option(DEFAULT_PORT, "--port", help="Port to listen on."),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Data folder (default: setting)."
    ),
    seed_demo: bool = typer.Option(
        False, "--seed-demo", help="Set up the demo care teams and print demo tokens first."
    ),
) -> None:
    """Serve the REST API, the CDS Hooks services and the dashboard."""
    from axhub.api.server import serve
    from axhub.cli.main import handle_errors

    handle_errors(lambda: serve(_settings(data_dir), host=host, port=port,
                                seed_demo=seed_demo))()  # fmt: skip


@tokens_app.command("issue")
def issue(
    label: str = typer.Argument(..., help="Name of the token (re-issuing a label replaces it)."),
    role: str = typer.Option(..., "--role", help="clinician, care_manager, care_worker, ..."),
    user: str = typer.Option(..., "--user", help="Staff or agent id (never a patient id)."),
    purpose: list[str] = typer.Option(..., "--purpose", help="Purpose(s) the token may use."),
    site: str | None = typer.Option(None, "--site", help="Clinicians: their site."),
    team: str | None = typer.Option(None, "--team", help="Care roles and agents: the team."),
    project: str | None = typer.Option(None, "--project", help="Researchers: the project."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Data folder."),
) -> None:
    """Issue a token; it is printed once and stored only as its SHA-256."""
    from axhub.api.auth import TokenTable
    from axhub.cli.main import handle_errors
    from axhub.errors import InputError
    from axhub.governance.principals import Principal, Role

    def run() -> None:
        try:
            r = Role(role)
        except ValueError:
            raise InputError("unknown role", field="role", reason=role) from None
        p = Principal(user, r, site=site, care_team=team, project_id=project)
        typer.echo(TokenTable.open(_settings(data_dir)).issue(p, purpose, label=label))

    handle_errors(run)()


@tokens_app.command("list")
def list_tokens(
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Data folder (default: the data_dir setting)."
    ),
) -> None:
    """List tokens (label, principal, role, purposes; never the token)."""
    from axhub.api.auth import TokenTable

    for e in TokenTable.open(_settings(data_dir)).entries():
        scope = e.site or e.care_team or e.project_id or ""
        typer.echo(f"{e.label}\t{e.principal_id}\t{e.role}\t{scope}\t{','.join(e.purposes)}")


@tokens_app.command("revoke")
def revoke(
    label: str = typer.Argument(..., help="Label of the token to revoke (see `tokens list`)."),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Data folder (default: the data_dir setting)."
    ),
) -> None:
    """Revoke the token with this label."""
    from axhub.api.auth import TokenTable

    n = TokenTable.open(_settings(data_dir)).revoke(label)
    typer.echo(f"revoked {n} token(s)")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
    app.add_typer(tokens_app, name="tokens")
