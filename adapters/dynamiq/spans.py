"""Validated Dynamiq runs as OTLP spans: one resource per service, one span per run and one
child span per execution, with the run's fields kept as `dynamiq.*` attributes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from spanhouse.adapters.common.attributes import clean_text
from spanhouse.adapters.common.ids import span_id_from, trace_id_from
from spanhouse.adapters.dynamiq.attributes import json_text, put, put_strings
from spanhouse.adapters.dynamiq.genai import put_genai
from spanhouse.adapters.dynamiq.validate import VALIDATED_FIELDS, Run, checked_time, text_problem
from spanhouse.collector.core.component import Traces

# Fields this adapter maps itself; any other field of a run is kept as `dynamiq.<field>`.
MAPPED_FIELDS: Final = frozenset({*VALIDATED_FIELDS, "parent_run_id", "session_id", "input", "output", "error",
                                  "metadata", "executions", "tags"})
MAPPED_EXECUTION_FIELDS: Final = frozenset({"id", "start_time", "end_time", "status", "input", "output", "error",
                                            "metadata"})
SCOPE_NAME: Final = "dynamiq"


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
