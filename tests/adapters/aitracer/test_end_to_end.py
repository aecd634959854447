"""The aitracer receiver on a running collector: every example of the vendor page posted with
aiohttp and read back from ClickHouse field by field, the OTLP route (protobuf and JSON), tool
calls and guardrails joined to their trace, feedback in its side table before and after its
trace, signed webhooks (bad, stale and replayed signatures refused with 401, across a restart
too) and the rate limit's 429."""

from __future__ import annotations

import logging
import time
from typing import Any

import aiohttp
import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from spanhouse.adapters.aitracer.common import link_trace_id, root_span_id
from spanhouse.adapters.aitracer.webhooks import sign
from tests.adapters.golden import TESTDATA
from tests.conftest import Collector, StartCollector
from tests.support.configs import collector_config

SECRET = "whsec_end_to_end_0123456789"
OLD_SECRET = "whsec_rotated_out_0123456789"
CONFIG = collector_config("adapters/aitracer").replace("{webhook_secrets}", f"{SECRET}, {OLD_SECRET}")

ROWS_SQL = """
SELECT TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName, Duration, StatusCode, StatusMessage,
       SpanAttributes, ResourceAttributes, ScopeName
FROM otel.otel_traces WHERE SpanName = {name:String}
"""


def example(vendor: str, case: str) -> Any:
    return orjson.loads((TESTDATA / vendor / f"{case}.json").read_bytes())["body"]


async def post(running: Collector, path: str, body: bytes, headers: dict[str, str] | None = None,
               content_type: str = "application/json") -> tuple[int, Any, dict[str, str]]:
    url = f"http://127.0.0.1:{running.ports['aitracer']}{path}"
    sent = {"Content-Type": content_type, "Authorization": "Bearer akt_test_workspace", **(headers or {})}
    async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=sent) as response:
        payload = await response.read()
        parsed: Any = payload
        if response.content_type == "application/json" and payload:
            parsed = orjson.loads(payload)
        return response.status, parsed, dict(response.headers)


async def test_native_documented_example_field_by_field(start_collector: StartCollector) -> None:
    running = await start_collector(CONFIG)
    status, body, _ = await post(running, "/api/traces", orjson.dumps(example("aitracer", "native_documented_example")))
    assert (status, body) == (200, {"trace": {"traceId": "req_finance_001", "status": "completed"}})
    rows = await running.aquery(ROWS_SQL.replace("{name:String}", "'finance-review'"))
    assert rows == [(
        link_trace_id("req_finance_001").hex(), root_span_id("req_finance_001").hex(), "", "finance-review", "Client",
        "aitracer", 830_000_000, "Ok", "",
        {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
         "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"Summarize this report"}]}]',
         "gen_ai.output.messages": '[{"role":"assistant","parts":[{"type":"text","content":"Summary text"}],'
                                   '"finish_reason":"stop"}]',
         "gen_ai.usage.input_tokens": "420", "gen_ai.usage.output_tokens": "155", "llm.token_count.total": "575",
         "gen_ai.usage.cost": "0.0042", "gen_ai.response.finish_reasons": '["stop"]', "aitracer.latency_ms": "830",
         "aitracer.request_id": "req_finance_001", "aitracer.action_name": "finance-review",
         "aitracer.environment": "prod", "aitracer.status": "completed"},
        {"service.name": "aitracer", "deployment.environment.name": "prod"}, "spanhouse.aitracer")]
    # Sent again: answered the same, stored once.
    status, body, _ = await post(running, "/api/traces", orjson.dumps(example("aitracer", "native_documented_example")))
    assert status == 200
    assert await running.aquery("SELECT count() FROM otel.otel_traces") == [(1,)]


async def test_failed_native_trace_keeps_its_error_in_the_status_message(start_collector: StartCollector) -> None:
    running = await start_collector(CONFIG)
    body = example("aitracer", "native_failed_with_error")
    status, answer, _ = await post(running, "/api/traces", orjson.dumps(body))
    assert (status, answer) == (200, {"trace": {"traceId": "req_refund_007", "status": "failed"}})
    structured = body | {"requestId": "req_refund_008", "actionName": "refund-check-2",
                         "error": {"message": "quota exceeded", "code": 429}}
    assert (await post(running, "/api/traces", orjson.dumps(structured)))[0] == 200
    await running.drain()
    rows = await running.aquery("SELECT SpanName, StatusCode, StatusMessage, SpanAttributes['aitracer.error'] "
                                "FROM otel.otel_traces ORDER BY SpanName")
    assert rows == [
        ("refund-check", "Error", "upstream 502: model gateway unavailable", "upstream 502: model gateway unavailable"),
        ("refund-check-2", "Error", "quota exceeded", '{"message":"quota exceeded","code":429}'),
    ]


async def test_tool_calls_and_guardrails_join_their_traces(start_collector: StartCollector) -> None:
    running = await start_collector(CONFIG)
    await post(running, "/api/traces", orjson.dumps(example("aitracer", "native_documented_example")))
    status, body, _ = await post(running, "/api/ingest/tool-calls",
                                 orjson.dumps(example("aitracer", "tool_calls_linked")))
    assert (status, body) == (200, {"accepted": 2, "traceIds": ["req_finance_001", "req_finance_001"]})
    status, _, _ = await post(running, "/api/integrations/openai-guardrails",
                              orjson.dumps(example("aitracer", "guardrails_results")))
    assert status == 200
    trace = link_trace_id("req_finance_001").hex()
    rows = await running.aquery(
        f"SELECT SpanName, ParentSpanId, SpanAttributes['gen_ai.tool.name'], StatusCode FROM otel.otel_traces "
        f"WHERE TraceId = '{trace}' ORDER BY Timestamp")
    parent = root_span_id("req_finance_001").hex()
    assert sorted(rows) == sorted([("finance-review", "", "", "Ok"),
                                   ("execute_tool lookup_invoice", parent, "lookup_invoice", "Unset"),
                                   ("execute_tool send_email", parent, "send_email", "Error")])
    guardrails = await running.aquery(
        "SELECT SpanName, SpanAttributes['aitracer.guardrail.triggered'], Events.Name FROM otel.otel_traces "
        "WHERE SpanAttributes['openinference.span.kind'] = 'GUARDRAIL' AND TraceId = "
        "'0af7651916cd43dd8448eb211c80319c' ORDER BY SpanName")
    assert guardrails == [("guardrail Contains PII", "false", []),
                          ("guardrail Jailbreak", "true", ["guardrail.tripwire_triggered"])]


async def test_otlp_route_shares_the_otlp_receiver(start_collector: StartCollector) -> None:
    running = await start_collector(CONFIG)
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add(
        trace_id=bytes(range(1, 17)), span_id=bytes(range(1, 9)), name="otlp-over-aitracer",
        start_time_unix_nano=1_781_082_000_000_000_000, end_time_unix_nano=1_781_082_000_500_000_000)
    span.attributes.add(key="gen_ai.request.model").value.string_value = "gpt-4o"
    status, body, headers = await post(running, "/api/integrations/otlp/v1/traces", request.SerializeToString(),
                                       content_type="application/x-protobuf")
    assert status == 200 and headers["Content-Type"] == "application/x-protobuf"
    json_body = b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10",' \
                b'"spanId":"0a0b0c0d0e0f0102","name":"otlp-json","startTimeUnixNano":"1781082000000000000",' \
                b'"endTimeUnixNano":"1781082000000000001"}]}]}]}'
    status, body, _ = await post(running, "/api/integrations/otlp/v1/traces", json_body)
    assert (status, body) == (200, {})
    status, body, _ = await post(running, "/api/integrations/otlp/v1/traces", b"{nope")
    assert status == 400 and body["code"] == 3  # OTLP's own error body (google.rpc.Status)
    status, _, _ = await post(running, "/api/integrations/otlp/v1/traces", b"x", content_type="text/csv")
    assert status == 415
    rows = await running.aquery("SELECT SpanName, SpanAttributes FROM otel.otel_traces ORDER BY SpanName")
    assert rows == [("otlp-json", {}), ("otlp-over-aitracer", {"gen_ai.request.model": "gpt-4o"})]


FEEDBACK_SQL = """
SELECT TenantId, TraceId, Source, Rating, Score, Comment, Success, Outcome, JSONExtractString(Payload, 'traceId')
FROM otel.otel_trace_feedback FINAL ORDER BY TraceId
"""


async def test_feedback_before_and_after_its_trace_latest_wins(start_collector: StartCollector) -> None:
    running = await start_collector(CONFIG)
    # Before the trace exists.
    status, body, _ = await post(running, "/api/ingest/feedback", orjson.dumps(
        {"traceId": "req_finance_001", "rating": "down", "comment": "wrong numbers"}))
    assert (status, body) == (200, {"feedback": {"traceId": "req_finance_001", "rating": "down", "score": None,
                                                 "comment": "wrong numbers"}})
    await post(running, "/api/traces", orjson.dumps(example("aitracer", "native_documented_example")))
    # After it: the latest value wins on read.
    status, _, _ = await post(running, "/api/ingest/feedback", orjson.dumps(
        {"traceId": "req_finance_001", "rating": "up", "score": 0.9, "comment": "fixed"}))
    assert status == 200
    await post(running, "/api/ingest/feedback", orjson.dumps({"trace_id": "req_other", "thumbsUp": False}))
    rows = await running.aquery(FEEDBACK_SQL)
    assert sorted(rows) == sorted([
        ("default", link_trace_id("req_finance_001").hex(), "aitracer_feedback", 1, 0.9, "fixed", None, "",
         "req_finance_001"),
        ("default", link_trace_id("req_other").hex(), "aitracer_feedback", -1, None, "", None, "", "")])
    joined = await running.aquery(
        "SELECT t.SpanName, f.Rating FROM otel.otel_traces AS t INNER JOIN otel.otel_trace_feedback AS f FINAL "
        "ON t.TraceId = f.TraceId")
    assert joined == [("finance-review", 1)]
    # The span table holds no feedback.
    assert await running.aquery("SELECT count() FROM otel.otel_traces") == [(1,)]
    status, body, _ = await post(running, "/api/ingest/feedback", orjson.dumps({"traceId": "x", "rating": "meh"}))
    assert status == 400 and "is not a rating" in body["error"]["message"]


async def test_signed_webhooks(start_collector: StartCollector) -> None:
    running = await start_collector(CONFIG)
    raw = orjson.dumps(example("aitracer", "webhook_generic"))
    stamp = str(int(time.time()))
    signed = {"X-AITracer-Delivery-Timestamp": stamp, "X-AITracer-Signature": sign(SECRET, stamp, raw)}
    refused = [
        {**signed, "X-AITracer-Signature": sign("whsec_not_ours_0123456789", stamp, raw)},
        {**signed, "X-AITracer-Delivery-Timestamp": str(int(time.time()) - 301)},
        {"X-AITracer-Signature": signed["X-AITracer-Signature"]},
    ]
    for headers in refused:
        status, body, _ = await post(running, "/api/ingest/webhooks", raw, headers)
        assert status == 401 and body["error"]["type"] == "authentication_error", headers
    status, body, _ = await post(running, "/api/ingest/webhooks", raw + b" ", signed)  # body changed after signing
    assert status == 401
    assert await running.aquery("SELECT count() FROM otel.otel_traces") == [(0,)]
    status, body, _ = await post(running, "/api/ingest/webhooks", raw, signed)
    assert (status, body) == (200, {"accepted": 1, "sources": ["snyk"]})
    status, body, _ = await post(running, "/api/ingest/webhooks", raw, signed)
    assert (status, body["error"]["code"]) == (401, "replayed_signature")
    # Rotation: the other active secret signs too.
    later = str(int(time.time()) + 1)
    dependabot = orjson.dumps(example("aitracer", "webhook_dependabot"))
    status, _, _ = await post(running, "/api/ingest/webhooks", dependabot, {
        "X-GitHub-Event": "dependabot_alert", "X-AITracer-Delivery-Timestamp": later,
        "X-AITracer-Signature": sign(OLD_SECRET, later, dependabot)})
    assert status == 200
    rows = await running.aquery(
        "SELECT SpanAttributes['aitracer.alert.source'], SpanAttributes['aitracer.alert.severity'], "
        "SpanAttributes['aitracer.alert.package'], toString(Timestamp) FROM otel.otel_traces ORDER BY 1")
    assert rows == [("dependabot", "medium", "requests", "2026-06-08 10:00:00.000000000"),
                    ("snyk", "high", "lodash", "2026-06-09 12:00:00.000000000")]
    # Unsigned deliveries are accepted (signing is optional on the vendor page).
    status, _, _ = await post(running, "/api/ingest/webhooks", orjson.dumps({"source": "trivy", "severity": "low"}))
    assert status == 200

    # A replay after a restart is still refused: the signature is in the persistent state.
    await running.service.shutdown()
    restarted = await start_collector(CONFIG.replace("{port:aitracer}", str(running.ports["aitracer"])).replace(
        "{port:metrics}", str(running.ports["metrics"])))
    restarted.ports.update(running.ports)
    status, body, _ = await post(restarted, "/api/ingest/webhooks", raw, signed)
    assert (status, body["error"]["code"]) == (401, "replayed_signature")


RATE_LIMITED = CONFIG.replace("    webhook_signing:", "    rate_limit:\n      requests_per_second: 0.5\n"
                                                   "      burst: 2\n    webhook_signing:")


async def test_rate_limit_per_workspace_key(start_collector: StartCollector) -> None:
    running = await start_collector(RATE_LIMITED)
    body = orjson.dumps(example("aitracer", "native_documented_example"))
    answers = [await post(running, "/api/traces", body) for _ in range(3)]
    assert [status for status, _, _ in answers] == [200, 200, 429]
    status, payload, headers = answers[2]
    assert headers["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(headers["Retry-After"]) <= 2
    assert payload["error"]["type"] == "rate_limit_error" and payload["error"]["code"] == "rate_limited"
    assert [headers["X-RateLimit-Remaining"] for _, _, headers in answers[:2]] == ["1", "0"]
    # Another workspace key has its own bucket, on every route (the OTLP one too).
    status, _, headers = await post(running, "/api/integrations/otlp/v1/traces", b'{"resourceSpans":[]}',
                                    {"Authorization": "Bearer akt_other_workspace"})
    assert (status, headers["X-RateLimit-Remaining"]) == (200, "1")
    status, _, headers = await post(running, "/api/ingest/feedback", b"{}",
                                    {"Authorization": "Bearer akt_other_workspace"})
    assert (status, headers["X-RateLimit-Remaining"]) == (400, "0")
    assert await running.aquery("SELECT count() FROM otel.otel_traces") == [(1,)]


# Signing secrets per workspace: each token of the auth section is a workspace (tenant). acme has
# its own two secrets (rotation), beta its own and signed delivery required; gamma and delta have
# no entry and use the receiver-wide secret. Every secret comes from the environment.
WORKSPACE_ENV = {"HOOK_DEFAULT": "whsec_default_0123456789", "HOOK_ACME": "whsec_acme_new_0123456789",
                 "HOOK_ACME_OLD": "whsec_acme_old_0123456789", "HOOK_BETA": "whsec_beta_0123456789"}
TOKENS = {tenant: f"akt_{tenant}_workspace_key_0123456789" for tenant in ("acme", "beta", "gamma", "delta")}
WORKSPACES_CONFIG = """
receivers:
  aitracer:
    endpoint: 127.0.0.1:{port:aitracer}
    state_directory: {dir}/state
    webhook_signing:
      secrets:
        - ${env:HOOK_DEFAULT}
      workspaces:
        acme:
          secrets:
            - ${env:HOOK_ACME}
            - ${env:HOOK_ACME_OLD}
        beta:
          secrets: ["${env:HOOK_BETA}"]
          required: true
exporters:
  clickhouse:
    endpoint: chdb://{dir}/clickhouse
service:
  telemetry:
    metrics:
      address: 127.0.0.1:{port:metrics}
  pipelines:
    traces:
      receivers: [aitracer]
      exporters: [clickhouse]
auth:
  tokens:
""" + "".join(f"    - token: {token}\n      tenant: {tenant}\n" for tenant, token in TOKENS.items())


def signed_alert(secret: str, alert_id: str, at: int | None = None) -> tuple[bytes, dict[str, str]]:
    raw = orjson.dumps({"source": "snyk", "id": alert_id, "severity": "high", "package": "lodash"})
    stamp = str(at if at is not None else int(time.time()))
    return raw, {"X-AITracer-Delivery-Timestamp": stamp, "X-AITracer-Signature": sign(secret, stamp, raw)}


async def deliver(running: Collector, tenant: str, raw: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    status, body, _ = await post(running, "/api/ingest/webhooks", raw,
                                 {**headers, "Authorization": f"Bearer {TOKENS[tenant]}"})
    return status, body


async def test_signing_secrets_per_workspace(start_collector: StartCollector, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    running = await start_collector(WORKSPACES_CONFIG, env=WORKSPACE_ENV)
    acme, acme_old, beta, default = (WORKSPACE_ENV[name] for name in ("HOOK_ACME", "HOOK_ACME_OLD", "HOOK_BETA",
                                                                      "HOOK_DEFAULT"))
    answers: list[Any] = []

    async def expect(tenant: str, raw: bytes, headers: dict[str, str], status: int, code: str | None = None) -> None:
        got, body = await deliver(running, tenant, raw, headers)
        answers.append(body)
        assert got == status, (tenant, body)
        if code is not None:
            assert body["error"]["code"] == code, (tenant, body)

    # Signed with acme's secret: another workspace refuses it (and it is not a replay for acme later).
    raw, headers = signed_alert(acme, "A-1")
    await expect("beta", raw, headers, 401, "invalid_signature")
    await expect("gamma", raw, headers, 401, "invalid_signature")  # the default secret is not acme's
    await expect("acme", raw, headers, 200)
    await expect("acme", raw, headers, 401, "replayed_signature")
    await expect("beta", raw, headers, 401, "invalid_signature")
    # acme's own list replaces the receiver-wide one for acme.
    await expect("acme", *signed_alert(default, "A-2"), 401, "invalid_signature")
    # Rotation: both of acme's active secrets sign, one at a time or both in one header.
    await expect("acme", *signed_alert(acme_old, "A-3"), 200)
    both_raw, both = signed_alert(acme, "A-4")
    both["X-AITracer-Signature"] = (sign(acme_old, both["X-AITracer-Delivery-Timestamp"], both_raw) + ","
                                    + both["X-AITracer-Signature"])
    await expect("acme", both_raw, both, 200)
    # beta: its own secret, signing required.
    await expect("beta", orjson.dumps({"source": "snyk", "id": "B-0"}), {}, 401, "invalid_signature")
    await expect("beta", *signed_alert(beta, "B-1"), 200)
    await expect("acme", *signed_alert(beta, "B-2"), 401, "invalid_signature")
    # Workspaces without an entry: the receiver-wide secret; unsigned is still accepted there.
    await expect("gamma", *signed_alert(beta, "G-0"), 401, "invalid_signature")
    shared_raw, shared = signed_alert(default, "G-1")
    await expect("gamma", shared_raw, shared, 200)
    # Replay keys include the tenant: the same signed delivery is new for another workspace that
    # shares the secret, and a replay within the first one.
    await expect("delta", shared_raw, shared, 200)
    await expect("gamma", shared_raw, shared, 401, "replayed_signature")
    await expect("delta", orjson.dumps({"source": "trivy", "id": "D-1"}), {}, 200)

    rows = await running.aquery("SELECT TenantId, SpanAttributes['aitracer.alert.id'] FROM otel.otel_traces "
                                "ORDER BY 1, 2")
    assert rows == [("acme", "A-1"), ("acme", "A-3"), ("acme", "A-4"), ("beta", "B-1"), ("delta", "D-1"),
                    ("delta", "G-1"), ("gamma", "G-1")]

    # No secret anywhere: answers, stored rows, logs, metrics, state files.
    stored = "\n".join(str(row) for row in await running.aquery("SELECT * FROM otel.otel_traces"))
    metrics = running.service.metrics.render()
    await running.service.shutdown()
    files = b"".join(path.read_bytes() for path in (running.directory / "state").rglob("*") if path.is_file())
    for secret in WORKSPACE_ENV.values():
        for where, text in (("answers", str(answers)), ("rows", stored), ("logs", caplog.text),
                            ("metrics", str(metrics))):
            assert secret not in text, where
        assert secret.encode() not in files
