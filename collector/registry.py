"""One registry of component factories: the built-in ones and entry-point plugins alike."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from importlib.metadata import entry_points
from typing import Final

from spanhouse.collector.core.component import Factory, Kind

logger = logging.getLogger(__name__)

# Third-party packages add components by exposing a Factory (or a callable returning one)
# under this entry-point group.
ENTRY_POINT_GROUP: Final = "spanhouse.components"
# Vendor adapters, built-in and third-party alike: each names a collector.core.adapter_api.AdapterPlugin,
# served by a receiver of the plugin's name.
ADAPTER_ENTRY_POINT_GROUP: Final = "spanhouse.adapters"


class UnknownComponentError(KeyError):
    def __init__(self, kind: Kind, type_name: str, known: Iterable[str]) -> None:
        self.message = f'unknown {kind.value} type "{type_name}" (known: {", ".join(sorted(known)) or "none"})'
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class Registry:
    def __init__(self, factories: Iterable[Factory] = ()) -> None:
        self._factories: dict[Kind, dict[str, Factory]] = {kind: {} for kind in Kind}
        for factory in factories:
            self.register(factory)

    def register(self, factory: Factory) -> None:
        section = self._factories[factory.kind]
        if factory.type in section:
            raise ValueError(f'duplicate {factory.kind.value} factory "{factory.type}"')
        section[factory.type] = factory

    def get(self, kind: Kind, type_name: str) -> Factory:
        try:
            return self._factories[kind][type_name]
        except KeyError:
            raise UnknownComponentError(kind, type_name, self._factories[kind]) from None

    def types(self, kind: Kind) -> list[str]:
        return sorted(self._factories[kind])

    def factories(self, kind: Kind) -> list[Factory]:
        return [self._factories[kind][name] for name in self.types(kind)]


def builtin_factories() -> list[Factory]:
    # Imported here so that importing the registry stays cheap and cycle-free.
    from spanhouse.collector.extensions.health_check import FACTORY as health_check
    from spanhouse.collector.extensions.query_api.factory import FACTORY as query_api
    from spanhouse.collector.processors.batch import FACTORY as batch
    from spanhouse.collector.processors.governance import FACTORY as governance
    from spanhouse.collector.processors.memory_limiter import FACTORY as memory_limiter
    from spanhouse.collector.receivers.otlp.factory import FACTORY as otlp
    from spanhouse.exporters.clickhouse.factory import FACTORY as clickhouse
    from spanhouse.exporters.debug import FACTORY as debug
    from spanhouse.exporters.file import FACTORY as file

    return [otlp, batch, memory_limiter, governance, clickhouse, debug, file, health_check, query_api]


def adapter_factories() -> list[Factory]:
    from spanhouse.collector.core.adapter_api import AdapterPlugin
    from spanhouse.collector.receivers.adapter.receiver import adapter_receiver_factory

    factories = []
    for entry in sorted(entry_points(group=ADAPTER_ENTRY_POINT_GROUP), key=lambda item: item.name):
        try:
            plugin = entry.load()
        except Exception as error:
            raise ImportError(f'adapter plugin "{entry.name}" ({entry.value}) cannot be loaded: {error}') from error
        if not isinstance(plugin, AdapterPlugin):
            raise TypeError(f'entry point "{entry.name}" in {ADAPTER_ENTRY_POINT_GROUP} is not an AdapterPlugin')
        factories.append(adapter_receiver_factory(plugin))
    return factories


def default_registry() -> Registry:
    """Built-in factories plus every installed plugin."""
    registry = Registry([*builtin_factories(), *adapter_factories()])
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        loaded = entry.load()
        factory = loaded() if callable(loaded) and not isinstance(loaded, Factory) else loaded
        if not isinstance(factory, Factory):
            raise TypeError(f"entry point {entry.name} in {ENTRY_POINT_GROUP} is not a spanhouse Factory")
        registry.register(factory)
    return registry
