"""Agent fixtures: a care store with the governance boundary, in a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from .harness import Env, make_env


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return make_env(tmp_path)
