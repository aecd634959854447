"""Vendor request bodies from bench.traces models, shaped as the vendor documents them
(/work/shared/vendor-docs/): Dynamiq trace runs, AgentVista trace batches and AITracer native
traces. Each body counts the spans it should become once stored (`vendor_span_count`)."""

from __future__ import annotations

import hashlib
import time
from typing import Any, Final

import orjson

from bench.traces import BodyModel, SpanModel, TraceModel, span_uuid, trace_uuid

AGENTVISTA_MAX_SPANS: Final = 100  # "up to 100 total spans across all traces in a single request"
# Prices per million tokens (input, output) for the cost fields AgentVista and AITracer carry.
PRICES_PER_MTOK: Final = {"gpt-4o": (2.5, 10.0), "gpt-4o-mini": (0.15, 0.6), "claude-sonnet-4-5": (3.0, 15.0)}


def iso_time(nanos: int) -> str:
    """RFC 3339 UTC with microseconds, the form the vendors' SDKs send."""
    seconds, rest = divmod(nanos, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{rest // 1000:06d}Z"


def _cost_usd(span: SpanModel) -> float:
    input_price, output_price = PRICES_PER_MTOK.get(span.model, (1.0, 1.0))
    return (span.input_tokens * input_price + span.output_tokens * output_price) / 1_000_000


def _stable_uuid(text: str) -> str:
    """A UUID-shaped id that is the same for every copy (workflow and node ids, sessions)."""
    raw = hashlib.sha256(text.encode()).hexdigest()[:32]
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


# ---- Dynamiq: POST /v1/traces {"runs": [...]} ------------------------------------------

def _dynamiq_run(seq: int, body: BodyModel, trace: TraceModel, span: SpanModel) -> dict[str, Any]:
    agent = trace.agent
    root = span.parent_index == 0
    run: dict[str, Any] = {
        "id": span_uuid(seq, body, trace, span.index),
        "name": agent.agent_name if root else span.name,
        "type": "workflow" if root else "node",
        "trace_id": trace_uuid(seq, body, trace),
        "source_id": _stable_uuid(f"{agent.agent_name}/{span.tool_name or span.operation}"),
        "session_id": _stable_uuid(trace.conversation_id),
        "start_time": iso_time(span.start_ns),
        "end_time": iso_time(span.end_ns),
        "status": "failed" if span.error else "succeeded",
        "executions": [],
        "tags": [agent.service, "production"],
    }
    if root:
        run["input"] = {"input": f"conversation {trace.conversation_id}"}
        run["output"] = {"status": "done"}
        run["metadata"] = {"workflow": {"id": _stable_uuid(agent.agent_name), "version": "3"},
                           "host": agent.service}
        return run
    run["parent_run_id"] = span_uuid(seq, body, trace, span.parent_index)
    if span.operation == "chat":
        run["input"] = {"messages": [{"role": "system", "content": agent.system_prompt},
                                     {"role": "user", "content": span.prompt}]}
        run["output"] = {"content": span.completion}
        run["metadata"] = {
            "node": {"id": run["source_id"], "name": span.name, "group": "llms",
                     "type": f"dynamiq.nodes.llms.{agent.provider}", "model": span.model},
            "usage": {"prompt_tokens": span.input_tokens, "completion_tokens": span.output_tokens,
                      "total_tokens": span.input_tokens + span.output_tokens}}
    else:
        run["input"] = {"input": span.prompt}
        run["output"] = {"content": span.completion}
        run["metadata"] = {"node": {"id": run["source_id"], "name": span.tool_name, "group": "tools",
                                    "type": "dynamiq.nodes.tools.Python"}}
        if span.error:
            run["error"] = {"message": span.error, "type": "TimeoutError"}
    return run


def dynamiq(body: BodyModel, seq: int) -> bytes:
    runs = [_dynamiq_run(seq, body, trace, span) for trace in body.traces for span in trace.spans]
    return orjson.dumps({"runs": runs})


# ---- AgentVista: POST /api/v1/traces/batch {"traces": [{"trace": ..., "spans": [...]}]} ----

def _agentvista_span(seq: int, body: BodyModel, trace: TraceModel, span: SpanModel) -> dict[str, Any]:
    item: dict[str, Any] = {
        "span_id": span_uuid(seq, body, trace, span.index),
        "trace_id": trace_uuid(seq, body, trace),
        "type": "llm" if span.operation == "chat" else "tool",
        "name": span.name,
        "status": "failed" if span.error else "completed",
        "started_at": iso_time(span.start_ns),
        "ended_at": iso_time(span.end_ns),
        "duration_ms": (span.end_ns - span.start_ns) // 1_000_000,
        # Not in the documented example: the prompt and answer, which SDKs attach as extra fields.
        "input": span.prompt,
        "output": span.completion,
    }
    if span.operation == "chat":
        item.update(model=span.model, input_tokens=span.input_tokens, output_tokens=span.output_tokens,
                    total_tokens=span.input_tokens + span.output_tokens, cost_usd=f"{_cost_usd(span):.6f}")
    if span.error:
        item["error_message"] = span.error
    return item


def agentvista(body: BodyModel, seq: int) -> bytes:
    """The trace header becomes the root span, so only the children are `spans`."""
    traces = []
    for trace in body.traces:
        root, children = trace.spans[0], trace.spans[1:]
        header = {
            "trace_id": trace_uuid(seq, body, trace),
            "agent": trace.agent.agent_name,
            "status": "completed",
            "started_at": iso_time(root.start_ns),
            "ended_at": iso_time(root.end_ns),
            "duration_ms": (root.end_ns - root.start_ns) // 1_000_000,
            "success": not any(child.error for child in children),
            "total_tokens": root.input_tokens + root.output_tokens,
            "total_cost_usd": f"{sum(_cost_usd(child) for child in children):.6f}",
            "metadata": {"service": trace.agent.service, "conversation_id": trace.conversation_id},
        }
        traces.append({"trace": header, "spans": [_agentvista_span(seq, body, trace, child) for child in children]})
    child_count = sum(len(item["spans"]) for item in traces)
    if child_count > AGENTVISTA_MAX_SPANS:
        raise ValueError(f"an AgentVista batch holds at most {AGENTVISTA_MAX_SPANS} spans, this one {child_count}: "
                         f"lower --spans-per-request")
    return orjson.dumps({"traces": traces})


# ---- AITracer: POST /api/traces, one native trace (one LLM call) per request -------------

def first_chat(body: BodyModel) -> tuple[TraceModel, SpanModel]:
    for trace in body.traces:
        for span in trace.spans:
            if span.operation == "chat":
                return trace, span
    raise ValueError("the body holds no chat span (build it with at least 2 spans)")


def aitracer(body: BodyModel, seq: int) -> bytes:
    trace, span = first_chat(body)
    return orjson.dumps({
        "actionName": trace.agent.agent_name,
        "environment": "prod",
        "status": "completed",
        "requestId": f"req_{span_uuid(seq, body, trace, span.index)}",
        "model": span.model,
        "prompt": span.prompt,
        "response": span.completion,
        "metrics": {
            "promptTokens": span.input_tokens,
            "completionTokens": span.output_tokens,
            "totalTokens": span.input_tokens + span.output_tokens,
            "latencyMs": (span.end_ns - span.start_ns) // 1_000_000,
            "estimatedCostUsd": round(_cost_usd(span), 6),
            "finishReason": "stop",
        },
    })
