"""Validation of a Dynamiq request's runs as the Dynamiq collector validates them: the eight
required fields, their values and times, and bounded nesting of the free-form ones."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from spanhouse.adapters.common.attributes import clean_text, is_utf8
from spanhouse.adapters.common.times import MAX_TIME_NS, TimeFormatError, iso_to_ns
from spanhouse.collector.server.limits import json_deeper_than

RUN_TYPES: Final = frozenset({"workflow", "flow", "node"})
RUN_STATUSES: Final = frozenset({"succeeded", "failed", "skipped", "canceled"})
ALLOWED_VALUES: Final = {"type": RUN_TYPES, "status": RUN_STATUSES}
# The fields the Dynamiq collector validates, in the order its page lists them (and so the
# order of the `details` map).
VALIDATED_FIELDS: Final = ("id", "name", "type", "trace_id", "source_id", "start_time", "end_time", "status")
VALIDATED_FIELD_SET: Final = frozenset(VALIDATED_FIELDS)
TIME_FIELDS: Final = frozenset({"start_time", "end_time"})
# Free-form values are stored as JSON text; orjson refuses to write more than 254 levels, and
# nothing a tracing SDK sends comes near this, so deeper values are refused with a 400.
MAX_NESTING_DEPTH: Final = 128
# Go's time.UnixNano and ClickHouse's DateTime64(9) both end in 2262.


@dataclass(frozen=True, slots=True)
class Run:
    """A run that passed validation: the fields as sent plus the validated ones, parsed."""

    fields: Mapping[str, Any]
    id: str
    name: str
    type: str
    trace_id: str
    source_id: str
    status: str
    start_ns: int
    end_ns: int


def validate(body: Any, max_body_depth: int | None = None) -> tuple[list[Run], dict[str, str]]:
    """The runs, or the `details` map naming every bad field (ozzo-validation's wording, which
    the Dynamiq collector's "cannot be blank" comes from). `max_body_depth`: how deep the body
    is known to nest at most (AdapterRequest.max_body_depth)."""
    if not isinstance(body, dict):
        return [], {"body": "cannot be blank" if body is None else "must be a JSON object"}
    runs = body.get("runs")
    if runs is None or runs == []:
        return [], {"runs": "cannot be blank"}
    if not isinstance(runs, list):
        return [], {"runs": "must be an array"}
    details: dict[str, str] = {}
    valid: list[Run] = []
    # A field's value nests MAX_NESTING_DEPTH levels at most where the body nests 3 more (the
    # body, `runs`, the run). The receiver's own limit (64 levels by default) usually settles
    # it; else one walk of the runs array spares a walk per field.
    may_be_too_deep = ((max_body_depth is None or max_body_depth > MAX_NESTING_DEPTH + 3)
                       and json_deeper_than(runs, MAX_NESTING_DEPTH + 2))
    for index, run in enumerate(runs):
        checked = check_run(f"runs.{index}", run, details, may_be_too_deep)
        if checked is not None:
            valid.append(checked)
    return valid, details


def check_run(prefix: str, run: Any, details: dict[str, str], may_be_too_deep: bool = True) -> Run | None:
    """The run, or None with its problems added to `details`. `may_be_too_deep=False` tells
    that no value of the run nests deeper than MAX_NESTING_DEPTH (checked by the caller)."""
    if not isinstance(run, dict):
        details[prefix] = "must be an object"
        return None
    problems: dict[str, str] = {}
    texts: dict[str, str] = {}
    times: dict[str, int] = {}
    for name in VALIDATED_FIELDS:
        value: Any = run.get(name)
        problem = text_problem(value)
        if name in TIME_FIELDS:
            if problem is None:
                times[name], problem = checked_time(value)
            elif problem != "cannot be blank":
                problem = "must be a valid date"
        elif problem is None and name in ALLOWED_VALUES and value not in ALLOWED_VALUES[name]:
            problem = "must be a valid value"
        if problem is None:
            texts[name] = value
        else:
            problems[f"{prefix}.{name}"] = problem
    if may_be_too_deep:
        for name, value in run.items():
            if name not in VALIDATED_FIELD_SET and too_deep(value):
                problems[clean_text(f"{prefix}.{name}")] = f"must not be nested deeper than {MAX_NESTING_DEPTH} levels"
    if problems:
        details.update(problems)
        return None
    return Run(run, texts["id"], texts["name"], texts["type"], texts["trace_id"], texts["source_id"],
               texts["status"], times["start_time"], times["end_time"])


def text_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return "cannot be blank" if value is None else "must be a string"
    if not value or value.isspace():  # `not value.strip()`, without copying the text
        return "cannot be blank"
    if not is_utf8(value):
        # A lone surrogate (a JSON "\ud800" decoded by a lenient parser) cannot be stored, and
        # replacing it in an id would merge distinct ids.
        return "must be valid UTF-8"
    return None


def checked_time(text: str) -> tuple[int, str | None]:
    """Unix nanoseconds and None, or 0 and the problem with the time."""
    # Strings only, as Go's time.Time reads them (the shared ISO 8601 parser); ASCII only, as
    # `\d` in that parser would otherwise take other scripts' digits.
    if not text.isascii():
        return 0, "must be a valid date"
    try:
        nanos = iso_to_ns(text)
    except (TimeFormatError, OverflowError):  # OverflowError: year 1 or 9999 moved by its offset
        return 0, "must be a valid date"
    if not 0 <= nanos <= MAX_TIME_NS:
        return 0, "must be a date between 1970-01-01 and 2262-04-11"
    return nanos, None


def too_deep(value: Any, limit: int = MAX_NESTING_DEPTH) -> bool:
    """Whether objects and arrays nest deeper than `limit`; iterative, so any depth is safe."""
    return json_deeper_than(value, limit)
