"""What the AgentVista routes keep in the receiver's state store: its namespaces and the TTLs of
agent records and usage counters, shared by the ingest route and the read routes."""

from __future__ import annotations

from typing import Final

SPANS_NAMESPACE: Final = "agentvista.spans"
AGENTS_NAMESPACE: Final = "agentvista.agents"
USAGE_NAMESPACE: Final = "agentvista.usage"
# Agent records and usage counters get explicit TTLs, never 0: StateWrite documents 0 as "kept
# for ever" but the receiver's state store reads 0 as its default `state_ttl` (7 days), which
# would reset a month's usage count in its second week.
AGENT_RECORD_TTL_S: Final = 100 * 365 * 86400.0
# A month's count outlives the month by this much, for a usage read of the month before.
USAGE_KEPT_AFTER_MONTH_S: Final = 31 * 86400.0
