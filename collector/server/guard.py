"""What every receiver does around a request, in one place: authenticate the caller and apply
its rate limit before reading the body, then apply the input limits and stamp the caller's
tenant on the spans before handing them on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spanhouse.collector.auth import Authenticator, Principal, authenticator_of, stamp_tenant
from spanhouse.collector.auth.config import RateLimit
from spanhouse.collector.core.component import Traces, span_count
from spanhouse.collector.core.errors import PipelineError, ResourceExhaustedError
from spanhouse.collector.core.metrics import Counter, Metrics
from spanhouse.collector.core.storage import StorageClient
from spanhouse.collector.server.limits import InputLimits, enforce_limits
from spanhouse.collector.server.rate_limit import TokenBucketLimiter


class TokenRateLimits:
    """One token bucket per token, over every receiver of the service (the limiter of
    collector.server.rate_limit), one limiter per distinct configured rate."""

    def __init__(self) -> None:
        self._limiters: dict[RateLimit, TokenBucketLimiter] = {}

    def admit(self, principal: Principal) -> int | None:
        """The requests left in the token's bucket after this one (None: the token is not
        limited); raises ResourceExhaustedError (429 with Retry-After) past its limit."""
        limit = principal.rate_limit
        if limit is None or limit.requests_per_second <= 0:
            return None
        limiter = self._limiters.get(limit)
        if limiter is None:
            limiter = self._limiters[limit] = TokenBucketLimiter(limit.requests_per_second, limit.burst)
        decision = limiter.check(principal.token_name)
        if not decision.allowed:
            raise ResourceExhaustedError(f"rate limit of {limit.requests_per_second:g} requests/s for this token "
                                         "exceeded", retry_after_s=decision.retry_after_s)
        return decision.remaining


def rate_limits_of(host: Any) -> TokenRateLimits:
    """The service's per-token limiters (shared by all receivers); a private one otherwise."""
    limits = getattr(host, "token_rate_limits", None)
    return limits if isinstance(limits, TokenRateLimits) else TokenRateLimits()


class RequestGuard:
    def __init__(self, authenticator: Authenticator, rate_limits: TokenRateLimits, limits: InputLimits,
                 metrics: Metrics | None, receiver: str) -> None:
        self._authenticator = authenticator
        self._rate_limits = rate_limits
        self.limits = limits
        if metrics is None:
            self._truncated, self._unauthenticated, self._rate_limited = Counter(), Counter(), Counter()
        else:
            self._truncated = metrics.counter(
                "spanhouse_receiver_truncated_attribute_values",
                "Attribute values cut to limits.max_attribute_value_length", receiver=receiver)
            self._unauthenticated = metrics.counter(
                "spanhouse_receiver_refused_requests", "Requests refused before reading their body",
                receiver=receiver, reason="auth")
            self._rate_limited = metrics.counter(
                "spanhouse_receiver_refused_requests", "Requests refused before reading their body",
                receiver=receiver, reason="rate_limit")

    @classmethod
    def create(cls, host: Any, limits: InputLimits, receiver: str) -> RequestGuard:
        return cls(authenticator_of(host), rate_limits_of(host), limits, getattr(host, "telemetry", None), receiver)

    @classmethod
    def open(cls, limits: InputLimits | None = None) -> RequestGuard:
        """No tokens, no rate limit: for tests and for hosts without auth."""
        return cls(Authenticator(None), TokenRateLimits(), limits or InputLimits(), None, "")

    def admit(self, headers: Mapping[str, str], scope: str) -> Principal:
        """The caller, allowed `scope` and within its rate; raises a classified error otherwise."""
        return self.admit_counted(headers, scope)[0]

    def admit_counted(self, headers: Mapping[str, str], scope: str) -> tuple[Principal, int | None]:
        """As `admit`, with the requests left in the caller's token bucket (None: not limited),
        for receivers that send X-RateLimit-Remaining."""
        try:
            principal = self._authenticator.authenticate(headers, scope)
        except PipelineError:
            self._unauthenticated.add()
            raise
        try:
            remaining = self._rate_limits.admit(principal)
        except ResourceExhaustedError:
            self._rate_limited.add()
            raise
        return principal, remaining

    def identify(self, headers: Mapping[str, str], scope: str) -> Principal:
        """The caller, as `admit` but without taking from its rate limit (already applied)."""
        return self._authenticator.authenticate(headers, scope)

    def prepare(self, traces: Traces, principal: Principal, count: int | None = None) -> None:
        """Limits checked (raising 413) and the tenant stamped, in place, before the pipeline."""
        truncated = enforce_limits(traces, self.limits, span_count(traces) if count is None else count)
        if truncated:
            self._truncated.add(truncated)
        stamp_tenant(traces, principal.tenant)



def route_scope(route: Any) -> str:
    """The scope a route needs: its own `scope` attribute if it has one, else read for GET and
    HEAD and write for everything else."""
    scope = getattr(route, "scope", None)
    if isinstance(scope, str) and scope:
        return scope
    return "read" if str(getattr(route, "method", "")).upper() in ("GET", "HEAD") else "write"


class GuardedServices:
    """An adapter receiver's Services for one request: `consume` applies the input limits and
    stamps the caller's tenant; everything else is the receiver's."""

    def __init__(self, services: Any, guard: RequestGuard, principal: Principal) -> None:
        self._services = services
        self._guard = guard
        self.principal = principal

    async def consume(self, traces: Traces) -> None:
        self._guard.prepare(traces, self.principal)
        await self._services.consume(traces)

    @property
    def state(self) -> Any:
        return self._services.state

    async def write_state(self, writes: Any) -> None:
        await self._services.write_state(writes)

    def storage(self) -> StorageClient:
        storage: StorageClient = self._services.storage()
        return storage

    def http_client(self) -> Any:
        return self._services.http_client()

    def now_ns(self) -> int:
        return int(self._services.now_ns())
