"""`${env:...}` references: expansion rules, and how the loader types and reports them."""

from __future__ import annotations

from pathlib import Path

import pytest

from spanhouse.collector.config.loader import load_config, load_config_text
from spanhouse.collector.core.config.environment import expand
from spanhouse.collector.core.config.errors import ConfigError

from .fakes import fake_registry

TESTDATA = Path(__file__).parent / "testdata"


def test_several_references_in_one_string() -> None:
    expansion = expand("${env:HOST}:${env:PORT:-4317}/x", {"HOST": "db"})
    assert (expansion.text, expansion.whole_reference, expansion.problems) == ("db:4317/x", False, [])


def test_a_set_variable_wins_over_its_default_even_when_empty() -> None:
    assert expand("${env:A:-fallback}", {"A": ""}).text == ""
    assert expand("${env:A:-fallback}", {}).text == "fallback"
    assert expand("${env:A:-}", {}).text == ""


def test_double_dollar_is_a_literal_dollar() -> None:
    assert expand("$${env:A} and $$5 and $x", {"A": "no"}).text == "${env:A} and $5 and $x"


def test_whole_reference_is_flagged() -> None:
    assert expand("${env:A}", {"A": "1"}).whole_reference
    assert not expand("x${env:A}", {"A": "1"}).whole_reference
    assert not expand("$${env:A}", {"A": "1"}).whole_reference


def test_problems() -> None:
    assert expand("${env:MISSING}", {}).problems == [
        "environment variable MISSING is not set (use ${env:MISSING:-default} for a default)"
    ]
    assert expand("${HOME}", {"HOME": "/"}).problems == [
        'unsupported reference "${HOME}" (use ${env:NAME} or ${env:NAME:-default}; write $$ for a literal $)'
    ]


def test_loader_types_whole_references_and_keeps_the_rest_as_text() -> None:
    environ = {
        "GRPC_PORT": "4317",
        "MAX_MIB": "16",
        "DATABASE": "123",
        "CREATE_SCHEMA": "false",
        "CLICKHOUSE_HOST": "clickhouse",
    }
    config = load_config(TESTDATA / "valid_environment.yaml", fake_registry(), environ)

    grpc = config.receivers["otlp"].config.protocols.grpc
    assert grpc.endpoint == "0.0.0.0:4317"
    assert grpc.max_recv_msg_size_mib == 16
    batch = config.processors["batch"].config
    assert (batch.timeout, batch.send_batch_size) == (2.0, 512)
    clickhouse = config.exporters["clickhouse"].config
    assert clickhouse.password == "${env:NOT_A_REFERENCE} costs $5"
    assert clickhouse.database == "123"  # quoted: stays text
    assert clickhouse.create_schema is False
    assert clickhouse.endpoint == "tcp://clickhouse:9000"


def test_a_typed_reference_is_checked_against_its_field() -> None:
    environ = {
        "GRPC_PORT": "4317",
        "MAX_MIB": "lots",
        "DATABASE": "x",
        "CREATE_SCHEMA": "1",
        "CLICKHOUSE_HOST": "h",
    }
    text = (TESTDATA / "valid_environment.yaml").read_text(encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, "collector.yaml", fake_registry(), environ)
    assert str(caught.value) == "\n".join([
        'collector.yaml:7: receivers.otlp.protocols.grpc.max_recv_msg_size_mib: expected an '
        'integer, got "lots"',
        "collector.yaml:18: exporters.clickhouse.create_schema: expected true or false, got 1",
    ])


def test_missing_variables_and_unsupported_references() -> None:
    text = (TESTDATA / "environment.yaml").read_text(encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, "environment.yaml", fake_registry(), {"HOME": "/root"})
    assert str(caught.value) == "\n".join([
        "environment.yaml:5: receivers.otlp.protocols.http.endpoint: environment variable SPANHOUSE_X "
        "is not set (use ${env:SPANHOUSE_X:-default} for a default)",
        "environment.yaml:7: receivers.otlp.protocols.grpc.endpoint: environment variable GRPC_PORT "
        "is not set (use ${env:GRPC_PORT:-default} for a default)",
        'environment.yaml:12: exporters.clickhouse.database: unsupported reference "${HOME}" '
        "(use ${env:NAME} or ${env:NAME:-default}; write $$ for a literal $)",
    ])


def test_process_environment_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPANHOUSE_TEST_VERBOSITY", "detailed")
    text = "receivers:\n  otlp:\n    protocols:\n      grpc:\nexporters:\n  debug:\n"
    text += "    verbosity: ${env:SPANHOUSE_TEST_VERBOSITY}\n"
    text += "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n"
    config = load_config_text(text, "collector.yaml", fake_registry())
    assert config.exporters["debug"].config.verbosity == "detailed"
