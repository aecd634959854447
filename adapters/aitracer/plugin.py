"""The `aitracer` adapter: every route of AITracer's Trace Ingestion API on one receiver
(default 127.0.0.1:4412). Native traces, OpenAI Agents SDK traces, guardrail results, OTLP,
tool calls, feedback, signed security webhooks and the OpenAI Responses proxy. The mapping,
the signed string and the config are documented in docs/adapters/aitracer.md."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Final

from spanhouse.adapters.aitracer.common import error_response
from spanhouse.adapters.aitracer.feedback import handle_feedback
from spanhouse.adapters.aitracer.ingest import handle_guardrails, handle_tool_calls
from spanhouse.adapters.aitracer.native import handle_native
from spanhouse.adapters.aitracer.openai_agents import handle_agents
from spanhouse.adapters.aitracer.proxy import ProxyConfig, ResponsesProxy
from spanhouse.adapters.aitracer.webhooks import SIGNATURES_NAMESPACE, handle_webhook_body, verify_signature
from spanhouse.collector.auth.config import TENANT_PATTERN
from spanhouse.collector.core.adapter_api import (
    AdapterConfig,
    AdapterPlugin,
    AdapterRequest,
    AdapterResponse,
    OtlpRoute,
    Route,
    ServiceRoute,
    Services,
    StateWrite,
)
from spanhouse.collector.core.config.types import ADDRESS, DURATION
from spanhouse.collector.server.rate_limit import RateLimitConfig

DEFAULT_ENDPOINT: Final = "127.0.0.1:4412"
TRACES_PATH: Final = "/api/traces"
AGENTS_PATH: Final = "/api/integrations/openai-agents"
GUARDRAILS_PATH: Final = "/api/integrations/openai-guardrails"
OTLP_PATH: Final = "/api/integrations/otlp/v1/traces"
TOOL_CALLS_PATH: Final = "/api/ingest/tool-calls"
FEEDBACK_PATH: Final = "/api/ingest/feedback"
WEBHOOKS_PATH: Final = "/api/ingest/webhooks"
PROXY_PATH: Final = "/api/proxy/openai/responses"
# The vendor's page promises route limits on every ingest and proxy route, so this receiver is
# limited by default: per workspace key, generous enough for SDKs that batch their exports.
DEFAULT_RATE_LIMIT_REQUESTS_PER_S: Final = 100.0
DEFAULT_RATE_LIMIT_BURST_REQUESTS: Final = 200


def _secret_problems(secrets: Sequence[str], prefix: str) -> list[tuple[str, str]]:
    # Messages name the position only: a secret is never quoted, not even a wrong one.
    return [(f"{prefix}secrets[{index}]", "is shorter than 16 characters: use a random secret")
            for index, secret in enumerate(secrets) if len(secret) < 16]


@dataclass(frozen=True, slots=True)
class SigningPolicy:
    """The signing secrets and the `required` flag that apply to one workspace (tenant)."""

    secrets: tuple[str, ...] = field(default=(), repr=False)
    required: bool = False


@dataclass(frozen=True, slots=True)
class WorkspaceSigningConfig:
    secrets: tuple[str, ...] | None = field(default=None, repr=False, metadata={
        "description": "This workspace's webhook signing secrets (several while one is rotated); they "
                       "replace the receiver-wide secrets for it. Absent: the receiver-wide secrets; "
                       "[]: signature headers are not checked for this workspace."})
    required: bool | None = field(default=None, metadata={
        "description": "Refuse this workspace's unsigned deliveries; absent: the receiver-wide required."})

    def validate(self, inherited_secrets: Sequence[str], inherited_required: bool) -> list[tuple[str, str]]:
        problems = _secret_problems(self.secrets or (), "")
        secrets = inherited_secrets if self.secrets is None else self.secrets
        required = inherited_required if self.required is None else self.required
        if required and not secrets:
            problems.append(("required", "needs at least one secret (in secrets, or receiver-wide)"))
        return problems


@dataclass(frozen=True, slots=True)
class WebhookSigningConfig:
    secrets: tuple[str, ...] = field(default=(), repr=False, metadata={
        "description": "Webhook signing secrets of every workspace without its own entry in workspaces; "
                       "several may be active while one is rotated. Empty: signature headers are not checked."})
    tolerance: Annotated[float, DURATION] = field(default=300.0, metadata={
        "description": "How far X-AITracer-Delivery-Timestamp may be from the collector's clock."})
    required: bool = field(default=False, metadata={
        "description": "Refuse unsigned deliveries (the vendor makes signing optional; turn this on once "
                       "every sender signs)."})
    workspaces: dict[str, WorkspaceSigningConfig] = field(default_factory=dict, metadata={
        "description": "Per workspace (the tenant of the caller's token in the auth section; without auth "
                       "every request is tenant default): its own secrets and required flag."})

    def policy(self, tenant: str) -> SigningPolicy:
        """The secrets and `required` flag of the workspace `tenant`."""
        own = self.workspaces.get(tenant)
        if own is None:
            return SigningPolicy(self.secrets, self.required)
        return SigningPolicy(self.secrets if own.secrets is None else own.secrets,
                             self.required if own.required is None else own.required)

    def validate(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if self.tolerance <= 0:
            problems.append(("tolerance", "must be greater than 0"))
        problems += _secret_problems(self.secrets, "")
        if self.required and not self.secrets:
            problems.append(("required", "needs at least one secret in secrets"))
        for tenant, workspace in self.workspaces.items():
            if not TENANT_PATTERN.fullmatch(tenant):
                problems.append((f"workspaces.{tenant}", "is not a tenant name (1 to 64 letters, digits, _, . "
                                                          "and -, starting with a letter or digit)"))
                continue
            problems += [(f"workspaces.{tenant}.{key}", message)
                         for key, message in workspace.validate(self.secrets, self.required)]
        return problems


@dataclass(frozen=True, slots=True)
class AITracerRateLimitConfig(RateLimitConfig):
    """The receiver's `rate_limit`, on by default (the vendor's route limits)."""

    requests_per_second: float = field(default=DEFAULT_RATE_LIMIT_REQUESTS_PER_S, metadata={
        "description": "Sustained requests per second allowed per workspace key (the bearer token; the "
                       "peer address without one), over every route of the receiver; 0 turns limiting off."})
    burst: int = field(default=DEFAULT_RATE_LIMIT_BURST_REQUESTS, metadata={
        "description": "Requests a workspace key may send at once before being limited; 0 means "
                       "max(1, requests_per_second)."})


@dataclass(frozen=True, slots=True)
class AITracerConfig(AdapterConfig):
    endpoint: Annotated[str, ADDRESS] = field(default=DEFAULT_ENDPOINT, metadata={
        "description": "host:port this receiver listens on."})
    webhook_signing: WebhookSigningConfig = field(default_factory=WebhookSigningConfig, metadata={
        "description": "Signed delivery of POST /api/ingest/webhooks."})
    proxy: ProxyConfig = field(default_factory=ProxyConfig, metadata={
        "description": "POST /api/proxy/openai/responses: upstream and governance preflight."})
    rate_limit: AITracerRateLimitConfig = field(default_factory=AITracerRateLimitConfig, metadata={
        "description": "Token bucket per workspace key on every route of this receiver, on by default "
                       f"({DEFAULT_RATE_LIMIT_REQUESTS_PER_S:g} requests/s, burst "
                       f"{DEFAULT_RATE_LIMIT_BURST_REQUESTS}); past it, 429 with Retry-After. Every answer "
                       "carries X-RateLimit-Remaining."})

    def validate(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        problems += [(f"webhook_signing.{key}", message) for key, message in self.webhook_signing.validate()]
        problems += [(f"proxy.{key}", message) for key, message in self.proxy.validate()]
        return problems


class AITracerAdapter:
    def __init__(self, config: AITracerConfig) -> None:
        self.config = config
        self._proxy = ResponsesProxy(config.proxy)
        # Signatures being handled now: a replay sent while the first delivery is still in the
        # pipeline is refused too, before the state store has the signature.
        self._signatures_in_flight: set[str] = set()
        self._routes: tuple[Route | ServiceRoute | OtlpRoute, ...] = (
            Route("POST", TRACES_PATH, handle_native),
            Route("POST", AGENTS_PATH, handle_agents),
            Route("POST", GUARDRAILS_PATH, handle_guardrails),
            OtlpRoute("POST", OTLP_PATH),
            Route("POST", TOOL_CALLS_PATH, handle_tool_calls),
            ServiceRoute("POST", FEEDBACK_PATH, handle_feedback),
            ServiceRoute("POST", WEBHOOKS_PATH, self.handle_webhook),
            ServiceRoute("POST", PROXY_PATH, self._proxy.handle),
        )

    @property
    def routes(self) -> Sequence[Route | ServiceRoute | OtlpRoute]:
        return self._routes

    def error_response(self, status: int, code: str, message: str,
                       retry_after_s: int | None = None) -> AdapterResponse:
        return error_response(status, code, message, retry_after_s)

    async def handle_webhook(self, request: AdapterRequest, raw: bytes, services: Services) -> AdapterResponse:
        signing = self.config.webhook_signing
        policy = signing.policy(request.tenant)  # the caller's workspace's secrets, or the receiver-wide ones
        check = verify_signature(request.headers, raw, policy.secrets, signing.tolerance,
                                 services.now_ns() / 1e9, policy.required, tenant=request.tenant)
        if not check.ok:
            return error_response(401, "invalid_signature", check.reason)
        key = check.replay_key
        if key is not None and (key in self._signatures_in_flight
                                or services.state.get(SIGNATURES_NAMESPACE, key) is not None):
            return error_response(401, "replayed_signature", "this signature was already delivered (a replay)")
        if key is not None:
            self._signatures_in_flight.add(key)
        try:
            result = handle_webhook_body(request, services.state)
            if result.response.status >= 400:
                return result.response  # the signature is not remembered: nothing was stored
            if result.traces is not None:
                await services.consume(result.traces)  # a refusal propagates: answered, not remembered
            writes = list(result.state_writes)
            if key is not None:
                # Kept past the tolerance on both sides of the clock: older deliveries are refused
                # by their timestamp anyway.
                writes.append(StateWrite(SIGNATURES_NAMESPACE, key, b"1", 2 * signing.tolerance + 60.0))
            await services.write_state(writes)
            return result.response
        finally:
            if key is not None:
                self._signatures_in_flight.discard(key)


def create(config: AITracerConfig) -> AITracerAdapter:
    return AITracerAdapter(config)


# Where these mappings put user content outside the GenAI conventions (custom data, speech and
# transcription text, guardrail output, tool errors): what the governance PII rules scan.
CONTENT_ATTRIBUTES: Final = (
    "openai_agents.custom.data", "openai_agents.speech.input", "openai_agents.transcription.output",
    "aitracer.guardrail.output_info", "aitracer.tool.error",
)

PLUGIN: Final = AdapterPlugin(
    name="aitracer", config_class=AITracerConfig, create=create,
    description="AITracer's Trace Ingestion API: native traces, OpenAI Agents SDK, guardrails, OTLP, tool calls, "
                "feedback, signed webhooks and the OpenAI Responses proxy.",
    content_attributes=CONTENT_ATTRIBUTES)
