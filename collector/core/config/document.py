"""The YAML file as plain Python values, with the line of every key, environment references
expanded, and the list of problems found so far."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import yaml

from spanhouse.collector.core.config.environment import expand
from spanhouse.collector.core.config.errors import ConfigIssue

# A place in the document: mapping keys and sequence indexes from the root.
YamlPath = tuple[str | int, ...]

_STR_TAG: Final = "tag:yaml.org,2002:str"
_MERGE_TAG: Final = "tag:yaml.org,2002:merge"


def format_path(path: YamlPath) -> str:
    """`("service", "extensions", 1)` -> `service.extensions[1]`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def describe(value: object) -> str:
    """A value as an error message shows it: `"3 days"`, `12`, `true`, `null`, `a list`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return str(value)


class ConfigDocument:
    """Parsed config file: `root` holds dicts, lists and scalars."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.root: Any = None
        self.issues: list[ConfigIssue] = []
        # Line of each key (of each item, in a list).
        self.lines: dict[YamlPath, int] = {(): 1}
        # Source text of scalars after expansion, so a string field can take `port: 8080` as "8080".
        self.texts: dict[YamlPath, str] = {}
        # Values already reported as broken: the typed decoding does not report them again.
        self._reported: set[YamlPath] = set()

    def line(self, path: YamlPath) -> int:
        """Line of `path`, or of its nearest ancestor that is in the file."""
        while path not in self.lines:
            path = path[:-1]
        return self.lines[path]

    def already_reported(self, path: YamlPath) -> bool:
        return path in self._reported

    def reported_under(self, path: YamlPath) -> bool:
        """Whether a value at or below `path` was reported broken."""
        return any(reported[: len(path)] == path for reported in self._reported)

    def report_value(self, path: YamlPath, message: str) -> None:
        """Report a broken value, which the typed decoding then leaves alone."""
        self._reported.add(path)
        self.report(path, message)

    def report(self, path: YamlPath, message: str, line: int | None = None) -> None:
        self.issues.append(
            ConfigIssue(self.filename, self.line(path) if line is None else line, format_path(path), message)
        )


def parse_document(text: str, filename: str, environ: Mapping[str, str]) -> ConfigDocument:
    document = ConfigDocument(filename)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            document.report((), "the file is empty (expected receivers, exporters and service)")
        elif not isinstance(node, yaml.MappingNode):
            document.report((), "expected a mapping of top-level keys (receivers, exporters, service, ...)")
        else:
            document.root = _Builder(document, loader, environ).build(node, ())
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        reason = error.problem or "not valid YAML"
        if error.context:
            reason += f" ({error.context})"
        document.report((), f"invalid YAML: {reason}", line=mark.line + 1 if mark else 1)
    except yaml.YAMLError as error:
        document.report((), f"invalid YAML: {error}")
    finally:
        loader.dispose()
    return document


class _Builder:
    def __init__(self, document: ConfigDocument, loader: yaml.SafeLoader, environ: Mapping[str, str]) -> None:
        self._document = document
        self._loader = loader
        self._environ = environ
        # Mappings and sequences being built, to stop at an alias that refers to its own parent.
        self._open: set[int] = set()

    def build(self, node: yaml.Node, path: YamlPath) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        if id(node) in self._open:
            self._document.report(path, "an alias may not refer to the mapping or list that contains it")
            return None
        self._open.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return self._sequence(node, path)
            assert isinstance(node, yaml.MappingNode)
            return self._mapping(node, path)
        finally:
            self._open.discard(id(node))

    def _sequence(self, node: yaml.SequenceNode, path: YamlPath) -> list[Any]:
        items = []
        for index, item in enumerate(node.value):
            self._document.lines[(*path, index)] = item.start_mark.line + 1
            items.append(self.build(item, (*path, index)))
        return items

    def _mapping(self, node: yaml.MappingNode, path: YamlPath) -> dict[str, Any]:
        first_lines: dict[str, int] = {}
        duplicates: set[int] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            key, line = key_node.value, key_node.start_mark.line + 1
            if key in first_lines:
                duplicates.add(id(key_node))
                self._document.report(
                    (*path, key), f'duplicate key "{key}" (first defined on line {first_lines[key]})', line
                )
            else:
                first_lines[key] = line
        # Applies `<<: *anchor` merges: merged keys come first, so the mapping's own keys win.
        self._loader.flatten_mapping(node)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                line = key_node.start_mark.line + 1
                self._document.report(path, "mapping keys must be plain strings", line)
                continue
            if id(key_node) in duplicates:
                continue  # reported above; the first one counts
            key = key_node.value
            child = (*path, key)
            self._document.lines[child] = key_node.start_mark.line + 1
            result[key] = self.build(value_node, child)
        return result

    def _scalar(self, node: yaml.ScalarNode, path: YamlPath) -> Any:
        if node.tag != _STR_TAG:
            self._document.texts[path] = node.value
            try:
                return self._loader.construct_object(node, deep=True)
            except yaml.YAMLError as error:
                problem = getattr(error, "problem", None) or str(error)
                self._document.report_value(path, f"cannot read this value: {problem}")
                return None
        expansion = expand(node.value, self._environ)
        for problem in expansion.problems:
            self._document.report_value(path, problem)
        self._document.texts[path] = expansion.text
        # As in the OpenTelemetry Collector, a value that is entirely one reference is read
        # again as YAML (`${env:PORT}` -> 8080); quoting it keeps it a string.
        if expansion.whole_reference and node.style is None and expansion.text and not expansion.problems:
            return self._resolve_plain(expansion.text)
        return expansion.text

    def _resolve_plain(self, text: str) -> Any:
        tag = self._loader.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
        try:
            return self._loader.construct_object(yaml.ScalarNode(tag, text), deep=True)
        except yaml.YAMLError:
            return text
