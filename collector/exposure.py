"""The start-up warning for a collector that accepts unauthenticated data beyond loopback."""

from __future__ import annotations

import ipaddress
import logging

from spanhouse.collector.config.model import ServiceConfig
from spanhouse.collector.core.config.types import split_address

logger = logging.getLogger(__name__)


def is_loopback(address: str) -> bool:
    host, _ = split_address(address)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to anything


def exposed_addresses(config: ServiceConfig) -> list[str]:
    """Addresses of the configured receivers that listen beyond loopback."""
    used = {receiver for pipeline in config.pipelines.values() for receiver in pipeline.receivers}
    exposed: list[str] = []
    for receiver_id, component in config.receivers.items():
        if receiver_id not in used:
            continue
        for endpoint in component.factory.endpoints(component.config):
            if not is_loopback(endpoint.address):
                exposed.append(f"{receiver_id} on {endpoint.address}")
    return exposed


def warn_if_exposed_without_auth(config: ServiceConfig) -> None:
    if config.auth is not None:
        return
    exposed = exposed_addresses(config)
    if exposed:
        logger.warning("no auth section: anyone who can reach %s may write spans, all as tenant \"default\"; "
                       "configure auth (docs/security.md) before exposing spanhouse", ", ".join(exposed))
