"""Serving the app with uvicorn: ``axhub serve`` and the end of ``axhub demo``."""

from __future__ import annotations

import logging
from collections.abc import Callable

from axhub.config import Settings

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def serve(
    settings: Settings,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    seed_demo: bool = False,
    announce: Callable[[str], None] = print,
) -> None:
    """Serve API, CDS Hooks and dashboard on ``settings.data_dir`` until interrupted.

    With ``seed_demo`` the demo care teams, readings and tokens are set up first and the
    demo tokens are printed (each run issues new ones).
    """
    import uvicorn

    from axhub.api.app import create_app

    if seed_demo:
        from axhub.api.seed import seed_demo as seed

        report = seed(settings)
        announce("demo sign-in tokens (shown once; stored hashed in the data folder):")
        for label, token in report.tokens.items():
            announce(f"  {label:<18} {token}")
    app = create_app(settings)
    announce(f"axhub dashboard: http://{host}:{port}/web/   API docs: http://{host}:{port}/docs")
    uvicorn.run(app, host=host, port=port, log_level="warning")
