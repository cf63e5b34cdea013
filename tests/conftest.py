"""Shared test fixtures.  Per-area fixtures live in the area's own conftest."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only ../shared folder beside the project (third-party data, conformance)."""
    if not SHARED.is_dir():
        pytest.fail(f"../shared not found at {SHARED}: tests need the shared data folder")
    return SHARED
