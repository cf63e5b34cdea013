"""Property tests from the OpenAPI document: no 5xx, every response matches its schema."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402

from axhub.api.app import create_app  # noqa: E402

from .region import region  # noqa: E402

_demo = region()
# its own copy of the data folder: random calls may resolve alerts and decide approvals
_dir = Path(tempfile.mkdtemp(prefix="axhub-schemathesis-"))
atexit.register(shutil.rmtree, _dir, True)
shutil.copytree(_demo.settings.data_dir, _dir / "data")
_app = create_app(_demo.settings.model_copy(update={"data_dir": _dir / "data"}))
schema = schemathesis.openapi.from_asgi("/openapi.json", _app)


@schema.parametrize()
@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))  # fmt: skip
@pytest.mark.slow
def test_api_never_5xx_and_matches_schema(case) -> None:
    label = "care-manager"
    if case.path.startswith(("/api/v1/region", "/api/v1/cohorts")):
        label = "analyst"
    case.headers = {**(case.headers or {}),
                    "Authorization": f"Bearer {_demo.seed.tokens[label]}"}  # fmt: skip
    case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])
