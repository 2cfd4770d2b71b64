"""The monitor's formatting, as pure functions on plain data (health: test_health.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from tether.tui import format as fmt

NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)


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
