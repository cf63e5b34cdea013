"""One small generated region shared by the synth tests (generated once per session)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from axhub.synth import generate

from ._util import SMALL_PEOPLE, SMALL_SEED


@pytest.fixture(scope="session")
def region(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("region")
    manifest = generate(SMALL_PEOPLE, SMALL_SEED, out)
    return out, manifest
