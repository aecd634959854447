"""The tenant on every span: receivers stamp it as a resource attribute, overwriting whatever
the sender wrote under that key, and the ClickHouse exporter moves it into the TenantId column."""

from __future__ import annotations

from typing import Final

from spanhouse.collector.core.component import Traces

# Reserved: a sender's own value under this key is dropped, never stored.
TENANT_ATTRIBUTE: Final = "spanhouse.tenant"


def stamp_tenant(traces: Traces, tenant: str) -> None:
    """Sets the tenant attribute of every resource of `traces`, in place. Cost is per resource."""
    for resource_spans in traces.resource_spans:
        attributes = resource_spans.resource.attributes
        for index in range(len(attributes) - 1, -1, -1):
            if attributes[index].key == TENANT_ATTRIBUTE:
                del attributes[index]
        attribute = attributes.add()
        attribute.key = TENANT_ATTRIBUTE
        attribute.value.string_value = tenant
