"""Ordered registry of command groups; each group lives in its own module in this package."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach every command group to the root app (one line per group, in walk order)."""
    from axhub.cli import audit, care, demo, governance, ingest, medsafety, scores, synth, views
    from axhub.cli.agents import register as register_agents
    from axhub.cli.edge import register as register_edge
    from axhub.cli.federation import register as register_federation
    from axhub.cli.link import register as register_link
    from axhub.cli.models import register as register_models
    from axhub.cli.reference import register as register_reference
    from axhub.cli.serve import register as register_serve
    from axhub.cli.stroke import register as register_stroke

    demo.register(app)
    synth.register(app)
    ingest.register(app)
    governance.register(app)
    register_link(app)
    audit.register(app)
    views.register(app)
    scores.register(app)
    register_stroke(app)
    register_models(app)
    medsafety.register(app)
    care.register(app)
    register_agents(app)
    register_edge(app)
    register_serve(app)
    register_federation(app)
    register_reference(app)
