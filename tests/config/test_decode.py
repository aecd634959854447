"""Typed decoding of plain YAML values into config dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

import pytest

from spanhouse.collector.core.config.decode import INVALID, Decoder
from spanhouse.collector.core.config.document import parse_document
from spanhouse.collector.core.config.types import ADDRESS, BYTE_SIZE, PATH


@dataclass(frozen=True, slots=True)
class Inner:
    size: Annotated[int, BYTE_SIZE] = 0
    directory: Annotated[str, PATH] = "./data"


@dataclass(frozen=True, slots=True)
class Outer:
    name: str = ""
    hosts: tuple[str, ...] = ()
    inner: Inner | None = None
    by_name: dict[str, Inner] = field(default_factory=dict)
    extra: Any = None
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.name == "forbidden":
            raise ValueError("name may not be forbidden")


def decode(text: str, cls: type[Any] = Outer) -> tuple[Any, list[str]]:
    document = parse_document(text, "test.yaml", {})
    value = Decoder(document).decode_dataclass(cls, document.root, ())
    return value, [str(issue) for issue in document.issues]


def test_values_are_typed() -> None:
    text = """
name: 1.10
hosts: [a, b]
inner:
  size: 512KiB
by_name:
  first: {size: 1}
  second:
extra: {free: [form]}
limit: 5
"""
    value, issues = decode(text)
    assert issues == []
    assert value == Outer(
        name="1.10",  # a string field keeps what was written, not the float YAML reads
        hosts=("a", "b"),
        inner=Inner(size=512 * 1024),
        by_name={"first": Inner(size=1), "second": Inner()},
        extra={"free": ["form"]},
        limit=5,
    )


def test_absent_optional_keeps_its_default_and_null_means_defaults() -> None:
    assert decode("name: x\n")[0].inner is None
    assert decode("inner:\n")[0].inner == Inner()
    assert decode("limit:\n")[0].limit is None


def test_errors_inside_collections_name_the_entry() -> None:
    value, issues = decode("hosts: [a, [b]]\nby_name:\n  first: {size: -1}\n  second: {colour: red}\n")
    assert value is not INVALID  # every broken field has a default
    assert issues == [
        "test.yaml:1: hosts[1]: expected a string, got a list",
        'test.yaml:3: by_name.first.size: expected a byte size like 16MiB, got -1',
        'test.yaml:4: by_name.second.colour: unknown key "colour" (expected one of: directory, size)',
    ]


def test_a_failing_constructor_is_reported_at_the_mapping() -> None:
    value, issues = decode("\n\nname: forbidden\n")
    assert value is INVALID
    assert issues == ["test.yaml:1: name may not be forbidden"]


def test_a_mapping_is_required_for_a_dataclass() -> None:
    assert decode("inner: 5\n")[1] == ["test.yaml:1: inner: expected a mapping, got 5"]
    assert decode("inner:\n  directory: ''\n")[1] == [
        'test.yaml:2: inner.directory: expected a path like ./data/queue, got ""'
    ]


@dataclass(frozen=True, slots=True)
class Unsupported:
    choice: int | str = 0


def test_unsupported_field_types_are_a_programming_error() -> None:
    with pytest.raises(TypeError, match="no other union"):
        decode("choice: 1\n", Unsupported)


@dataclass(frozen=True, slots=True)
class WithAddress:
    endpoint: Annotated[str, ADDRESS] = "0.0.0.0:1"


def test_a_string_marker_reads_what_was_written() -> None:
    document = parse_document("endpoint: ${env:ENDPOINT}\n", "test.yaml", {"ENDPOINT": "1:30"})
    value = Decoder(document).decode_dataclass(WithAddress, document.root, ())
    assert document.root == {"endpoint": 90}  # YAML 1.1 reads 1:30 as a base-60 number
    assert value == WithAddress("1:30")
