"""docs/care.md documents every rule, threshold, fixed line, source and CLI command."""

from __future__ import annotations

from pathlib import Path

from axhub.care.rules import RULES
from axhub.care.thresholds import FIXED, SOURCES, SPECS
from axhub.cli.care import care_app

DOC = Path(__file__).resolve().parents[2] / "docs" / "care.md"


def test_every_rule_threshold_and_source_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [f"`{k}`" for k in (*RULES, *SPECS, *FIXED) if f"`{k}`" not in text]
    missing += [f"**{k}**" for k in SOURCES if f"**{k}**" not in text]
    assert missing == []


def test_every_care_command_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    names = [c.name for c in care_app.registered_commands]
    assert names and [n for n in names if f"axhub care {n}" not in text] == []
