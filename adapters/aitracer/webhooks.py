"""`POST /api/ingest/webhooks`: external security alerts (GitHub Dependabot, Snyk, or a generic
alert object) as spans carrying source, severity, package and time, and the signed delivery
check: HMAC-SHA256 over `<timestamp>.<raw body>`, several secrets during rotation, a time
tolerance and replay refusal. The tables are in docs/adapters/aitracer.md."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from spanhouse.adapters.aitracer.common import (
    SCOPE_NAME,
    SERVICE_NAME,
    InvalidRequestError,
    bad_request,
    require_object,
    time_ns,
)
from spanhouse.adapters.common.attributes import new_traces, put, to_json
from spanhouse.adapters.common.ids import derived_span_id, trace_id_from
from spanhouse.adapters.common.messages import describe, quote
from spanhouse.collector.core.adapter_api import AdapterRequest, AdapterResponse, AdapterResult, StateView, StateWrite

TIMESTAMP_HEADER: Final = "x-aitracer-delivery-timestamp"
SIGNATURE_HEADER: Final = "x-aitracer-signature"
SIGNATURE_SCHEME: Final = "v1"
SIGNATURES_NAMESPACE: Final = "aitracer.webhook_signatures"
ALERTS_NAMESPACE: Final = "aitracer.alerts"
MAX_ALERTS_PER_REQUEST: Final = 1000
# A header holding more signatures than this is not a rotation but a guessing attempt.
MAX_SIGNATURES: Final = 8


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    ok: bool
    reason: str = ""
    replay_key: str | None = None  # set when a signature was verified: remember it


def signed_payload(timestamp: str, raw_body: bytes) -> bytes:
    """The bytes that are signed: the timestamp header's value as sent, a dot, the raw body."""
    return timestamp.encode("ascii") + b"." + raw_body


def sign(secret: str, timestamp: str, raw_body: bytes) -> str:
    """The `X-AITracer-Signature` value a sender computes (for senders and tests)."""
    digest = hmac.new(secret.encode("utf-8"), signed_payload(timestamp, raw_body), hashlib.sha256).hexdigest()
    return f"{SIGNATURE_SCHEME}={digest}"


def verify_signature(headers: Mapping[str, str], raw_body: bytes, secrets: Sequence[str], tolerance_s: float,
                     now_s: float, required: bool, tenant: str = "default") -> SignatureCheck:
    """Checks a delivery's signature headers against the secrets of the caller's workspace
    (`tenant`); without secrets there is nothing to check. `headers` names are lowercase. The
    replay key is `<tenant>:<sha256 of timestamp and matched signature>`: one workspace's
    deliveries never consume another's."""
    if not secrets:
        return SignatureCheck(True)
    timestamp = headers.get(TIMESTAMP_HEADER)
    signature = headers.get(SIGNATURE_HEADER)
    if timestamp is None and signature is None:
        if required:
            return SignatureCheck(False, "this workspace accepts signed deliveries only: send "
                                         "X-AITracer-Delivery-Timestamp and X-AITracer-Signature")
        return SignatureCheck(True)
    if timestamp is None or signature is None:
        return SignatureCheck(False, "a signed delivery needs both X-AITracer-Delivery-Timestamp and "
                                     "X-AITracer-Signature")
    timestamp = timestamp.strip()
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return SignatureCheck(False, "X-AITracer-Delivery-Timestamp must be whole Unix seconds")
    if abs(now_s - int(timestamp)) > tolerance_s:
        return SignatureCheck(False, f"X-AITracer-Delivery-Timestamp is more than {tolerance_s:g} s away from "
                                     "the collector's clock")
    candidates = [part.strip()[len(SIGNATURE_SCHEME) + 1:].lower() for part in signature.split(",")
                  if part.strip().startswith(SIGNATURE_SCHEME + "=")][:MAX_SIGNATURES]
    if not candidates:
        return SignatureCheck(False, "X-AITracer-Signature must be v1=<hex HMAC-SHA256>")
    payload = signed_payload(timestamp, raw_body)
    matched: str | None = None
    for secret in secrets:
        expected = hmac.new(secret.encode("utf-8"), payload, hashlib.sha256).hexdigest()
        for candidate in candidates:
            # Every pair is compared, in constant time, whatever matched before.
            if hmac.compare_digest(expected.encode(), candidate.encode("ascii", "replace")):
                matched = expected
    if matched is None:
        return SignatureCheck(False, "X-AITracer-Signature does not match the body with any signing secret")
    digest = hashlib.sha256(f"{timestamp}.{matched}".encode()).hexdigest()
    return SignatureCheck(True, replay_key=f"{tenant}:{digest}")


@dataclass(frozen=True, slots=True)
class Alert:
    source: str
    alert_id: str | None
    severity: str | None
    package: str | None
    ecosystem: str | None
    title: str | None
    url: str | None
    action: str | None
    time_ns: int | None
    extra: Mapping[str, Any]  # source-specific fields worth their own attribute
    payload: Any  # the alert as sent


def _get(value: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _str(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else to_json(value)


def _time(value: Any, path: str) -> int | None:
    return time_ns({"t": value}, path, "t") if value is not None else None


def _dependabot(body: dict[str, Any]) -> list[Alert]:
    alert = require_object(body.get("alert"), "body.alert")
    advisory = _get(alert, "security_advisory") or {}
    severity = _get(advisory, "severity") or _get(alert, "security_vulnerability", "severity")
    repository = _get(body, "repository", "full_name")
    number = _get(alert, "number")
    alert_id = f"{repository or ''}#{number}" if number is not None else _str(_get(advisory, "ghsa_id"))
    return [Alert(
        source="dependabot", alert_id=alert_id, severity=_str(severity),
        package=_str(_get(alert, "dependency", "package", "name")),
        ecosystem=_str(_get(alert, "dependency", "package", "ecosystem")), title=_str(_get(advisory, "summary")),
        url=_str(_get(alert, "html_url")), action=_str(body.get("action")),
        time_ns=_time(_get(alert, "updated_at") or _get(alert, "created_at"), "body.alert.updated_at"),
        extra={"cve": _get(advisory, "cve_id"), "ghsa": _get(advisory, "ghsa_id"), "repository": repository,
               "state": _get(alert, "state"),
               "vulnerable_range": _get(alert, "security_vulnerability", "vulnerable_version_range")},
        payload=body)]


def _snyk(body: dict[str, Any]) -> list[Alert]:
    issues = body.get("newIssues")
    if not isinstance(issues, list):
        raise InvalidRequestError(f"body.newIssues: expected an array, got {describe(issues)}")
    project = _get(body, "project", "name")
    alerts = []
    for index, issue in enumerate(issues):
        issue = require_object(issue, f"body.newIssues[{index}]")
        data: dict[str, Any] = issue["issueData"] if isinstance(issue.get("issueData"), dict) else {}
        alerts.append(Alert(
            source="snyk", alert_id=_str(issue.get("id") or data.get("id")), severity=_str(data.get("severity")),
            package=_str(issue.get("pkgName")), ecosystem=_str(_get(body, "project", "type")),
            title=_str(data.get("title")), url=_str(data.get("url")), action="new_issue",
            time_ns=_time(data.get("disclosureTime") or data.get("publicationTime"),
                          f"body.newIssues[{index}].issueData.publicationTime"),
            extra={"project": project, "package_versions": issue.get("pkgVersions"),
                   "cve": _get(data, "identifiers", "CVE")},
            payload=issue))
    return alerts


def _generic(item: Any, path: str) -> Alert:
    fields = require_object(item, path)
    source = fields.get("source")
    if not isinstance(source, str) or not source.strip():
        raise InvalidRequestError(f'{path}.source: field required (the alert\'s origin, e.g. "snyk")')
    for key in ("severity", "package", "title", "id", "url", "ecosystem", "action"):
        if fields.get(key) is not None and not isinstance(fields[key], str | int):
            raise InvalidRequestError(f"{path}.{key}: expected a string, got {describe(fields[key])}")
    when = fields.get("timestamp") or fields.get("createdAt") or fields.get("created_at")
    return Alert(source=source.strip(), alert_id=_str(fields.get("id")), severity=_str(fields.get("severity")),
                 package=_str(fields.get("package")), ecosystem=_str(fields.get("ecosystem")),
                 title=_str(fields.get("title")), url=_str(fields.get("url")), action=_str(fields.get("action")),
                 time_ns=_time(when, f"{path}.timestamp"), extra={}, payload=fields)


def parse_alerts(body: Any, headers: Mapping[str, str]) -> list[Alert]:
    if isinstance(body, list):
        return [_generic(item, f"body[{index}]") for index, item in enumerate(body)]
    fields = require_object(body, "body")
    github_event = headers.get("x-github-event")
    if github_event == "dependabot_alert" or (github_event is None and isinstance(fields.get("alert"), dict)):
        return _dependabot(fields)
    if "x-snyk-event" in headers or "newIssues" in fields:
        return _snyk(fields)
    if isinstance(fields.get("alerts"), list):
        return [_generic(item, f"body.alerts[{index}]") for index, item in enumerate(fields["alerts"])]
    if github_event is not None:
        raise InvalidRequestError(f'X-GitHub-Event "{quote(github_event)}" is not a security alert '
                                  "(send dependabot_alert events)")
    return [_generic(fields, "body")]


def alert_span(alert: Alert, digest: str, received_at_ns: int) -> Span:
    key = alert.alert_id or digest
    when = alert.time_ns or received_at_ns
    span = Span(trace_id=trace_id_from(f"aitracer-alert:{alert.source}:{key}"),
                span_id=derived_span_id("aitracer", "alert", digest), name=f"security_alert {alert.source}",
                kind=Span.SpanKind.SPAN_KIND_INTERNAL, start_time_unix_nano=when, end_time_unix_nano=when)
    attributes = span.attributes
    put(attributes, "aitracer.alert.source", alert.source)
    put(attributes, "aitracer.alert.severity", alert.severity.lower() if alert.severity else None)
    put(attributes, "aitracer.alert.package", alert.package)
    put(attributes, "aitracer.alert.ecosystem", alert.ecosystem)
    put(attributes, "aitracer.alert.id", alert.alert_id)
    put(attributes, "aitracer.alert.title", alert.title)
    put(attributes, "aitracer.alert.url", alert.url)
    put(attributes, "aitracer.alert.action", alert.action)
    put(attributes, "aitracer.alert.time_unix_nano", alert.time_ns)
    for name, value in alert.extra.items():
        put(attributes, f"aitracer.alert.{name}", value)
    put(attributes, "aitracer.alert.payload", to_json(alert.payload))
    return span


def handle_webhook_body(request: AdapterRequest, state: StateView) -> AdapterResult:
    """The alerts of a delivery whose signature (if any) was already verified."""
    try:
        alerts = parse_alerts(request.body, request.headers)
        if not alerts:
            raise InvalidRequestError("the delivery holds no alert")
        if len(alerts) > MAX_ALERTS_PER_REQUEST:
            raise InvalidRequestError(f"at most {MAX_ALERTS_PER_REQUEST} alerts per delivery, got {len(alerts)}")
        digests = [hashlib.sha256(orjson.dumps([alert.source, alert.action, alert.payload],
                                               option=orjson.OPT_SORT_KEYS)).hexdigest() for alert in alerts]
    except (InvalidRequestError, TypeError) as error:  # TypeError: a payload that is not storable JSON
        return bad_request(str(error))
    keys = [f"{request.tenant}:{digest}" for digest in digests]
    seen = set(state.get_many(ALERTS_NAMESPACE, keys))
    traces, spans = new_traces(SERVICE_NAME, scope_name=SCOPE_NAME)
    writes = []
    for key, digest, alert in zip(keys, digests, alerts, strict=True):
        if key not in seen:
            seen.add(key)
            spans.append(alert_span(alert, digest, request.received_at_ns))
            writes.append(StateWrite(ALERTS_NAMESPACE, key, b"1"))
    answer = AdapterResponse(200, {"accepted": len(alerts), "sources": sorted({alert.source for alert in alerts})})
    return AdapterResult(answer, traces if len(spans) else None, writes)
