"""Golden and unit tests of the aitracer adapter's pure routes (adapters/aitracer*.py): native
traces, tool calls, guardrail results, security webhooks and their signature check, and the
config. Regenerate the golden files with SPANHOUSE_REGENERATE_GOLDEN=1 (see golden.py)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from spanhouse.adapters.aitracer.common import link_trace_id, root_span_id
from spanhouse.adapters.aitracer.ingest import handle_guardrails, handle_tool_calls
from spanhouse.adapters.aitracer.native import handle_native
from spanhouse.adapters.aitracer.plugin import (
    AGENTS_PATH,
    FEEDBACK_PATH,
    GUARDRAILS_PATH,
    OTLP_PATH,
    PLUGIN,
    PROXY_PATH,
    TOOL_CALLS_PATH,
    TRACES_PATH,
    WEBHOOKS_PATH,
    AITracerConfig,
    SigningPolicy,
    WebhookSigningConfig,
    WorkspaceSigningConfig,
)
from spanhouse.adapters.aitracer.proxy import ProxyConfig
from spanhouse.adapters.aitracer.webhooks import handle_webhook_body, sign, verify_signature
from spanhouse.adapters.common.ids import trace_id_from
from spanhouse.collector.core.adapter_api import AdapterRequest, AdapterResult
from tests.adapters.golden import RECEIVED_AT_NS, MemoryState, check_golden, load_case

VENDOR = "aitracer"
SECRET = "whsec_test_secret_0123456789"


def spans_of(result: AdapterResult) -> list[Any]:
    assert result.traces is not None
    return [span for resource in result.traces.resource_spans for scope in resource.scope_spans
            for span in scope.spans]


def attributes(span: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in span.attributes:
        kind = item.value.WhichOneof("value")
        value = getattr(item.value, kind)
        values[item.key] = [entry.string_value for entry in value.values] if kind == "array_value" else value
    return values


def test_plugin_config_and_routes() -> None:
    assert PLUGIN.name == "aitracer"
    config = AITracerConfig()
    assert config.endpoint == "127.0.0.1:4412"
    assert config.validate() == []
    assert config.proxy.upstream_url == "https://api.openai.com/v1/responses"
    assert config.webhook_signing.tolerance == 300.0
    routes = PLUGIN.create(config).routes
    assert [(route.method, route.path, type(route).__name__) for route in routes] == [
        ("POST", TRACES_PATH, "Route"), ("POST", AGENTS_PATH, "Route"), ("POST", GUARDRAILS_PATH, "Route"),
        ("POST", OTLP_PATH, "OtlpRoute"), ("POST", TOOL_CALLS_PATH, "Route"),
        ("POST", FEEDBACK_PATH, "ServiceRoute"), ("POST", WEBHOOKS_PATH, "ServiceRoute"),
        ("POST", PROXY_PATH, "ServiceRoute")]
    bad = AITracerConfig(webhook_signing=WebhookSigningConfig(secrets=("short",), tolerance=0, required=False),
                         proxy=ProxyConfig(upstream_url="ftp://x", max_output_tokens=-1, pii_rules=("pii.ssn",)))
    assert bad.validate() == [
        ("webhook_signing.tolerance", "must be greater than 0"),
        ("webhook_signing.secrets[0]", "is shorter than 16 characters: use a random secret"),
        ("proxy.upstream_url", '"ftp://x" is not an http(s) URL'),
        ("proxy.max_output_tokens", "must be 0 (no cap) or greater"),
        ("proxy.pii_rules[0]", 'unknown rule "pii.ssn" (known: pii.email, pii.phone, pii.card, pii.secret)')]
    assert AITracerConfig(webhook_signing=WebhookSigningConfig(required=True)).validate() == [
        ("webhook_signing.required", "needs at least one secret in secrets")]


def test_error_shape_is_openais() -> None:
    response = PLUGIN.create(AITracerConfig()).error_response(429, "rate_limited", "slow down", 3)
    assert (response.status, dict(response.headers)) == (429, {"Retry-After": "3"})
    assert response.body == {"error": {"message": "slow down", "type": "rate_limit_error", "code": "rate_limited",
                                       "param": None}}


def test_linked_ids_join_across_routes() -> None:
    # The Agents SDK's trace_<32 hex> is its own 16 bytes; anything else is hashed.
    assert link_trace_id("trace_0af7651916cd43dd8448eb211c80319c").hex() == "0af7651916cd43dd8448eb211c80319c"
    assert link_trace_id("req_finance_001") == trace_id_from("req_finance_001")
    assert link_trace_id("trace_" + "z" * 32) == trace_id_from("trace_" + "z" * 32)
    assert root_span_id(" req_1 ") == root_span_id("req_1")


def test_native_documented_example() -> None:
    result = check_golden(VENDOR, "native_documented_example", handle_native)
    assert result.response.body == {"trace": {"traceId": "req_finance_001", "status": "completed"}}
    (span,) = spans_of(result)
    values = attributes(span)
    assert span.trace_id == link_trace_id("req_finance_001")
    assert span.end_time_unix_nano - span.start_time_unix_nano == 830_000_000
    assert values["gen_ai.usage.input_tokens"] == 420
    assert values["gen_ai.usage.output_tokens"] == 155
    assert values["gen_ai.usage.cost"] == 0.0042
    assert values["gen_ai.response.finish_reasons"] == ["stop"]
    assert orjson.loads(values["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Summarize this report"}]}]


def test_native_other_cases() -> None:
    failed = check_golden(VENDOR, "native_failed_structured", handle_native)
    (span,) = spans_of(failed)
    assert span.status.code == span.status.STATUS_CODE_ERROR
    assert attributes(span)["aitracer.userId"] == "u_17"
    minimal = check_golden(VENDOR, "native_minimal", handle_native)
    assert minimal.response.body["trace"]["traceId"].startswith("req_")
    error = check_golden(VENDOR, "native_error_metrics_type", handle_native)
    assert error.response.status == 400
    assert error.response.body["error"]["message"] == "body.metrics.promptTokens: expected an integer, got a string"



def test_a_failed_native_trace_carries_its_error_as_the_status_message() -> None:
    result = check_golden(VENDOR, "native_failed_with_error", handle_native)
    (span,) = spans_of(result)
    assert (span.status.code, span.status.message) == (span.status.STATUS_CODE_ERROR,
                                                       "upstream 502: model gateway unavailable")
    assert attributes(span)["aitracer.error"] == "upstream 502: model gateway unavailable"

def test_native_repeat_is_stored_once() -> None:
    request, _ = load_case(VENDOR, "native_documented_example")
    state = MemoryState()
    first = handle_native(request, state)
    state.apply(first)
    again = handle_native(request, state)
    assert again.response == first.response
    assert again.traces is None


def test_tool_calls_join_their_trace() -> None:
    result = check_golden(VENDOR, "tool_calls_linked", handle_tool_calls)
    lookup, email = spans_of(result)
    for span in (lookup, email):
        assert span.trace_id == link_trace_id("req_finance_001")
        assert span.parent_span_id == root_span_id("req_finance_001")  # the native trace's span
    assert lookup.name == "execute_tool lookup_invoice"
    assert attributes(lookup)["gen_ai.tool.call.id"] == "call_8xQ"
    assert orjson.loads(attributes(lookup)["gen_ai.tool.call.result"]) == {"amount": 120.5, "currency": "EUR"}
    assert lookup.end_time_unix_nano - lookup.start_time_unix_nano == 42_000_000
    assert email.status.message == "SMTP 550 mailbox unavailable"
    assert attributes(email)["aitracer.tool.retryable"] is False
    single = check_golden(VENDOR, "tool_call_single_unlinked", handle_tool_calls)
    (span,) = spans_of(single)
    assert span.parent_span_id == b""
    assert attributes(span)["gen_ai.tool.call.arguments"] == '{"city":"Oslo"}'


def test_guardrail_results_are_spans_with_an_event_when_tripped() -> None:
    result = check_golden(VENDOR, "guardrails_results", handle_guardrails)
    jailbreak, pii = spans_of(result)
    assert jailbreak.trace_id.hex() == "0af7651916cd43dd8448eb211c80319c"
    assert jailbreak.parent_span_id == root_span_id("trace_0af7651916cd43dd8448eb211c80319c")
    assert attributes(jailbreak)["aitracer.guardrail.triggered"] is True
    assert [event.name for event in jailbreak.events] == ["guardrail.tripwire_triggered"]
    assert attributes(pii)["openinference.span.kind"] == "GUARDRAIL"
    assert list(pii.events) == []


@pytest.mark.parametrize("case", ["webhook_generic", "webhook_dependabot", "webhook_snyk"])
def test_webhook_alerts(case: str) -> None:
    result = check_golden(VENDOR, case, handle_webhook_body)
    (span,) = spans_of(result)
    values = attributes(span)
    assert {"aitracer.alert.source", "aitracer.alert.severity", "aitracer.alert.package"} <= set(values)
    assert span.start_time_unix_nano != RECEIVED_AT_NS  # the alert's own time


def test_signature_verification() -> None:
    body = b'{"source":"snyk","severity":"high"}'
    now = 1_781_082_000.0
    stamp = str(int(now))
    good = {"x-aitracer-delivery-timestamp": stamp, "x-aitracer-signature": sign(SECRET, stamp, body)}
    check = verify_signature(good, body, [SECRET], 300, now, required=False)
    assert check.ok and check.replay_key is not None
    # Rotation: the old secret, the new one, or both signatures in one header.
    assert verify_signature(good, body, ["another_secret_0123456789", SECRET], 300, now, False).ok
    both = {**good, "x-aitracer-signature": sign("another_secret_0123456789", stamp, body) + ","
            + sign(SECRET, stamp, body)}
    assert verify_signature(both, body, [SECRET], 300, now, False).ok
    refusals = {
        "tampered body": (good, body + b" ", now),
        "wrong secret": ({**good, "x-aitracer-signature": sign("wrong_secret_0123456789", stamp, body)}, body, now),
        "too old": (good, body, now + 301),
        "from the future": (good, body, now - 301),
        "timestamp missing": ({"x-aitracer-signature": good["x-aitracer-signature"]}, body, now),
        "signature missing": ({"x-aitracer-delivery-timestamp": stamp}, body, now),
        "other scheme": ({**good, "x-aitracer-signature": "v0=" + "0" * 64}, body, now),
        "not a number": ({**good, "x-aitracer-delivery-timestamp": "yesterday"}, body, now),
        "signed over the body only": ({**good, "x-aitracer-signature": "v1=" + __import__("hmac").new(
            SECRET.encode(), body, "sha256").hexdigest()}, body, now),
    }
    for case, (headers, payload, at) in refusals.items():
        assert not verify_signature(headers, payload, [SECRET], 300, at, False).ok, case
    assert verify_signature({}, body, [SECRET], 300, now, required=False).ok  # unsigned, as documented
    assert not verify_signature({}, body, [SECRET], 300, now, required=True).ok
    assert verify_signature({"x-aitracer-signature": "v1=bad"}, body, [], 300, now, False).ok  # no secrets

    # The replay key names the workspace: the same signature under another tenant is another key.
    assert check.replay_key == verify_signature(good, body, [SECRET], 300, now, False, tenant="default").replay_key
    acme = verify_signature(good, body, [SECRET], 300, now, False, tenant="acme").replay_key
    assert acme is not None and acme.startswith("acme:") and acme != check.replay_key
    assert SECRET not in acme


def test_signing_secrets_per_workspace() -> None:
    default, old, acme, beta = ("whsec_default_0123456789", "whsec_old_0123456789", "whsec_acme_0123456789",
                                "whsec_beta_0123456789")
    signing = WebhookSigningConfig(secrets=(default, old), required=False, workspaces={
        "acme": WorkspaceSigningConfig(secrets=(acme,)),  # its own list replaces the default
        "beta": WorkspaceSigningConfig(secrets=(beta, old), required=True),
        "gamma": WorkspaceSigningConfig(required=True),  # the default secrets, but signing required
        "delta": WorkspaceSigningConfig(secrets=()),  # signing off for this workspace
    })
    assert signing.validate() == []
    assert signing.policy("acme") == SigningPolicy((acme,), False)
    assert signing.policy("beta") == SigningPolicy((beta, old), True)
    assert signing.policy("gamma") == SigningPolicy((default, old), True)
    assert signing.policy("delta") == SigningPolicy((), False)
    assert signing.policy("default") == signing.policy("other") == SigningPolicy((default, old), False)
    # Secrets stay out of every repr (a config or policy printed in a log or an error).
    for shown in (repr(signing), repr(signing.policy("beta"))):
        assert not any(secret in shown for secret in (default, old, acme, beta)), shown
    bad = WebhookSigningConfig(workspaces={
        "acme": WorkspaceSigningConfig(secrets=("tiny",), required=True),
        "beta": WorkspaceSigningConfig(required=True),
        "bad tenant!": WorkspaceSigningConfig(secrets=(acme,)),
        "delta": WorkspaceSigningConfig(secrets=(), required=True),
    })
    assert bad.validate() == [
        ("workspaces.acme.secrets[0]", "is shorter than 16 characters: use a random secret"),
        ("workspaces.beta.required", "needs at least one secret (in secrets, or receiver-wide)"),
        ("workspaces.bad tenant!", "is not a tenant name (1 to 64 letters, digits, _, . and -, starting with a "
                                   "letter or digit)"),
        ("workspaces.delta.required", "needs at least one secret (in secrets, or receiver-wide)")]
    assert "tiny" not in repr(bad.validate())


def test_state_writes_are_tenant_scoped() -> None:
    request, _ = load_case(VENDOR, "tool_calls_linked")
    other = AdapterRequest(**{**{name: getattr(request, name) for name in AdapterRequest.__slots__},
                              "tenant": "acme"})
    keys = {write.key.split(":")[0] for write in handle_tool_calls(other, MemoryState()).state_writes}
    assert keys == {"acme"}


def test_feedback_side_table_ddl_follows_the_engine() -> None:
    from spanhouse.exporters.clickhouse.config import ClickHouseConfig
    from spanhouse.exporters.clickhouse.schema import schema_statements

    for engine, expected in (("MergeTree", "ReplacingMergeTree(UpdatedAt)"),
                             ("ReplicatedMergeTree", "ReplicatedReplacingMergeTree(UpdatedAt)")):
        statements = {statement.name: statement.sql for statement in schema_statements(
            ClickHouseConfig(table_engine=engine, ttl=72 * 3600), "26.9")}
        ddl = statements["trace_feedback_table"]
        assert ddl.startswith("CREATE TABLE IF NOT EXISTS `otel`.`otel_trace_feedback`")
        assert f"ENGINE = {expected}" in ddl
        assert "ORDER BY (TenantId, TraceId, Source)" in ddl
        assert "TTL toDateTime(UpdatedAt) + toIntervalDay(3)" in ddl
