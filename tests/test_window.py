"""The window of `--since` / `--until`: what is accepted and what it means (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.engine.window import parse_moment, parse_window, window_json
from tether.errors import UsageError

NOW = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-02-01", datetime(2026, 2, 1, tzinfo=UTC)),
        ("2026-02-01T06:00:00Z", datetime(2026, 2, 1, 6, tzinfo=UTC)),
        ("2026-02-01T06:00:00", datetime(2026, 2, 1, 6, tzinfo=UTC)),  # no zone: UTC
        ("2026-02-01T07:00:00+01:00", datetime(2026, 2, 1, 6, tzinfo=UTC)),
        ("7d", NOW - timedelta(days=7)),
        ("12h", NOW - timedelta(hours=12)),
    ],
)
def test_a_moment_is_a_date_an_iso_time_or_a_span_back_from_now(
    text: str, moment: datetime
) -> None:
    assert parse_moment(text, now=NOW, option="--since") == moment


def test_the_default_window_is_the_last_30_days_and_a_backfill_has_none() -> None:
    window = parse_window(None, None, now=NOW, default_days=30)
    assert window is not None and (window.since, window.until) == (NOW - timedelta(30), None)
    assert parse_window(None, None, now=NOW) is None
    assert window_json(window) == {"since": "2026-01-30T12:30:00Z", "until": None}


@given(st.integers(min_value=1, max_value=3000), st.integers(min_value=1, max_value=3000))
def test_a_window_is_kept_exactly_or_refused_when_empty(start: int, length: int) -> None:
    since = NOW - timedelta(hours=start)
    until = since + timedelta(hours=length)
    window = parse_window(since.isoformat(), until.isoformat(), now=NOW)
    assert window is not None and (window.since, window.until) == (since, until)
    with pytest.raises(UsageError, match=r"the window is empty|is in the future"):
        parse_window(until.isoformat(), since.isoformat(), now=NOW)
