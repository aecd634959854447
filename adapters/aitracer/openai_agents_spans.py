"""OpenAI Agents SDK trace objects as OTLP spans: the trace header becomes an `invoke_workflow`
root span, each `trace.span` a span named and typed by its `span_data.type` following the
OpenTelemetry GenAI conventions; every field without a convention is kept as
`openai_agents.<type>.<field>`. The mapping table is in docs/adapters/aitracer.md."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from spanhouse.adapters.aitracer.common import link_trace_id, root_span_id
from spanhouse.adapters.common.attributes import put, to_json
from spanhouse.adapters.common.ids import span_id_from

_CLIENT: Final = Span.SpanKind.SPAN_KIND_CLIENT
_INTERNAL: Final = Span.SpanKind.SPAN_KIND_INTERNAL
PROVIDER: Final = "openai"
# model_config keys with a GenAI request attribute.
_MODEL_CONFIG: Final = {"temperature": "gen_ai.request.temperature", "top_p": "gen_ai.request.top_p",
                        "max_tokens": "gen_ai.request.max_tokens", "frequency_penalty":
                        "gen_ai.request.frequency_penalty", "presence_penalty": "gen_ai.request.presence_penalty"}


@dataclass(frozen=True, slots=True)
class TraceHeader:
    """What a `trace` object says about its trace; stored so that spans arriving in a later
    request still get the conversation id and workflow name."""

    trace_id: str
    workflow_name: str | None
    group_id: str | None
    metadata: Mapping[str, Any] | None

    def to_state(self) -> dict[str, Any]:
        return {"workflow_name": self.workflow_name, "group_id": self.group_id}


@dataclass(frozen=True, slots=True)
class AgentSpan:
    """A validated `trace.span` object."""

    span_id: str
    trace_id: str
    parent_id: str | None
    start_ns: int
    end_ns: int
    data: Mapping[str, Any]  # span_data as sent
    error: Mapping[str, Any] | None
    metadata: Mapping[str, Any] | None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else to_json(value)


def put_session(attributes: Any, workflow_name: str | None, group_id: str | None) -> None:
    if group_id:
        put(attributes, "gen_ai.conversation.id", group_id)
        put(attributes, "session.id", group_id)  # what Langfuse and Phoenix read
    put(attributes, "openai_agents.workflow_name", workflow_name)


def root_span(header: TraceHeader, start_ns: int, end_ns: int) -> Span:
    name = header.workflow_name or "Agent workflow"
    span = Span(trace_id=link_trace_id(header.trace_id), span_id=root_span_id(header.trace_id),
                name=f"invoke_workflow {name}", kind=_INTERNAL, start_time_unix_nano=start_ns,
                end_time_unix_nano=end_ns)
    attributes = span.attributes
    put(attributes, "gen_ai.operation.name", "invoke_workflow")
    put_session(attributes, header.workflow_name, header.group_id)
    put(attributes, "openai_agents.trace_id", header.trace_id)
    for key, value in (header.metadata or {}).items():
        put(attributes, f"openai_agents.metadata.{key}", value)
    return span


def _usage(attributes: Any, usage: Any, prefix: str) -> None:
    if not isinstance(usage, dict):
        put(attributes, f"{prefix}.usage", usage)
        return
    for key, value in usage.items():
        if key == "input_tokens":
            put(attributes, "gen_ai.usage.input_tokens", value)
        elif key == "output_tokens":
            put(attributes, "gen_ai.usage.output_tokens", value)
        else:
            put(attributes, f"{prefix}.usage.{key}", value)


def _agent(data: Mapping[str, Any], attributes: Any) -> tuple[str, Any, frozenset[str]]:
    name = _text(data.get("name")) or "agent"
    put(attributes, "gen_ai.operation.name", "invoke_agent")
    put(attributes, "gen_ai.agent.name", name)
    return f"invoke_agent {name}", _INTERNAL, frozenset({"name"})


def _function(data: Mapping[str, Any], attributes: Any) -> tuple[str, Any, frozenset[str]]:
    name = _text(data.get("name")) or "function"
    put(attributes, "gen_ai.operation.name", "execute_tool")
    put(attributes, "gen_ai.tool.name", name)
    put(attributes, "gen_ai.tool.type", "function")
    put(attributes, "gen_ai.tool.call.arguments", _text(data.get("input")))
    put(attributes, "gen_ai.tool.call.result", _text(data.get("output")))
    return f"execute_tool {name}", _INTERNAL, frozenset({"name", "input", "output"})


def _generation(data: Mapping[str, Any], attributes: Any) -> tuple[str, Any, frozenset[str]]:
    model = _text(data.get("model"))
    put(attributes, "gen_ai.operation.name", "chat")
    put(attributes, "gen_ai.provider.name", PROVIDER)
    put(attributes, "gen_ai.request.model", model)
    put(attributes, "gen_ai.input.messages", _text(data.get("input")))
    put(attributes, "gen_ai.output.messages", _text(data.get("output")))
    config = data.get("model_config")
    if isinstance(config, dict):
        for key, attribute in _MODEL_CONFIG.items():
            value = config.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                put(attributes, attribute, value)
    _usage(attributes, data.get("usage"), "openai_agents.generation")
    return (f"chat {model}" if model else "chat"), _CLIENT, frozenset({"model", "input", "output", "usage"})


def _response(data: Mapping[str, Any], attributes: Any) -> tuple[str, Any, frozenset[str]]:
    put(attributes, "gen_ai.operation.name", "chat")
    put(attributes, "gen_ai.provider.name", PROVIDER)
    put(attributes, "gen_ai.response.id", _text(data.get("response_id")))
    _usage(attributes, data.get("usage"), "openai_agents.response")
    return "chat", _CLIENT, frozenset({"response_id", "usage"})


def _handoff(data: Mapping[str, Any], attributes: Any) -> tuple[str, Any, frozenset[str]]:
    source, target = _text(data.get("from_agent")), _text(data.get("to_agent"))
    return f"handoff {source or '?'} -> {target or '?'}", _INTERNAL, frozenset()


def _custom(data: Mapping[str, Any], attributes: Any) -> tuple[str, Any, frozenset[str]]:
    name = _text(data.get("name")) or "custom"
    inner = data.get("data")
    if isinstance(inner, dict) and isinstance(inner.get("sdk_span_type"), str):
        put(attributes, "openai_agents.sdk_span_type", inner["sdk_span_type"])  # task and turn spans
    return name, _INTERNAL, frozenset({"name"})


def _guardrail(data: Mapping[str, Any], attributes: Any) -> tuple[str, Any, frozenset[str]]:
    name = _text(data.get("name")) or "guardrail"
    put(attributes, "openinference.span.kind", "GUARDRAIL")
    return f"guardrail {name}", _INTERNAL, frozenset()


def _audio_model(operation: str) -> Callable[[Mapping[str, Any], Any], tuple[str, Any, frozenset[str]]]:
    def mapper(data: Mapping[str, Any], attributes: Any) -> tuple[str, Any, frozenset[str]]:
        model = _text(data.get("model"))
        put(attributes, "gen_ai.provider.name", PROVIDER)
        put(attributes, "gen_ai.request.model", model)
        return (f"{operation} {model}" if model else operation), _CLIENT, frozenset({"model"})
    return mapper


def _mcp_tools(data: Mapping[str, Any], attributes: Any) -> tuple[str, Any, frozenset[str]]:
    server = _text(data.get("server"))
    return (f"mcp_tools {server}" if server else "mcp_tools"), _INTERNAL, frozenset()


def _other(data: Mapping[str, Any], attributes: Any) -> tuple[str, Any, frozenset[str]]:
    name = data.get("name")
    return (name if isinstance(name, str) and name else str(data.get("type"))), _INTERNAL, frozenset()


_MAPPERS: Final[Mapping[str, Callable[[Mapping[str, Any], Any], tuple[str, Any, frozenset[str]]]]] = {
    "agent": _agent, "function": _function, "generation": _generation, "response": _response,
    "handoff": _handoff, "custom": _custom, "guardrail": _guardrail, "transcription": _audio_model("transcription"),
    "speech": _audio_model("speech"), "speech_group": _other, "mcp_tools": _mcp_tools,
}


def agent_span(item: AgentSpan, header: TraceHeader | None) -> Span:
    data = item.data
    span_type = str(data.get("type"))
    span = Span(trace_id=link_trace_id(item.trace_id), span_id=span_id_from(item.span_id),
                parent_span_id=span_id_from(item.parent_id) if item.parent_id else root_span_id(item.trace_id),
                start_time_unix_nano=item.start_ns, end_time_unix_nano=item.end_ns)
    attributes = span.attributes
    name, kind, mapped = _MAPPERS.get(span_type, _other)(data, attributes)
    span.name = name
    span.kind = kind
    # Every field not mapped above, under the span type's namespace (structured ones as JSON).
    for key, value in data.items():
        if key != "type" and key not in mapped:
            put(attributes, f"openai_agents.{span_type}.{key}", value)
    if header is not None:
        put_session(attributes, header.workflow_name, header.group_id)
    put(attributes, "openai_agents.span_type", span_type)
    put(attributes, "openai_agents.trace_id", item.trace_id)
    put(attributes, "openai_agents.span_id", item.span_id)
    put(attributes, "openai_agents.parent_id", item.parent_id)
    for key, value in (item.metadata or {}).items():
        put(attributes, f"openai_agents.metadata.{key}", value)
    if item.error is not None:
        message = item.error.get("message")
        span.status.CopyFrom(Status(code=Status.StatusCode.STATUS_CODE_ERROR,
                                    message=message if isinstance(message, str) else "error"))
        put(attributes, "openai_agents.error.data", item.error.get("data"))
    return span
