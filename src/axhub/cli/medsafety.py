"""``axhub medsafety check|evaluate``: drug–food, drug–drug and elderly medication checks."""

from __future__ import annotations

import json

import typer

medsafety_app = typer.Typer(
    help="Medication safety: drug–food (Korean foods, herbal products), drug–drug, elderly.",
    no_args_is_help=True,
)


def _split(text: str) -> list[str]:
    return [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]


@medsafety_app.command("check")
def check_command(
    drugs: str = typer.Option(
        ..., "--drugs", help='Comma-separated medicines, e.g. "warfarin,심바스타틴".'
    ),
    foods: str = typer.Option(
        "", "--foods", help='Comma-separated foods/supplements, e.g. "홍삼,자몽".'
    ),
    age: int | None = typer.Option(None, "--age", help="Age in years (65+ adds elderly checks)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per finding."),
    keep_going: bool = typer.Option(
        False, "--keep-going", help="Report unknown names as findings instead of failing."
    ),
) -> None:
    """Check medicines against each other and the diet; findings ranked by severity."""
    from axhub.cli.main import err_console, handle_errors, settings
    from axhub.medsafety.checker import check, resolve_names
    from axhub.medsafety.texts import NO_FINDING_NOTE

    @handle_errors
    def run() -> None:
        settings()
        drug_list, food_list = _split(drugs), _split(foods)
        findings = check(drug_list, food_list, age, strict=not keep_going)
        interpreted = [
            r
            for r in (*resolve_names(drug_list, "drug"), *resolve_names(food_list, "food"))
            if r.how == "fuzzy"
        ]
        for r in interpreted:
            err_console.print(
                f"interpreted {r.query!r} as {r.canonical} (fuzzy match {r.score:.0f})"
            )
        if as_json:
            typer.echo(json.dumps([f.to_dict() for f in findings], ensure_ascii=False, indent=2))
            err_console.print(NO_FINDING_NOTE["en"])
            return
        for f in findings:
            pair = f"{f.drug} + {f.other}" if f.other else f.drug
            conf = f", confidence {f.confidence:.2f}" if f.confidence is not None else ""
            typer.echo(f"[{f.severity.upper()}] {pair} ({f.kind}, {f.evidence}{conf})")
            typer.echo(f"  why:       {f.explanation['en']}")
            typer.echo(f"  clinician: {f.action['en']}")
            typer.echo(f"  patient:   {f.advice['en']}")
            typer.echo(f"  환자 안내: {f.advice['ko']}")
            for s in f.sources:
                typer.echo(f"  source:    {s}")
            if f.suggestions:
                typer.echo(f"  did you mean: {', '.join(f.suggestions)}")
        if not findings:
            typer.echo("No known or predicted interaction found for these items.")
        typer.echo(f"Note: {NO_FINDING_NOTE['en']}")
        typer.echo(f"안내: {NO_FINDING_NOTE['ko']}")

    run()


@medsafety_app.command("evaluate")
def evaluate_command(
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Cold-start recovery, cited controls and precision/recall of the mechanism inference."""
    from axhub.cli.main import handle_errors, settings
    from axhub.medsafety.audit import audit
    from axhub.medsafety.evaluation import evaluate
    from axhub.medsafety.knowledge import default_knowledge

    @handle_errors
    def run() -> None:
        settings()
        kb = default_knowledge()
        report = evaluate(kb).as_dict()
        report["audit_problems"] = [str(p) for p in audit(kb)]
        if as_json:
            typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
            return
        m = report["recall_major_or_contraindicated"]
        typer.echo(
            f"cold start, major/contraindicated recovered: {m['recovered']}/{m['of']} ({m['rate']})"
        )
        for sev, v in report["recall_by_known_severity"].items():
            typer.echo(f"  known {sev:<15} recovered {v['recovered']}/{v['of']}")
        for sev, v in report["precision_by_predicted_severity"].items():
            typer.echo(
                f"  predicted {sev:<11} precision {v['precision']} "
                f"({v['true']}/{v['alerts_on_labelled']})"
            )
        c = report["controls"]
        typer.echo(f"cited no-interaction controls: {c['n']}, alerts on them: {c['alerts']}")
        typer.echo(f"predictions on unlabelled pairs: {report['unlabelled_predictions']}")
        typer.echo(f"missed major: {', '.join(report['missed_major']) or 'none'}")
        typer.echo(f"audit problems: {len(report['audit_problems'])}")

    run()


def register(app: typer.Typer) -> None:
    app.add_typer(medsafety_app, name="medsafety")
