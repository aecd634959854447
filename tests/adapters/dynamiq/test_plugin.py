"""The Dynamiq adapter: golden files for the documented example and the SDK's run shapes, the
documented error bodies, and a battery of wrong inputs that must each get a 400, never raise.

Regenerate the golden files with `SPANHOUSE_REGENERATE_GOLDEN=1 pytest tests/adapters`."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from spanhouse.adapters.common.ids import span_id_from
from spanhouse.adapters.dynamiq.plugin import PLUGIN, DynamiqConfig, handle_traces
from spanhouse.adapters.dynamiq.validate import MAX_NESTING_DEPTH
from spanhouse.collector.core.adapter_api import AdapterRequest, AdapterResult
from tests.adapters.golden import RECEIVED_AT_NS, TESTDATA, MemoryState, check_golden, load_case

CASES = sorted(path.name.removesuffix(".json") for path in (TESTDATA / "dynamiq").glob("*.json")
               if not path.name.endswith(".expected.json"))


def post(body: Any) -> AdapterResult:
    request = AdapterRequest(method="POST", path="/v1/traces", path_params={}, query={},
                             headers={"authorization": "Bearer dq-access-key"}, body=body, tenant="default",
                             received_at_ns=RECEIVED_AT_NS)
    return handle_traces(request, MemoryState())


def attributes(span: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in span.attributes:
        kind = pair.value.WhichOneof("value")
        value = getattr(pair.value, kind)
        values[pair.key] = [item.string_value for item in value.values] if kind == "array_value" else value
    return values


def valid_run(**changes: Any) -> dict[str, Any]:
    run = {"id": "11d4a6e8-9c2b-4f3a-8e1d-2f6071829301", "name": "Workflow", "type": "workflow",
           "trace_id": "6e7f8091-a2b3-4c5d-8e6f-708192a3b4c5", "source_id": "4f6e1c2a-7b8d-4e9f-a1b2-c3d4e5f60718",
           "start_time": "2026-06-10T09:15:21Z", "end_time": "2026-06-10T09:15:34Z", "status": "succeeded"}
    run.update(changes)
    return run


def nested(depth: int) -> dict[str, Any]:
    """Objects `depth` levels deep, built without recursion."""
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str) -> None:
    result = check_golden("dynamiq", case, handle_traces)
    if result.response.status != 200:
        assert result.traces is None, "nothing of a rejected request may reach the pipeline"


def test_documented_example() -> None:
    request, _ = load_case("dynamiq", "documented_example")
    result = handle_traces(request, MemoryState())
    assert (result.response.status, result.response.body) == (200, {"message": "ok"})
    assert result.traces is not None
    (resource_spans,) = result.traces.resource_spans
    assert attributes(resource_spans.resource) == {
        "service.name": "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901",
        "dynamiq.workflow.id": "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901", "dynamiq.workflow.version": "3"}
    (span,) = resource_spans.scope_spans[0].spans
    assert span.trace_id.hex() == "6e7f8091a2b34c5d8e6f708192a3b4c5"
    assert span.span_id == span_id_from("11d4a6e8-9c2b-4f3a-8e1d-2f6071829301")
    assert span.parent_span_id == b""
    assert span.name == "Workflow"
    assert span.end_time_unix_nano - span.start_time_unix_nano == 13_000_000_000
    assert span.status.code == 1  # Ok
    values = attributes(span)
    assert values["gen_ai.operation.name"] == "invoke_workflow"
    assert values["session.id"] == values["gen_ai.conversation.id"] == "3d3e8a1f-09a6-4f64-9d68-1d2f3a4b5c6d"
    assert values["dynamiq.source_id"] == "4f6e1c2a-7b8d-4e9f-a1b2-c3d4e5f60718"
    assert values["dynamiq.tags"] == ["support-triage", "production"]
    assert orjson.loads(values["dynamiq.input"]) == {"ticket_subject": "Charged twice for June invoice"}


def test_llm_node_gets_genai_attributes() -> None:
    request, _ = load_case("dynamiq", "llm_node")
    result = handle_traces(request, MemoryState())
    assert result.traces is not None
    spans = {span.name: span for span in result.traces.resource_spans[0].scope_spans[0].spans}
    llm = attributes(spans["OpenAI"])
    assert spans["OpenAI"].kind == 3  # CLIENT
    assert spans["OpenAI"].parent_span_id == spans["support-agent"].span_id
    assert (llm["gen_ai.operation.name"], llm["gen_ai.provider.name"], llm["gen_ai.request.model"]) == \
        ("chat", "openai", "gpt-4o")
    assert (llm["gen_ai.usage.input_tokens"], llm["gen_ai.usage.output_tokens"]) == (412, 31)
    assert orjson.loads(llm["gen_ai.input.messages"])[0] == {
        "role": "system", "parts": [{"type": "text", "content": "You are a billing support agent."}]}
    assert orjson.loads(llm["gen_ai.output.messages"]) == [{"role": "assistant", "parts": [
        {"type": "tool_call", "id": "call_0611", "name": "lookup-invoice",
         "arguments": '{"invoice_id": "INV-2026-0611"}'}]}]
    agent = attributes(spans["support-agent"])
    assert (agent["gen_ai.operation.name"], agent["gen_ai.agent.name"]) == ("invoke_agent", "support-agent")
    tool = attributes(spans["lookup-invoice"])
    assert (tool["gen_ai.operation.name"], tool["gen_ai.tool.name"]) == ("execute_tool", "lookup-invoice")


def test_executions_are_child_spans() -> None:
    request, _ = load_case("dynamiq", "multi_run_trace")
    result = handle_traces(request, MemoryState())
    assert result.traces is not None
    spans = list(result.traces.resource_spans[0].scope_spans[0].spans)
    node = next(span for span in spans if span.name == "lookup-invoice")
    executions = [span for span in spans if span.parent_span_id == node.span_id]
    assert [span.name for span in executions] == ["lookup-invoice execution"] * 2
    assert [span.status.code for span in executions] == [2, 1]
    assert executions[0].status.message == "database timeout"


def test_failed_run_is_an_error_with_the_message() -> None:
    result = post({"runs": [valid_run(status="failed", error={"message": "boom", "traceback": "..."})]})
    assert result.traces is not None
    span = result.traces.resource_spans[0].scope_spans[0].spans[0]
    assert (span.status.code, span.status.message) == (2, "boom")


@pytest.mark.parametrize("status", ["skipped", "canceled"])
def test_other_statuses_leave_the_status_unset(status: str) -> None:
    result = post({"runs": [valid_run(status=status)]})
    assert result.traces is not None
    assert result.traces.resource_spans[0].scope_spans[0].spans[0].status.code == 0


def test_one_bad_run_rejects_the_whole_request() -> None:
    result = post({"runs": [valid_run(), valid_run(end_time="")]})
    assert result.response.status == 400
    assert result.response.body["error"]["details"] == {"runs.1.end_time": "cannot be blank"}
    assert result.traces is None


def test_huge_integers_in_free_fields_are_kept_exactly() -> None:
    result = post({"runs": [valid_run(metadata={"big": 2**70, "negative": -(2**80)}, cost=2**65)]})
    assert result.response.status == 200
    assert result.traces is not None
    values = attributes(result.traces.resource_spans[0].scope_spans[0].spans[0])
    assert values["dynamiq.metadata"] == '{"big":1180591620717411303424,"negative":-1208925819614629174706176}'
    assert values["dynamiq.cost"] == str(2**65)


def test_nesting_up_to_the_limit_is_accepted() -> None:
    assert post({"runs": [valid_run(metadata=nested(MAX_NESTING_DEPTH))]}).response.status == 200
    assert post({"runs": [valid_run(metadata=nested(MAX_NESTING_DEPTH + 1))]}).response.status == 400


def test_error_responses_have_the_documented_shape() -> None:
    adapter = PLUGIN.create(DynamiqConfig())
    unauthorized = adapter.error_response(401, "unauthorized", "missing access key")
    assert unauthorized.status == 401
    assert unauthorized.body == {"error": {"code": "unauthorized", "message": "Unauthorized"}}
    bad = adapter.error_response(400, "bad_request", "request body is not valid JSON")
    assert bad.body == {"error": {"code": "bad_request", "message": "Bad Request",
                                  "details": {"body": "request body is not valid JSON"}}}
    for status, code, title in [(413, "payload_too_large", "Request Entity Too Large"),
                                (415, "unsupported_media_type", "Unsupported Media Type"),
                                (429, "rate_limited", "Too Many Requests"),
                                (503, "unavailable", "Service Unavailable")]:
        assert adapter.error_response(status, code, "why", 3).body == {"error": {"code": code, "message": title}}


def test_plugin() -> None:
    assert PLUGIN.name == "dynamiq"
    assert DynamiqConfig().endpoint == "127.0.0.1:4411"
    assert DynamiqConfig().validate() == []
    assert [(route.method, route.path) for route in PLUGIN.create(DynamiqConfig()).routes] == [("POST", "/v1/traces")]


# Every entry is wrong; the expected details are the ones that must be named (a subset).
BAD_INPUTS: list[tuple[str, Any, dict[str, str]]] = [
    ("empty body", None, {"body": "cannot be blank"}),
    ("list body", [valid_run()], {"body": "must be a JSON object"}),
    ("string body", "runs", {"body": "must be a JSON object"}),
    ("number body", 1e308, {"body": "must be a JSON object"}),
    ("runs missing", {}, {"runs": "cannot be blank"}),
    ("runs null", {"runs": None}, {"runs": "cannot be blank"}),
    ("runs empty", {"runs": []}, {"runs": "cannot be blank"}),
    ("runs an object", {"runs": valid_run()}, {"runs": "must be an array"}),
    ("runs a string", {"runs": "[]"}, {"runs": "must be an array"}),
    ("run a string", {"runs": ["run"]}, {"runs.0": "must be an object"}),
    ("run null", {"runs": [valid_run(), None]}, {"runs.1": "must be an object"}),
    ("run a list", {"runs": [[valid_run()]]}, {"runs.0": "must be an object"}),
    ("empty run", {"runs": [{}]}, {f"runs.0.{name}": "cannot be blank" for name in (
        "id", "name", "type", "trace_id", "source_id", "start_time", "end_time", "status")}),
    ("null everywhere", {"runs": [{key: None for key in valid_run()} | {"executions": None, "metadata": None}]},
     {f"runs.0.{name}": "cannot be blank" for name in valid_run()}),
    ("missing id", {"runs": [valid_run(id=None)]}, {"runs.0.id": "cannot be blank"}),
    ("blank name", {"runs": [valid_run(name="")]}, {"runs.0.name": "cannot be blank"}),
    ("whitespace trace id", {"runs": [valid_run(trace_id=" \t")]}, {"runs.0.trace_id": "cannot be blank"}),
    ("blank end", {"runs": [valid_run(end_time="")]}, {"runs.0.end_time": "cannot be blank"}),
    ("numeric id", {"runs": [valid_run(id=12345)]}, {"runs.0.id": "must be a string"}),
    ("boolean name", {"runs": [valid_run(name=True)]}, {"runs.0.name": "must be a string"}),
    ("object source", {"runs": [valid_run(source_id={"id": "x"})]}, {"runs.0.source_id": "must be a string"}),
    ("list trace id", {"runs": [valid_run(trace_id=["a"])]}, {"runs.0.trace_id": "must be a string"}),
    ("unknown type", {"runs": [valid_run(type="job")]}, {"runs.0.type": "must be a valid value"}),
    ("upper-case type", {"runs": [valid_run(type="WORKFLOW")]}, {"runs.0.type": "must be a valid value"}),
    ("unknown status", {"runs": [valid_run(status="running")]}, {"runs.0.status": "must be a valid value"}),
    ("status a number", {"runs": [valid_run(status=1)]}, {"runs.0.status": "must be a string"}),
    ("unparseable start", {"runs": [valid_run(start_time="yesterday")]}, {"runs.0.start_time": "must be a valid date"}),
    ("impossible date", {"runs": [valid_run(end_time="2026-02-30T00:00:00Z")]},
     {"runs.0.end_time": "must be a valid date"}),
    ("year 1 moved out of range by its offset", {"runs": [valid_run(start_time="0001-01-01T00:00:00+01:00")]},
     {"runs.0.start_time": "must be a valid date"}),
    ("year 9999 moved out of range by its offset", {"runs": [valid_run(end_time="9999-12-31T23:59:59-01:00")]},
     {"runs.0.end_time": "must be a valid date"}),
    ("epoch start", {"runs": [valid_run(start_time=1781082921)]}, {"runs.0.start_time": "must be a valid date"}),
    ("huge integer start", {"runs": [valid_run(start_time=2**70)]}, {"runs.0.start_time": "must be a valid date"}),
    ("infinite end (1e400)", {"runs": [valid_run(end_time=float("inf"))]}, {"runs.0.end_time": "must be a valid date"}),
    ("NaN end", {"runs": [valid_run(end_time=float("nan"))]}, {"runs.0.end_time": "must be a valid date"}),
    ("huge integer id", {"runs": [valid_run(id=2**70)]}, {"runs.0.id": "must be a string"}),
    ("date before 1970", {"runs": [valid_run(start_time="1969-12-31T23:59:59Z")]},
     {"runs.0.start_time": "must be a date between 1970-01-01 and 2262-04-11"}),
    ("date after 2262", {"runs": [valid_run(end_time="9999-12-31T23:59:59Z")]},
     {"runs.0.end_time": "must be a date between 1970-01-01 and 2262-04-11"}),
    ("full-width digits in a date", {"runs": [valid_run(start_time="\uff12\uff10\uff12\uff16-06-10T09:15:21Z")]},
     {"runs.0.start_time": "must be a valid date"}),
    ("lone surrogate in the id", {"runs": [valid_run(id="run-\ud800")]}, {"runs.0.id": "must be valid UTF-8"}),
    ("lone surrogate in the name", {"runs": [valid_run(name="\udfff")]}, {"runs.0.name": "must be valid UTF-8"}),
    ("deep metadata (5000 levels)", {"runs": [valid_run(metadata=nested(5000))]},
     {"runs.0.metadata": f"must not be nested deeper than {MAX_NESTING_DEPTH} levels"}),
    ("deep input (5000 levels)", {"runs": [valid_run(input=[nested(4999)])]},
     {"runs.0.input": f"must not be nested deeper than {MAX_NESTING_DEPTH} levels"}),
    ("deep unknown field", {"runs": [valid_run(extra={"\ud800": nested(300)})]},
     {"runs.0.extra": f"must not be nested deeper than {MAX_NESTING_DEPTH} levels"}),
]


@pytest.mark.parametrize(("body", "named"), [(body, named) for _, body, named in BAD_INPUTS],
                         ids=[name for name, _, _ in BAD_INPUTS])
def test_wrong_inputs_get_a_400_naming_the_field(body: Any, named: dict[str, str]) -> None:
    result = post(body)
    assert result.response.status == 400
    assert result.traces is None
    error = result.response.body["error"]
    assert (error["code"], error["message"]) == ("bad_request", "Bad Request")
    assert named.items() <= error["details"].items(), error["details"]
    orjson.dumps(result.response.body)  # what the receiver will send must serialise
