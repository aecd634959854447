"""`POST /api/proxy/openai/responses`, AITracer's "Bifrost" proxy: governance preflight, then
the request forwarded to the OpenAI Responses upstream, its answer returned unchanged (JSON, or
the event stream passed through as it arrives), and one GenAI span persisted per exchange."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any, Final
from urllib.parse import urlsplit

import aiohttp
import orjson
from aiohttp import web

from spanhouse.adapters.aitracer.common import error_response, link_trace_id, root_span_id
from spanhouse.adapters.aitracer.preflight import (
    EventStreamReader,
    Exchange,
    PiiMode,
    PreflightPolicy,
    exchange_span,
    preflight,
)
from spanhouse.adapters.common.attributes import new_traces
from spanhouse.adapters.common.ids import trace_id_from
from spanhouse.collector.core.adapter_api import (
    AdapterRequest,
    AdapterResponse,
    ConsumeRefused,
    Services,
    StreamingAnswer,
)
from spanhouse.collector.core.config.types import BYTE_SIZE, DURATION
from spanhouse.collector.governance.rules import PII_RULES

logger = logging.getLogger(__name__)

DEFAULT_UPSTREAM_URL: Final = "https://api.openai.com/v1/responses"
SERVICE_NAME: Final = "aitracer-proxy"
SCOPE_NAME: Final = "spanhouse.aitracer.proxy"
# Headers of the caller passed on to the upstream (besides the key), and of the upstream's
# answer passed back (besides the content type); hop-by-hop headers never are.
FORWARDED_REQUEST_HEADERS: Final = ("openai-organization", "openai-project", "openai-beta", "idempotency-key",
                                    "user-agent")
RETURNED_HEADER_PREFIXES: Final = ("x-request-id", "openai-", "x-ratelimit-limit", "x-ratelimit-reset",
                                   "x-ratelimit-remaining-")
TRACE_HEADER: Final = "x-aitracer-trace-id"
# An AITracer workspace key is the caller's credential for this proxy, never the upstream's.
WORKSPACE_KEY_PREFIX: Final = "Bearer akt_"


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    upstream_url: str = field(default=DEFAULT_UPSTREAM_URL, metadata={
        "description": "The OpenAI Responses endpoint requests are forwarded to."})
    upstream_api_key: str = field(default="", metadata={
        "description": "Key sent to the upstream; empty: the caller's own Authorization is forwarded "
                       "(never an AITracer akt_ workspace key)."})
    timeout: Annotated[float, DURATION] = field(default=120.0, metadata={
        "description": "How long the upstream may take to answer (for a stream: between two chunks)."})
    allowed_models: tuple[str, ...] = field(default=(), metadata={
        "description": "Models the proxy forwards (exact names or patterns like gpt-4o*); empty: any."})
    max_output_tokens: int = field(default=0, metadata={
        "description": "Cap on max_output_tokens: a request above it is refused, one without it gets it; "
                       "0: no cap."})
    pii: PiiMode = field(default="detect", metadata={
        "description": "PII in the input: ignore, detect (findings on the span), block (refused with 400) or "
                       "redact (masked before forwarding)."})
    pii_rules: tuple[str, ...] = field(default=PII_RULES, metadata={
        "description": "PII rules the preflight runs (pii.email, pii.phone, pii.card, pii.secret)."})
    mask: str = field(default="[REDACTED:{rule}]", metadata={
        "description": "What redact mode puts in place of a match; {rule} names the rule."})
    max_response_body_size: Annotated[int, BYTE_SIZE] = field(default=64 * 1024 * 1024, metadata={
        "description": "Largest non-streamed upstream answer passed back (502 beyond)."})

    def validate(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        parts = urlsplit(self.upstream_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problems.append(("upstream_url", f'"{self.upstream_url}" is not an http(s) URL'))
        if self.timeout <= 0:
            problems.append(("timeout", "must be greater than 0"))
        if self.max_output_tokens < 0:
            problems.append(("max_output_tokens", "must be 0 (no cap) or greater"))
        for index, rule in enumerate(self.pii_rules):
            if rule not in PII_RULES:
                problems.append((f"pii_rules[{index}]", f'unknown rule "{rule}" (known: {", ".join(PII_RULES)})'))
        return problems

    def policy(self) -> PreflightPolicy:
        return PreflightPolicy(self.allowed_models, self.max_output_tokens, self.pii, self.pii_rules, self.mask)


class ResponsesProxy:
    def __init__(self, config: ProxyConfig) -> None:
        self._config = config
        self._policy = config.policy()
        self._store_failures_logged = False

    async def handle(self, request: AdapterRequest, raw: bytes, services: Services) -> Any:
        start_ns = services.now_ns()
        body = request.body
        if not isinstance(body, dict):
            return error_response(400, "invalid_request",
                                  "the body must be a JSON object (an OpenAI Responses request)")
        stream = body.get("stream") is True
        # The caller may name the trace the exchange belongs to; else it gets its own.
        link = request.headers.get(TRACE_HEADER, "").strip()[:256]
        check = preflight(body, self._policy)
        exchange = Exchange(trace_id=link_trace_id(link) if link else b"", span_id=secrets.token_bytes(8),
                            parent_span_id=root_span_id(link) if link else b"", start_ns=start_ns, end_ns=start_ns,
                            request=check.body, stream=stream, findings=check.findings)
        if check.refused_rule is not None:
            if check.refused_rule != "invalid_request":  # a refusal by a rule is a governance record
                await self._record(services, exchange, end_ns=services.now_ns(), refused_rule=check.refused_rule,
                                   error=check.refusal)
            return error_response(400, check.refused_rule, check.refusal)
        authorization = self._config.upstream_api_key and f"Bearer {self._config.upstream_api_key}"
        authorization = authorization or request.headers.get("authorization", "")
        if authorization.startswith(WORKSPACE_KEY_PREFIX) or not authorization:
            return error_response(401, "upstream_key_missing",
                                  "no key for the upstream: configure proxy.upstream_api_key on the collector, or "
                                  "send your OpenAI key as the bearer token")
        headers = {"Authorization": authorization, "Content-Type": "application/json",
                   "Accept": "text/event-stream" if stream else "application/json"}
        headers.update({name: value for name, value in request.headers.items() if name in FORWARDED_REQUEST_HEADERS})
        payload = orjson.dumps(check.body) if check.changed else raw
        timeout = aiohttp.ClientTimeout(total=None if stream else self._config.timeout,
                                        sock_read=self._config.timeout, sock_connect=self._config.timeout)
        try:
            upstream = await services.http_client().post(self._config.upstream_url, data=payload, headers=headers,
                                                         timeout=timeout)
        except (TimeoutError, aiohttp.ClientError) as error:
            return await self._unreachable(services, exchange, error)
        returned = _returned_headers(upstream.headers)
        upstream_id = upstream.headers.get("x-request-id")
        is_stream = upstream.content_type == "text/event-stream"
        if stream and is_stream and upstream.status < 400:
            return StreamingAnswer(upstream.status, {**returned, "Content-Type": "text/event-stream",
                                                     "Cache-Control": "no-cache"},
                                   self._pass_through(services, exchange, upstream, upstream_id))
        try:
            async with upstream:
                answer = await _read_limited(upstream, self._config.max_response_body_size)
        except (TimeoutError, aiohttp.ClientError, ValueError) as error:
            return await self._unreachable(services, exchange, error)
        parsed = _json_object(answer) if upstream.content_type == "application/json" else None
        await self._record(services, exchange, end_ns=services.now_ns(), status_code=upstream.status,
                           response=parsed, upstream_request_id=upstream_id)
        # The upstream's bytes, status and content type as they came (errors included).
        return web.Response(status=upstream.status, body=answer, headers={
            **returned, "Content-Type": upstream.headers.get("Content-Type", "application/json")})

    async def _pass_through(self, services: Services, exchange: Exchange, upstream: aiohttp.ClientResponse,
                            upstream_id: str | None) -> AsyncIterator[bytes]:
        reader = EventStreamReader()
        first_chunk_ns: int | None = None
        error: str | None = None
        try:
            async with upstream:
                async for chunk in upstream.content.iter_any():
                    if first_chunk_ns is None:
                        first_chunk_ns = services.now_ns()
                    reader.feed(chunk)
                    yield chunk
        except (TimeoutError, aiohttp.ClientError) as failure:
            error = f"the upstream stream broke off: {failure or type(failure).__name__}"
        except GeneratorExit:
            error = "the client left before the stream ended"
            raise
        finally:
            reader.close()
            if error is None and reader.final_type == "response.failed":
                error = "the upstream reported response.failed"
            final = reader.final
            if final is None and reader.model is not None:
                final = {"model": reader.model}
            await self._record(services, exchange, end_ns=services.now_ns(), status_code=upstream.status,
                               response=final, upstream_request_id=upstream_id, error=error,
                               first_chunk_ns=first_chunk_ns)

    async def _unreachable(self, services: Services, exchange: Exchange, error: BaseException) -> AdapterResponse:
        timed_out = isinstance(error, TimeoutError)
        status, code = (504, "upstream_timeout") if timed_out else (502, "upstream_unreachable")
        message = (f"the upstream did not answer within {self._config.timeout:g} s" if timed_out
                   else f"the upstream cannot be reached: {error or type(error).__name__}")
        await self._record(services, exchange, end_ns=services.now_ns(), error=message)
        return error_response(status, code, message)

    async def _record(self, services: Services, exchange: Exchange, **outcome: Any) -> None:
        done = dataclasses.replace(exchange, **outcome)
        if not done.trace_id:
            # A trace per upstream response (a repeat of the same response joins it), else random.
            response_id = done.response.get("id") if done.response is not None else None
            trace_id = (trace_id_from(f"aitracer-proxy:{response_id}") if isinstance(response_id, str)
                        else secrets.token_bytes(16))
            done = dataclasses.replace(done, trace_id=trace_id)
        traces, spans = new_traces(SERVICE_NAME, scope_name=SCOPE_NAME)
        spans.append(exchange_span(done))
        try:
            await services.consume(traces)
        except (ConsumeRefused, asyncio.CancelledError, ConnectionError) as error:
            # The caller already has (or is getting) the upstream's answer, which it paid for;
            # failing it now for our own storage would be worse than a span missing.
            if not self._store_failures_logged:
                self._store_failures_logged = True
                logger.warning("aitracer proxy: the span of an exchange was not stored: %s", error)
            if isinstance(error, asyncio.CancelledError):
                raise


def _returned_headers(headers: Any) -> dict[str, str]:
    return {name: value for name, value in headers.items()
            if name.lower().startswith(RETURNED_HEADER_PREFIXES) and name.lower() != "x-ratelimit-remaining"}


async def _read_limited(response: aiohttp.ClientResponse, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise ValueError(f"the upstream answer is larger than {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
