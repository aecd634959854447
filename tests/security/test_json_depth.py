"""The JSON depth check is iterative: 100,000 levels cost no recursion."""

from __future__ import annotations

import pytest

from spanhouse.collector.core.errors import PermanentError
from spanhouse.collector.server.limits import check_json_depth


def test_depth() -> None:
    check_json_depth({"a": [1, {"b": []}]}, 4)
    with pytest.raises(PermanentError, match="deeper than 3 levels"):
        check_json_depth({"a": [1, {"b": []}]}, 3)
    document: object = 1
    for _ in range(100_000):
        document = [document]
    with pytest.raises(PermanentError):
        check_json_depth(document, 64)
