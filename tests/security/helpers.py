"""A collector with every receiver behind auth, the tokens it accepts, valid bodies for every
route, and small clients, shared by the security tests."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.adapters.golden import load_case

WRITE_TOKEN = "sh-write-acme-0123456789abcdef"
READ_TOKEN = "sh-read-acme-0123456789abcdef00"
BETA_TOKEN = "sh-write-beta-fedcba9876543210"
ALL_TOKENS = (WRITE_TOKEN, READ_TOKEN, BETA_TOKEN)
ENV = {"SPANHOUSE_WRITE_TOKEN": WRITE_TOKEN}

RECEIVERS = """
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{port:grpc}
      http:
        endpoint: 127.0.0.1:{port:http}
    limits:
      max_spans_per_request: 50
      max_attributes_per_span: 20
      max_attribute_value_length: 100
      max_events_per_span: 5
      max_links_per_span: 5
  archal:
    endpoint: 127.0.0.1:{port:archal}
    state_directory: "{dir}/state"
    max_request_body_size: 1MiB
  dynamiq:
    endpoint: 127.0.0.1:{port:dynamiq}
    state_directory: "{dir}/state"
    max_request_body_size: 1MiB
  agentvista:
    endpoint: 127.0.0.1:{port:agentvista}
    state_directory: "{dir}/state"
    max_request_body_size: 1MiB
  zipkin:
    endpoint: 127.0.0.1:{port:zipkin}
    state_directory: "{dir}/state"
    max_request_body_size: 1MiB
"""

SERVICE = """
exporters:
  clickhouse:
    endpoint: chdb://{dir}/clickhouse
service:
  telemetry:
    metrics:
      address: 127.0.0.1:{port:metrics}
  pipelines:
    traces:
      receivers: [otlp, archal, dynamiq, agentvista, zipkin]
      exporters: [clickhouse]
"""

AUTH = f"""
auth:
  tokens:
    - token: ${{env:SPANHOUSE_WRITE_TOKEN}}
      tenant: acme
      scopes: [write, read]
    - token: sha256:{hashlib.sha256(READ_TOKEN.encode()).hexdigest()}
      tenant: acme
      scopes: [read]
      name: acme-reader
    - token_file: beta.token
      tenant: beta
      rate_limit:
        requests_per_second: 0.5
        burst: 3
"""

CONFIG = "receivers:" + RECEIVERS + SERVICE + AUTH
OPEN_CONFIG = "receivers:" + RECEIVERS + SERVICE


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
