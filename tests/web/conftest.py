from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.region import Region, region  # tests/ is on sys.path (rootdir-relative packages)
from axhub.api.app import create_app


@pytest.fixture(scope="session")
def demo() -> Region:
    return region()


@pytest.fixture
def web(demo: Region) -> Iterator[TestClient]:
    with TestClient(create_app(demo.settings)) as c:
        yield c


def sign_in(client: TestClient, token: str, purpose: str = "") -> None:
    resp = client.post("/web/signin", data={"token": token, "purpose": purpose, "next": "/web/"},
                       follow_redirects=False)  # fmt: skip
    assert resp.status_code == 303, resp.text
