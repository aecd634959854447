"""Agent ids: the one derivation of an agent's id from its tenant and name, shared by the
read API and the adapters that report agents (AgentVista), below both."""

from __future__ import annotations

import uuid
from typing import Final

import orjson

# Fixed for ever: agent ids are uuid5(this, [tenant, agent name]), so every collector
# instance, and every restart, gives an agent the same id without asking the others.
AGENT_ID_NAMESPACE: Final = uuid.UUID("5f0c2a4e-7d1b-5c8e-9a36-3b2f6d4e8a17")


def agent_id(tenant: str, agent: str) -> str:
    # JSON of the pair, not "tenant:agent", so that no tenant and agent name pair can
    # collide with another ("a:b" + "c" vs "a" + "b:c").
    return str(uuid.uuid5(AGENT_ID_NAMESPACE, orjson.dumps([tenant, agent]).decode()))
