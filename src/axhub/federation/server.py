"""The node's HTTP interface (FastAPI): bearer-token authenticated, aggregate answers only.

Routes (all but ``/health`` need ``Authorization: Bearer <token>`` issued by
``axhub node token``):

* ``GET  /health``               site name and status (no data);
* ``POST /queries``              submit a query spec (JSON); answers it, or ``pending`` when
                                 the site's data review committee approves queries by hand;
* ``GET  /queries/{query_id}``   the query's state; an approved query is run now;
* ``POST /train``                one training step on this site's rows (stats, fit, evaluate;
                                 ``axhub.federation.training``), for a project approved for
                                 ``ai_training``.


Errors are ``{"error": {"status", "type", "message", "fields"}}``; SQL is never echoed.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse

from axhub.errors import AxhubError, PolicyDenied
from axhub.federation.node import Node
from axhub.federation.spec import QuerySpec

log = logging.getLogger(__name__)


class Unauthorised(PolicyDenied):
    http_status = 401


def create_app(node: Node) -> FastAPI:
    """The node's FastAPI app."""
    app = FastAPI(title=f"axhub node {node.config.site}", docs_url=None, redoc_url=None)

    @app.exception_handler(AxhubError)
    async def _axhub_error(request: Request, exc: AxhubError) -> JSONResponse:
        fields = {k: v for k, v in exc.fields.items() if k != "sql"}
        body = {
            "status": exc.http_status,
            "type": type(exc).__name__,
            "message": exc.message,
            "fields": fields,
        }
        return JSONResponse({"error": body}, status_code=exc.http_status)

    def caller(authorization: str = Header(default="")) -> str:
        scheme, _, token = authorization.partition(" ")
        name = node.state.authenticate(token) if scheme.lower() == "bearer" and token else None
        if name is None:
            raise Unauthorised("a valid bearer token for this site is required")
        return name

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"site": node.config.site, "status": "ok"}

    @app.post("/queries")
    def submit(body: dict[str, Any], who: str = Depends(caller)) -> dict[str, Any]:
        spec = QuerySpec.from_json(body)
        log.info("query %s (%s) from %s", spec.query_id, spec.kind, who)
        return node.submit(spec)

    @app.get("/queries/{query_id}")
    def status(query_id: str, who: str = Depends(caller)) -> dict[str, Any]:
        return node.status(query_id)

    @app.post("/train")
    def train(body: dict[str, Any], who: str = Depends(caller)) -> dict[str, Any]:
        return {"site": node.config.site, "status": "answered", "result": node.train(body)}

    return app
