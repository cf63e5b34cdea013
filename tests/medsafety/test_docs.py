"""docs/medsafety.md documents every CLI command and every mechanism code."""

from __future__ import annotations

from pathlib import Path

from axhub.cli.medsafety import medsafety_app
from axhub.medsafety.knowledge import Knowledge

DOC = Path(__file__).resolve().parents[2] / "docs" / "medsafety.md"


def test_every_command_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    names = [c.name for c in medsafety_app.registered_commands]
    assert names and [n for n in names if f"axhub medsafety {n}" not in text] == []


def test_every_mechanism_code_is_documented(kb: Knowledge) -> None:
    text = DOC.read_text(encoding="utf-8")
    assert [m for m in kb.mechanisms if f"`{m}`" not in text] == []
