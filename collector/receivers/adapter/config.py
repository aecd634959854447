"""The config of a receiver that serves an adapter plugin: the plugin's own settings and, beside
them in the same section, what every adapter receiver has (body size, state, rate limit, TLS,
input limits, retry window). The plugin contract (collector.core.adapter_api) knows none of these."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Annotated, Any, Final, get_type_hints

from spanhouse.collector.core.adapter_api import AdapterConfig
from spanhouse.collector.core.config.types import BYTE_SIZE
from spanhouse.collector.server.limits import DEFAULT_MAX_REQUEST_BODY_BYTES, InputLimits
from spanhouse.collector.server.rate_limit import RateLimitConfig
from spanhouse.collector.server.retry_dedup import RetryDedupConfig
from spanhouse.collector.server.tls import TlsConfig


@dataclass(frozen=True, slots=True)
class AdapterReceiverSettings:
    """The settings every adapter receiver has, whatever its plugin."""

    max_request_body_size: Annotated[int, BYTE_SIZE] = field(default=DEFAULT_MAX_REQUEST_BODY_BYTES, metadata={
        "description": "Largest request body accepted, before and after decompression."})
    state_directory: str = field(default="./data/state", metadata={
        "description": "Where the receiver keeps idempotency keys and ids already seen."})
    rate_limit: RateLimitConfig = field(default_factory=RateLimitConfig, metadata={
        "description": "Token bucket per bearer token on every route of this receiver (off by default); "
                       "past it, 429 with Retry-After. Limited receivers send X-RateLimit-Remaining."})
    tls: TlsConfig | None = field(default=None, metadata={
        "description": "Serve HTTPS (mutual TLS with client_ca_file); off by default."})
    limits: InputLimits = field(default_factory=InputLimits, metadata={
        "description": "Limits on every request and connection (docs/security.md)."})
    retry_dedup: RetryDedupConfig = field(default_factory=RetryDedupConfig, metadata={
        "description": "A request re-sent unchanged by the same tenant within the window is answered as "
                       "the first time and stored once (docs/retries.md); span routes only."})

    def validate(self) -> list[tuple[str, str]]:
        problems = [(f"rate_limit.{key}", message) for key, message in self.rate_limit.validate()]
        problems += [(f"limits.{key}", message) for key, message in self.limits.validate()]
        problems += [(f"retry_dedup.{key}", message) for key, message in self.retry_dedup.validate()]
        if self.max_request_body_size <= 0:
            return [("max_request_body_size", "must be greater than 0"), *problems]
        return problems


_SETTINGS_FIELDS: Final = tuple(dataclasses.fields(AdapterReceiverSettings))
_MADE: Final[dict[type[AdapterConfig], type[AdapterConfig]]] = {}


def receiver_settings(config: AdapterConfig) -> AdapterReceiverSettings:
    """The receiver's part of a config made by receiver_config_class."""
    return AdapterReceiverSettings(**{item.name: getattr(config, item.name) for item in _SETTINGS_FIELDS})


def receiver_config_class(config_class: type[AdapterConfig]) -> type[AdapterConfig]:
    """The receiver's config class for a plugin: the plugin's class (so the adapter gets an
    instance of its own class) with the receiver's settings added, all in one config section.
    One class per plugin class, so that the registry and the loader agree on it."""
    made = _MADE.get(config_class)
    if made is None:
        made = _MADE[config_class] = _make(config_class)
    return made


def _make(config_class: type[AdapterConfig]) -> type[AdapterConfig]:
    hints = get_type_hints(AdapterReceiverSettings, include_extras=True)
    own = {item.name: item for item in dataclasses.fields(config_class)}
    own_hints = get_type_hints(config_class, include_extras=True)
    # A plugin may give a receiver setting its own default (the aitracer receiver's rate limit)
    # by declaring it with the same type or a subclass of it; anything else is a clash.
    clashes = sorted(name for name in own.keys() & hints.keys() if not _narrows(own_hints[name], hints[name]))
    if clashes:
        raise TypeError(f"{config_class.__name__} redefines receiver settings: {', '.join(clashes)}")
    added: list[tuple[str, Any, Any]] = [
        (item.name, hints[item.name], field(default=item.default, default_factory=item.default_factory,
                                            metadata=item.metadata))
        for item in _SETTINGS_FIELDS if item.name not in own]

    def validate(self: AdapterConfig) -> list[tuple[str, str]]:
        return receiver_settings(self).validate() + config_class.validate(self)

    made = dataclasses.make_dataclass(config_class.__name__, added, bases=(config_class,),
                                      namespace={"validate": validate, "__doc__": config_class.__doc__},
                                      frozen=True, slots=True)
    made.__module__ = __name__
    result: type[AdapterConfig] = made
    return result


def _narrows(own: Any, setting: Any) -> bool:
    """Whether a plugin's field type may stand for a receiver setting's: the same, or a subclass."""
    if own == setting:
        return True
    return isinstance(own, type) and isinstance(setting, type) and issubclass(own, setting)
