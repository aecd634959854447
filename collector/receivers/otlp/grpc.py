"""OTLP over gRPC: `opentelemetry.proto.collector.trace.v1.TraceService/Export` on grpc.aio."""

from __future__ import annotations

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from collector.component import Consumer, span_count
from collector.errors import classify
from collector.receivers.telemetry import ReceiverCounters
from proto.status import encode_retry_status
from proto.validate import drop_invalid_spans

MIB = 1024 * 1024


class TraceService(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
    def __init__(self, consumer: Consumer, counters: ReceiverCounters) -> None:
        self._consumer = consumer
        self._counters = counters

    async def Export(self, request: ExportTraceServiceRequest,
                     context: grpc.aio.ServicerContext) -> ExportTraceServiceResponse:
        rejected, message = drop_invalid_spans(request)
        count = span_count(request)
        if count:
            try:
                await self._consumer.consume(request)
            except Exception as error:
                self._counters.refused.add(count + rejected)
                answer = classify(error)
                metadata: tuple[tuple[str, str | bytes], ...] = ()
                if answer.retry_after_s is not None:
                    # Clients retry RESOURCE_EXHAUSTED only when the status carries RetryInfo.
                    metadata = (("grpc-status-details-bin", encode_retry_status(
                        answer.grpc_status.value[0], answer.message, answer.retry_after_s)),)
                await context.abort(answer.grpc_status, answer.message, trailing_metadata=metadata)
        self._counters.accepted.add(count)
        reply = ExportTraceServiceResponse()
        if rejected:
            self._counters.refused.add(rejected)
            reply.partial_success.rejected_spans = rejected
            reply.partial_success.error_message = message
        return reply


class GrpcServer:
    def __init__(self, address: str, max_recv_msg_size_mib: int, service: TraceService) -> None:
        self._address = address
        self._max_bytes = max_recv_msg_size_mib * MIB
        self._service = service
        self._server: grpc.aio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        server = grpc.aio.server(options=[
            ("grpc.max_receive_message_length", self._max_bytes),
            ("grpc.so_reuseport", 0),
        ])
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self._service, server)
        self.port = server.add_insecure_port(self._address)
        if self.port == 0:
            raise OSError(f"cannot listen on {self._address} for OTLP/gRPC")
        await server.start()
        self._server = server

    async def stop(self, grace_s: float = 5.0) -> None:
        if self._server is not None:
            await self._server.stop(grace_s)
            self._server = None
