from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from axhub.api.app import create_app

from .region import Region, region


@pytest.fixture(scope="session")
def demo() -> Region:
    return region()


@pytest.fixture(scope="session")
def client(demo: Region) -> Iterator[TestClient]:
    with TestClient(create_app(demo.settings)) as c:
        yield c


@pytest.fixture(scope="session")
def auth(demo: Region):
    def headers(label: str, purpose: str | None = None) -> dict[str, str]:
        h = {"Authorization": f"Bearer {demo.seed.tokens[label]}"}
        if purpose:
            h["X-Purpose-Of-Use"] = purpose
        return h

    return headers
