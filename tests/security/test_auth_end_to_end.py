"""Tokens on every route of a running collector: 401 without or with a wrong token (in each
vendor's documented shape; OTLP 401 / UNAUTHENTICATED), 403 without the scope, and the
caller's tenant on every stored row, whatever the sender wrote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from spanhouse.proto.status import decode_status
from tests.conftest import StartCollector
from tests.security.helpers import (
    BETA_TOKEN,
    CONFIG,
    ENV,
    READ_TOKEN,
    WRITE_TOKEN,
    bearer,
    otlp_request,
    post,
    post_json,
    rows_when_ready,
    vendor_routes,
    write_token_file,
)

PROTOBUF = {"Content-Type": "application/x-protobuf"}


@pytest.fixture
async def collector(start_collector: StartCollector, tmp_path: Path) -> Any:
    write_token_file(tmp_path)
    return await start_collector(CONFIG, env=ENV)


def unauthorized_shape(receiver: str, body: Any) -> bool:
    """Each vendor's documented (or chosen, see the adapter docs) 401 body."""
    if receiver == "dynamiq":
        return bool(body == {"error": {"code": "unauthorized", "message": "Unauthorized"}})
    if receiver == "archal":
        return bool(body["code"] == "unauthorized" and {"error", "message", "detail"} <= body.keys())
    if receiver == "agentvista":
        return set(body) == {"detail"}
    return set(body) == {"error"}  # zipkin


async def test_otlp_http_needs_a_token_with_the_write_scope(collector: Any) -> None:
    url = f"http://127.0.0.1:{collector.ports['http']}/v1/traces"
    body = otlp_request().SerializeToString()
    for headers, status, code in (({}, 401, 16), (bearer("not-a-configured-token-at-all"), 401, 16),
                                  ({"Authorization": f"Basic {WRITE_TOKEN}"}, 401, 16),
                                  (bearer(READ_TOKEN), 403, 7)):
        got, response_headers, raw = await post(url, body, {**PROTOBUF, **headers})
        assert got == status
        assert decode_status(raw, as_json=False)[0] == code
        if status == 401:
            assert response_headers["WWW-Authenticate"] == "Bearer"
    status, _, _ = await post(url, body, {**PROTOBUF, **bearer(WRITE_TOKEN)})
    assert status == 200
    # The scheme is case-insensitive (RFC 7235).
    status, _, _ = await post(url, body, {**PROTOBUF, "authorization": f"bearer {WRITE_TOKEN}"})
    assert status == 200


async def test_otlp_grpc_needs_a_token_with_the_write_scope(collector: Any) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{collector.ports['grpc']}") as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        for metadata, code in (((), grpc.StatusCode.UNAUTHENTICATED),
                               ((("authorization", "Bearer wrong-token-wrong"),), grpc.StatusCode.UNAUTHENTICATED),
                               ((("authorization", f"Bearer {READ_TOKEN}"),), grpc.StatusCode.PERMISSION_DENIED)):
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await stub.Export(otlp_request(), metadata=metadata)
            assert raised.value.code() == code
        await stub.Export(otlp_request(), metadata=(("authorization", f"Bearer {WRITE_TOKEN}"),))


async def test_every_vendor_route_answers_401_and_403_in_its_shape(collector: Any) -> None:
    for route in vendor_routes():
        url = f"http://127.0.0.1:{collector.ports[route.receiver]}{route.path}"
        for headers in ({}, bearer("wrong-token-0123456789"), {"Authorization": WRITE_TOKEN}):
            status, _, body = await post_json(url, route.body, headers)
            assert status == 401, (route, headers)
            assert unauthorized_shape(route.receiver, body), (route, body)
            assert WRITE_TOKEN not in str(body)
        status, _, body = await post_json(url, route.body, bearer(READ_TOKEN))
        assert status == 403, (route, body)
        status, _, body = await post_json(url, route.body, bearer(WRITE_TOKEN))
        assert status in (200, 201, 202), (route, body)


async def test_the_tenant_is_the_callers_and_cannot_be_spoofed(collector: Any) -> None:
    url = f"http://127.0.0.1:{collector.ports['http']}/v1/traces"
    acme = otlp_request(spans=2, trace_byte=0xA1, tenant_spoof="beta")
    status, _, _ = await post(url, acme.SerializeToString(), {**PROTOBUF, **bearer(WRITE_TOKEN)})
    assert status == 200
    async with grpc.aio.insecure_channel(f"127.0.0.1:{collector.ports['grpc']}") as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        await stub.Export(otlp_request(spans=1, trace_byte=0xB1, tenant_spoof="acme"),
                          metadata=(("authorization", f"Bearer {BETA_TOKEN}"),))
    dynamiq = next(route for route in vendor_routes() if route.receiver == "dynamiq")
    status, _, _ = await post_json(f"http://127.0.0.1:{collector.ports['dynamiq']}/v1/traces", dynamiq.body,
                                   bearer(BETA_TOKEN))
    assert status == 200
    rows = await rows_when_ready(
        collector, "SELECT TraceId, TenantId, ResourceAttributes FROM otel.otel_traces ORDER BY TraceId", 4)
    by_trace = {}
    for trace_id, tenant, resource in rows:
        by_trace.setdefault(trace_id, set()).add(tenant)
        assert "spanhouse.tenant" not in resource, "the tenant lives in TenantId only"
    assert by_trace["a1" * 16] == {"acme"}
    assert by_trace["b1" * 16] == {"beta"}
    assert {"beta"} in [tenants for trace_id, tenants in by_trace.items() if trace_id not in ("a1" * 16, "b1" * 16)]
    # How the read API restricts reads: the tenant is bound as a parameter, never spliced.
    assert collector.service.host is not None
    storage = collector.service.host.storage("clickhouse")
    _, acme_rows = storage.query("SELECT count() FROM otel.otel_traces WHERE TenantId = {tenant:String}",
                                 {"tenant": "acme"})
    assert acme_rows[0][0] == 2


async def test_per_token_rate_limit_answers_429_with_retry_after_on_every_receiver(collector: Any) -> None:
    # beta: burst 3, then one request every 2 s, shared by all receivers.
    url = f"http://127.0.0.1:{collector.ports['http']}/v1/traces"
    body = otlp_request().SerializeToString()
    statuses = [(await post(url, body, {**PROTOBUF, **bearer(BETA_TOKEN)}))[0] for _ in range(3)]
    assert statuses == [200, 200, 200]
    status, headers, raw = await post(url, body, {**PROTOBUF, **bearer(BETA_TOKEN)})
    assert status == 429 and int(headers["Retry-After"]) >= 1
    assert decode_status(raw, as_json=False)[0] == 8
    for route in vendor_routes():
        status, headers, _ = await post_json(f"http://127.0.0.1:{collector.ports[route.receiver]}{route.path}",
                                             route.body, bearer(BETA_TOKEN))
        assert status == 429 and int(headers["Retry-After"]) >= 1, route
    async with grpc.aio.insecure_channel(f"127.0.0.1:{collector.ports['grpc']}") as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.Export(otlp_request(), metadata=(("authorization", f"Bearer {BETA_TOKEN}"),))
        assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    # Other tokens have their own buckets.
    status, _, _ = await post(url, body, {**PROTOBUF, **bearer(WRITE_TOKEN)})
    assert status == 200


def test_span_type_is_unchanged() -> None:
    # Guard against a stamped attribute ending up on spans rather than on resources.
    request = otlp_request()
    assert isinstance(request, ExportTraceServiceRequest)
    assert all(isinstance(span, Span) for span in request.resource_spans[0].scope_spans[0].spans)
