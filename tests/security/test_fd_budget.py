"""The open-file budget: the soft limit raised to the hard one at start, and the listeners' caps
cut so that, with what asyncio may hold while refusing, they leave the reserve free."""

from __future__ import annotations

import resource
import subprocess
import sys

from spanhouse.collector.server.fd_budget import MIN_CONNECTIONS, MIN_RESERVED_FDS, ConnectionBudget


def test_the_soft_limit_is_raised_to_the_hard_limit() -> None:
    def low_soft_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 2048))

    out = subprocess.run([sys.executable, "-c", "from spanhouse.collector.server.fd_budget import "
                          "raise_open_file_limit; print(raise_open_file_limit())"],
                         capture_output=True, text=True, check=True, preexec_fn=low_soft_limit).stdout
    assert out.strip() == "(2048, 2048)"


def test_caps_and_their_refusals_fit_beside_the_reserve() -> None:
    for limit in (1024, 4096, 20_000, 1 << 20):
        for listeners in (1, 3, 8, 20):
            budget = ConnectionBudget(limit, listeners, open_at_start=60)
            cap = budget.cap(1 << 30)
            if budget.share - budget.backlog >= MIN_CONNECTIONS:
                assert listeners * (cap + budget.backlog) + 60 + budget.reserve <= limit
            assert budget.reserve >= MIN_RESERVED_FDS
            assert budget.cap(3) == 3  # a configured cap below the share is kept


def test_the_arithmetic_of_the_docs() -> None:
    budget = ConnectionBudget(1024, 3, open_at_start=40)  # the flood test's collector
    assert (budget.reserve, budget.share, budget.backlog, budget.cap(1024)) == (512, 157, 19, 138)
    budget = ConnectionBudget(1 << 20, 8, open_at_start=60)
    assert budget.cap(1024) == 1024 and budget.backlog == 128
