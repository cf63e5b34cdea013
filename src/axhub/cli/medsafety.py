"""``axhub medsafety check|evaluate``: drug–food, drug–drug and elderly medication checks."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
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


def _read_table(path: Path) -> pa.Table:
    from axhub.errors import InputError

    if not path.exists():
        raise InputError("file not found", path=str(path))
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path)
    if path.suffix == ".csv":
        import pyarrow.csv as pcsv

        return pcsv.read_csv(path)
    raise InputError("expected a .parquet or .csv file", path=str(path))


@medsafety_app.command("population")
def population_command(
    regimens: Path = typer.Option(..., "--regimens", help="Parquet/CSV with person_id, drug."),
    diets: Path | None = typer.Option(None, "--diets", help="Parquet/CSV with person_id, food."),
    ages: Path | None = typer.Option(None, "--ages", help="Parquet/CSV with person_id, age."),
    min_age: int = typer.Option(
        65, "--min-age", help="With --ages: keep people this old or older."
    ),
    min_drugs: int = typer.Option(
        5, "--min-drugs", help="With --ages: keep people on this many medicines."
    ),
    top: int = typer.Option(10, "--top", help="How many of the most common findings to print."),
    out: Path | None = typer.Option(None, "--out", help="Write all findings to this Parquet file."),
) -> None:
    """Check many people in one vectorised pass; print the most common high-severity findings."""
    from axhub.cli.main import handle_errors, settings
    from axhub.medsafety.population import check_population, select_older_polypharmacy, summarise
    from axhub.medsafety.texts import NO_FINDING_NOTE

    @handle_errors
    def run() -> None:
        settings()
        reg = _read_table(regimens)
        diet = _read_table(diets) if diets else None
        age = _read_table(ages) if ages else None
        if age is not None:
            reg, age = select_older_polypharmacy(reg, age, min_age, min_drugs)
            typer.echo(f"people aged {min_age}+ on >= {min_drugs} medicines: {age.num_rows}")
        findings = check_population(reg, diet, age)
        if out is not None:
            import pyarrow.parquet as pq

            pq.write_table(findings, out)
        people = pc.count_distinct(findings["person_id"]).as_py() if findings.num_rows else 0
        typer.echo(f"findings: {findings.num_rows} for {people} people")
        typer.echo("most common major/contraindicated findings (people):")
        for r in summarise(findings, min_rank=3, top=top).to_pylist():
            other = f" + {r['other']}" if r["other"] else ""
            typer.echo(
                f"  {r['people']:>7}  {r['severity']:<15} {r['drug']}{other} "
                f"({r['kind']}, {r['evidence']}, {r['mechanism']})"
            )
        unresolved = findings.filter(pc.equal(findings["kind"], "unresolved"))
        if unresolved.num_rows:
            names = pc.unique(unresolved["drug"]).to_pylist()[:10]
            typer.echo(f"unrecognised names ({unresolved.num_rows} rows): {', '.join(names)}")
        typer.echo(f"Note: {NO_FINDING_NOTE['en']}")

    run()


def register(app: typer.Typer) -> None:
    app.add_typer(medsafety_app, name="medsafety")
