"""OTLP `ExportTraceServiceRequest`s from bench.traces models, with the OpenTelemetry GenAI
attributes (/work/shared/reference/genai-semconv.md): protobuf for OTLP/HTTP and gRPC, and
OTLP/JSON through proto.otlp_json."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from bench.traces import BodyModel, SpanModel, TraceModel, span_id, trace_id
from spanhouse.proto.otlp_json import encode_traces

SCOPE_NAME: Final = "opentelemetry.instrumentation.genai"
SCOPE_VERSION: Final = "0.4b0"
SERVICE_VERSION: Final = "1.8.2"
SERVER_ADDRESS: Final = {"openai": "api.openai.com", "anthropic": "api.anthropic.com"}

AttributeValue = str | bool | int | float | Sequence[str]
TimeMap = Callable[[int], int]


def _same_time(value: int) -> int:
    return value


def _add_attributes(target: object, pairs: Sequence[tuple[str, AttributeValue]]) -> None:
    attributes = target.attributes  # type: ignore[attr-defined]
    for key, value in pairs:
        item: KeyValue = attributes.add(key=key)
        if isinstance(value, str):
            item.value.string_value = value
        elif isinstance(value, bool):
            item.value.bool_value = value
        elif isinstance(value, int):
            item.value.int_value = value
        elif isinstance(value, float):
            item.value.double_value = value
        else:
            item.value.array_value.values.extend(AnyValue(string_value=text) for text in value)


def _messages(role: str, text: str, finish_reason: str | None = None) -> str:
    """gen_ai.input.messages / gen_ai.output.messages: a JSON list of {role, parts}."""
    message: dict[str, object] = {"role": role, "parts": [{"type": "text", "content": text}]}
    if finish_reason is not None:
        message["finish_reason"] = finish_reason
    return orjson.dumps([message]).decode()


def span_attributes(trace: TraceModel, span: SpanModel) -> list[tuple[str, AttributeValue]]:
    agent = trace.agent
    common: list[tuple[str, AttributeValue]] = [
        ("gen_ai.operation.name", span.operation), ("gen_ai.conversation.id", trace.conversation_id)]
    if span.operation == "chat":
        return [*common,
                ("gen_ai.provider.name", agent.provider), ("gen_ai.request.model", span.model),
                ("gen_ai.response.model", span.model), ("gen_ai.response.id", span.call_id),
                ("gen_ai.response.finish_reasons", ["stop"]), ("gen_ai.request.temperature", 0.2),
                ("gen_ai.request.max_tokens", 1024), ("gen_ai.usage.input_tokens", span.input_tokens),
                ("gen_ai.usage.output_tokens", span.output_tokens),
                ("server.address", SERVER_ADDRESS.get(agent.provider, "llm.internal")),
                ("gen_ai.system_instructions", _messages("system", agent.system_prompt)),
                ("gen_ai.input.messages", _messages("user", span.prompt)),
                ("gen_ai.output.messages", _messages("assistant", span.completion, "stop"))]
    if span.operation == "execute_tool":
        pairs = [*common, ("gen_ai.tool.name", span.tool_name), ("gen_ai.tool.call.id", span.call_id),
                 ("gen_ai.tool.type", "function"), ("gen_ai.tool.call.arguments", span.prompt)]
        if span.completion:
            pairs.append(("gen_ai.tool.call.result", span.completion))
        return pairs
    return [*common, ("gen_ai.provider.name", agent.provider), ("gen_ai.agent.name", agent.agent_name),
            ("gen_ai.agent.id", f"agent_{agent.agent_name}"), ("gen_ai.request.model", agent.model),
            ("session.id", trace.conversation_id), ("gen_ai.usage.input_tokens", span.input_tokens),
            ("gen_ai.usage.output_tokens", span.output_tokens)]


def otlp_request(body: BodyModel, seq: int, time_map: TimeMap = _same_time) -> ExportTraceServiceRequest:
    """The request for one sent copy of `body`: ids from `seq`, times through `time_map`
    (bench.templates uses it to find where the times sit in the encoded bytes)."""
    request = ExportTraceServiceRequest()
    by_service: dict[str, list[TraceModel]] = {}
    for trace in body.traces:
        by_service.setdefault(trace.agent.service, []).append(trace)
    for service, traces in by_service.items():
        resource_spans = request.resource_spans.add()
        _add_attributes(resource_spans.resource, [
            ("service.name", service), ("service.version", SERVICE_VERSION),
            ("deployment.environment.name", "production"), ("telemetry.sdk.language", "python"),
            ("telemetry.sdk.name", "opentelemetry"), ("telemetry.sdk.version", "1.38.0")])
        scope_spans = resource_spans.scope_spans.add()
        scope_spans.scope.name = SCOPE_NAME
        scope_spans.scope.version = SCOPE_VERSION
        for trace in traces:
            trace_bytes = trace_id(seq, body, trace)
            for model in trace.spans:
                span: Span = scope_spans.spans.add()
                span.trace_id = trace_bytes
                span.span_id = span_id(seq, model.index)
                if model.parent_index:
                    span.parent_span_id = span_id(seq, model.parent_index)
                span.name = model.name
                span.kind = Span.SPAN_KIND_CLIENT if model.operation == "chat" else Span.SPAN_KIND_INTERNAL
                span.start_time_unix_nano = time_map(model.start_ns)
                span.end_time_unix_nano = time_map(model.end_ns)
                _add_attributes(span, span_attributes(trace, model))
                if model.error:
                    span.status.code = Status.STATUS_CODE_ERROR
                    span.status.message = model.error
    return request


def otlp_protobuf(body: BodyModel, seq: int, time_map: TimeMap = _same_time) -> bytes:
    encoded: bytes = otlp_request(body, seq, time_map).SerializeToString()
    return encoded


def otlp_json(body: BodyModel, seq: int, time_map: TimeMap = _same_time) -> bytes:
    return encode_traces(otlp_request(body, seq, time_map))


def span_times(body: BodyModel) -> list[int]:
    """Every timestamp in encoding order (start, end of each span as otlp_request adds them)."""
    times: list[int] = []
    for service in dict.fromkeys(trace.agent.service for trace in body.traces):
        for trace in body.traces:
            if trace.agent.service == service:
                for model in trace.spans:
                    times.extend((model.start_ns, model.end_ns))
    return times
