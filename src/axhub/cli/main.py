"""The ``axhub`` command: registers each command group and maps errors to exit codes once."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler

from axhub import __version__
from axhub.config import Settings
from axhub.errors import AxhubError

app = typer.Typer(
    name="axhub",
    help="axhub: open precision-medicine AX hub for a regional health system.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def settings() -> Settings:
    """Build the Settings at the edge, from the environment."""
    s = Settings()
    logging.basicConfig(
        level=s.log_level.upper(),
        format="%(name)s: %(message)s",
        handlers=[RichHandler(console=err_console, show_path=False)],
    )
    return s


def handle_errors(fn: F) -> F:
    """Map AxhubError to a clear message and its exit code (the one place that does so)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except AxhubError as exc:
            err_console.print(f"[bold red]error:[/] {exc}")
            suggestions = exc.fields.get("suggestions")
            if suggestions:
                err_console.print(f"did you mean: {', '.join(map(str, suggestions))}?")
            raise typer.Exit(exc.exit_code) from None

    return wrapper  # type: ignore[return-value]


@app.callback()
def root() -> None:
    """axhub: open precision-medicine AX hub for a regional health system."""


@app.command()
def version() -> None:
    """Print the axhub version."""
    typer.echo(__version__)


def _register() -> None:
    """Explicit, ordered registry of command groups."""
    from axhub.cli import commands

    commands.register(app)


_register()


def main() -> None:  # pragma: no cover - console entry
    sys.exit(app())
