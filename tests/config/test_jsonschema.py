"""The JSON Schema generated from the factories accepts the valid configs and refuses invalid ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from spanhouse.collector.config.jsonschema import build_schema, render_schema, write_schema

from .fakes import fake_registry

TESTDATA = Path(__file__).parent / "testdata"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = build_schema(fake_registry())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def read(name: str) -> Any:
    return yaml.safe_load((TESTDATA / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(path.name for path in TESTDATA.glob("valid_*.yaml")))
def test_valid_configs_validate(validator: jsonschema.Draft202012Validator, name: str) -> None:
    assert [error.message for error in validator.iter_errors(read(name))] == []


@pytest.mark.parametrize(
    ("name", "expected_paths"),
    [
        (
            "unknown_keys.yaml",
            {"", "receivers/otlp", "receivers/otlp/protocols/grpc", "service/telemetry/logs"},
        ),
        ("unknown_type.yaml", {"receivers", "exporters"}),
        ("metrics_pipeline.yaml", {"service/pipelines"}),
    ],
)
def test_invalid_configs_are_refused(
    validator: jsonschema.Draft202012Validator, name: str, expected_paths: set[str]
) -> None:
    errors = list(validator.iter_errors(read(name)))
    assert {"/".join(map(str, error.absolute_path)) for error in errors} == expected_paths


def test_wrong_types_are_refused_field_by_field(validator: jsonschema.Draft202012Validator) -> None:
    errors = validator.iter_errors(read("wrong_types.yaml"))
    assert {"/".join(map(str, error.absolute_path)) for error in errors} == {
        "receivers/otlp/protocols/grpc/endpoint",
        "receivers/otlp/protocols/grpc/max_recv_msg_size_mib",
        "receivers/otlp/protocols/http/cors_allowed_origins",
        "processors/batch/timeout",
        "processors/batch/send_batch_size",
        "exporters/clickhouse/ttl",
        "exporters/clickhouse/create_schema",
        "exporters/clickhouse/compression",
        "exporters/clickhouse/max_insert_size",
        "exporters/clickhouse/ratio",
        "exporters/clickhouse/retry",
        "exporters/clickhouse/tables/spans",
        "exporters/debug/verbosity",
        "service/shutdown_timeout",
        "service/telemetry/metrics/level",
        "service/pipelines/traces/receivers",
    }


def test_fields_carry_types_defaults_and_descriptions() -> None:
    schema = build_schema(fake_registry())
    batch = schema["properties"]["processors"]["patternProperties"]["^batch(/.+)?$"]
    assert batch["type"] == ["object", "null"]
    assert batch["additionalProperties"] is False
    timeout = batch["properties"]["timeout"]
    assert timeout["default"] == "200ms"
    assert timeout["description"] == "How long a batch may wait before it is sent."
    assert batch["properties"]["send_batch_size"]["default"] == 8192
    otlp = schema["properties"]["receivers"]["patternProperties"]["^otlp(/.+)?$"]
    assert otlp["description"] == "OTLP over gRPC and HTTP."
    debug = schema["properties"]["exporters"]["patternProperties"]["^debug(/.+)?$"]
    assert debug["properties"]["verbosity"]["anyOf"][0] == {"enum": ["basic", "normal", "detailed"]}
    clickhouse = schema["properties"]["exporters"]["patternProperties"]["^clickhouse(/.+)?$"]
    assert clickhouse["properties"]["tables"]["additionalProperties"]["required"] == ["name"]
    service = schema["properties"]["service"]
    assert service["required"] == ["pipelines"]
    assert service["properties"]["shutdown_timeout"]["default"] == "30s"


def test_written_schema_is_stable(tmp_path: Path) -> None:
    path = tmp_path / "spanhouse.schema.json"
    write_schema(fake_registry(), path)
    text = path.read_text(encoding="utf-8")
    assert text == render_schema(fake_registry())
    assert text.endswith("}\n")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
