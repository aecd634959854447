"""Sending one pre-encoded body: OTLP/HTTP and vendor JSON over one aiohttp session
(keep-alive), OTLP/gRPC over one grpc.aio channel. Each send returns what the load
generator records: a status label, the spans acknowledged and any retry delay asked for."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Protocol

import aiohttp
import grpc
import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from bench.templates import PROTOBUF
from bench.templates import Protocol as BodyProtocol

GRPC_EXPORT_METHOD: Final = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
# Labels counted as "refused, retry later" whichever transport carried them.
TOO_MANY_REQUESTS: Final = frozenset({"429", "RESOURCE_EXHAUSTED"})
UNAVAILABLE: Final = frozenset({"503", "UNAVAILABLE"})
OK: Final = frozenset({"200", "201", "202", "204", "OK"})


@dataclass(frozen=True, slots=True)
class SendResult:
    status: str  # HTTP status code, gRPC status name, or "error:<ExceptionClass>"
    acknowledged: int
    retry_after_s: float | None = None


class Sender(Protocol):
    async def send(self, body: bytearray, spans: int) -> SendResult: ...

    async def close(self) -> None: ...


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare from collectors; the caller backs off by default


def _rejected_spans(content_type: str, payload: bytes) -> int:
    """partial_success.rejected_spans of an OTLP response (0 when absent or unreadable)."""
    if not payload:
        return 0
    try:
        if content_type == PROTOBUF:
            return int(ExportTraceServiceResponse.FromString(payload).partial_success.rejected_spans)
        document = orjson.loads(payload)
        return int(document.get("partialSuccess", {}).get("rejectedSpans", 0) or 0)
    except (ValueError, AttributeError, TypeError):
        return 0


class HttpSender:
    def __init__(self, url: str, protocol: BodyProtocol, concurrency: int,
                 headers: Mapping[str, str], timeout_s: float) -> None:
        self._url = url
        self._otlp = protocol.name.startswith("otlp-")
        self._content_type = protocol.content_type
        self._headers = {"Content-Type": protocol.content_type, **headers}
        # One connection per concurrent sender, kept alive for the whole run.
        connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=timeout_s), skip_auto_headers=("User-Agent",))

    async def send(self, body: bytearray, spans: int) -> SendResult:
        try:
            async with self._session.post(self._url, data=body, headers=self._headers) as response:
                payload = await response.read()
                status = response.status
                retry_after = _retry_after(response.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            return SendResult(f"error:{type(error).__name__}", 0)
        if not 200 <= status < 300:
            return SendResult(str(status), 0, retry_after)
        rejected = _rejected_spans(self._content_type, payload) if self._otlp else 0
        return SendResult(str(status), max(0, spans - rejected))

    async def close(self) -> None:
        await self._session.close()


class GrpcSender:
    def __init__(self, target: str, headers: Mapping[str, str], timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._metadata = tuple((key.lower(), value) for key, value in headers.items()) or None
        self._channel = grpc.aio.insecure_channel(target, options=[
            ("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)])
        # What TraceServiceStub.Export is, minus the request serializer: the body is already
        # encoded, and re-serialising a message per call would cost the generator ~10 ms.
        self._export = self._channel.unary_unary(
            GRPC_EXPORT_METHOD, request_serializer=None,
            response_deserializer=ExportTraceServiceResponse.FromString)

    async def send(self, body: bytearray, spans: int) -> SendResult:
        try:
            reply: ExportTraceServiceResponse = await self._export(
                bytes(body), timeout=self._timeout_s, metadata=self._metadata)
        except grpc.aio.AioRpcError as error:
            code = error.code()
            return SendResult(code.name if code is not None else "UNKNOWN", 0)
        rejected = int(reply.partial_success.rejected_spans)
        return SendResult("OK", max(0, spans - rejected))

    async def close(self) -> None:
        await self._channel.close()


def url_for(target: str, protocol: BodyProtocol) -> str:
    """`target` as given when it names a path, else with the protocol's default path."""
    if "://" not in target:
        target = "http://" + target
    scheme_end = target.index("://") + 3
    if "/" in target[scheme_end:]:
        return target
    return target + protocol.path


def grpc_target(target: str) -> str:
    for prefix in ("http://", "grpc://"):
        if target.startswith(prefix):
            return target[len(prefix):].rstrip("/")
    return target


def make_sender(target: str, protocol: BodyProtocol, concurrency: int, headers: Mapping[str, str],
                timeout_s: float) -> Sender:
    if protocol.grpc:
        return GrpcSender(grpc_target(target), headers, timeout_s)
    return HttpSender(url_for(target, protocol), protocol, concurrency, headers, timeout_s)
