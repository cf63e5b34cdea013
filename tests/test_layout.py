"""Layout rules the test suite relies on."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_every_test_folder_is_a_package() -> None:
    # Test modules in different folders may share a basename (test_cli.py, ...); pytest can
    # only import both when each folder is a package.
    missing = sorted(
        str(d.relative_to(TESTS))
        for d in TESTS.rglob("*")
        if d.is_dir()
        and d.name != "__pycache__"
        and any(d.glob("test_*.py"))
        and not (d / "__init__.py").exists()
    )
    assert not missing, f"add an empty __init__.py to: {missing}"
