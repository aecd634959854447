"""The `query_api` extension's factory."""

from __future__ import annotations

from typing import Any

from spanhouse.collector.core.component import CreateSettings, Endpoint, Factory, Kind
from spanhouse.collector.extensions.query_api.config import QueryApiConfig
from spanhouse.collector.extensions.query_api.server import QueryApi


def _endpoints(config: QueryApiConfig) -> list[Endpoint]:
    # The whole port: the viewer's static files and the API share it.
    return [Endpoint(config.endpoint, "http")]


def _create(settings: CreateSettings, config: Any) -> QueryApi:
    return QueryApi(settings, config)


FACTORY = Factory(type="query_api", kind=Kind.EXTENSION, config_class=QueryApiConfig, create=_create,
                  endpoints=_endpoints,
                  description="Read API over stored traces (search, trace, services, agents, time series) "
                              "and the trace viewer.")
