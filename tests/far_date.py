"""A pytest plugin that runs every test on another calendar: `-p far_date` with
TETHER_TEST_DATE=2031-07-01T12:00:00+00:00 moves the clock there (still ticking) for each test.

The suite must pass on any date; a test or a connector that reads the real clock where its other
side (a sandbox's data, a fixed anchor) is fixed passes today and fails on the day. Running the
in-process test modules under this plugin finds that today (see test_calendar.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import time_machine


@pytest.fixture(autouse=True)
def _far_date() -> Iterator[None]:
    moment = os.environ.get("TETHER_TEST_DATE")
    if not moment:
        yield
        return
    with time_machine.travel(moment, tick=True):
        yield


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say which calendar the tests ran on (a caller checks the plugin really moved the clock)."""
    moment = os.environ.get("TETHER_TEST_DATE")
    if not moment:
        terminalreporter.write_line("far_date: off (set TETHER_TEST_DATE)")
        return
    from datetime import UTC, datetime

    with time_machine.travel(moment, tick=False):
        terminalreporter.write_line(f"far_date: each test ran from {datetime.now(UTC).isoformat()}")
