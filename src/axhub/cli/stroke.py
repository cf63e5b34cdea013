"""``axhub stroke``: the stroke full-cycle pathway over the governed region (thin wrapper)."""

from __future__ import annotations

from pathlib import Path

import typer

SHORT = {
    "borderline": "border",
    "intermediate": "interm",
    "not computable": "n/c",
    "af_oac_gap": "AF no OAC",
    "tia_needs_triage": "TIA",
    "secondary_bp_gap": "BP",
    "secondary_ldl_gap": "LDL",
    "secondary_antithrombotic_gap": "no AT",
    "secondary_statin_gap": "no statin",
}


def stroke_command(
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Data folder with the integrated zone (default: setting)."
    ),
    user: str = typer.Option("analyst", "--user", help="Your staff id (audit log)."),
    role: str = typer.Option(
        "researcher", "--role", help="researcher (with --project) or clinician (with --site)."
    ),
    project: str | None = typer.Option(None, "--project", help="Approved project id."),
    site: str | None = typer.Option(None, "--site", help="Clinician's site."),
    purpose: str = typer.Option("research", "--purpose", help="research, treatment, ..."),
    out: Path | None = typer.Option(
        None, "--out", help="Write the person-level findings (pseudonymous) to this Parquet file."
    ),
    regional: bool = typer.Option(
        True, "--regional/--no-regional", help="Print the released per-district summary."
    ),
) -> None:
    """Risk tiers, AF anticoagulation gaps, TIA triage and post-stroke gaps; per district."""
    from rich.console import Console
    from rich.table import Table

    from axhub.cli.main import handle_errors, settings

    @handle_errors
    def run() -> None:
        import pyarrow.parquet as pq

        from axhub.clinical.features import governed_features
        from axhub.clinical.stroke import (
            GAP_COLUMNS,
            GAP_LABELS,
            TIER_ORDER,
            audited_release,
            pathway,
            totals,
        )
        from axhub.errors import InputError
        from axhub.governance.access import GovernedStore
        from axhub.governance.principals import Principal, Role

        s = settings()
        if data_dir is not None:
            s = s.model_copy(update={"data_dir": data_dir})
        try:
            r = Role(role)
        except ValueError:
            raise InputError(
                f"unknown role {role!r}", field="--role", suggestions=[x.value for x in Role]
            ) from None
        me = Principal(user, r, project_id=project, site=site)
        store = GovernedStore(s)
        findings = pathway(governed_features(store, me, purpose))
        console = Console()
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(findings, out)
            console.print(f"{findings.num_rows:,} person rows -> {out}")
        t = totals(findings)
        table = Table(title="stroke pathway (people you may see)")
        table.add_column("finding")
        table.add_column("people", justify="right")
        for key in ("persons", "primary_prevention", "af", "prior_stroke", "tia"):
            table.add_row(key, f"{t[key]:,}")
        for tier in TIER_ORDER:
            table.add_row(f"risk tier: {tier}", f"{t['tier_' + tier]:,}")
        for g in GAP_COLUMNS:
            table.add_row(GAP_LABELS[g], f"{t[g]:,}")
        console.print(table)
        if not regional:
            return
        rel = audited_release(store, me, purpose, findings)
        cells: dict[str, dict[str, object]] = {}
        for d, k, n in zip(
            *(rel.tiers.column(c).to_pylist() for c in ("district", "risk_tier", "n")), strict=True
        ):
            cells.setdefault(d, {})[k] = n
        for d, k, n in zip(
            *(rel.gaps.column(c).to_pylist() for c in ("district", "finding", "n")), strict=True
        ):
            cells.setdefault(d, {})[k] = n
        dist = Table(title="by district (released: cells 1-9 hidden as <10)")
        cols = [*TIER_ORDER, *GAP_COLUMNS]
        dist.add_column("district")
        for c in cols:
            dist.add_column(SHORT.get(c, c), justify="right")
        for d in [*sorted(x for x in cells if x != "(total)"), "(total)"]:
            dist.add_row(d, *("<10" if cells[d].get(c) is None else str(cells[d][c]) for c in cols))
        console.print(dist)
        console.print(
            "tiers: 10-year ASCVD <5 / 5-7.5 / 7.5-20 / >=20 % (ACC/AHA 2019), n/c = not "
            "computable; after stroke: BP >=130/80, LDL >=70 mg/dL, no antithrombotic (AT), "
            "no statin (AHA/ASA 2021)"
        )

    run()


def register(app: typer.Typer) -> None:
    """Attach ``axhub stroke`` to the root app."""
    app.command("stroke")(stroke_command)
