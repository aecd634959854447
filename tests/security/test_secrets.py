"""Tokens never leave the request that carried them: after good, wrong, over-long and
malformed uses of every token on every receiver, nothing the collector wrote (logs, metrics,
stored rows, its queue and state files) holds any of them."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from tests.conftest import StartCollector
from tests.security.helpers import (
    ALL_TOKENS,
    CONFIG,
    ENV,
    otlp_request,
    post,
    post_json,
    rows_when_ready,
    vendor_routes,
    write_token_file,
)


async def test_no_token_is_written_anywhere(start_collector: StartCollector, tmp_path: Path,
                                            caplog: Any) -> None:
    write_token_file(tmp_path)
    caplog.set_level(logging.DEBUG)
    collector = await start_collector(CONFIG, env=ENV)
    body = otlp_request(trace_byte=0x5E).SerializeToString()
    http = f"http://127.0.0.1:{collector.ports['http']}/v1/traces"
    for token in ALL_TOKENS:
        for value in (f"Bearer {token}", f"Bearer {token}x", f"Basic {token}", token, f"Bearer {token} {token}",
                      f"Bearer {token}" + "A" * 9000):
            headers = {"Authorization": value}
            await post(http, body, {"Content-Type": "application/x-protobuf", **headers})
            await post(http, b"\x0a\xff garbage", {"Content-Type": "application/x-protobuf", **headers})
            for route in vendor_routes():
                url = f"http://127.0.0.1:{collector.ports[route.receiver]}{route.path}"
                await post_json(url, route.body, headers)
                await post_json(url, [route.body], headers)  # refused: nothing may echo the header
        async with grpc.aio.insecure_channel(f"127.0.0.1:{collector.ports['grpc']}") as channel:
            stub = trace_service_pb2_grpc.TraceServiceStub(channel)
            for value in (f"Bearer {token}", f"Bearer {token}x"):
                try:
                    await stub.Export(otlp_request(trace_byte=0x5F), metadata=(("authorization", value),))
                except grpc.aio.AioRpcError as error:
                    assert token not in (error.details() or "")
    await rows_when_ready(collector, "SELECT count() FROM otel.otel_traces WHERE TraceId = '" + "5e" * 16 + "'", 1)
    rows = await collector.aquery("SELECT * FROM otel.otel_traces")
    stored = "\n".join(str(row) for row in rows)
    metrics = collector.service.metrics.render()
    logs = caplog.text
    await collector.service.shutdown()
    files = b""
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.name not in ("beta.token",) and "clickhouse" not in path.parts:
            files += path.read_bytes()
    for token in ALL_TOKENS:
        assert token not in logs, "a token was logged"
        assert token not in metrics, "a token is in the metrics"
        assert token not in stored, "a token was stored in a span"
        assert token.encode() not in files, "a token was written to a file"
