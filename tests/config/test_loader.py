"""Loading collector.yaml: the typed result of valid files and the exact errors of invalid ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from spanhouse.collector.config.loader import load_config, load_config_text
from spanhouse.collector.config.model import PipelineConfig, TelemetryConfig
from spanhouse.collector.core.config.errors import ConfigError, ConfigIssue

from .fakes import (
    AttributeAction,
    BatchConfig,
    ClickHouseConfig,
    GrpcSettings,
    HttpSettings,
    QueueSettings,
    TableSettings,
    fake_registry,
)

TESTDATA = Path(__file__).parent / "testdata"


def load_errors(name: str, environ: dict[str, str] | None = None) -> str:
    """The error text for testdata/<name>, shown as if the file were given by its name."""
    text = (TESTDATA / name).read_text(encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, name, fake_registry(), environ or {})
    return str(caught.value)


def test_minimal_config_fills_in_defaults() -> None:
    config = load_config(TESTDATA / "valid_minimal.yaml", fake_registry(), environ={})

    otlp = config.receivers["otlp"]
    assert (otlp.id, otlp.type, otlp.name, otlp.line) == ("otlp", "otlp", "", 2)
    # `grpc:` with no value turns gRPC on with its defaults; http stays off.
    assert otlp.config.protocols.grpc == GrpcSettings()
    assert otlp.config.protocols.http is None
    assert config.pipelines == {"traces": PipelineConfig("traces", ("otlp",), (), ("debug",))}
    assert config.telemetry == TelemetryConfig()
    assert config.shutdown_timeout_s == 30.0
    assert config.service_extensions == ()
    assert config.path == TESTDATA / "valid_minimal.yaml"
    assert config.config_dir == TESTDATA


def test_full_config_reads_every_kind_of_field() -> None:
    config = load_config(TESTDATA / "valid_full.yaml", fake_registry(), environ={})

    assert config.receivers["otlp"].config.protocols.http == HttpSettings(
        cors_allowed_origins=["https://*.example.com"]
    )
    assert config.processors["batch"].config == BatchConfig(
        timeout=1.0, send_batch_size=512, send_batch_max_size=1024
    )
    assert config.processors["batch/large"].config.timeout == 90.0
    large = config.processors["batch/large"]
    assert (large.type, large.name) == ("batch", "large")
    assert config.processors["attributes"].config.actions == [
        AttributeAction("deployment.environment", "upsert", "production"),
        AttributeAction("http.request.header.authorization", "delete", None),
    ]
    assert config.processors["attributes"].config.labels == {"team": "observability"}
    clickhouse = config.exporters["clickhouse"].config
    assert isinstance(clickhouse, ClickHouseConfig)
    assert clickhouse.ttl == 72 * 3600
    assert clickhouse.password == ""
    assert clickhouse.create_schema is False
    assert clickhouse.max_insert_size == 32 * 1024**2
    assert clickhouse.retry.initial_interval == 1.0
    assert clickhouse.retry.max_elapsed_time == 300.0
    assert clickhouse.sending_queue == QueueSettings(directory="./queue")
    assert clickhouse.tables == {"spans": TableSettings("otel_traces", 720 * 3600)}
    # `sending_queue:` with no value: enabled with defaults.
    assert config.exporters["clickhouse/archive"].config.sending_queue == QueueSettings()
    assert config.extensions["health_check"].line == 58
    assert config.service_extensions == ("health_check",)
    assert config.telemetry == TelemetryConfig("debug", "0.0.0.0:8888", True)
    assert config.shutdown_timeout_s == 10.0


def test_pipelines_may_share_receivers_and_exporters() -> None:
    config = load_config(TESTDATA / "valid_full.yaml", fake_registry(), environ={})

    assert config.pipelines == {
        "traces": PipelineConfig(
            "traces", ("otlp", "zipkin"), ("memory_limiter", "attributes", "batch"), ("clickhouse", "debug")
        ),
        "traces/archive": PipelineConfig(
            "traces/archive", ("otlp",), ("memory_limiter", "batch/large"), ("clickhouse/archive", "debug")
        ),
    }


def test_metrics_level_none_turns_metrics_off() -> None:
    text = (TESTDATA / "valid_minimal.yaml").read_text(encoding="utf-8")
    text += "  telemetry:\n    metrics:\n      level: none\n"
    config = load_config_text(text, "collector.yaml", fake_registry(), {})
    assert config.telemetry.metrics_enabled is False


def test_unknown_keys_at_every_level() -> None:
    assert load_errors("unknown_keys.yaml") == "\n".join([
        'unknown_keys.yaml:5: receivers.otlp.protocols.grpc.endpont: unknown key "endpont" '
        "(expected one of: endpoint, max_recv_msg_size_mib)",
        'unknown_keys.yaml:6: receivers.otlp.protocol: unknown key "protocol" (expected one of: protocols)',
        'unknown_keys.yaml:11: processor: unknown key "processor" '
        "(expected one of: auth, exporters, extensions, processors, receivers, service)",
        'unknown_keys.yaml:22: service.telemetry.logs.encoding: unknown key "encoding" '
        '(expected one of: level)',
    ])


def test_unknown_component_types() -> None:
    assert load_errors("unknown_type.yaml") == "\n".join([
        'unknown_type.yaml:5: receivers.foo: unknown receiver type "foo" (known: otlp, zipkin)',
        'unknown_type.yaml:6: receivers.jaeger/internal: unknown receiver type "jaeger" (known: '
        'otlp, zipkin)',
        'unknown_type.yaml:11: exporters.kafka: unknown exporter type "kafka" (known: clickhouse, debug)',
    ])


def test_invalid_component_ids_and_sections() -> None:
    id_rule = "(expected <type> or <type>/<name>, the type in lowercase letters, digits and _)"
    assert load_errors("component_ids.yaml") == "\n".join([
        f'component_ids.yaml:2: receivers.Otlp: invalid receiver id "Otlp" {id_rule}',
        f'component_ids.yaml:3: receivers.otlp/: invalid receiver id "otlp/" {id_rule}',
        "component_ids.yaml:8: exporters: expected a mapping of exporter ids to their settings, got a list",
        "component_ids.yaml:10: connectors: spanhouse does not support connectors (share receivers instead)",
    ])


def test_references_to_components_that_are_not_configured() -> None:
    assert load_errors("undefined_reference.yaml") == "\n".join([
        'undefined_reference.yaml:15: service.extensions: references extension "health_check" '
        "which is not configured (configured: none)",
        'undefined_reference.yaml:18: service.pipelines.traces.receivers: references receiver "otlp/2" '
        "which is not configured (configured: otlp)",
        'undefined_reference.yaml:19: service.pipelines.traces.processors: references processor "batch/2" '
        "which is not configured (configured: batch, memory_limiter)",
        'undefined_reference.yaml:20: service.pipelines.traces.exporters: references exporter "clickhouse" '
        "which is not configured (configured: debug)",
    ])


def test_wrong_value_types() -> None:
    assert load_errors("wrong_types.yaml") == "\n".join([
        "wrong_types.yaml:5: receivers.otlp.protocols.grpc.endpoint: "
        'expected an address like 127.0.0.1:4318, got "localhost"',
        "wrong_types.yaml:6: receivers.otlp.protocols.grpc.max_recv_msg_size_mib: expected an "
        "integer, got 4.5",
        "wrong_types.yaml:8: receivers.otlp.protocols.http.cors_allowed_origins: "
        'expected a list, got "https://example.com"',
        "wrong_types.yaml:12: processors.batch.timeout: expected a duration like 72h, got 5",
        'wrong_types.yaml:13: processors.batch.send_batch_size: expected an integer, got "lots"',
        'wrong_types.yaml:17: exporters.clickhouse.ttl: expected a duration like 72h, got "3 days"',
        'wrong_types.yaml:18: exporters.clickhouse.create_schema: expected true or false, got "maybe"',
        'wrong_types.yaml:19: exporters.clickhouse.compression: invalid value "gzip" '
        "(expected one of: none, lz4, zstd)",
        'wrong_types.yaml:20: exporters.clickhouse.max_insert_size: expected a byte size like '
        '16MiB, got "a lot"',
        'wrong_types.yaml:21: exporters.clickhouse.ratio: expected a number, got "half"',
        "wrong_types.yaml:22: exporters.clickhouse.retry: expected a mapping, got true",
        'wrong_types.yaml:24: exporters.clickhouse.tables.spans: missing required key "name"',
        "wrong_types.yaml:27: exporters.debug.verbosity: invalid value: a list "
        "(expected one of: basic, normal, detailed)",
        'wrong_types.yaml:30: service.shutdown_timeout: expected a duration like 72h, got "soon"',
        'wrong_types.yaml:33: service.telemetry.metrics.level: invalid value "verbose" '
        "(expected one of: none, basic, normal, detailed)",
        'wrong_types.yaml:36: service.pipelines.traces.receivers: expected a list, got "otlp"',
    ])


def test_component_validate_rules_are_reported_at_their_lines() -> None:
    assert load_errors("component_rules.yaml") == "\n".join([
        "component_rules.yaml:2: receivers.otlp.protocols: enable at least one of grpc, http",
        "component_rules.yaml:4: receivers.otlp/empty.protocols: enable at least one of grpc, http",
        "component_rules.yaml:9: processors.batch.send_batch_max_size: must be 0 or at least "
        "send_batch_size (1000)",
        "component_rules.yaml:10: processors.memory_limiter: set limit_mib or limit_percentage",
        'component_rules.yaml:15: processors.attributes.actions[1].value: required for action "insert"',
    ])


def test_pipeline_rules() -> None:
    assert load_errors("pipeline_rules.yaml") == "\n".join([
        'pipeline_rules.yaml:16: service.extensions: extension "health_check" is listed twice',
        "pipeline_rules.yaml:18: service.pipelines.traces.exporters: a pipeline needs at least one exporter",
        "pipeline_rules.yaml:19: service.pipelines.traces.receivers: a pipeline needs at least one receiver",
        'pipeline_rules.yaml:20: service.pipelines.traces.processors: processor "batch" is listed twice',
        'pipeline_rules.yaml:22: service.pipelines.traces/b.receivers: receiver "otlp" is listed twice',
        'pipeline_rules.yaml:24: service.pipelines.traces/b.exporter: unknown key "exporter" '
        "(expected one of: exporters, processors, receivers)",
        'pipeline_rules.yaml:25: service.pipelines.traces/: invalid pipeline id "traces/" '
        "(expected traces or traces/<name>)",
    ])


def test_metrics_and_logs_pipelines_are_refused() -> None:
    assert load_errors("metrics_pipeline.yaml") == "\n".join([
        "metrics_pipeline.yaml:14: service.pipelines.metrics: spanhouse handles traces only "
        "(use a traces pipeline)",
        "metrics_pipeline.yaml:17: service.pipelines.logs/audit: spanhouse handles traces only "
        "(use a traces pipeline)",
        'metrics_pipeline.yaml:20: service.pipelines.spans: invalid pipeline id "spans" '
        "(expected traces or traces/<name>)",
    ])


def test_service_and_pipelines_are_required() -> None:
    assert load_errors("no_service.yaml") == (
        "no_service.yaml:1: service: missing (a config needs service.pipelines with a traces pipeline)"
    )
    assert load_errors("no_pipelines.yaml") == (
        "no_pipelines.yaml:10: service.pipelines: at least one traces pipeline is required"
    )
    text = "receivers:\n  otlp:\nservice:\n  extensions: []\n"
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, "collector.yaml", fake_registry(), {})
    assert str(caught.value).endswith('collector.yaml:3: service: missing required key "pipelines"')


def test_duplicate_keys() -> None:
    assert load_errors("duplicate_keys.yaml") == "\n".join([
        'duplicate_keys.yaml:6: receivers.otlp.protocols.grpc.endpoint: duplicate key "endpoint" '
        "(first defined on line 5)",
        'duplicate_keys.yaml:17: exporters: duplicate key "exporters" (first defined on line 8)',
    ])


def test_several_errors_are_reported_together_sorted_by_line() -> None:
    error_text = load_errors("many_errors.yaml")
    assert error_text == "\n".join([
        "many_errors.yaml:5: receivers.otlp.protocols.grpc.endpoint: environment variable "
        "GRPC_PORT is not set "
        "(use ${env:GRPC_PORT:-default} for a default)",
        'many_errors.yaml:9: processors.batch.send_batch_size: expected an integer, got "lots"',
        'many_errors.yaml:13: exporters.clickhouse.ttl: expected a duration like 72h, got "3 days"',
        'many_errors.yaml:19: service.pipelines.traces.processors: references processor "batch/2" '
        "which is not configured (configured: batch)",
        "many_errors.yaml:21: service.pipelines.metrics: spanhouse handles traces only (use a "
        "traces pipeline)",
    ])


def test_issues_carry_file_line_path_and_message() -> None:
    with pytest.raises(ConfigError) as caught:
        text = (TESTDATA / "many_errors.yaml").read_text(encoding="utf-8")
        load_config_text(text, "many_errors.yaml", fake_registry(), {})
    assert caught.value.issues[2] == ConfigIssue(
        "many_errors.yaml", 13, "exporters.clickhouse.ttl", 'expected a duration like 72h, got "3 days"'
    )


def test_file_is_named_as_the_user_gave_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(TESTDATA)
    with pytest.raises(ConfigError) as caught:
        load_config(Path("many_errors.yaml"), fake_registry(), environ={"GRPC_PORT": "4317"})
    assert str(caught.value).splitlines()[1] == (
        'many_errors.yaml:13: exporters.clickhouse.ttl: expected a duration like 72h, got "3 days"'
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("empty.yaml", "empty.yaml:1: the file is empty (expected receivers, exporters and service)"),
        (
            "not_a_mapping.yaml",
            "not_a_mapping.yaml:1: expected a mapping of top-level keys (receivers, exporters, service, ...)",
        ),
        (
            "invalid_yaml.yaml",
            "invalid_yaml.yaml:5: invalid YAML: expected <block end>, but found '<block mapping start>' "
            "(while parsing a block mapping)",
        ),
    ],
)
def test_files_that_are_not_a_config(name: str, expected: str) -> None:
    assert load_errors(name) == expected


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.yaml", fake_registry(), environ={})
    assert str(caught.value) == f"{tmp_path / 'nope.yaml'}: cannot read the file: No such file or directory"
