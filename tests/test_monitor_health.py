"""Health indicators and formatting, as pure functions on plain data."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tether.tui import format as fmt
from tether.tui.health import assess, summary

NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)


def run(
    n: int, *, status: str = "success", records: int = 1000, failed: int = 0, took: float = 40.0
) -> dict[str, Any]:
    return {
        "id": n,
        "domain_type": "sales_orders",
        "status": status,
        "records_fetched": records,
        "failed": failed,
        "duration_s": took,
    }


def codes(flags: list[Any]) -> list[str]:
    return [f.code for f in flags]


def test_healthy_history_has_no_flags() -> None:
    history = [run(n) for n in range(6, 0, -1)]  # newest first
    assert assess(["success"] * 6, history) == []
    assert summary([]) == "ok"


def test_repeated_failures_count_the_trailing_streak() -> None:
    flags = assess(["success", "failed", "failed", "failed"])
    assert codes(flags) == ["repeated_failures"]
    assert flags[0].message == "last 3 executions failed"
    assert assess(["failed", "success"]) == []
    assert assess(["failed", "running"]) == []  # one failure then a run in progress


def test_rising_failed_count_is_flagged_per_domain_type() -> None:
    history = [run(4, failed=40), run(3, failed=12), run(2, failed=3), run(1)]
    flags = assess([], history)
    assert codes(flags) == ["rising_failures"]
    assert flags[0].message == "sales_orders: failed items rising 3 → 12 → 40"
    other = {**run(5, failed=1), "domain_type": "products"}
    assert codes(assess([], [other, *history])) == ["rising_failures"]


def test_sudden_drop_to_zero_records() -> None:
    history = [run(5, records=0), run(4), run(3), run(2), run(1)]
    flags = assess([], history)
    assert codes(flags) == ["records_dropped"]
    assert flags[0].message == "sales_orders: no records fetched (usually 1,000)"
    # too little history: not flagged
    assert assess([], [run(2, records=0), run(1)]) == []


def test_duration_far_above_usual() -> None:
    history = [run(5, took=300.0), run(4), run(3), run(2), run(1)]
    flags = assess([], history)
    assert codes(flags) == ["slow"]
    assert flags[0].message == "sales_orders: took 5m 00s (usually 40s)"
    assert assess([], [run(5, took=100.0), run(4), run(3), run(2), run(1)]) == []


def test_overdue_and_summary() -> None:
    flags = assess(["failed", "failed"], overdue=True)
    assert codes(flags) == ["repeated_failures", "overdue"]
    assert summary(flags) == "failing +1"


def test_running_executions_do_not_count() -> None:
    history = [run(5, status="running", records=0, took=0.0), run(4), run(3), run(2), run(1)]
    assert assess([], history) == []


def test_relative_times_and_durations() -> None:
    assert fmt.relative("2025-03-14T11:57:00Z", NOW) == "3m ago"
    assert fmt.relative("2025-03-14T14:05:00+00:00", NOW) == "in 2h 5m"
    assert fmt.relative("2025-03-11T10:00:00Z", NOW) == "3d 2h ago"
    assert fmt.relative(None, NOW) == "—"
    assert fmt.relative("2025-03-14T12:00:02Z", NOW) == "just now"
    assert fmt.duration(3.25) == "3.2s"
    assert fmt.duration(75) == "1m 15s"
    assert fmt.duration(7260) == "2h 01m"
    assert fmt.local_time("2025-03-14T18:00:00Z", "America/New_York") == "2025-03-14 14:00:00 EDT"


def test_sparkline_shows_recent_statuses_and_success_rate() -> None:
    line = fmt.sparkline(["success", "success", "failed", "partial"], fmt.Palette())
    assert line.plain == "······▮▮▮▮  50%"
    assert fmt.sparkline([], fmt.Palette()).plain == "··········   —"


def test_secret_looking_settings_are_masked_at_any_depth() -> None:
    settings = {
        "history_days": 365,
        "auth": {"api_key": "k-123", "client_secret": "s-456", "region": "eu"},
        "queries": [{"password": "p-789"}],
        "token_ttl": None,
    }
    lines = "\n".join(fmt.settings_lines(settings))
    for value in ("k-123", "s-456", "p-789"):
        assert value not in lines
    assert "history_days: 365" in lines and "region: eu" in lines
    assert "api_key: ••••••" in lines
