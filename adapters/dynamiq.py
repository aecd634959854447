"""Dynamiq trace runs to OTLP: `POST /v1/traces` with `{"runs": [...]}` as the Dynamiq SDK's
DynamiqTracingClient sends it; one span per run, one child span per entry of `executions`.

The field rules are in docs/adapters/dynamiq.md. What the SDK puts in a run (checked against
dynamiq-ai/dynamiq `dynamiq/callbacks/tracing.py`): `metadata.workflow` {id, version} on the
workflow run, `metadata.node` (the serialized node: group, type, name, model, connection,
prompt...) on node runs, `metadata.usage` {prompt_tokens, completion_tokens, ...} once an LLM
node has answered, and `output` {content, tool_calls} for LLM nodes."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Final

import orjson
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from adapters.base import (
    AdapterPlugin,
    AdapterReceiverConfig,
    AdapterRequest,
    AdapterResponse,
    AdapterResult,
    Route,
    StateView,
)
from adapters.ids import span_id_from, trace_id_from
from adapters.times import TimeFormatError, iso_to_ns
from collector.component import Traces
from collector.config.types import ADDRESS
from collector.receivers.limits import json_deeper_than

RUN_TYPES: Final = frozenset({"workflow", "flow", "node"})
RUN_STATUSES: Final = frozenset({"succeeded", "failed", "skipped", "canceled"})
ALLOWED_VALUES: Final = {"type": RUN_TYPES, "status": RUN_STATUSES}
# The fields the Dynamiq collector validates, in the order its page lists them (and so the
# order of the `details` map).
VALIDATED_FIELDS: Final = ("id", "name", "type", "trace_id", "source_id", "start_time", "end_time", "status")
VALIDATED_FIELD_SET: Final = frozenset(VALIDATED_FIELDS)
TIME_FIELDS: Final = frozenset({"start_time", "end_time"})
# Fields this adapter maps itself; any other field of a run is kept as `dynamiq.<field>`.
MAPPED_FIELDS: Final = frozenset({*VALIDATED_FIELDS, "parent_run_id", "session_id", "input", "output", "error",
                                  "metadata", "executions", "tags"})
MAPPED_EXECUTION_FIELDS: Final = frozenset({"id", "start_time", "end_time", "status", "input", "output", "error",
                                            "metadata"})
# Free-form values are stored as JSON text; orjson refuses to write more than 254 levels, and
# nothing a tracing SDK sends comes near this, so deeper values are refused with a 400.
MAX_NESTING_DEPTH: Final = 128
# Go's time.UnixNano and ClickHouse's DateTime64(9) both end in 2262.
MAX_TIME_NS: Final = 2**63 - 1
SCOPE_NAME: Final = "dynamiq"
# Go's http.StatusText, which the Dynamiq collector's error bodies use as `message`.
STATUS_TEXT: Final = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
                      405: "Method Not Allowed", 413: "Request Entity Too Large", 415: "Unsupported Media Type",
                      429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}
# Dynamiq node class (or connection class) name, lowercased -> gen_ai.provider.name.
PROVIDERS: Final = {
    "openai": "openai", "azureai": "azure.ai.openai", "anthropic": "anthropic", "bedrock": "aws.bedrock",
    "aws": "aws.bedrock", "vertexai": "gcp.vertex_ai", "gemini": "gcp.gemini", "mistral": "mistral_ai",
    "groq": "groq", "cohere": "cohere", "deepseek": "deepseek", "perplexity": "perplexity", "xai": "x_ai",
    "watsonx": "ibm.watsonx.ai",
}


@dataclass(frozen=True, slots=True)
class DynamiqConfig(AdapterReceiverConfig):
    endpoint: Annotated[str, ADDRESS] = field(default="127.0.0.1:4411", metadata={
        "description": "host:port this receiver listens on (Dynamiq and OTLP both use POST /v1/traces)."})


@dataclass(frozen=True, slots=True)
class DynamiqAdapter:
    config: DynamiqConfig

    @property
    def routes(self) -> Sequence[Route]:
        return (Route("POST", "/v1/traces", handle_traces),)

    def error_response(self, status: int, code: str, message: str,
                       retry_after_s: int | None = None) -> AdapterResponse:
        error: dict[str, Any] = {"code": code, "message": STATUS_TEXT.get(status, "Error")}
        if status == 400 and message:
            # The receiver's 400s (a body that is not JSON) are about the body as a whole.
            error["details"] = {"body": clean_text(message)}
        return AdapterResponse(status, {"error": error})


PLUGIN: Final = AdapterPlugin(name="dynamiq", config_class=DynamiqConfig, create=DynamiqAdapter,
                              description="Dynamiq SDK trace runs (POST /v1/traces)")


@dataclass(frozen=True, slots=True)
class Run:
    """A run that passed validation: the fields as sent plus the validated ones, parsed."""

    fields: Mapping[str, Any]
    id: str
    name: str
    type: str
    trace_id: str
    source_id: str
    status: str
    start_ns: int
    end_ns: int


def handle_traces(request: AdapterRequest, state: StateView) -> AdapterResult:
    runs, details = validate(request.body, request.max_body_depth)
    if details:
        return AdapterResult(AdapterResponse(400, {"error": {
            "code": "bad_request", "message": STATUS_TEXT[400], "details": details}}))
    return AdapterResult(AdapterResponse(200, {"message": "ok"}), to_traces(runs))


# ---- validation -------------------------------------------------------------------------


def validate(body: Any, max_body_depth: int | None = None) -> tuple[list[Run], dict[str, str]]:
    """The runs, or the `details` map naming every bad field (ozzo-validation's wording, which
    the Dynamiq collector's "cannot be blank" comes from). `max_body_depth`: how deep the body
    is known to nest at most (AdapterRequest.max_body_depth)."""
    if not isinstance(body, dict):
        return [], {"body": "cannot be blank" if body is None else "must be a JSON object"}
    runs = body.get("runs")
    if runs is None or runs == []:
        return [], {"runs": "cannot be blank"}
    if not isinstance(runs, list):
        return [], {"runs": "must be an array"}
    details: dict[str, str] = {}
    valid: list[Run] = []
    # A field's value nests MAX_NESTING_DEPTH levels at most where the body nests 3 more (the
    # body, `runs`, the run). The receiver's own limit (64 levels by default) usually settles
    # it; else one walk of the runs array spares a walk per field.
    may_be_too_deep = ((max_body_depth is None or max_body_depth > MAX_NESTING_DEPTH + 3)
                       and json_deeper_than(runs, MAX_NESTING_DEPTH + 2))
    for index, run in enumerate(runs):
        checked = check_run(f"runs.{index}", run, details, may_be_too_deep)
        if checked is not None:
            valid.append(checked)
    return valid, details


def check_run(prefix: str, run: Any, details: dict[str, str], may_be_too_deep: bool = True) -> Run | None:
    """The run, or None with its problems added to `details`. `may_be_too_deep=False` tells
    that no value of the run nests deeper than MAX_NESTING_DEPTH (checked by the caller)."""
    if not isinstance(run, dict):
        details[prefix] = "must be an object"
        return None
    problems: dict[str, str] = {}
    texts: dict[str, str] = {}
    times: dict[str, int] = {}
    for name in VALIDATED_FIELDS:
        value: Any = run.get(name)
        problem = text_problem(value)
        if name in TIME_FIELDS:
            if problem is None:
                times[name], problem = checked_time(value)
            elif problem != "cannot be blank":
                problem = "must be a valid date"
        elif problem is None and name in ALLOWED_VALUES and value not in ALLOWED_VALUES[name]:
            problem = "must be a valid value"
        if problem is None:
            texts[name] = value
        else:
            problems[f"{prefix}.{name}"] = problem
    if may_be_too_deep:
        for name, value in run.items():
            if name not in VALIDATED_FIELD_SET and too_deep(value):
                problems[clean_text(f"{prefix}.{name}")] = f"must not be nested deeper than {MAX_NESTING_DEPTH} levels"
    if problems:
        details.update(problems)
        return None
    return Run(run, texts["id"], texts["name"], texts["type"], texts["trace_id"], texts["source_id"],
               texts["status"], times["start_time"], times["end_time"])


def text_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return "cannot be blank" if value is None else "must be a string"
    if not value or value.isspace():  # `not value.strip()`, without copying the text
        return "cannot be blank"
    if not is_utf8(value):
        # A lone surrogate (a JSON "\ud800" decoded by a lenient parser) cannot be stored, and
        # replacing it in an id would merge distinct ids.
        return "must be valid UTF-8"
    return None


def checked_time(text: str) -> tuple[int, str | None]:
    """Unix nanoseconds and None, or 0 and the problem with the time."""
    # Strings only, as Go's time.Time reads them (the shared ISO 8601 parser); ASCII only, as
    # `\d` in that parser would otherwise take other scripts' digits.
    if not text.isascii():
        return 0, "must be a valid date"
    try:
        nanos = iso_to_ns(text)
    except (TimeFormatError, OverflowError):  # OverflowError: year 1 or 9999 moved by its offset
        return 0, "must be a valid date"
    if not 0 <= nanos <= MAX_TIME_NS:
        return 0, "must be a date between 1970-01-01 and 2262-04-11"
    return nanos, None


def too_deep(value: Any, limit: int = MAX_NESTING_DEPTH) -> bool:
    """Whether objects and arrays nest deeper than `limit`; iterative, so any depth is safe."""
    return json_deeper_than(value, limit)


def is_utf8(text: str) -> bool:
    if text.isascii():
        return True  # a flag of the str object: no lone surrogate, and no copy of the text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def clean_text(text: str) -> str:
    """The text with lone surrogates replaced by U+FFFD (as Go's JSON decoder does)."""
    if text.isascii() or is_utf8(text):  # isascii() first: it spares a call on most texts
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def json_text(value: Any) -> str:
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except (orjson.JSONEncodeError, TypeError):
        # orjson refuses integers beyond 64 bits and lone surrogates; the standard library
        # writes both (the surrogates escaped), and depth was bounded by validation.
        return json.dumps(value, ensure_ascii=True, default=str, separators=(",", ":"))


def put(attributes: Any, key: str, value: Any) -> None:
    """Adds `key=value` unless the value is None: scalars keep their OTLP type; objects and
    arrays become JSON text (the issue's rule). `key` is clean text (clean_text() a vendor's)."""
    if value is None:
        return
    # Built in place: constructing a KeyValue and appending it copies the message, which was
    # the largest cost of translating a run (bench.adapters).
    attribute = attributes.add()
    attribute.key = key
    target = attribute.value
    if isinstance(value, str):
        target.string_value = clean_text(value)
    elif isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int):
        if -(2**63) <= value < 2**63:
            target.int_value = value
        else:
            target.string_value = str(value)
    elif isinstance(value, float):
        if math.isfinite(value):
            target.double_value = value
        else:
            target.string_value = str(value)
    else:
        target.string_value = json_text(value)


def put_strings(attributes: Any, key: str, value: Any) -> None:
    """A list of strings (empty too) as an OTLP string array; anything else as `put` keeps it."""
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        attribute = attributes.add()
        attribute.key = key
        array = attribute.value.array_value
        array.SetInParent()  # an empty list is still an (empty) array value
        values = array.values
        for item in value:
            values.add().string_value = clean_text(item)
    else:
        put(attributes, key, value)


# ---- mapping ----------------------------------------------------------------------------


def to_traces(runs: Sequence[Run]) -> Traces:
    """One ResourceSpans per service (see `service_of`), in the order first seen."""
    by_id = {run.id: run for run in runs}
    workflow_by_trace: dict[str, Run] = {}
    for run in runs:
        if run.type == "workflow":
            workflow_by_trace.setdefault(run.trace_id, run)
    traces = Traces()
    scopes: dict[tuple[str, str, str], Any] = {}
    for run in runs:
        workflow = workflow_of(run, by_id) or workflow_by_trace.get(run.trace_id)
        service, workflow_info = service_of(run, workflow)
        key = (service, json_text(workflow_info.get("id")), json_text(workflow_info.get("version")))
        spans = scopes.get(key)
        if spans is None:
            resource_spans = traces.resource_spans.add()
            resource = resource_spans.resource.attributes
            put(resource, "service.name", service)
            put(resource, "dynamiq.workflow.id", workflow_info.get("id"))
            put(resource, "dynamiq.workflow.version", workflow_info.get("version"))
            scope_spans = resource_spans.scope_spans.add()
            scope_spans.scope.name = SCOPE_NAME
            spans = scopes[key] = scope_spans.spans
        append_run(spans, run)
    return traces


def workflow_of(run: Run, by_id: Mapping[str, Run]) -> Run | None:
    """The workflow run above `run` in this request, following `parent_run_id`."""
    current, seen = run, {run.id}
    while current.type != "workflow":
        parent = current.fields.get("parent_run_id")
        if not isinstance(parent, str) or parent in seen or parent not in by_id:
            return None
        seen.add(parent)
        current = by_id[parent]
    return current


def service_of(run: Run, workflow: Run | None) -> tuple[str, Mapping[str, Any]]:
    """service.name: the workflow's `name`, else its `id` (from the workflow run's
    `metadata.workflow`), else the run's `source_id`."""
    metadata = workflow.fields.get("metadata") if workflow is not None else None
    info = metadata.get("workflow") if isinstance(metadata, dict) else None
    if not isinstance(info, dict):
        return run.source_id, {}
    for key in ("name", "id"):
        value = info.get(key)
        if isinstance(value, str) and value.strip():
            return clean_text(value), info
    return run.source_id, info


def append_run(spans: Any, run: Run) -> None:
    fields = run.fields
    span = spans.add()
    span.trace_id = trace_id_from(run.trace_id)
    span.span_id = span_id_from(run.id)
    parent = fields.get("parent_run_id")
    if isinstance(parent, str) and parent.strip() and parent != run.id:
        span.parent_span_id = span_id_from(clean_text(parent))
    span.name = run.name
    span.start_time_unix_nano = run.start_ns
    # The SDK stamps runs with the wall clock, which can step back; a clock step should not
    # cost the whole batch, so the end is clamped and the time as sent kept.
    span.end_time_unix_nano = max(run.start_ns, run.end_ns)
    set_status(span, run.status, fields.get("error"))
    attributes = span.attributes
    put(attributes, "dynamiq.run.id", run.id)
    put(attributes, "dynamiq.run.type", run.type)
    put(attributes, "dynamiq.run.status", run.status)
    put(attributes, "dynamiq.trace_id", run.trace_id)
    put(attributes, "dynamiq.parent_run_id", parent)
    put(attributes, "dynamiq.source_id", run.source_id)
    put_session(attributes, fields.get("session_id"))
    span.kind = put_genai(attributes, run)
    put_strings(attributes, "dynamiq.tags", fields.get("tags"))
    for name in ("input", "output", "error", "metadata"):
        put(attributes, f"dynamiq.{name}", fields.get(name))
    if run.end_ns < run.start_ns:
        put(attributes, "dynamiq.end_time", fields.get("end_time"))
    for name, value in fields.items():
        if name not in MAPPED_FIELDS:
            put(attributes, clean_text(f"dynamiq.{name}"), value)
    executions = fields.get("executions")
    if not isinstance(executions, list):
        put(attributes, "dynamiq.executions", executions)
        return
    unmapped = []
    for entry in executions:
        if not append_execution(spans, run, entry):
            unmapped.append(entry)
    if unmapped:
        put(attributes, "dynamiq.executions", unmapped)


def append_execution(spans: Any, run: Run, entry: Any) -> bool:
    """A child span of the run for one execution; False (and no span) when the entry has no
    usable id or start time: it is then kept on the run as `dynamiq.executions`."""
    if not isinstance(entry, dict) or text_problem(entry.get("id")) or text_problem(entry.get("start_time")):
        return False
    start_ns, problem = checked_time(entry["start_time"])
    if problem:
        return False
    end_text = entry.get("end_time")
    end_usable = False
    end_ns = run.end_ns  # an execution without a usable end (the node failed around it) ends with its run
    if isinstance(end_text, str):
        parsed_end_ns, problem = checked_time(end_text)
        if problem is None:
            end_usable, end_ns = True, parsed_end_ns
    span = spans.add()
    span.trace_id = trace_id_from(run.trace_id)
    span.span_id = span_id_from(entry["id"])
    span.parent_span_id = span_id_from(run.id)
    span.name = f"{run.name} execution"
    span.kind = Span.SPAN_KIND_INTERNAL
    span.start_time_unix_nano = start_ns
    span.end_time_unix_nano = max(start_ns, end_ns)
    status = entry.get("status")
    set_status(span, status, entry.get("error"))
    attributes = span.attributes
    put(attributes, "dynamiq.execution.id", entry["id"])
    put(attributes, "dynamiq.execution.status", status)
    put(attributes, "dynamiq.run.id", run.id)
    put_session(attributes, run.fields.get("session_id"))
    for name in ("input", "output", "error", "metadata"):
        put(attributes, f"dynamiq.{name}", entry.get(name))
    if end_text is not None and (not end_usable or end_ns < start_ns):
        put(attributes, "dynamiq.end_time", end_text)
    for name, value in entry.items():
        if name not in MAPPED_EXECUTION_FIELDS:
            put(attributes, clean_text(f"dynamiq.execution.{name}"), value)
    return True


def set_status(span: Any, status: Any, error: Any) -> None:
    if status == "failed":
        span.status.code = Status.STATUS_CODE_ERROR
        span.status.message = error_message(error)
    elif status == "succeeded":
        span.status.code = Status.STATUS_CODE_OK


def error_message(error: Any) -> str:
    """The SDK sends `{"message", "traceback"}`; the message is the status message."""
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return clean_text(error["message"])
    if isinstance(error, str):
        return clean_text(error)
    return "" if error is None else json_text(error)


def put_session(attributes: Any, session_id: Any) -> None:
    if isinstance(session_id, str) and session_id.strip():
        # Both: gen_ai.conversation.id is the convention, session.id what Langfuse and Phoenix read.
        put(attributes, "session.id", session_id)
        put(attributes, "gen_ai.conversation.id", session_id)
    else:
        put(attributes, "dynamiq.session_id", session_id)


# ---- GenAI conventions ------------------------------------------------------------------

# Serialized LLM node field -> attribute; numbers only.
REQUEST_PARAMETERS: Final = (
    ("temperature", "gen_ai.request.temperature", float), ("top_p", "gen_ai.request.top_p", float),
    ("presence_penalty", "gen_ai.request.presence_penalty", float),
    ("frequency_penalty", "gen_ai.request.frequency_penalty", float),
    ("max_tokens", "gen_ai.request.max_tokens", int), ("seed", "gen_ai.request.seed", int),
)


def put_genai(attributes: Any, run: Run) -> Any:
    """gen_ai.* attributes from the run's type and its serialized node; returns the span kind
    (CLIENT for model calls, as the conventions ask, INTERNAL otherwise)."""
    if run.type == "workflow":
        put(attributes, "gen_ai.operation.name", "invoke_workflow")
        return Span.SPAN_KIND_INTERNAL
    metadata = run.fields.get("metadata")
    if run.type != "node" or not isinstance(metadata, dict) or not isinstance(metadata.get("node"), dict):
        return Span.SPAN_KIND_INTERNAL
    node = metadata["node"]
    group = node.get("group")
    put(attributes, "dynamiq.node.group", text_or_none(group))
    put(attributes, "dynamiq.node.type", text_or_none(node.get("type")))
    if group == "llms":
        put_llm(attributes, run, node, metadata)
        return Span.SPAN_KIND_CLIENT
    if group == "embedders":
        put(attributes, "gen_ai.operation.name", "embeddings")
        put(attributes, "gen_ai.provider.name", provider_of(node))
        put(attributes, "gen_ai.request.model", text_or_none(node.get("model")))
        put_usage(attributes, metadata, run.fields.get("output"))
        return Span.SPAN_KIND_CLIENT
    if group == "agents":
        put(attributes, "gen_ai.operation.name", "invoke_agent")
        put(attributes, "gen_ai.agent.id", text_or_none(node.get("id")))
        put(attributes, "gen_ai.agent.name", text_or_none(node.get("name")) or run.name)
        put(attributes, "gen_ai.agent.description", text_or_none(node.get("description")))
        llm = node.get("llm")
        if isinstance(llm, dict):
            put(attributes, "gen_ai.provider.name", provider_of(llm))
            put(attributes, "gen_ai.request.model", text_or_none(llm.get("model")))
    elif group == "tools":
        put(attributes, "gen_ai.operation.name", "execute_tool")
        put(attributes, "gen_ai.tool.name", text_or_none(node.get("name")) or run.name)
        put(attributes, "gen_ai.tool.description", text_or_none(node.get("description")))
    elif group == "retrievers":
        put(attributes, "gen_ai.operation.name", "retrieval")
    return Span.SPAN_KIND_INTERNAL


def put_llm(attributes: Any, run: Run, node: Mapping[str, Any], metadata: Mapping[str, Any]) -> None:
    put(attributes, "gen_ai.operation.name", "chat")
    put(attributes, "gen_ai.provider.name", provider_of(node))
    put(attributes, "gen_ai.request.model", text_or_none(node.get("model")))
    for source, target, kind in REQUEST_PARAMETERS:
        value: Any = node.get(source)
        # Integers where the convention has integers (max_tokens, seed); any number for the rest.
        is_number = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if is_number and (kind is float or isinstance(value, int)):
            put(attributes, target, kind(value))
    stop = node.get("stop")
    if isinstance(stop, list):
        put_strings(attributes, "gen_ai.request.stop_sequences", stop)
    put_usage(attributes, metadata, run.fields.get("output"))
    prompt = node.get("prompt")
    messages = input_messages(prompt.get("messages") if isinstance(prompt, dict) else None)
    if messages:
        put(attributes, "gen_ai.input.messages", json_text(messages))
    answer = output_messages(run.fields.get("output"))
    if answer:
        put(attributes, "gen_ai.output.messages", json_text(answer))


def put_usage(attributes: Any, metadata: Mapping[str, Any], output: Any) -> None:
    """The SDK's `metadata.usage` (litellm's prompt/completion counts and costs); an `usage`
    object in the output is read the same way when the metadata has none."""
    usage = metadata.get("usage")
    if not isinstance(usage, dict) and isinstance(output, dict):
        usage = output.get("usage")
    if not isinstance(usage, dict):
        return
    for target, sources in (("gen_ai.usage.input_tokens", ("prompt_tokens", "input_tokens")),
                            ("gen_ai.usage.output_tokens", ("completion_tokens", "output_tokens"))):
        for source in sources:
            value = usage.get(source)
            if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63:
                put(attributes, target, value)
                break
    cost = usage.get("total_tokens_cost_usd")
    if isinstance(cost, int | float) and not isinstance(cost, bool) and math.isfinite(cost):
        put(attributes, "gen_ai.usage.cost", float(cost))


def provider_of(node: Mapping[str, Any]) -> str | None:
    """gen_ai.provider.name from the node class (`dynamiq.nodes.llms.OpenAI`), else its
    connection class, else the litellm prefix of the model (`ollama/llama3`)."""
    connection = node.get("connection")
    for class_path in (node.get("type"), connection.get("type") if isinstance(connection, dict) else None):
        if isinstance(class_path, str):
            provider = PROVIDERS.get(class_path.rsplit(".", 1)[-1].lower())
            if provider:
                return provider
    model = node.get("model")
    if isinstance(model, str) and "/" in model.strip("/"):
        return clean_text(model.split("/", 1)[0].lower())
    return None


def input_messages(messages: Any) -> list[dict[str, Any]] | None:
    """The prompt's messages as gen_ai.input.messages ({role, parts}); None if they are not
    the chat shape."""
    if not isinstance(messages, list) or not messages:
        return None
    converted = []
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            return None
        parts = message_parts(message.get("content"))
        if parts is None:
            return None
        converted.append({"role": message["role"], "parts": parts})
    return converted


def message_parts(content: Any) -> list[Any] | None:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    if isinstance(content, list) and all(isinstance(part, dict) for part in content):
        return [message_part(part) for part in content]
    return None


def message_part(part: Mapping[str, Any]) -> Any:
    """Vision messages hold OpenAI-style parts: text and image_url become the conventions'
    text and uri parts; any other part is kept as sent."""
    if part.get("type") == "text" and isinstance(part.get("text"), str):
        return {"type": "text", "content": part["text"]}
    image = part.get("image_url")
    if part.get("type") == "image_url" and isinstance(image, dict) and isinstance(image.get("url"), str):
        return {"type": "uri", "modality": "image", "uri": image["url"]}
    return part


def output_messages(output: Any) -> list[dict[str, Any]] | None:
    """An LLM node's `{content, tool_calls}` as one assistant message."""
    if not isinstance(output, dict) or "content" not in output:
        return None
    parts: list[dict[str, Any]] = []
    content = output.get("content")
    if isinstance(content, str) and content:
        parts.append({"type": "text", "content": content})
    tool_calls = output.get("tool_calls")
    for call in tool_calls if isinstance(tool_calls, list) else ():
        if isinstance(call, dict):
            function = call["function"] if isinstance(call.get("function"), dict) else {}
            part = {"type": "tool_call", "id": call.get("id"), "name": function.get("name"),
                    "arguments": function.get("arguments")}
            parts.append({key: value for key, value in part.items() if value is not None})
    return [{"role": "assistant", "parts": parts}] if parts else None


def text_or_none(value: Any) -> str | None:
    return clean_text(value) if isinstance(value, str) and value.strip() else None
