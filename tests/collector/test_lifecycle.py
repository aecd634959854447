"""Every registered component survives create, start, shutdown, shutdown, and shutdown
before start, with its default config (as the Go collector's lifecycle tests do)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from spanhouse.collector.core.component import CreateSettings, Factory, Kind
from spanhouse.collector.core.metrics import Metrics
from spanhouse.collector.server.http_host import HttpServers
from tests.conftest import RecordingConsumer, free_port
from tests.support.doubles import StubHost


def _factories() -> list[Factory]:
    from spanhouse.collector.registry import default_registry

    registry = default_registry()
    return [factory for kind in Kind for factory in registry.factories(kind)]


def loopback_config(factory: Factory, tmp_path: Path) -> Any:
    """The default config with every address moved to a free loopback port and every path
    into the test's directory, so that the test never touches shared ports or files."""

    def rewrite(value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            changes = {}
            for item in dataclasses.fields(value):
                current = getattr(value, item.name)
                if item.name == "endpoint" and isinstance(current, str) and current.startswith("127.0.0.1:"):
                    changes[item.name] = f"127.0.0.1:{free_port()}"
                elif item.name == "endpoint" and isinstance(current, str) and current.startswith("chdb://"):
                    changes[item.name] = f"chdb://{tmp_path}/clickhouse"
                elif item.name in ("path", "directory") and isinstance(current, str) and current.startswith("./"):
                    changes[item.name] = str(tmp_path / current[2:])
                elif dataclasses.is_dataclass(item.type) or dataclasses.is_dataclass(current):
                    changes[item.name] = rewrite(current)
            return dataclasses.replace(value, **changes)
        return value

    config = rewrite(factory.config_class())
    if factory.type == "otlp":
        from spanhouse.collector.receivers.otlp.config import GrpcConfig, HttpConfig, Protocols

        config = dataclasses.replace(config, protocols=Protocols(
            GrpcConfig(endpoint=f"127.0.0.1:{free_port()}"), HttpConfig(endpoint=f"127.0.0.1:{free_port()}")))
    if factory.type == "memory_limiter":
        config = dataclasses.replace(config, limit_mib=4096)
    return config


@pytest.mark.parametrize("factory", _factories(), ids=lambda factory: f"{factory.kind.value}:{factory.type}")
async def test_create_start_shutdown_twice(factory: Factory, tmp_path: Path) -> None:
    config = loopback_config(factory, tmp_path)
    settings = CreateSettings(factory.type, tmp_path, Metrics())
    args = (settings, config, RecordingConsumer()) if factory.kind in (Kind.RECEIVER, Kind.PROCESSOR) \
        else (settings, config)
    never_started = factory.create(*args)
    await never_started.shutdown()
    component = factory.create(*args)
    host = StubHost(servers=HttpServers())
    await component.start(host)
    await host.http_servers.start()
    await host.http_servers.stop()
    await component.shutdown()
    await component.shutdown()
