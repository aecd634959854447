"""The OpenAI Responses proxy (POST /api/proxy/openai/responses) against a small Responses-shaped
upstream on loopback: JSON and event-stream answers passed through unchanged (the stream event
by event, never buffered whole), the span stored per exchange, preflight refusals naming their
rule, redaction before forwarding, upstream errors and timeouts; and the real openai client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from tests.conftest import Collector, StartCollector, free_port
from tests.support.configs import collector_config

CONFIG = collector_config("adapters/aitracer_proxy")


def response_object(model: str, text: str, status: str = "completed") -> dict[str, Any]:
    return {"id": "resp_test_0001", "object": "response", "created_at": 1781082000, "status": status,
            "model": f"{model}-2024-08-06", "output": [{"type": "message", "id": "msg_1", "status": "completed",
                                                       "role": "assistant", "content": [
                                                           {"type": "output_text", "text": text, "annotations": []}]}],
            "usage": {"input_tokens": 12, "output_tokens": 7, "total_tokens": 19,
                      "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}},
            "incomplete_details": None, "error": None, "parallel_tool_calls": True, "tool_choice": "auto", "tools": []}


def sse(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: ".encode() + orjson.dumps(event) + b"\n\n"


@dataclass
class Upstream:
    """An OpenAI-Responses-shaped server: JSON, SSE (held after its first delta until
    `release` is set), errors and a slow model."""

    port: int = field(default_factory=free_port)
    requests: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/responses", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append((dict(request.headers), body))
        model = body["model"]
        if model == "gpt-4o-error":
            return web.json_response({"error": {"message": "Rate limit reached", "type": "requests",
                                                "code": "rate_limit_exceeded", "param": None}}, status=429,
                                     headers={"x-request-id": "req_upstream_429"})
        if model == "gpt-4o-slow":
            await asyncio.sleep(3)
        if not body.get("stream"):
            return web.json_response(response_object(model, "All systems nominal."),
                                     headers={"x-request-id": "req_upstream_json", "openai-processing-ms": "42"})
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "x-request-id": "req_upstream_sse"})
        await response.prepare(request)
        created = response_object(model, "", "in_progress") | {"output": [], "usage": None}
        await response.write(sse({"type": "response.created", "sequence_number": 0, "response": created}))
        await response.write(sse({"type": "response.output_text.delta", "sequence_number": 1, "item_id": "msg_1",
                                  "output_index": 0, "content_index": 0, "delta": "All systems ", "logprobs": []}))
        await asyncio.wait_for(self.release.wait(), 10)  # the caller must see the delta before this
        await response.write(sse({"type": "response.output_text.delta", "sequence_number": 2, "item_id": "msg_1",
                                  "output_index": 0, "content_index": 0, "delta": "nominal.", "logprobs": []}))
        await response.write(sse({"type": "response.completed", "sequence_number": 3,
                                  "response": response_object(model, "All systems nominal.")}))
        await response.write_eof()
        return response

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    server = Upstream()
    await server.start()
    yield server
    await server.stop()


def proxy_url(running: Collector) -> str:
    return f"http://127.0.0.1:{running.ports['aitracer']}/api/proxy/openai/responses"


async def call(running: Collector, body: dict[str, Any]) -> tuple[int, bytes, dict[str, str]]:
    async with aiohttp.ClientSession() as session, session.post(
            proxy_url(running), json=body, headers={"Authorization": "Bearer akt_caller"}) as response:
        return response.status, await response.read(), dict(response.headers)


SPAN_SQL = """
SELECT SpanName, SpanKind, StatusCode, SpanAttributes FROM otel.otel_traces ORDER BY Timestamp
"""


async def test_json_answer_unchanged_and_one_span(start_collector: StartCollector, upstream: Upstream) -> None:
    running = await start_collector(CONFIG % (upstream.port, "detect"))
    status, body, headers = await call(running, {"model": "gpt-4o-mini", "input": "Give me a one-line incident "
                                                 "summary. Reach me at ops@example.com", "stream": False})
    assert status == 200
    assert orjson.loads(body) == response_object("gpt-4o-mini", "All systems nominal.")
    headers = {name.lower(): value for name, value in headers.items()}
    assert headers["x-request-id"] == "req_upstream_json" and headers["openai-processing-ms"] == "42", headers
    sent_headers, sent_body = upstream.requests[0]
    assert sent_headers["Authorization"] == "Bearer sk-upstream-test-key-0000000000"  # never the akt_ key
    assert sent_body["max_output_tokens"] == 500  # the cap, for a request that set none
    ((name, kind, code, attributes),) = await running.aquery(SPAN_SQL)
    assert (name, kind, code) == ("chat gpt-4o-mini", "Client", "Unset")
    assert {key: attributes[key] for key in (
        "gen_ai.request.model", "gen_ai.response.model", "gen_ai.response.id", "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens", "gen_ai.response.finish_reasons", "aitracer.proxy.upstream_request_id",
        "aitracer.proxy.status_code", "governance.findings", "governance.severity", "gen_ai.request.max_tokens")} == {
        "gen_ai.request.model": "gpt-4o-mini", "gen_ai.response.model": "gpt-4o-mini-2024-08-06",
        "gen_ai.response.id": "resp_test_0001", "gen_ai.usage.input_tokens": "12",
        "gen_ai.usage.output_tokens": "7", "gen_ai.response.finish_reasons": '["stop"]',
        "aitracer.proxy.upstream_request_id": "req_upstream_json", "aitracer.proxy.status_code": "200",
        "governance.findings": '["pii.email"]', "governance.severity": "medium", "gen_ai.request.max_tokens": "500"}
    assert float(attributes["aitracer.proxy.latency_ms"]) > 0


async def test_stream_passes_events_as_they_arrive(start_collector: StartCollector, upstream: Upstream) -> None:
    running = await start_collector(CONFIG % (upstream.port, "detect"))
    received = b""
    async with aiohttp.ClientSession() as session, session.post(
            proxy_url(running), json={"model": "gpt-4o", "input": "status?", "stream": True},
            headers={"Authorization": "Bearer akt_caller"}) as response:
        assert response.status == 200
        assert response.content_type == "text/event-stream"
        while b"All systems " not in received:  # the first delta, while the upstream still holds the rest
            received += await asyncio.wait_for(response.content.readany(), 5)
        assert b"response.completed" not in received
        assert await running.aquery("SELECT count() FROM otel.otel_traces") == [(0,)]  # recorded at the end
        upstream.release.set()
        received += await response.content.read()
    events = [block for block in received.split(b"\n\n") if block]
    assert [block.split(b"\n")[0] for block in events] == [
        b"event: response.created", b"event: response.output_text.delta", b"event: response.output_text.delta",
        b"event: response.completed"]
    ((name, _, code, attributes),) = await running.aquery(SPAN_SQL)
    assert (name, code) == ("chat gpt-4o", "Unset")
    assert attributes["gen_ai.usage.output_tokens"] == "7"  # from the final event
    assert attributes["aitracer.proxy.stream"] == "true"
    assert attributes["aitracer.proxy.upstream_request_id"] == "req_upstream_sse"
    assert orjson.loads(attributes["gen_ai.output.messages"])[0]["parts"][0]["content"] == "All systems nominal."


async def test_refusals_errors_and_timeouts(start_collector: StartCollector, upstream: Upstream) -> None:
    running = await start_collector(CONFIG % (upstream.port, "block"))
    status, body, _ = await call(running, {"model": "o3", "input": "hi"})
    error = orjson.loads(body)["error"]
    assert (status, error["code"]) == (400, "model.not_allowed") and '"model.not_allowed"' in error["message"]
    status, body, _ = await call(running, {"model": "gpt-4o", "input": "hi", "max_output_tokens": 501})
    assert (status, orjson.loads(body)["error"]["code"]) == (400, "max_output_tokens")
    status, body, _ = await call(running, {"model": "gpt-4o", "input": [
        {"role": "user", "content": [{"type": "input_text", "text": "card 4111 1111 1111 1111"}]}]})
    assert (status, orjson.loads(body)["error"]["code"]) == (400, "pii.card")
    assert upstream.requests == []  # nothing refused was forwarded
    status, body, _ = await call(running, {"model": "gpt-4o-error", "input": "hi"})
    assert status == 429 and orjson.loads(body)["error"]["code"] == "rate_limit_exceeded"  # the upstream's own
    status, body, _ = await call(running, {"model": "gpt-4o-slow", "input": "hi"})
    assert (status, orjson.loads(body)["error"]["code"]) == (504, "upstream_timeout")
    rows = await running.aquery("SELECT SpanName, StatusCode, SpanAttributes['governance.findings'], "
                                "SpanAttributes['aitracer.proxy.status_code'] FROM otel.otel_traces ORDER BY Timestamp")
    assert rows == [("chat o3", "Error", '["model.not_allowed"]', ""),
                    ("chat gpt-4o", "Error", '["max_output_tokens"]', ""),
                    ("chat gpt-4o", "Error", '["pii.card"]', ""),
                    ("chat gpt-4o-error", "Error", "", "429"),
                    ("chat gpt-4o-slow", "Error", "", "")]
    unreachable = await start_collector(CONFIG.replace("{port:aitracer}", "{port:second}") % (free_port(), "ignore"))
    unreachable.ports["aitracer"] = unreachable.ports["second"]
    status, body, _ = await call(unreachable, {"model": "gpt-4o", "input": "hi"})
    assert (status, orjson.loads(body)["error"]["code"]) == (502, "upstream_unreachable")


async def test_redaction_before_forwarding(start_collector: StartCollector, upstream: Upstream) -> None:
    running = await start_collector(CONFIG % (upstream.port, "redact"))
    status, _, _ = await call(running, {"model": "gpt-4o", "instructions": "Key sk-proj-abcdefghijklmnopqrstuvwx1234",
                                        "input": "Mail jane@example.com", "max_output_tokens": 100})
    assert status == 200
    _, forwarded = upstream.requests[0]
    assert forwarded["input"] == "Mail [REDACTED:pii.email]"
    assert forwarded["instructions"] == "Key [REDACTED:pii.secret]"
    ((_, _, _, attributes),) = await running.aquery(SPAN_SQL)
    assert "jane@example.com" not in orjson.dumps(attributes).decode()
    assert attributes["governance.findings"] == '["pii.email","pii.secret"]'


async def test_the_openai_client_through_the_proxy(start_collector: StartCollector, upstream: Upstream) -> None:
    from openai import AsyncOpenAI

    running = await start_collector(CONFIG % (upstream.port, "detect"))
    client = AsyncOpenAI(base_url=f"http://127.0.0.1:{running.ports['aitracer']}/api/proxy/openai",
                         api_key="akt_caller", max_retries=0)
    answer = await client.responses.create(model="gpt-4o-mini", input="Give me a one-line incident summary.")
    assert answer.output_text == "All systems nominal."
    upstream.release.set()
    stream = await client.responses.create(model="gpt-4o", input="status?", stream=True)
    kinds = [event.type async for event in stream]
    assert kinds == ["response.created", "response.output_text.delta", "response.output_text.delta",
                     "response.completed"]
    await client.close()
    assert await running.aquery("SELECT count() FROM otel.otel_traces") == [(2,)]


AUTH_CONFIG = """
auth:
  tokens:
    - token: spanhouse-secret-token-for-tenant-a
      tenant: tenant-a
      scopes: [write, read]
""" + CONFIG.replace("      upstream_api_key: sk-upstream-test-key-0000000000\n", "")


async def test_spanhouse_token_never_reaches_the_upstream(start_collector: StartCollector,
                                                         upstream: Upstream) -> None:
    """With authentication on, the caller's Authorization is spanhouse's own token: the proxy
    must not forward it, and without an upstream key it refuses rather than leak it."""
    running = await start_collector(AUTH_CONFIG % (upstream.port, "detect"))
    async with aiohttp.ClientSession() as session, session.post(
            proxy_url(running), json={"model": "gpt-4o-mini", "input": "hello"},
            headers={"Authorization": "Bearer spanhouse-secret-token-for-tenant-a"}) as response:
        status = response.status
        body = await response.read()
    assert 400 <= status < 500
    assert b"upstream_api_key" in body
    assert upstream.requests == []
