"""The read queries: one parameterised ClickHouse statement per file in `sql/`, with the shared
expressions of `sql/_*.sql` put in when the file is loaded. User input only ever travels as
`{name:Type}` parameters; table names are `Identifier` parameters from the exporter's config."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from string import Template
from typing import Any, Final

from spanhouse.collector.core.storage import FEEDBACK_TABLE, LOOKUP_TABLE_SUFFIX, StorageClient

SQL_DIR: Final = Path(__file__).parent / "sql"
# Shared expressions may use one another (the trace summary uses the agent name); this many
# rounds of substitution is more than the deepest nesting.
MAX_FRAGMENT_DEPTH: Final = 4
_PLACEHOLDER: Final = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*):")


def _without_comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--")).strip()


@cache
def _fragments() -> dict[str, str]:
    return {path.stem.removeprefix("_"): _without_comments(path.read_text(encoding="utf-8"))
            for path in SQL_DIR.glob("_*.sql")}


@cache
def load_query(name: str) -> str:
    """The statement of `sql/<name>.sql`, its shared expressions substituted."""
    text = _without_comments((SQL_DIR / f"{name}.sql").read_text(encoding="utf-8"))
    for _ in range(MAX_FRAGMENT_DEPTH):
        if "${" not in text:
            return text
        text = Template(text).substitute(_fragments())
    raise ValueError(f"sql/{name}.sql: shared expressions nest deeper than {MAX_FRAGMENT_DEPTH} levels")


def placeholders(sql: str) -> set[str]:
    """The names of the `{name:Type}` parameters a statement takes."""
    return set(_PLACEHOLDER.findall(sql))


def table_parameters(storage: StorageClient) -> dict[str, str]:
    return {"database": storage.database, "traces_table": storage.traces_table,
            "lookup_table": storage.traces_table + LOOKUP_TABLE_SUFFIX, "feedback_table": FEEDBACK_TABLE}


async def run_query(storage: StorageClient, name: str, parameters: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows of query `name` as dicts, run read-only in a thread. Only the parameters the
    statement names are sent; one it names and is not given is a programming error."""
    sql = load_query(name)
    given = {**table_parameters(storage), **parameters}
    wanted = placeholders(sql)
    missing = wanted - given.keys()
    if missing:
        raise KeyError(f"sql/{name}.sql needs parameters {sorted(missing)}")
    columns, rows = await asyncio.to_thread(storage.query, sql, {key: given[key] for key in wanted})
    return [dict(zip(columns, row, strict=True)) for row in rows]
