"""Unknown paths and wrong methods on an adapter receiver's port: answered 404 / 405 (with Allow)
in the vendor's error shape, as JSON, not aiohttp's plain text (issue 18, 4a)."""

from __future__ import annotations

from typing import Any, Final

import aiohttp
import orjson

from tests.conftest import Collector, StartCollector
from tests.support.configs import collector_config

CONFIG: Final = collector_config("receivers/every_vendor")
AGENTVISTA_OUTCOME: Final = "/api/v1/dashboard/traces/550e8400-e29b-41d4-a716-446655440000/outcome"


def error_shape(vendor: str, body: Any, status: int) -> None:
    """The vendor's documented error body (docs/adapters/<vendor>.md)."""
    assert isinstance(body, dict), body
    if vendor == "agentvista":
        assert set(body) == {"detail"} and isinstance(body["detail"], str)
    elif vendor == "archal":
        assert set(body) == {"error", "code", "message", "detail"}
        assert body["error"] == {404: "Not Found", 405: "Method Not Allowed"}[status]
    elif vendor == "aitracer":
        assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "code", "param"}
    elif vendor == "dynamiq":
        assert set(body) == {"error"} and body["error"]["message"] == {404: "Not Found",
                                                                         405: "Method Not Allowed"}[status]
    else:
        assert set(body) == {"error"} and isinstance(body["error"], str)


async def send(running: Collector, vendor: str, method: str, path: str) -> tuple[int, Any, dict[str, str]]:
    url = f"http://127.0.0.1:{running.ports[vendor]}{path}"
    async with aiohttp.ClientSession() as session, session.request(method, url, data=b"{}") as response:
        assert response.content_type == "application/json", await response.text()
        return response.status, orjson.loads(await response.read()), dict(response.headers)


UNKNOWN: Final = [("agentvista", "POST", "/api/v1/traces/batc"), ("archal", "POST", "/api/session"),
                  ("aitracer", "GET", "/nope"), ("dynamiq", "POST", "/v2/traces"), ("zipkin", "POST", "/")]
WRONG_METHOD: Final = [("agentvista", "GET", "/api/v1/traces/batch", "POST"),
                       ("agentvista", "GET", AGENTVISTA_OUTCOME, "PATCH"),
                       ("archal", "GET", "/api/sessions", "POST"), ("aitracer", "PUT", "/api/traces", "POST"),
                       ("dynamiq", "GET", "/v1/traces", "POST"), ("zipkin", "DELETE", "/api/v2/spans", "POST")]


async def test_unknown_paths_and_wrong_methods_answer_in_the_vendor_shape(start_collector: StartCollector) -> None:
    running = await start_collector(CONFIG)
    for vendor, method, path in UNKNOWN:
        status, body, _ = await send(running, vendor, method, path)
        assert status == 404, (vendor, path, body)
        error_shape(vendor, body, 404)
    for vendor, method, path, allowed in WRONG_METHOD:
        status, body, headers = await send(running, vendor, method, path)
        assert status == 405, (vendor, path, body)
        assert headers["Allow"] == allowed
        error_shape(vendor, body, 405)
    # The known routes still answer as before (their own validation, not the catch-all).
    status, body, _ = await send(running, "archal", "POST", "/api/sessions")
    assert status == 400 and "clones" in body["detail"], body
    status, body, _ = await send(running, "agentvista", "GET", "/api/v1/dashboard/traces/not-a-uuid")
    assert status == 422, body
