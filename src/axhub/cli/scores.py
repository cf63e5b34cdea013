"""``axhub scores``: every validated score for each row of a CSV or Parquet file (thin wrapper)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import typer

from axhub.errors import InputError

FORMATS = ("csv", "parquet")


def read_table(path: Path) -> pa.Table:
    """Read a CSV or Parquet file; errors name the file (and the reader's reason)."""
    if not path.is_file():
        raise InputError("input file not found", path=str(path))
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pacsv.read_csv(path)
        if suffix in (".parquet", ".pq"):
            return pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(
            "cannot read input file", path=str(path), reason=str(exc).splitlines()[0]
        ) from None
    raise InputError("input must be .csv or .parquet", path=str(path), reason=f"suffix {suffix!r}")


def write_table(table: pa.Table, path: Path, fmt: str) -> None:
    """Write the scored table; CSV gets plain string reasons instead of dictionary columns."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        pq.write_table(table, path)
        return
    cols = [
        c.cast(pa.string()) if pa.types.is_dictionary(c.type) else c for c in table.itercolumns()
    ]
    pacsv.write_csv(pa.Table.from_arrays(cols, names=table.column_names), path)


def scores_command(
    input: Path = typer.Option(
        ..., "--input", "-i", help="CSV or Parquet file, one row per person."
    ),
    output: Path = typer.Option(..., "--output", "-o", help="Output file."),
    format: str = typer.Option(
        "", "--format", "-f", help="csv or parquet (default: from the output suffix)."
    ),
    kdm_reference: Path | None = typer.Option(
        None, "--kdm-reference", help="CSV/Parquet reference population to fit KDM on."
    ),
    keep: str = typer.Option(
        "person_id", "--keep", help="Comma-separated input columns copied to the output."
    ),
) -> None:
    """Compute every score (ids in docs/scores.md) for each row of INPUT; write OUTPUT."""
    from axhub.cli.main import handle_errors

    handle_errors(_run)(input, output, format, kdm_reference, keep)


def _run(input: Path, output: Path, fmt: str, kdm_reference: Path | None, keep: str) -> None:
    from axhub.clinical.scores import kdm_fit, read_inputs, score_table, summarise

    fmt = (fmt or output.suffix.lstrip(".")).lower()
    if fmt == "pq":
        fmt = "parquet"
    if fmt not in FORMATS:
        raise InputError(
            "output format must be csv or parquet", path=str(output), reason=f"format {fmt!r}"
        )
    table = read_table(input)
    kdm = None
    if kdm_reference is not None:
        ref = read_table(kdm_reference)
        kdm = kdm_fit(read_inputs(ref, path=str(kdm_reference)))
    first_line = 2 if input.suffix.lower() == ".csv" else None
    problems: dict[str, int] = {}
    scored = score_table(
        table,
        kdm=kdm,
        keep=[k for k in keep.split(",") if k],
        path=str(input),
        first_line=first_line,
        problems=problems,
    )
    write_table(scored, output, fmt)
    summary = summarise(scored)
    typer.echo(f"scored {table.num_rows} rows from {input} -> {output} ({fmt})")
    if problems:
        listed = ", ".join(f"{k} {v}" for k, v in sorted(problems.items()))
        typer.echo(f"implausible values excluded (rows per column): {listed}")
    width = max(len(k) for k in summary)
    for score_id, counts in summary.items():
        typer.echo(
            f"  {score_id:<{width}}  computed {counts['computed']:>8}  "
            f"not computable {counts['not_computable']:>8}"
        )


def register(app: typer.Typer) -> None:
    """Attach ``axhub scores`` to the root app."""
    app.command("scores")(scores_command)
