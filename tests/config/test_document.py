"""Parsing YAML into plain values with the line of every key."""

from __future__ import annotations

from spanhouse.collector.core.config.document import describe, format_path, parse_document


def test_lines_of_keys_and_list_items() -> None:
    document = parse_document("a:\n  b: 1\n  c:\n    - x\n    - y\n", "f.yaml", {})
    assert document.root == {"a": {"b": 1, "c": ["x", "y"]}}
    assert document.line(("a", "c", 1)) == 5
    assert document.line(("a", "b")) == 2
    # A path that is not in the file falls back to its nearest ancestor.
    assert document.line(("a", "b", "missing")) == 2


def test_merge_keys_let_the_mapping_override() -> None:
    text = "base: &base {x: 1, y: 2}\nother:\n  <<: *base\n  y: 3\n"
    assert parse_document(text, "f.yaml", {}).root["other"] == {"x": 1, "y": 3}


def test_recursive_alias_is_refused() -> None:
    document = parse_document("a: &a\n  b: *a\n", "f.yaml", {})
    assert [str(issue) for issue in document.issues] == [
        "f.yaml:2: a.b: an alias may not refer to the mapping or list that contains it"
    ]


def test_unknown_tags_are_reported() -> None:
    document = parse_document("a: !custom 1\n", "f.yaml", {})
    assert [str(issue) for issue in document.issues] == [
        "f.yaml:1: a: cannot read this value: could not determine a constructor for the tag '!custom'"
    ]


def test_paths_and_values_as_messages_show_them() -> None:
    assert format_path(("service", "extensions", 1)) == "service.extensions[1]"
    values: list[object] = [None, True, 'say "hi"', 3, {}, []]
    assert [describe(value) for value in values] == [
        "null", "true", '"say \\"hi\\""', "3", "a mapping", "a list",
    ]
