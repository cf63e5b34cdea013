"""Every command, option and setting is documented: the committed reference pages must equal
what the code generates (regenerate with `axhub reference --out docs`)."""

from __future__ import annotations

from pathlib import Path

from axhub.cli.main import app
from axhub.cli.reference import cli_markdown, settings_markdown

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_cli_reference_is_current() -> None:
    text = cli_markdown(app)
    assert "## `axhub ingest`" in text and "## `axhub demo`" in text
    assert (DOCS / "cli.md").read_text(encoding="utf-8") == text, (
        "docs/cli.md is stale: run `axhub reference --out docs`"
    )


def test_settings_reference_is_current() -> None:
    text = settings_markdown()
    assert "AXHUB_DATA_DIR" in text and "AXHUB_SECRET_KEY" in text
    assert (DOCS / "settings.md").read_text(encoding="utf-8") == text, (
        "docs/settings.md is stale: run `axhub reference --out docs`"
    )


def test_every_setting_has_a_description() -> None:
    from axhub.config import Settings

    missing = [n for n, f in Settings.model_fields.items() if not (f.description or "").strip()]
    assert not missing, f"settings without a description: {missing}"


def test_every_command_and_option_has_help() -> None:
    import typer

    from axhub.cli.reference import _walk

    missing = []
    for path, cmd in _walk(typer.main.get_command(app), ["axhub"]):
        if not (cmd.help or "").strip():
            missing.append(" ".join(path))
        for p in cmd.params:
            if p.name != "help" and not (getattr(p, "help", None) or "").strip():
                missing.append(f"{' '.join(path)} {p.name}")
    assert not missing, f"commands/options without help text: {missing}"
