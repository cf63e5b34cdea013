"""Devices in the home post readings to the gateway: ``POST /readings`` on the home network.

The body is what the hub's intake takes (axhub reading JSON, an array of them, a FHIR
Observation or Bundle).  The answer comes after the reading is committed to the buffer, so
a device that got ``202`` may forget it; ``200`` means every reading was a re-send.  The
answer carries the local alerts with their Korean and English messages for the display.
Standard library only (``http.server``).
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson

from axhub.edge.gateway import Gateway

log = logging.getLogger(__name__)

MAX_BODY = 1_000_000


def serve_devices(gateway: Gateway, host: str, port: int) -> ThreadingHTTPServer:
    """Start the device listener in a background thread; ``shutdown()`` stops it."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path.rstrip("/") != "/readings":
                return self._answer(404, {"error": "POST readings to /readings"})
            size = int(self.headers.get("Content-Length") or 0)
            if size <= 0 or size > MAX_BODY:
                return self._answer(413 if size else 411, {"error": "body size"})
            res = gateway.receive(self.rfile.read(size))
            status = 202 if res.new else 200 if res.duplicates else 422
            self._answer(status, res.to_dict())

        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/status":
                return self._answer(200, gateway.status())
            self._answer(404, {"error": "GET /status"})

        def _answer(self, status: int, body: object) -> None:
            data = orjson.dumps(body)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("edge listener: " + format, *args)

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="edge-listener", daemon=True).start()
    return server
