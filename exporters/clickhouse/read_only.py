"""What `query(readonly=True)` checks before a statement runs (ClickHouse's own parser makes it
exactly one statement, of a reading kind, writing no file; readonly=1 does the rest), and the
settings every read runs with."""

from __future__ import annotations

import itertools
import re
from typing import Any, Final

from clickhouse_connect.driver.client import Client

# The statement kinds that only read, by the first keyword of ClickHouse's own formatting.
READ_ONLY_KINDS: Final = ("SELECT", "WITH", "SHOW", "DESCRIBE", "EXPLAIN", "EXISTS")
# ClickHouse formats one statement back to one line without comments; the engine that parses
# it for us is the one that then runs it, so the check cannot disagree with what runs.
# In the same round trip, the server's table functions: any not in READ_ONLY_TABLE_FUNCTIONS is
# refused, so one added by a later version is refused until it is known to stay inside.
FORMAT_QUERY: Final = ("SELECT formatQuerySingleLine({statement:String}), "
                       "(SELECT groupArray(lower(name)) FROM system.table_functions)")
# Table functions that read nothing but the database or their own arguments. readonly=1 refuses
# most of the others too, but not all: chdb's python() reads the embedding process's objects.
READ_ONLY_TABLE_FUNCTIONS: Final = frozenset({
    "numbers", "numbers_mt", "zeros", "zeros_mt", "primes", "generaterandom", "generateseries",
    "generate_series", "values", "sqlstandardvalues", "view", "viewifpermitted", "viewexplain", "merge",
    "null", "format", "fuzzjson", "fuzzquery", "loop", "mergetreeindex", "mergetreeprojection",
    "mergetreetextindex", "mergetreeanalyzeindexes", "mergetreecodecblockcounts"})
# Ordinary functions that read files: readonly=1 lets them run (even inside EXPLAIN, which folds
# constants), so they are refused by name.
FILE_READING_FUNCTIONS: Final = frozenset({"file", "catboostevaluate"})
SYNTAX_ERROR_CODE: Final = 62
UNKNOWN_FUNCTION_CODE: Final = 46
READONLY_CODE: Final = 164
MULTI_STATEMENT_MARK: Final = "Multi-statements are not allowed"
MAX_MESSAGE_CHARS: Final = 400
# The formatted text's tokens: string literals and quoted identifiers whole, so that neither can
# pass for a keyword, and a quoted function name is still seen.
_TOKENS: Final = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`(?:[^`\\]|\\.)*`|[A-Za-z_][A-Za-z0-9_]*|\S",
                            re.DOTALL)
# Older servers without formatQuerySingleLine: a first-keyword check (their HTTP interface
# refuses multi-statements and INTO OUTFILE itself).
_LEGACY_READ_ONLY: Final = re.compile(
    r"^\s*(?:--[^\n]*\n\s*|/\*.*?\*/\s*)*\(*\s*(SELECT|WITH|SHOW|DESCRIBE|DESC|EXPLAIN|EXISTS)\b",
    re.IGNORECASE | re.DOTALL)
_LEGACY_INSERT: Final = re.compile(r"\bINSERT\s+INTO\b", re.IGNORECASE)


# ClickHouse 26.x answers a filter on an indexed ALIAS column (SpanAttributeItems,
# ResourceAttributeItems: has/hasAll for attribute equality) from the text index itself, and
# fails ("arrayMap must be a function", code 43) once merged parts, which have the index, and
# fresh ones, which do not (skip indexes are built by merges), are read together: the state of a
# table in normal use. Off, the index still skips granules and the rest is read from the column
# (bench/RESULTS.md, "Reads on any mix of parts", has the cost).
TEXT_INDEX_DIRECT_READ: Final = "query_plan_direct_read_from_text_index"


class ReadOnlyError(PermissionError):
    """The statement would write, or reach outside the database."""


class StatementError(ValueError):
    """The text is not exactly one statement ClickHouse can parse."""


def readonly_statement(client: Client, sql: str) -> str:
    """The one statement of `sql`, as ClickHouse formats it, to run in its place; raises
    StatementError or ReadOnlyError with what is wrong."""
    try:
        formatted, table_functions = client.query(FORMAT_QUERY, parameters={"statement": sql}).result_rows[0]
        formatted = str(formatted)
    except Exception as error:
        code = getattr(error, "code", None)
        if code == UNKNOWN_FUNCTION_CODE:
            return _legacy_statement(sql)
        if code != SYNTAX_ERROR_CODE:
            raise
        message = engine_message(error)
        if MULTI_STATEMENT_MARK in message:
            raise StatementError("only one statement per call: the text holds more than one "
                                 "(statements are separated by ';')") from None
        if message.startswith("Empty query"):
            raise StatementError("no statement: the query is empty") from None
        raise StatementError(_syntax_message(message)) from None
    kind = formatted.split(None, 1)[0].upper() if formatted else ""
    if kind not in READ_ONLY_KINDS:
        raise ReadOnlyError(f"writes are not allowed: spanhouse sql is read-only and runs only "
                            f"{', '.join(READ_ONLY_KINDS)} statements, not {kind}")
    tokens = _TOKENS.findall(formatted)
    words = [token.upper() for token in tokens]
    if any(first == "INTO" and second == "OUTFILE" for first, second in itertools.pairwise(words)):
        raise ReadOnlyError("writes are not allowed: spanhouse sql is read-only, and INTO OUTFILE "
                            "writes a file (print the result with --format instead)")
    outside = set(table_functions) - READ_ONLY_TABLE_FUNCTIONS | FILE_READING_FUNCTIONS
    for name, following in itertools.pairwise(tokens):
        called = "" if name.startswith("'") else name.strip("`\"").lower()  # a string literal calls nothing
        if following == "(" and called in outside:
            raise ReadOnlyError(f"spanhouse sql reads only the database: {called}() reaches outside it "
                                f"(table functions allowed: {', '.join(sorted(READ_ONLY_TABLE_FUNCTIONS))})")
    return formatted


def read_settings(client: Client) -> dict[str, Any]:
    """The settings every read runs with, among those this server knows."""
    known = client.query("SELECT count() FROM system.settings WHERE name = {name:String}",
                         parameters={"name": TEXT_INDEX_DIRECT_READ}).result_rows[0][0]
    return {TEXT_INDEX_DIRECT_READ: 0} if known else {}


def readonly_refusal(error: BaseException) -> ReadOnlyError | None:
    """The engine's readonly=1 refusal (a table function, a setting) said plainly, or None."""
    if getattr(error, "code", None) != READONLY_CODE:
        return None
    return ReadOnlyError(f"writes are not allowed: spanhouse sql is read-only, and the engine refused "
                         f"this statement ({engine_message(error)})")


def engine_message(error: BaseException) -> str:
    """ClickHouse's own sentence, without the "Code: N. DB::Exception:" wrapping and the echo of
    the formatQuery call."""
    message = str(error)
    while (start := message.find("DB::Exception: ")) >= 0:
        message = message[start + len("DB::Exception: "):]
    message = message.split(": In scope SELECT formatQuerySingleLine", 1)[0]
    message = re.sub(r"\s*\((?:[A-Z_]+)\)(?: \(version [^)]*\))?\.?\s*$", "", message.strip())
    if message.startswith("default: "):
        message = message.removeprefix("default: ")
    return message


def _syntax_message(message: str) -> str:
    detail = message.removeprefix("Syntax error").lstrip(": ")
    if len(detail) > MAX_MESSAGE_CHARS:
        detail = detail[:MAX_MESSAGE_CHARS].rsplit(",", 1)[0] + ", ..."
    return f"syntax error: {detail}"


def _legacy_statement(sql: str) -> str:
    if not _LEGACY_READ_ONLY.match(sql) or _LEGACY_INSERT.search(sql):
        raise ReadOnlyError(f"writes are not allowed: spanhouse sql is read-only and runs only "
                            f"{', '.join(READ_ONLY_KINDS)} statements")
    return sql.strip().rstrip(";")

