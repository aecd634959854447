"""adapters.common.messages: how every adapter's error messages show a vendor value, one
definition for all of them (AgentVista, AITracer, Archal, Zipkin)."""

from __future__ import annotations

import orjson
import pytest

from spanhouse.adapters.agentvista import validate as agentvista_validate
from spanhouse.adapters.aitracer import common as aitracer_common
from spanhouse.adapters.archal import sessions as archal_sessions
from spanhouse.adapters.common.messages import MAX_QUOTED_CHARS, describe, quote
from spanhouse.adapters.common.times import checked_ns
from spanhouse.adapters.zipkin import validate as zipkin_validate


@pytest.mark.parametrize(("value", "by_type", "booleans", "literal"), [
    (None, "null", "null", "null"),
    (True, "a boolean", "true", "true"),
    (False, "a boolean", "false", "false"),
    (12, "a number", "a number", "number 12"),
    (1.5, "a number", "a number", "number 1.5"),
    ("abc", "a string", "a string", '"abc"'),
    ("x" * 41, "a string", "a string", '"' + "x" * 40 + '"...'),
    ("\ud800", "a string", "a string", '"\ufffd"'),
    ([1], "an array", "an array", "an array"),
    ({"a": 1}, "an object", "an object", "an object"),
])
def test_describe(value: object, by_type: str, booleans: str, literal: str) -> None:
    assert describe(value) == by_type
    assert describe(value, literal_booleans=True) == booleans
    assert describe(value, literal=True) == literal


def test_quote_cuts_and_keeps_the_error_body_valid_json() -> None:
    assert quote("short") == "short"
    assert quote("y" * (MAX_QUOTED_CHARS + 5)) == "y" * MAX_QUOTED_CHARS + "..."
    quoted = quote("bad \ud800 text")
    assert quoted == "bad \\ud800 text"
    assert orjson.loads(orjson.dumps({"message": quoted})) == {"message": quoted}


def test_one_definition_for_every_adapter() -> None:
    # The validators use the shared functions instead of copies of their own.
    assert agentvista_validate.describe is describe and agentvista_validate.quote is quote
    assert aitracer_common.describe is describe and aitracer_common.quote is quote
    assert zipkin_validate.describe is describe
    assert archal_sessions._describe.func is describe


def test_checked_ns_says_what_an_error_message_shows() -> None:
    assert checked_ns("2026-06-10T09:00:00Z") == 1_781_082_000_000_000_000
    with pytest.raises(ValueError, match=r"^must be a time between 1970 and 2262$"):
        checked_ns("1969-12-31T23:59:59Z")
    with pytest.raises(ValueError, match=r"^a boolean is not a time$"):
        checked_ns(True)
    # The AgentVista and AITracer validators share it rather than keep a copy each.
    assert agentvista_validate.checked_ns is checked_ns and aitracer_common.checked_ns is checked_ns
