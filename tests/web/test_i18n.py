"""Every dashboard string exists in Korean and English; every key a template uses exists."""

from __future__ import annotations

import re
from pathlib import Path

from axhub.web.i18n import LANGUAGES, STRINGS

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "axhub" / "web" / "templates"
KEY = re.compile(r"""\bt\(\s*['"]([a-z0-9_.]+)['"]\s*\)""")
PREFIX = re.compile(r"""\bt\(\s*['"]([a-z0-9_.]+\.)['"]\s*~""")


def test_every_key_has_every_language() -> None:
    missing = [f"{k}:{lang}" for k, v in STRINGS.items() for lang in LANGUAGES
               if not v.get(lang, "").strip()]  # fmt: skip
    assert missing == []


def test_every_template_key_is_defined() -> None:
    used = {k for p in TEMPLATES.glob("*.html") for k in KEY.findall(p.read_text())}
    assert used, "the scan found the t('...') calls"
    assert sorted(used - set(STRINGS)) == []


def test_dynamic_prefixes_cover_their_values() -> None:
    from axhub.governance.purposes import Purpose

    prefixes = {k for p in TEMPLATES.glob("*.html") for k in PREFIX.findall(p.read_text())}
    assert {"purpose.", "severity.", "kind.", "sex.", "role.", "status."} <= prefixes
    for p in Purpose:
        assert f"purpose.{p.value}" in STRINGS
    for s in ("info", "warning", "urgent", "emergency"):
        assert f"severity.{s}" in STRINGS
    from axhub.governance.principals import Role

    for r in Role:
        assert f"role.{r.value}" in STRINGS
    for k in ("open", "acknowledged"):  # the worklist hides resolved alerts
        assert f"status.{k}" in STRINGS
    for k in ("female", "male", "other", "unknown"):
        assert f"sex.{k}" in STRINGS
    for k in ("risk", "access"):
        assert f"kind.{k}" in STRINGS


def test_scanner_sees_a_missing_key(tmp_path: Path) -> None:
    assert KEY.findall("{{ t('nope.missing') }}") == ["nope.missing"]
