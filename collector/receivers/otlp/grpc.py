"""OTLP over gRPC: `opentelemetry.proto.collector.trace.v1.TraceService/Export` on grpc.aio."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, NoReturn

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from spanhouse.collector.auth.authenticator import Principal, metadata_headers
from spanhouse.collector.core.component import Consumer, span_count
from spanhouse.collector.core.errors import classify
from spanhouse.collector.server.grpc_guard import GuardInterceptor
from spanhouse.collector.server.guard import RequestGuard
from spanhouse.collector.server.limits import InputLimits
from spanhouse.collector.server.retry_dedup import Answer, RetryDedup, request_key
from spanhouse.collector.server.telemetry import ReceiverCounters
from spanhouse.proto.status import encode_retry_status
from spanhouse.proto.validate import drop_invalid_spans

MIB = 1024 * 1024
SERVICE_NAME: Final = "opentelemetry.proto.collector.trace.v1.TraceService"
# The route part of a gRPC request's key (docs/retries.md).
GRPC_ROUTE: Final = f"grpc:/{SERVICE_NAME}/Export"


@dataclass(frozen=True, slots=True)
class ReceivedExport:
    """An Export message with the bytes it was parsed from."""

    raw: bytes
    request: ExportTraceServiceRequest

    @classmethod
    def parse(cls, raw: bytes) -> ReceivedExport:
        return cls(raw, ExportTraceServiceRequest.FromString(raw))


class TraceService(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
    def __init__(self, consumer: Consumer, counters: ReceiverCounters, guard: RequestGuard | None = None,
                 retries: RetryDedup | None = None) -> None:
        self._consumer = consumer
        self._counters = counters
        self.guard = guard or RequestGuard.open()
        self._retries = retries

    def rpc_handler(self) -> grpc.GenericRpcHandler:
        """Export served with the message's bytes kept beside it (ReceivedExport), for its key."""
        return grpc.method_handlers_generic_handler(SERVICE_NAME, {"Export": grpc.unary_unary_rpc_method_handler(
            self.export_received, request_deserializer=ReceivedExport.parse,
            response_serializer=ExportTraceServiceResponse.SerializeToString)})

    async def export_received(self, received: ReceivedExport,
                              context: grpc.aio.ServicerContext) -> ExportTraceServiceResponse:
        return await self._export(received.request, received.raw, context)

    async def Export(self, request: ExportTraceServiceRequest,
                     context: grpc.aio.ServicerContext) -> ExportTraceServiceResponse:
        return await self._export(request, None, context)

    async def _export(self, request: ExportTraceServiceRequest, raw: bytes | None,
                      context: grpc.aio.ServicerContext) -> ExportTraceServiceResponse:
        # GuardInterceptor refused unknown callers and applied the rate limit before the
        # message was parsed; this only learns the caller's tenant.
        try:
            principal = self.guard.identify(metadata_headers(context.invocation_metadata()), "write")
        except Exception as error:
            await abort(context, error)
        retries = self._retries
        if retries is None or not retries.enabled:
            return await self._store(request, context, principal)
        # The message as received (after grpc-encoding is undone): serialising it again would
        # cost ~3.8 us a span, hashing the bytes ~0.8.
        key = request_key(principal.tenant, GRPC_ROUTE, raw if raw is not None else request.SerializeToString())

        async def store() -> Answer:
            reply = await self._store(request, context, principal)
            return Answer(200, reply.SerializeToString())
        answer = await retries.once(key, store)
        reply: ExportTraceServiceResponse = ExportTraceServiceResponse.FromString(answer.body)
        return reply

    async def _store(self, request: ExportTraceServiceRequest, context: grpc.aio.ServicerContext,
                     principal: Principal) -> ExportTraceServiceResponse:
        """Stores the request's valid spans; a refusal aborts the call (an exception)."""
        rejected, message = drop_invalid_spans(request)
        count = span_count(request)
        try:
            self.guard.prepare(request, principal, count)
        except Exception as error:
            self._counters.refused.add(count + rejected)
            await abort(context, error)
        if count:
            try:
                await self._consumer.consume(request)
            except Exception as error:
                self._counters.refused.add(count + rejected)
                await abort(context, error)
        self._counters.accepted.add(count)
        reply = ExportTraceServiceResponse()
        if rejected:
            self._counters.refused.add(rejected)
            reply.partial_success.rejected_spans = rejected
            reply.partial_success.error_message = message
        return reply


async def abort(context: grpc.aio.ServicerContext, error: BaseException) -> NoReturn:
    answer = classify(error)
    # The id the details were logged under, as OTLP/HTTP's X-Request-Id header.
    metadata: tuple[tuple[str, str | bytes], ...] = (("x-request-id", answer.request_id),)
    if answer.retry_after_s is not None:
        # Clients retry RESOURCE_EXHAUSTED only when the status carries RetryInfo.
        metadata += (("grpc-status-details-bin", encode_retry_status(
            answer.grpc_status.value[0], answer.message, answer.retry_after_s)),)
    await context.abort(answer.grpc_status, answer.message, trailing_metadata=metadata)
    raise AssertionError("context.abort returned")  # it raises; this tells mypy


class GrpcServer:
    def __init__(self, address: str, max_recv_msg_size_mib: int, service: TraceService,
                 credentials: grpc.ServerCredentials | None = None, limits: InputLimits | None = None,
                 max_connections: int | None = None) -> None:
        self._address = address
        self._max_bytes = max_recv_msg_size_mib * MIB
        self._service = service
        self._credentials = credentials
        self._limits = limits or InputLimits()
        # The configured cap, cut to the process's connection budget by the receiver.
        self._max_connections = max_connections or self._limits.max_connections
        self._server: grpc.aio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        limits = self._limits
        server = grpc.aio.server(interceptors=[GuardInterceptor(self._service.guard)], options=[
            ("grpc.max_receive_message_length", self._max_bytes),
            ("grpc.so_reuseport", 0),
            # Slow clients: a TLS and HTTP/2 handshake, and idleness, are bounded in time.
            ("grpc.server_handshake_timeout_ms", int(limits.header_read_timeout * 1000)),
            ("grpc.max_connection_idle_ms", int(max(limits.body_read_timeout, 60.0) * 1000)),
            ("grpc.max_allowed_incoming_connections", self._max_connections),
        ], maximum_concurrent_rpcs=self._max_connections)
        server.add_generic_rpc_handlers((self._service.rpc_handler(),))
        if self._credentials is not None:
            self.port = server.add_secure_port(self._address, self._credentials)
        else:
            self.port = server.add_insecure_port(self._address)
        if self.port == 0:
            raise OSError(f"cannot listen on {self._address} for OTLP/gRPC")
        await server.start()
        self._server = server

    async def stop(self, grace_s: float = 5.0) -> None:
        if self._server is not None:
            await self._server.stop(grace_s)
            self._server = None
