"""Endpoint collisions between the receivers, extensions and metrics address a config starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from spanhouse.collector.config.loader import load_config, load_config_text
from spanhouse.collector.core.config.errors import ConfigError

from .fakes import fake_registry

TESTDATA = Path(__file__).parent / "testdata"

PIPELINE = """
exporters:
  debug:
service:
  pipelines:
    traces:
      receivers: [{receivers}]
      exporters: [debug]
"""


def collisions(receivers: str, used: str, extra: str = "") -> str:
    text = "receivers:\n" + receivers + PIPELINE.format(receivers=used) + extra
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, "collector.yaml", fake_registry(), {})
    return str(caught.value)


def test_collisions_are_reported_at_the_later_endpoint() -> None:
    text = (TESTDATA / "port_collision.yaml").read_text(encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, "port_collision.yaml", fake_registry(), {})
    assert str(caught.value) == "\n".join([
        "port_collision.yaml:9: receivers.zipkin.endpoint: 127.0.0.1:4318 is also used by receivers.otlp "
        "(both serve POST /v1/traces)",
        "port_collision.yaml:12: receivers.zipkin/grpc_port.endpoint: 127.0.0.1:4317 overlaps 0.0.0.0:4317 "
        "of receivers.otlp (http and grpc cannot share a port)",
        "port_collision.yaml:28: service.telemetry.metrics.address: 127.0.0.1:8888 overlaps localhost:8888 "
        "of extensions.health_check (both serve GET /metrics)",
    ])


def test_http_receivers_with_distinct_routes_share_a_port() -> None:
    config = load_config(TESTDATA / "valid_shared_port.yaml", fake_registry(), environ={})
    assert config.receivers["zipkin"].config.endpoint == "127.0.0.1:4318"
    assert config.telemetry.metrics_address == "127.0.0.1:4318"


def test_two_grpc_servers_cannot_share_a_port() -> None:
    receivers = "  otlp:\n    protocols:\n      grpc:\n  otlp/2:\n    protocols:\n      grpc:\n"
    assert collisions(receivers, "otlp, otlp/2") == (
        "collector.yaml:5: receivers.otlp/2: 0.0.0.0:4317 is also used by receivers.otlp "
        "(receivers.otlp takes the whole port)"
    )


def test_one_component_may_collide_with_itself() -> None:
    receivers = (
        "  otlp:\n    protocols:\n      grpc:\n        endpoint: 0.0.0.0:4317\n"
        "      http:\n        endpoint: 0.0.0.0:4317\n"
    )
    assert collisions(receivers, "otlp") == (
        "collector.yaml:7: receivers.otlp.protocols.http.endpoint: 0.0.0.0:4317 is also used by "
        "receivers.otlp "
        "(http and grpc cannot share a port)"
    )


def test_a_default_metrics_address_counts_as_claimed_first() -> None:
    extension = "extensions:\n  health_check:\n    endpoint: 127.0.0.1:8888\n    path: /metrics\n"
    assert collisions("  zipkin:\n", "zipkin", "  extensions: [health_check]\n" + extension) == (
        "collector.yaml:14: extensions.health_check.endpoint: 127.0.0.1:8888 is also used by "
        "service.telemetry.metrics (both serve GET /metrics)"
    )


def test_metrics_may_share_a_port_with_other_routes() -> None:
    receivers = "  zipkin:\n    endpoint: 127.0.0.1:8888\n    path: /metrics\n"
    text = "receivers:\n" + receivers + PIPELINE.format(receivers="zipkin")
    config = load_config_text(text, "collector.yaml", fake_registry(), {})
    assert config.receivers["zipkin"].config.endpoint == "127.0.0.1:8888"


@pytest.mark.parametrize(
    "receivers",
    [
        # Different hosts, neither a wildcard.
        "  zipkin:\n    endpoint: 127.0.0.1:9411\n  zipkin/2:\n    endpoint: 10.0.0.1:9411\n",
        # Different ports.
        "  zipkin:\n    endpoint: 0.0.0.0:9411\n  zipkin/2:\n    endpoint: 0.0.0.0:9412\n",
        # Port 0: the system picks a free port for each.
        "  zipkin:\n    endpoint: 127.0.0.1:0\n  zipkin/2:\n    endpoint: 127.0.0.1:0\n",
    ],
)
def test_endpoints_that_do_not_collide(receivers: str) -> None:
    text = "receivers:\n" + receivers + PIPELINE.format(receivers="zipkin, zipkin/2")
    config = load_config_text(text, "collector.yaml", fake_registry(), {})
    assert set(config.receivers) == {"zipkin", "zipkin/2"}


def test_only_components_in_use_are_checked() -> None:
    receivers = "  zipkin:\n  zipkin/unused:\n"
    text = "receivers:\n" + receivers + PIPELINE.format(receivers="zipkin")
    text += "extensions:\n  health_check:\n    endpoint: 0.0.0.0:9411\n"
    config = load_config_text(text, "collector.yaml", fake_registry(), {})
    assert set(config.receivers) == {"zipkin", "zipkin/unused"}


def test_a_disabled_metrics_endpoint_claims_nothing() -> None:
    text = "receivers:\n  zipkin:\n" + PIPELINE.format(receivers="zipkin")
    text += "  extensions: [health_check]\n  telemetry:\n    metrics:\n      level: none\n"
    text += "extensions:\n  health_check:\n    endpoint: 127.0.0.1:8888\n    path: /metrics\n"
    config = load_config_text(text, "collector.yaml", fake_registry(), {})
    assert not config.telemetry.metrics_enabled
