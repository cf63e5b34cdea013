"""Architecture check: downstream code reads the integrated zone only through GovernedStore.

Only ``governance/access.py`` (and the ``engine/`` package, on tables it is handed) may open
stores.  This scans every module of the downstream packages for the ways around it: opening a
DuckDB file, pointing an engine at a file, naming a zone or key file, attaching databases,
importing the zone builders or key store.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "axhub"
DOWNSTREAM = ("analytics", "clinical", "medsafety", "care", "agents", "api", "web", "federation")
STORE_FILES = re.compile(r"(raw|integrated|governance|reid)\.duckdb|audit\.jsonl|(^|/)keys/")
ATTACH = re.compile(r"\bATTACH\s+(DATABASE\s+)?(IF NOT EXISTS\s+)?['\"$]")
FORBIDDEN_MODULES = (
    "axhub.ingest",
    "axhub.governance.keys",
    "axhub.governance.registry",
    "axhub.governance.deid",
    "axhub.governance.pseudonym",
    "axhub.governance.consent",
)
FORBIDDEN_NAMES = {"raw_zone_path", "integrated_path", "codebook_path", "registry_path"}
ENGINES = {"DuckDBEngine", "SparkEngine"}


def _is_memory(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value in (None, ":memory:", "")


def _callee(node: ast.Call) -> str:
    f = node.func
    if isinstance(f, ast.Attribute):
        base = f.value.id if isinstance(f.value, ast.Name) else ""
        return f"{base}.{f.attr}"
    return f.id if isinstance(f, ast.Name) else ""


def violations(path: Path) -> list[str]:
    """Each way ``path`` opens a store other than through GovernedStore, as 'file:line: why'."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []

    def flag(node: ast.AST, why: str) -> None:
        found.append(f"{path}:{getattr(node, 'lineno', 0)}: {why}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _callee(node)
            args = list(node.args) + [
                k.value for k in node.keywords if k.arg in ("database", "path")
            ]
            if name == "duckdb.connect" and any(not _is_memory(a) for a in args):
                flag(node, "duckdb.connect on a file")
            owner, _, short = name.rpartition(".")
            if short in ENGINES or (short == "from_settings" and owner in ENGINES):
                engine_args = args[1:] if short == "from_settings" else args
                if any(not _is_memory(a) for a in engine_args):
                    flag(node, f"{name} opened on a file")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if STORE_FILES.search(node.value):
                flag(node, f"names a zone or key file: {node.value[:60]!r}")
            if ATTACH.search(node.value):
                flag(node, "SQL ATTACH of a database")
        elif isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_NAMES:
            flag(node, f"uses {node.attr}")
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            flag(node, f"uses {node.id}")
        elif isinstance(node, ast.ImportFrom | ast.Import):
            mods = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
            )
            if isinstance(node, ast.ImportFrom):
                mods += [f"{node.module}.{a.name}" for a in node.names]
                if any(a.name in FORBIDDEN_NAMES for a in node.names):
                    flag(node, "imports a zone path helper")
            for m in mods:
                if any(m == f or m.startswith(f + ".") for f in FORBIDDEN_MODULES):
                    flag(node, f"imports {m}")
                    break
    return found


def downstream_modules() -> list[Path]:
    return sorted(p for pkg in DOWNSTREAM for p in (SRC / pkg).rglob("*.py"))


def test_downstream_code_has_no_way_around_the_governed_store() -> None:
    problems = [v for p in downstream_modules() for v in violations(p)]
    assert problems == []


BAD_SNIPPETS = [
    "import duckdb\ncon = duckdb.connect('axhub-data/integrated.duckdb')",
    "import duckdb\ncon = duckdb.connect(settings.data_dir / 'x.db', read_only=True)",
    "con.execute(\"ATTACH 'x.duckdb' AS z (READ_ONLY)\")",
    "from axhub.engine.duckdb import DuckDBEngine\ne = DuckDBEngine(path)",
    "e = DuckDBEngine.from_settings(s, some_path)",
    "p = settings.raw_zone_path",
    "from axhub.governance.deid import integrated_path",
    "from axhub.governance import keys",
    "import axhub.ingest.rawzone",
    "rows = read(f'{d}/keys/reid.duckdb')",
]
GOOD_SNIPPETS = [
    "import duckdb\ncon = duckdb.connect()\ncon2 = duckdb.connect(':memory:')",
    "from axhub.engine.duckdb import DuckDBEngine\ne = DuckDBEngine()\n"
    "e.register_resources('r', t)",
    "from axhub.governance.access import GovernedStore\nt = store.read(p, 'research')",
    '"""Attach the care plan to the task."""',
]


@pytest.mark.parametrize("code", BAD_SNIPPETS)
def test_scanner_flags_each_way_around(tmp_path: Path, code: str) -> None:
    path = tmp_path / "mod.py"
    path.write_text(code)
    assert violations(path), code


@pytest.mark.parametrize("code", GOOD_SNIPPETS)
def test_scanner_accepts_governed_use(tmp_path: Path, code: str) -> None:
    path = tmp_path / "mod.py"
    path.write_text(code)
    assert violations(path) == []
