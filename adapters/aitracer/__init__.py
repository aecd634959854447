"""The `aitracer` adapter: every route of AITracer's ingestion API (native traces, OpenAI Agents
SDK traces, guardrails, tool calls, feedback, webhooks, the Responses proxy) as OTLP spans.
The entry point `spanhouse.adapters.aitracer:PLUGIN` names it."""

from __future__ import annotations

from spanhouse.adapters.aitracer.plugin import PLUGIN

__all__ = ["PLUGIN"]
