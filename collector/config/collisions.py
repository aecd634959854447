"""Finds components that would listen on the same port in ways one server cannot share."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from spanhouse.collector.config.model import ComponentConfig, TelemetryConfig
from spanhouse.collector.core.component import Endpoint
from spanhouse.collector.core.config.document import ConfigDocument, YamlPath, format_path
from spanhouse.collector.core.config.types import split_address

_WILDCARD_HOSTS: Final = frozenset({"0.0.0.0", "::", ""})
_LOOPBACK_NAMES: Final = {"localhost": "127.0.0.1"}
METRICS_ROUTES: Final = ("GET /metrics",)


@dataclass(frozen=True, slots=True)
class _Claim:
    owner: str  # "receivers.otlp"
    path: YamlPath  # where the address is written, or the owner when it is a default
    line: int
    endpoint: Endpoint
    host: str
    port: int


def check_endpoint_collisions(
    document: ConfigDocument,
    components: Iterable[tuple[YamlPath, ComponentConfig]],
    telemetry: TelemetryConfig,
) -> None:
    """Report every endpoint that collides with one claimed earlier in the file.

    `components` are the receivers and extensions the service will start, with their paths."""
    claims: list[_Claim] = []
    for path, component in components:
        used_paths: set[YamlPath] = set()
        for endpoint in component.factory.endpoints(component.config):
            where = _written_at(document, path, endpoint.address, used_paths)
            used_paths.add(where)
            line = document.line(where) if where != path else component.line
            claims.extend(_claim(format_path(path), where, line, endpoint))
    if telemetry.metrics_enabled:
        metrics_path: YamlPath = ("service", "telemetry", "metrics", "address")
        # A default address is not in the file; it counts as claimed first.
        line = document.lines.get(metrics_path, 0)
        endpoint = Endpoint(telemetry.metrics_address, "http", METRICS_ROUTES)
        claims.extend(_claim("service.telemetry.metrics", metrics_path, line, endpoint))
    claims.sort(key=lambda claim: claim.line)
    for index, claim in enumerate(claims):
        for earlier in claims[:index]:
            reason = _conflict(claim, earlier)
            if reason is not None:
                document.report(claim.path, _message(claim, earlier, reason), claim.line)
                break


def _claim(owner: str, path: YamlPath, line: int, endpoint: Endpoint) -> list[_Claim]:
    try:
        host, port = split_address(endpoint.address)
    except ValueError:
        return []  # a malformed address is reported by the component's own config check
    if port == 0:
        return []  # the system picks a free port
    host = _LOOPBACK_NAMES.get(host.lower(), host.lower())
    return [_Claim(owner, path, line, endpoint, host, port)]


def _written_at(
    document: ConfigDocument, component_path: YamlPath, address: str, taken: set[YamlPath]
) -> YamlPath:
    """The first place inside the component where `address` is written and not yet matched."""
    depth = len(component_path)
    for path, text in document.texts.items():
        if path[:depth] == component_path and text == address and path not in taken:
            return path
    return component_path


def _conflict(claim: _Claim, earlier: _Claim) -> str | None:
    """Why the two cannot share one server, or None when they can."""
    if claim.port != earlier.port:
        return None
    if claim.host != earlier.host and not {claim.host, earlier.host} & _WILDCARD_HOSTS:
        return None
    ours, theirs = claim.endpoint, earlier.endpoint
    if ours.protocol != theirs.protocol:
        return f"{ours.protocol} and {theirs.protocol} cannot share a port"
    if not theirs.routes:
        return f"{earlier.owner} takes the whole port"
    if not ours.routes:
        return f"{claim.owner} needs the whole port"
    shared = [route for route in ours.routes if route in theirs.routes]
    return f"both serve {', '.join(shared)}" if shared else None


def _message(claim: _Claim, earlier: _Claim, reason: str) -> str:
    ours, theirs = claim.endpoint.address, earlier.endpoint.address
    if ours == theirs:
        return f"{ours} is also used by {earlier.owner} ({reason})"
    return f"{ours} overlaps {theirs} of {earlier.owner} ({reason})"
