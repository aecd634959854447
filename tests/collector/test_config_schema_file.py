"""config/spanhouse.schema.json is the schema generated from the registered components, and the
repository's configs pass both the schema and the loader."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import yaml
from jsonschema import Draft202012Validator

from spanhouse.collector.config.jsonschema import render_schema
from spanhouse.collector.config.loader import load_config
from spanhouse.collector.registry import default_registry

REPO = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO / "config" / "spanhouse.schema.json"
CONFIGS = [REPO / "collector.yaml", *sorted((REPO / "config" / "examples").glob("*.yaml"))]


def test_committed_schema_is_up_to_date() -> None:
    assert SCHEMA_PATH.read_text() == render_schema(default_registry()), (
        "regenerate with: spanhouse schema > config/spanhouse.schema.json")


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.name)
def test_repository_configs_pass_schema_and_loader(path: Path) -> None:
    validator = Draft202012Validator(orjson.loads(SCHEMA_PATH.read_bytes()))
    errors = [error.message for error in validator.iter_errors(yaml.safe_load(path.read_text()))]
    assert errors == []
    load_config(path, default_registry(), environ={})


def test_schema_rejects_a_wrong_duration() -> None:
    validator = Draft202012Validator(orjson.loads(SCHEMA_PATH.read_bytes()))
    config = yaml.safe_load((REPO / "collector.yaml").read_text())
    config["exporters"]["clickhouse"]["ttl"] = "3 days"
    assert not validator.is_valid(config)
