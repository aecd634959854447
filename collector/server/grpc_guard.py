"""A gRPC server interceptor that authenticates and rate-limits each call from its metadata
before the message is parsed, so an unknown caller costs no more than its headers, and then
parses the message itself, so that a corrupt one is the sender's INVALID_ARGUMENT."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from spanhouse.collector.auth.authenticator import metadata_headers
from spanhouse.collector.core.errors import classify
from spanhouse.collector.server.guard import RequestGuard
from spanhouse.proto.status import encode_retry_status


class GuardInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, guard: RequestGuard, scope: str = "write") -> None:
        self._guard = guard
        self._scope = scope

    async def intercept_service(self, continuation: Callable[[Any], Awaitable[Any]],
                                handler_call_details: grpc.HandlerCallDetails) -> Any:
        try:
            self._guard.admit(metadata_headers(handler_call_details.invocation_metadata), self._scope)
        except Exception as error:
            return _refusal(error)
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None or handler.request_deserializer is None:
            return handler
        return _parsing_here(handler)


def _parsing_here(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """The handler with its message parsed here: grpc's own parsing answers a corrupt message
    with UNKNOWN and logs a traceback for each, where the sender deserves INVALID_ARGUMENT."""
    deserialize = handler.request_deserializer
    behavior = handler.unary_unary

    async def parse_then_handle(raw: bytes, context: grpc.aio.ServicerContext) -> Any:
        try:
            request = deserialize(raw)
        except Exception as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                f"the message is not a valid ExportTraceServiceRequest: {error}")
        return await behavior(request, context)

    return grpc.unary_unary_rpc_method_handler(parse_then_handle, response_serializer=handler.response_serializer)


def _refusal(error: BaseException) -> grpc.RpcMethodHandler:
    answer = classify(error)
    metadata: tuple[tuple[str, str | bytes], ...] = ()
    if answer.retry_after_s is not None:
        metadata = (("grpc-status-details-bin", encode_retry_status(
            answer.grpc_status.value[0], answer.message, answer.retry_after_s)),)

    # No request deserializer: the refused message is never parsed.
    async def refuse(request: bytes, context: grpc.aio.ServicerContext) -> None:
        await context.abort(answer.grpc_status, answer.message, trailing_metadata=metadata)

    return grpc.unary_unary_rpc_method_handler(refuse)
