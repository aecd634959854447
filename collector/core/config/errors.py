"""Config problems, each with its file, line and YAML path, reported all together."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One broken rule: `collector.yaml:14: exporters.clickhouse.ttl: expected a duration ...`.

    `line` is 1-based; 0 means the problem has no line (the file could not be read)."""

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line > 0 else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(Exception):
    """Every problem found in a config file, sorted by line, one per line of `str()`."""

    def __init__(self, issues: Iterable[ConfigIssue]) -> None:
        # Stable sort: problems on one line keep the order they were found in.
        self.issues: list[ConfigIssue] = sorted(issues, key=lambda issue: issue.line)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(issue) for issue in self.issues)
