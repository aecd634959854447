"""A collector with every receiver behind auth, the tokens it accepts, valid bodies for every
route, and small clients, shared by the security tests."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.adapters.golden import load_case
from tests.support.configs import collector_config

WRITE_TOKEN = "sh-write-acme-0123456789abcdef"
READ_TOKEN = "sh-read-acme-0123456789abcdef00"
BETA_TOKEN = "sh-write-beta-fedcba9876543210"
ALL_TOKENS = (WRITE_TOKEN, READ_TOKEN, BETA_TOKEN)
ENV = {"SPANHOUSE_WRITE_TOKEN": WRITE_TOKEN}

# The receivers of the security tests, with the three tokens above (auth) or without auth (open).
CONFIG = collector_config("security/auth")
OPEN_CONFIG = collector_config("security/open")


def write_token_file(directory: Path) -> None:
    (directory / "beta.token").write_text(BETA_TOKEN + "\n")


@dataclass(frozen=True)
class VendorRoute:
    receiver: str  # port name and receiver id
    path: str
    body: Any  # a valid JSON body


def vendor_routes() -> list[VendorRoute]:
    routes = []
    for receiver, case, path in (
        ("archal", "traces_events_list", "/api/traces"),
        ("archal", "session_doc_example", "/api/sessions"),
        ("dynamiq", "documented_example", "/v1/traces"),
        ("agentvista", "documented_example", "/api/v1/traces/batch"),
        ("zipkin", "client_server_pair", "/api/v2/spans"),
    ):
        request, _ = load_case(receiver, case)
        routes.append(VendorRoute(receiver, path, request.body))
    return routes


def otlp_request(spans: int = 1, trace_byte: int = 1, tenant_spoof: str | None = None) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource = request.resource_spans.add()
    attribute = resource.resource.attributes.add()
    attribute.key, attribute.value.string_value = "service.name", "security-test"
    if tenant_spoof is not None:
        spoof = resource.resource.attributes.add()
        spoof.key, spoof.value.string_value = "spanhouse.tenant", tenant_spoof
    scope = resource.scope_spans.add()
    for index in range(spans):
        span = scope.spans.add()
        span.trace_id = bytes([trace_byte]) * 16
        span.span_id = (index + 1).to_bytes(8, "big")
        span.name = f"span-{index}"
        span.start_time_unix_nano = 1_700_000_000_000_000_000
        span.end_time_unix_nano = 1_700_000_000_100_000_000
    return request


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=headers) as response:
        return response.status, dict(response.headers), await response.read()


async def post_json(url: str, document: Any, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
    status, response_headers, raw = await post(url, orjson.dumps(document),
                                               {"Content-Type": "application/json", **headers})
    try:
        return status, response_headers, orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return status, response_headers, raw  # aiohttp's own answer to a malformed request


async def rows_when_ready(collector: Any, sql: str, count: int) -> list[tuple[Any, ...]]:
    for _ in range(200):
        rows: list[tuple[Any, ...]] = await collector.aquery(sql)
        if len(rows) >= count:
            return rows
        await asyncio.sleep(0.05)
    raise AssertionError(f"{count} rows expected, got {await collector.aquery(sql)}")
