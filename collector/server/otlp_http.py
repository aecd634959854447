"""OTLP over HTTP: `POST /v1/traces` with protobuf or JSON bodies, served by the `otlp`
receiver and by adapter receivers under a vendor's path (AITracer's
`/api/integrations/otlp/v1/traces`): a shared library, so neither imports the other."""

from __future__ import annotations

from typing import Final

from aiohttp import web
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from spanhouse.collector.auth.authenticator import Principal
from spanhouse.collector.core.component import Consumer, Traces, span_count
from spanhouse.collector.core.errors import PermanentError, UnsupportedMediaTypeError, classify, from_wire
from spanhouse.collector.server.body import read_decoded_body
from spanhouse.collector.server.guard import RequestGuard
from spanhouse.collector.server.retry_dedup import RetryDedup, request_key
from spanhouse.collector.server.telemetry import ReceiverCounters
from spanhouse.proto.errors import MalformedPayloadError
from spanhouse.proto.otlp_json import SpanDefects, decode_traces_keeping_valid_spans, encode_message_json
from spanhouse.proto.status import encode_status
from spanhouse.proto.validate import drop_invalid_spans

PROTOBUF: Final = "application/x-protobuf"
JSON: Final = "application/json"


class OtlpHttpHandler:
    def __init__(self, consumer: Consumer, max_body_bytes: int, counters: ReceiverCounters,
                 guard: RequestGuard | None = None, retries: RetryDedup | None = None) -> None:
        self._consumer = consumer
        self._max_body_bytes = max_body_bytes
        self._counters = counters
        self._guard = guard or RequestGuard.open()
        self._retries = retries

    async def handle(self, request: web.Request) -> web.Response:
        content_type = request.content_type
        try:
            # Before the body is read: an unknown caller costs no more than its headers.
            principal = self._guard.admit(request.headers, "write")
        except Exception as error:
            return error_response(content_type, error)
        if content_type not in (PROTOBUF, JSON):
            return error_response(JSON, UnsupportedMediaTypeError(
                f'unsupported content type "{content_type}": send {PROTOBUF} or {JSON}'))
        try:
            body = await read_decoded_body(request, self._max_body_bytes, self._guard.limits.body_read_timeout)
        except Exception as error:
            return error_response(content_type, error)
        retries = self._retries
        if retries is None or not retries.enabled:
            return await self._store(body, content_type, principal)
        # The decoded body: a retry sent gzip'd after an identity attempt is the same request.
        key = request_key(principal.tenant, request.path, body, (content_type,))
        return await retries.once_http(key, lambda: self._store(body, content_type, principal))

    async def _store(self, body: bytes, content_type: str, principal: Principal) -> web.Response:
        try:
            traces, defects = decode(body, content_type)
        except Exception as error:
            return error_response(content_type, error)
        rejected, message = drop_invalid_spans(traces, defects)
        count = span_count(traces)
        try:
            self._guard.prepare(traces, principal, count)
        except Exception as error:
            self._counters.refused.add(count + rejected)
            return error_response(content_type, error)
        if count:
            try:
                await self._consumer.consume(traces)
            except Exception as error:
                self._counters.refused.add(count + rejected)
                return error_response(content_type, error)
        self._counters.accepted.add(count)
        if rejected:
            self._counters.refused.add(rejected)
        reply = ExportTraceServiceResponse()
        if rejected:
            reply.partial_success.rejected_spans = rejected
            reply.partial_success.error_message = message
        return encode_reply(content_type, reply)


def decode(body: bytes, content_type: str) -> tuple[Traces, SpanDefects | None]:
    """The request and, for OTLP/JSON, the spans that could not be decoded (a span of a
    protobuf body that cannot be decoded makes the whole body undecodable)."""
    if content_type == JSON:
        try:
            return decode_traces_keeping_valid_spans(body)
        except MalformedPayloadError as error:
            raise from_wire(error) from None
    try:
        traces: Traces = Traces.FromString(body)
        return traces, None
    except DecodeError as error:
        raise PermanentError(f"request body is not a valid OTLP protobuf ExportTraceServiceRequest: {error}") \
            from error


def encode_reply(content_type: str, reply: ExportTraceServiceResponse) -> web.Response:
    if content_type == JSON:
        return web.Response(body=encode_message_json(reply), content_type=JSON)
    return web.Response(body=reply.SerializeToString(), content_type=PROTOBUF)


def error_response(content_type: str, error: BaseException) -> web.Response:
    """A `google.rpc.Status` body in the request's encoding, with the classified status code."""
    answer = classify(error)
    as_json = content_type != PROTOBUF
    body = encode_status(answer.grpc_status, answer.message, as_json=as_json)
    headers = {"Retry-After": str(answer.retry_after_s)} if answer.retry_after_s is not None else {}
    if answer.http_status == 401:
        headers["WWW-Authenticate"] = "Bearer"  # RFC 6750
    return web.Response(status=answer.http_status, body=body, headers=headers,
                        content_type=JSON if as_json else PROTOBUF)


def not_traces_handler(signal: str) -> web.Response:
    return web.json_response(
        {"code": 5, "message": f"spanhouse collects traces only; {signal} are not accepted here "
                               f"(send traces to /v1/traces)"},
        status=404)
