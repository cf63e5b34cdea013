"""``axhub care ...``: enrol people, set thresholds, take readings in, watch alerts."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

care_app = typer.Typer(
    help="Care at home: enrolments, thresholds, device intake (file, MQTT), alerts.",
    no_args_is_help=True,
)


def _pairs(items: list[str], what: str) -> dict[str, float]:
    from axhub.errors import InputError

    out: dict[str, float] = {}
    for item in items:
        key, sep, value = item.partition("=")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise InputError(f"{what} must be KEY=NUMBER", field=what, reason=item)
    return out


@care_app.command("enrol")
def enrol_command(
    person: list[str] = typer.Argument(..., help="Pseudonymous person id(s)."),
    team: str = typer.Option(..., "--team", help="Care team id."),
    condition: list[str] = typer.Option([], "--condition", help="copd, hf, diabetes, frail, ..."),
    threshold: list[str] = typer.Option([], "--threshold", help="Personal threshold KEY=VALUE."),
    schedule: list[str] = typer.Option([], "--schedule", help="Readings per day KIND=N."),
    by: str = typer.Option("cli", "--by", help="Who enrols (kept with threshold changes)."),
) -> None:
    """Enrol people in home monitoring (personal thresholds checked against safety limits)."""
    from axhub.care.store import CareStore
    from axhub.cli.main import handle_errors, settings

    @handle_errors
    def run() -> None:
        store = CareStore.open(settings())
        sched = {k: int(v) for k, v in _pairs(schedule, "schedule").items()}
        personal = _pairs(threshold, "threshold")
        for p in person:
            store.enrol(p, care_team=team, conditions=condition, thresholds_=personal,
                        schedule=sched, by=by)  # fmt: skip
        typer.echo(f"enrolled {len(person)} in {team}")

    run()


@care_app.command("thresholds")
def thresholds_command(
    person: str = typer.Argument(..., help="Pseudonymous person id."),
    set_: list[str] = typer.Option([], "--set", help="Change a threshold KEY=VALUE."),
    by: str = typer.Option("cli", "--by", help="Who changes it."),
    reason: str = typer.Option("", "--reason", help="Why (kept in the history)."),
) -> None:
    """Show a person's thresholds with their sources; --set changes them (validated)."""
    from axhub.care import thresholds
    from axhub.care.store import CareStore
    from axhub.cli.main import handle_errors, settings

    @handle_errors
    def run() -> None:
        store = CareStore.open(settings())
        view = (
            store.set_thresholds(person, _pairs(set_, "set"), by=by, reason=reason)
            if set_
            else store.enrolment(person)
        )
        for key, spec in thresholds.SPECS.items():
            mark = "*" if key in view.personal else " "
            typer.echo(
                f"{mark} {key:<18} {view.thresholds[key]:>7g} {spec.unit:<8} "
                f"[{spec.lower:g}-{spec.upper:g}]  {spec.source}"
            )
        typer.echo("* = personal value; [range] = safety limits")

    run()


@care_app.command("ingest")
def ingest_command(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="NDJSON file of messages."),
    batch: int = typer.Option(1000, "--batch", help="Messages per transaction."),
) -> None:
    """Take device messages (FHIR Observation/Bundle or axhub reading JSON, one per line) in."""
    from axhub.care.intake import ingest_messages
    from axhub.care.store import CareStore
    from axhub.cli.main import handle_errors, settings

    @handle_errors
    def run() -> None:
        store = CareStore.open(settings())
        totals = {"received": 0, "stored": 0, "duplicates": 0, "quarantined": 0, "alerts": 0}
        lines = [ln for ln in path.read_bytes().splitlines() if ln.strip()]
        for start in range(0, len(lines), batch):
            res = ingest_messages(store, lines[start : start + batch], source="file")
            for k in ("received", "stored", "duplicates", "quarantined"):
                totals[k] += getattr(res, k)
            totals["alerts"] += len(res.alerts)
        typer.echo(json.dumps(totals))

    run()


@care_app.command("mqtt")
def mqtt_command(
    host: str = typer.Option("127.0.0.1", "--host", help="MQTT broker host."),
    port: int = typer.Option(1883, "--port", help="MQTT broker port."),
    topic: str = typer.Option(
        "axhub/care/readings/#", "--topic", help="Topic filter the intake subscribes to."
    ),
    client_id: str = typer.Option(
        "axhub-care-intake",
        "--client-id",
        help="MQTT client id; keep it stable so the broker keeps the session (QoS 1).",
    ),
    seconds: float = typer.Option(0, "--seconds", help="Stop after this long (0 = until Ctrl-C)."),
) -> None:
    """Run the MQTT intake (QoS 1, persistent session, acknowledged after commit)."""
    from axhub.care.mqtt import MqttIntake
    from axhub.care.store import CareStore
    from axhub.cli.main import handle_errors, settings

    @handle_errors
    def run() -> None:
        store = CareStore.open(settings())
        intake = MqttIntake(store, host=host, port=port, topic=topic, client_id=client_id).start()
        end = time.monotonic() + seconds if seconds else None
        try:
            while end is None or time.monotonic() < end:
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
        finally:
            intake.stop(drain_s=5)
        st = intake.stats
        typer.echo(json.dumps({"messages": st.messages, "stored": st.stored,
                               "duplicates": st.duplicates, "quarantined": st.quarantined,
                               "alerts": st.alerts}))  # fmt: skip

    run()


@care_app.command("sweep")
def sweep_command() -> None:
    """Run the periodic rules: device silent, missed scheduled readings."""
    from axhub.care.models import utcnow
    from axhub.care.store import CareStore
    from axhub.care.sweep import sweep
    from axhub.cli.main import handle_errors, settings

    @handle_errors
    def run() -> None:
        store = CareStore.open(settings())
        with store.session() as s:
            changes = sweep(s, utcnow())
        for c in changes:
            typer.echo(f"{c.change:<10} {c.severity:<9} {c.rule_id:<18} {c.person_id}")

    run()


@care_app.command("alerts")
def alerts_command(
    team: str | None = typer.Option(None, "--team", help="Only this care team's alerts."),
    snoozed: bool = typer.Option(False, "--snoozed", help="Include snoozed alerts."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """The worklist: open alerts, most severe first."""
    from axhub.care import alerts
    from axhub.care.store import CareStore
    from axhub.cli.main import handle_errors, settings

    @handle_errors
    def run() -> None:
        rows = alerts.worklist(CareStore.open(settings()), care_team=team, include_snoozed=snoozed)
        if as_json:
            typer.echo(json.dumps([a.to_dict() for a in rows], ensure_ascii=False, indent=2))
            return
        for a in rows:
            typer.echo(f"#{a.id:<5} {a.severity:<9} {a.person_id:<18} {a.title_en} / {a.title_ko}"
                       f"  ({a.fire_count}x, {a.status})")  # fmt: skip

    run()


@care_app.command("snooze")
def snooze_command(
    alert_id: int = typer.Argument(..., help="Alert id (from `axhub care alerts`)."),
    minutes: float = typer.Option(
        ..., "--minutes", help="Snooze length; capped, and refused for urgent alerts."
    ),
    by: str = typer.Option(..., "--by", help="Staff id of the person acting."),
    reason: str = typer.Option("", "--reason", help="Why (kept in the alert history)."),
) -> None:
    """Snooze an alert (refused for urgent and emergency; warning at most 12 h)."""
    from axhub.care import alerts
    from axhub.care.store import CareStore
    from axhub.cli.main import handle_errors, settings

    @handle_errors
    def run() -> None:
        a = alerts.snooze(CareStore.open(settings()), alert_id, minutes=minutes, by=by,
                          reason=reason)  # fmt: skip
        typer.echo(f"#{a.id} snoozed until {a.snoozed_until:%Y-%m-%d %H:%M} UTC")

    run()


@care_app.command("resolve")
def resolve_command(
    alert_id: int = typer.Argument(..., help="Alert id (from `axhub care alerts`)."),
    by: str = typer.Option(..., "--by", help="Staff id of the person acting."),
    reason: str = typer.Option("", "--reason", help="Why (kept in the alert history)."),
    ack_only: bool = typer.Option(False, "--ack", help="Acknowledge instead of resolving."),
) -> None:
    """Acknowledge (--ack) or resolve an alert."""
    from axhub.care import alerts
    from axhub.care.store import CareStore
    from axhub.cli.main import handle_errors, settings

    @handle_errors
    def run() -> None:
        store = CareStore.open(settings())
        if ack_only:
            a = alerts.acknowledge(store, alert_id, by=by)
        else:
            a = alerts.resolve(store, alert_id, by=by, reason=reason)
        typer.echo(f"#{a.id} {a.status}")

    run()


@care_app.command("rules")
def rules_command() -> None:
    """List the monitoring rules with severity and source."""
    from axhub.care.rules import RULES

    for r in RULES.values():
        typer.echo(f"{r.id:<22} {r.severity:<9} {r.title_en}  [{r.source}]")


def register(app: typer.Typer) -> None:
    app.add_typer(care_app, name="care")
