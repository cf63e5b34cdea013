"""The one JSON error shape, pinned for 401, 403, 404, 422 and 500."""

from __future__ import annotations

from fastapi.testclient import TestClient

from axhub.api.app import create_app

SHAPE_KEYS = {"status", "type", "message", "fields"}


def assert_shape(resp, status: int, kind: str) -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == SHAPE_KEYS
    assert body["error"]["status"] == status
    assert body["error"]["type"] == kind
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def test_401_without_or_with_unknown_token(client) -> None:
    err = assert_shape(client.get("/api/v1/me"), 401, "Unauthenticated")
    assert "Bearer" in err["message"]
    resp = client.get("/api/v1/me", headers={"Authorization": "Bearer axh_nope"})
    assert_shape(resp, 401, "Unauthenticated")
    assert resp.headers["WWW-Authenticate"] == "Bearer"


def test_403_names_the_refused_purpose(client, auth) -> None:
    err = assert_shape(client.get("/api/v1/me", headers=auth("researcher", "treatment")), 403,
                       "PolicyDenied")  # fmt: skip
    assert err["fields"]["reason"] == "treatment"
    assert err["fields"]["allowed"] == ["research"]


def test_404_with_suggestions(client, auth) -> None:
    err = assert_shape(
        client.get("/api/v1/region/indicators/hypertensoin", headers=auth("analyst")),
        404, "NotFoundError",
    )  # fmt: skip
    assert "hypertension" in err["fields"]["suggestions"]


def test_422_names_the_field(client, auth) -> None:
    resp = client.post("/api/v1/cohorts/count", headers=auth("researcher"), json={"age_min": -3})
    err = assert_shape(resp, 422, "InputError")
    assert err["fields"]["problems"][0]["field"] == "body.age_min"


def test_500_hides_the_detail(demo) -> None:
    app = create_app(demo.settings)

    def boom() -> None:
        raise RuntimeError("secret detail /path/to/data")

    app.add_api_route("/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as c:
        err = assert_shape(c.get("/boom"), 500, "InternalError")
    assert "secret" not in err["message"]


def test_engine_error_does_not_echo_sql(client, auth) -> None:
    from axhub.errors import EngineError

    app = client.app

    def fail() -> None:
        raise EngineError("query failed", sql="SELECT secret FROM resources")

    app.add_api_route("/engine-fail", fail)
    err = assert_shape(client.get("/engine-fail"), 500, "EngineError")
    assert "sql" not in err["fields"]
