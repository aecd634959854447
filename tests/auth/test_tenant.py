"""The tenant stamp overwrites what a sender wrote; the exporter moves it into TenantId."""

from __future__ import annotations

from spanhouse.collector.auth.tenant import TENANT_ATTRIBUTE, stamp_tenant
from spanhouse.exporters.clickhouse.columns import COLUMN_NAMES, to_columns
from tests.security.helpers import otlp_request


def test_stamp_replaces_every_spoofed_value_and_the_exporter_moves_it() -> None:
    request = otlp_request(spans=2, tenant_spoof="beta")
    extra = request.resource_spans[0].resource.attributes.add()
    extra.key, extra.value.string_value = TENANT_ATTRIBUTE, "gamma"
    stamp_tenant(request, "acme")
    attributes = request.resource_spans[0].resource.attributes
    assert [attribute.value.string_value for attribute in attributes if attribute.key == TENANT_ATTRIBUTE] == ["acme"]
    columns = to_columns(request).columns
    assert columns[COLUMN_NAMES.index("TenantId")] == ["acme", "acme"]
    assert all(TENANT_ATTRIBUTE not in resource for resource in columns[COLUMN_NAMES.index("ResourceAttributes")])


def test_spans_without_a_tenant_are_default() -> None:
    assert to_columns(otlp_request()).columns[COLUMN_NAMES.index("TenantId")] == ["default"]
