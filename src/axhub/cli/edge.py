"""``axhub edge ...``: the home gateway (buffer, local safety rules, forwarding to the hub)."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from axhub.edge.gateway import EdgeConfig

edge_app = typer.Typer(
    help="Home gateway: buffer readings offline, local safety rules, forward to the hub.",
    no_args_is_help=True,
)

BUFFER_HELP = "Gateway buffer (SQLite file; created if missing)."
CONFIG_HELP = "Gateway configuration JSON (persons, personal thresholds, models); docs/edge.md."


def _config(path: Path | None) -> EdgeConfig:
    from axhub.edge.gateway import EdgeConfig

    return EdgeConfig.load(path) if path else EdgeConfig()


@edge_app.command("run")
def run_command(
    hub: str = typer.Option(
        ..., "--hub", help="Hub intake: http(s)://host:port or mqtt://host:port."
    ),
    buffer: Path = typer.Option(..., "--buffer", help=BUFFER_HELP),
    config: Path | None = typer.Option(None, "--config", help=CONFIG_HELP),
    once: bool = typer.Option(False, "--once", help="Forward what is due once, print, exit."),
    listen: str | None = typer.Option(
        None, "--listen", help="HOST:PORT where home devices POST /readings (not with --once)."
    ),
    token_env: str = typer.Option(
        "AXHUB_EDGE_TOKEN", "--token-env", help="Environment variable holding the hub token."
    ),
) -> None:
    """Forward buffered readings to the hub (with backoff), optionally taking device readings."""
    from axhub.cli.main import handle_errors
    from axhub.edge.buffer import Buffer
    from axhub.edge.gateway import Gateway
    from axhub.edge.transport import transport_for
    from axhub.errors import InputError

    @handle_errors
    def run() -> None:
        transport = transport_for(hub, os.environ.get(token_env) or None)
        gw = Gateway(Buffer(buffer), transport, config=_config(config))
        try:
            if once:
                typer.echo(json.dumps(gw.forward().to_dict()))
                return
            server = None
            if listen:
                host, _, port = listen.rpartition(":")
                if not port.isdigit():
                    raise InputError("--listen must be HOST:PORT", field="listen", reason=listen)
                from axhub.edge.listener import serve_devices

                server = serve_devices(gw, host or "127.0.0.1", int(port))
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            try:
                gw.run(stop)
            except KeyboardInterrupt:
                stop.set()
            finally:
                if server is not None:
                    server.shutdown()
        finally:
            transport.close()
            gw.buffer.close()

    run()


@edge_app.command("push")
def push_command(
    file: Path = typer.Argument(..., help="Device messages, one JSON per line (NDJSON)."),
    buffer: Path = typer.Option(..., "--buffer", help=BUFFER_HELP),
    config: Path | None = typer.Option(None, "--config", help=CONFIG_HELP),
) -> None:
    """Take device readings from a file into the buffer (local rules run; nothing is sent)."""
    from axhub.cli.main import handle_errors
    from axhub.edge.buffer import Buffer
    from axhub.edge.gateway import Gateway
    from axhub.errors import InputError

    @handle_errors
    def run() -> None:
        gw = Gateway(Buffer(buffer), None, config=_config(config))
        totals = {"received": 0, "new": 0, "duplicates": 0, "quarantined": 0, "alerts": 0}
        try:
            lines = file.read_bytes().splitlines()
        except OSError as exc:
            raise InputError(f"cannot read {file}: {exc}", file=str(file)) from None
        try:
            for line in lines:
                if line.strip():
                    res = gw.receive(line)
                    for k in ("received", "new", "duplicates", "quarantined"):
                        totals[k] += getattr(res, k)
                    totals["alerts"] += len(res.alerts)
                    for a in res.alerts:
                        typer.echo(f"{a['severity']}: {a['message_en']} / {a['message_ko']}")
        finally:
            gw.buffer.close()
        typer.echo(json.dumps(totals))

    run()


@edge_app.command("status")
def status_command(
    buffer: Path = typer.Option(..., "--buffer", help=BUFFER_HELP),
    alerts: bool = typer.Option(False, "--alerts", help="Also list the local alerts."),
) -> None:
    """Pending, sent and rejected readings, retry state and local alerts of a gateway."""
    from axhub.cli.main import handle_errors
    from axhub.edge.buffer import Buffer
    from axhub.errors import NotFoundError

    @handle_errors
    def run() -> None:
        if not buffer.exists():
            raise NotFoundError("no gateway buffer here", path=str(buffer))
        b = Buffer(buffer)
        try:
            out = b.status()
            if alerts:
                out["alerts"] = b.local_alerts()
        finally:
            b.close()
        typer.echo(json.dumps(out, ensure_ascii=False, indent=1))

    run()


def register(app: typer.Typer) -> None:
    app.add_typer(edge_app, name="edge")
