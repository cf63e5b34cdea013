"""Helpers shared by the synth tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

SMALL_PEOPLE = 1500
SMALL_SEED = 11


def read_ndjson(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]
