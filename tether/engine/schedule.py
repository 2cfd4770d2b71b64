"""Cron math: 6-field, seconds-first expressions on an integration's wall clock (IANA timezone),
turned into instants — the one definition the daemon's scheduler, `plan` and `status` share.

- a wall time that does not exist (the hour skipped when clocks go forward) fires once, at the
  first valid instant after the gap (e.g. 02:30 on the spring-forward night fires at 03:00);
- a wall time that happens twice (the hour repeated when clocks go back) fires once, at its first
  occurrence.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

MISSED_COUNT_LIMIT = 100
"""Stop counting missed ticks here (reported as "100+"); counting a year of seconds is pointless."""


@dataclass(frozen=True)
class Schedule:
    cron: str
    timezone: str = "UTC"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)  # ZoneInfo caches instances per key


def to_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant a naive wall-clock time stands for: first occurrence; gaps → gap end."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first  # exists (fold=0 is the first of two occurrences in a repeated hour)
    # `wall` falls in a gap: fold=1 reads it with the offset after the transition, which
    # lands before the transition; fold=0 lands after. The transition lies in between.
    lo = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    hi = first
    after = hi.astimezone(zone).utcoffset()
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(zone).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0)


def fire_times(schedule: Schedule, after: datetime) -> Iterator[datetime]:
    """Successive fire instants (UTC) strictly after ``after``; empty if the cron never fires."""
    from croniter import CroniterBadDateError, croniter

    zone = schedule.zone
    wall = after.astimezone(zone).replace(tzinfo=None)
    it = croniter(schedule.cron, wall, second_at_beginning=True)
    last = after
    while True:
        try:
            candidate = to_instant(it.get_next(datetime), zone)
        except CroniterBadDateError:  # e.g. "0 0 0 30 2 *": never
            return
        if candidate > last:  # skips repeated wall times and gap duplicates
            last = candidate
            yield candidate


def next_fire(schedule: Schedule, after: datetime) -> datetime | None:
    """The first fire instant strictly after ``after`` (UTC), or ``None`` if there is none."""
    return next(fire_times(schedule, after), None)


def previous_fire(schedule: Schedule, before: datetime) -> datetime | None:
    """The latest fire instant strictly before ``before`` (UTC), or ``None`` if there is none."""
    from croniter import CroniterBadDateError, croniter

    zone = schedule.zone
    wall = before.astimezone(zone).replace(tzinfo=None)
    it = croniter(schedule.cron, wall, second_at_beginning=True)
    for _ in range(3):  # a repeated or skipped wall hour can map a candidate onto ``before``
        try:
            candidate = to_instant(it.get_prev(datetime), zone)
        except CroniterBadDateError:
            return None
        if candidate < before:
            return candidate
    return None


def next_fire_times(schedule: Schedule, after: datetime, count: int = 5) -> list[datetime]:
    """The next ``count`` fire instants, in the schedule's own timezone (for display)."""
    zone = schedule.zone
    return [t.astimezone(zone) for t in itertools.islice(fire_times(schedule, after), count)]


def last_fire(schedule: Schedule, after: datetime, until: datetime) -> tuple[int, datetime | None]:
    """Ticks in ``(after, until]``: (count up to MISSED_COUNT_LIMIT + 1, the latest one)."""
    count = 0
    latest: datetime | None = None
    for tick in fire_times(schedule, after):
        if tick > until:
            return count, latest
        count += 1
        latest = tick
        if count > MISSED_COUNT_LIMIT:
            break
    # Too many to count one by one: find the latest tick by walking back from `until`.
    return count, latest_at_or_before(schedule, after, until)


def latest_at_or_before(schedule: Schedule, after: datetime, until: datetime) -> datetime | None:
    window = timedelta(minutes=1)
    while True:
        start = max(after, until - window)
        latest = None
        for tick in fire_times(schedule, start):
            if tick > until:
                break
            latest = tick
        if latest is not None or start == after:
            return latest
        window *= 8


def upcoming(cron: str, timezone: str, count: int, after: datetime | None = None) -> list[datetime]:
    """The next ``count`` fire times after ``after`` (default now), in the integration's timezone."""
    return next_fire_times(Schedule(cron, timezone), after or datetime.now(UTC), count)
