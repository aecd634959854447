"""The pure half of the AITracer OpenAI Responses proxy: the governance preflight of a request
(model allow-list, max_output_tokens cap, PII block or redact), an incremental reader of the
upstream's event stream that keeps only what the span needs, and the span of one exchange."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import orjson
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from spanhouse.adapters.common.attributes import put, to_json
from spanhouse.collector.governance.rules import (
    MODEL_NOT_ALLOWED,
    PII_RULES,
    find_pii,
    mask_text,
    model_allowed,
    severity_of,
)

MAX_OUTPUT_TOKENS_RULE: Final = "max_output_tokens"
# Events that end a Responses stream; their `response` holds the usage and the final status.
TERMINAL_EVENTS: Final = frozenset({"response.completed", "response.incomplete", "response.failed"})
# An event larger than this is passed through but not parsed (the span then lacks usage).
MAX_PARSED_EVENT_BYTES: Final = 16 * 1024 * 1024
# Not "off": YAML reads an unquoted off as false.
PiiMode = Literal["ignore", "detect", "block", "redact"]


@dataclass(frozen=True, slots=True)
class PreflightPolicy:
    allowed_models: Sequence[str] = ()
    max_output_tokens: int = 0  # 0: no cap
    pii: PiiMode = "detect"
    pii_rules: Sequence[str] = PII_RULES
    mask: str = "[REDACTED:{rule}]"


@dataclass(frozen=True, slots=True)
class Preflight:
    body: dict[str, Any]  # what is forwarded (redacted, capped)
    changed: bool  # the body differs from the one received
    findings: list[str] = field(default_factory=list)
    refused_rule: str | None = None
    refusal: str = ""


def _texts(body: dict[str, Any]) -> list[tuple[Any, Any]]:
    """(container, key) of every text the caller sends to the model: `instructions`, `input`
    as text, and the text of input messages and their content parts."""
    places: list[tuple[Any, Any]] = []
    if isinstance(body.get("instructions"), str):
        places.append((body, "instructions"))
    value = body.get("input")
    if isinstance(value, str):
        places.append((body, "input"))
    elif isinstance(value, list):
        for message in value:
            if not isinstance(message, dict):
                continue
            content = message.get("content")
            if isinstance(content, str):
                places.append((message, "content"))
            elif isinstance(content, list):
                places.extend((part, "text") for part in content
                              if isinstance(part, dict) and isinstance(part.get("text"), str))
            for key in ("output", "arguments"):  # function call outputs sent back to the model
                if isinstance(message.get(key), str):
                    places.append((message, key))
    return places


def preflight(body: dict[str, Any], policy: PreflightPolicy) -> Preflight:
    """The checks before forwarding. A refusal names its rule; with `pii: redact` the
    forwarded body has every match masked."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return Preflight(body, False, [], "invalid_request", "model: field required (a model name)")
    findings: set[str] = set()
    if policy.allowed_models and not model_allowed(model, policy.allowed_models):
        return Preflight(body, False, [MODEL_NOT_ALLOWED], MODEL_NOT_ALLOWED,
                         f'governance preflight refused the request: rule "{MODEL_NOT_ALLOWED}": model "{model}" '
                         f'is not allowed (allowed: {", ".join(policy.allowed_models)})')
    forwarded = body
    changed = False
    cap = policy.max_output_tokens
    if cap > 0:
        requested = body.get("max_output_tokens")
        if isinstance(requested, int) and not isinstance(requested, bool) and requested > cap:
            return Preflight(body, False, [MAX_OUTPUT_TOKENS_RULE], MAX_OUTPUT_TOKENS_RULE,
                             f'governance preflight refused the request: rule "{MAX_OUTPUT_TOKENS_RULE}": '
                             f"max_output_tokens {requested} is above the cap of {cap}")
        if requested is None:
            forwarded = {**body, "max_output_tokens": cap}  # the cap bounds requests that set none
            changed = True
    if policy.pii != "ignore":
        if policy.pii == "redact":
            forwarded = orjson.loads(orjson.dumps(forwarded))  # a copy to mask in place
        for container, key in _texts(forwarded):
            matches = find_pii(container[key], policy.pii_rules)
            if not matches:
                continue
            findings.update(match.rule for match in matches)
            if policy.pii == "redact":
                container[key] = mask_text(container[key], matches, policy.mask)
                changed = True
        if findings and policy.pii == "block":
            rules = sorted(findings)
            return Preflight(body, False, rules, rules[0],
                             f'governance preflight refused the request: rule "{rules[0]}": the input holds '
                             f'{", ".join(rules)} (PII is blocked by this proxy)')
    return Preflight(forwarded, changed, sorted(findings))


class EventStreamReader:
    """Reads server-sent events as they pass, remembering the first `response.created` model
    and the last terminal event's `response`; memory is bounded by the largest event."""

    def __init__(self) -> None:
        self._pending = b""
        self.events = 0
        self.model: str | None = None
        self.final: dict[str, Any] | None = None
        self.final_type: str | None = None

    def feed(self, chunk: bytes) -> None:
        data = self._pending + chunk
        data = data.replace(b"\r\n", b"\n")
        *complete, self._pending = data.split(b"\n\n")
        if len(self._pending) > MAX_PARSED_EVENT_BYTES:
            self._pending = b""
        for block in complete:
            if block.strip():
                self._event(block)

    def close(self) -> None:
        if self._pending.strip():
            self._event(self._pending)
        self._pending = b""

    def _event(self, block: bytes) -> None:
        self.events += 1
        name = ""
        data_lines: list[bytes] = []
        for line in block.split(b"\n"):
            if line.startswith(b"event:"):
                name = line[6:].strip().decode("utf-8", "replace")
            elif line.startswith(b"data:"):
                data_lines.append(line[5:].strip())
        data = b"\n".join(data_lines)
        # Only the few events the span needs are parsed; deltas pass untouched.
        wanted = name in TERMINAL_EVENTS or name == "response.created" or (
            not name and any(kind.encode() in data for kind in (*TERMINAL_EVENTS, "response.created")))
        if not wanted or not data or data == b"[DONE]":
            return
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if not isinstance(event, dict):
            return
        kind = name or str(event.get("type", ""))
        response = event.get("response")
        if not isinstance(response, dict):
            return
        if kind == "response.created" and isinstance(response.get("model"), str):
            self.model = response["model"]
        elif kind in TERMINAL_EVENTS:
            self.final, self.final_type = response, kind


@dataclass(frozen=True, slots=True)
class Exchange:
    """One proxied call, as the span records it."""

    trace_id: bytes
    span_id: bytes
    parent_span_id: bytes
    start_ns: int
    end_ns: int
    request: Mapping[str, Any]  # as forwarded
    stream: bool
    findings: Sequence[str]
    status_code: int | None = None  # None: never answered (refused, unreachable, timed out)
    response: Mapping[str, Any] | None = None  # the Responses object (JSON answer or final event)
    upstream_request_id: str | None = None
    error: str | None = None
    refused_rule: str | None = None
    first_chunk_ns: int | None = None


def _output_text(response: Mapping[str, Any]) -> str | None:
    texts = [part.get("text") for item in response.get("output") or [] if isinstance(item, dict)
             for part in item.get("content") or [] if isinstance(part, dict) and part.get("type") == "output_text"]
    joined = "".join(text for text in texts if isinstance(text, str))
    return joined or None


def finish_reason(response: Mapping[str, Any]) -> str | None:
    status = response.get("status")
    if status == "completed":
        return "stop"
    if status == "incomplete":
        details = response.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, dict) else None
        return "length" if reason == "max_output_tokens" else str(reason or "incomplete")
    return str(status) if isinstance(status, str) else None


def exchange_span(exchange: Exchange) -> Span:
    request = exchange.request
    model = request.get("model") if isinstance(request.get("model"), str) else None
    span = Span(trace_id=exchange.trace_id, span_id=exchange.span_id, parent_span_id=exchange.parent_span_id,
                name=f"chat {model}" if model else "chat", kind=Span.SpanKind.SPAN_KIND_CLIENT,
                start_time_unix_nano=exchange.start_ns, end_time_unix_nano=exchange.end_ns)
    attributes = span.attributes
    put(attributes, "gen_ai.operation.name", "chat")
    put(attributes, "gen_ai.provider.name", "openai")
    put(attributes, "gen_ai.request.model", model)
    for key, attribute in (("max_output_tokens", "gen_ai.request.max_tokens"),
                           ("temperature", "gen_ai.request.temperature"), ("top_p", "gen_ai.request.top_p")):
        value = request.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            put(attributes, attribute, value)
    if isinstance(request.get("instructions"), str):
        put(attributes, "gen_ai.system_instructions", to_json([{"type": "text", "content": request["instructions"]}]))
    prompt = request.get("input")
    if isinstance(prompt, str):
        put(attributes, "gen_ai.input.messages", to_json([{"role": "user", "parts": [
            {"type": "text", "content": prompt}]}]))
    elif prompt is not None:
        put(attributes, "gen_ai.input.messages", to_json(prompt))
    response = exchange.response
    if response is not None:
        put(attributes, "gen_ai.response.id", response.get("id") if isinstance(response.get("id"), str) else None)
        put(attributes, "gen_ai.response.model",
            response.get("model") if isinstance(response.get("model"), str) else None)
        usage = response.get("usage")
        if isinstance(usage, dict):
            for key in ("input_tokens", "output_tokens"):
                if isinstance(usage.get(key), int) and not isinstance(usage.get(key), bool):
                    put(attributes, f"gen_ai.usage.{key}", usage[key])
            if isinstance(usage.get("total_tokens"), int):
                put(attributes, "llm.token_count.total", usage["total_tokens"])
        reason = finish_reason(response)
        text = _output_text(response)
        if reason is not None:
            put(attributes, "gen_ai.response.finish_reasons", [reason])
        if text is not None:
            message: dict[str, Any] = {"role": "assistant", "parts": [{"type": "text", "content": text}]}
            if reason is not None:
                message["finish_reason"] = reason
            put(attributes, "gen_ai.output.messages", to_json([message]))
    put(attributes, "aitracer.proxy.stream", exchange.stream)
    put(attributes, "aitracer.proxy.status_code", exchange.status_code)
    put(attributes, "aitracer.proxy.upstream_request_id", exchange.upstream_request_id)
    put(attributes, "aitracer.proxy.latency_ms", (exchange.end_ns - exchange.start_ns) / 1e6)
    if exchange.first_chunk_ns is not None:
        put(attributes, "aitracer.proxy.time_to_first_chunk_ms", (exchange.first_chunk_ns - exchange.start_ns) / 1e6)
    put(attributes, "aitracer.proxy.refused_rule", exchange.refused_rule)
    if exchange.findings:
        put(attributes, "governance.findings", sorted(exchange.findings))
        put(attributes, "governance.severity", severity_of(exchange.findings))
    failed = exchange.error is not None or exchange.refused_rule is not None or (
        exchange.status_code is not None and exchange.status_code >= 400)
    if failed:
        message_text = exchange.error or exchange.refused_rule or f"upstream answered {exchange.status_code}"
        span.status.CopyFrom(Status(code=Status.StatusCode.STATUS_CODE_ERROR, message=message_text))
        if exchange.status_code is not None and exchange.status_code >= 400:
            put(attributes, "error.type", str(exchange.status_code))
    return span
