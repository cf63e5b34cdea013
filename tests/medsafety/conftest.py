"""Fixtures for the medication-safety tests (the bundled knowledge base, loaded once)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from axhub.medsafety.knowledge import DATA_DIR, Knowledge, default_knowledge


@pytest.fixture(scope="session")
def kb() -> Knowledge:
    return default_knowledge()


@pytest.fixture()
def data_copy(tmp_path: Path) -> Path:
    """A writable copy of the bundled data folder."""
    dst = tmp_path / "data"
    shutil.copytree(DATA_DIR, dst)
    return dst
