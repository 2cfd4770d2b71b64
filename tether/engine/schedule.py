"""Cron fire times: 6 fields, seconds first, in the integration's IANA timezone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo


def next_fire_times(
    cron: str, timezone: str, count: int, after: datetime | None = None
) -> list[datetime]:
    from croniter import croniter

    tz = ZoneInfo(timezone)
    start = (after or datetime.now(UTC)).astimezone(tz)
    it = croniter(cron, start, second_at_beginning=True)
    return [it.get_next(datetime) for _ in range(count)]
