"""Schedule math and run bookkeeping, with plain data (no clock, no threads, no DuckDB)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from tether.daemon.scheduler import (
    PendingRun,
    RunBook,
    Schedule,
    next_fire,
    next_fire_times,
    resume,
)
from tether.engine.schedule import previous_fire


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def fires(schedule: Schedule, after: datetime, count: int) -> list[datetime]:
    out: list[datetime] = []
    moment = after
    for _ in range(count):
        nxt = next_fire(schedule, moment)
        assert nxt is not None
        out.append(nxt)
        moment = nxt
    return out


# --- DST -------------------------------------------------------------------------------------

NEW_YORK = "America/New_York"  # 2025-03-09 02:00 EST → 03:00 EDT; 2025-11-02 02:00 EDT → 01:00 EST
LONDON = "Europe/London"  # 2025-03-30 01:00 GMT → 02:00 BST; 2025-10-26 02:00 BST → 01:00 GMT


def test_daily_run_in_the_skipped_hour_runs_once_at_the_end_of_the_gap() -> None:
    daily = Schedule("0 30 2 * * *", NEW_YORK)
    assert fires(daily, utc(2025, 3, 8, 0, 0), 3) == [
        utc(2025, 3, 8, 7, 30),  # 02:30 EST
        utc(2025, 3, 9, 7, 0),  # 02:30 does not exist: 03:00 EDT
        utc(2025, 3, 10, 6, 30),  # 02:30 EDT
    ]


def test_ticks_inside_the_gap_collapse_into_one_run() -> None:
    half_hourly = Schedule("0 */30 * * * *", NEW_YORK)
    assert fires(half_hourly, utc(2025, 3, 9, 6, 0), 3) == [
        utc(2025, 3, 9, 6, 30),  # 01:30 EST
        utc(2025, 3, 9, 7, 0),  # 02:00 and 02:30 do not exist; 03:00 EDT, once
        utc(2025, 3, 9, 7, 30),  # 03:30 EDT
    ]


def test_daily_run_in_the_repeated_hour_runs_once() -> None:
    daily = Schedule("0 30 1 * * *", NEW_YORK)
    assert fires(daily, utc(2025, 11, 1, 12, 0), 2) == [
        utc(2025, 11, 2, 5, 30),  # 01:30 EDT, the first 01:30
        utc(2025, 11, 3, 6, 30),  # 01:30 EST the next day; the second 01:30 did not run
    ]


def test_repeated_hour_does_not_rerun_its_wall_times() -> None:
    half_hourly = Schedule("0 */30 * * * *", NEW_YORK)
    assert fires(half_hourly, utc(2025, 11, 2, 4, 0), 4) == [
        utc(2025, 11, 2, 4, 30),  # 00:30 EDT
        utc(2025, 11, 2, 5, 0),  # 01:00 EDT
        utc(2025, 11, 2, 5, 30),  # 01:30 EDT
        utc(2025, 11, 2, 7, 0),  # 02:00 EST (01:00 and 01:30 EST already ran)
    ]
    # Asked from inside the second 01:xx hour, the next tick is still 02:00 EST.
    assert next_fire(half_hourly, utc(2025, 11, 2, 6, 10)) == utc(2025, 11, 2, 7, 0)


def test_london_spring_forward_and_fall_back() -> None:
    daily = Schedule("0 30 1 * * *", LONDON)
    assert next_fire(daily, utc(2025, 3, 29, 12, 0)) == utc(2025, 3, 30, 1, 0)  # 02:00 BST
    assert fires(daily, utc(2025, 10, 25, 12, 0), 2) == [
        utc(2025, 10, 26, 0, 30),  # 01:30 BST, first occurrence
        utc(2025, 10, 27, 1, 30),  # 01:30 GMT next day
    ]


def test_every_minute_keeps_going_through_the_london_gap() -> None:
    minutely = Schedule("0 * * * * *", LONDON)
    got = fires(minutely, utc(2025, 3, 30, 0, 58, 30), 3)
    # 00:59 GMT, then the local 01:00–01:59 do not exist: 02:00 BST (=01:00Z) once, then 02:01.
    assert got == [utc(2025, 3, 30, 0, 59), utc(2025, 3, 30, 1, 0), utc(2025, 3, 30, 1, 1)]


def test_next_fire_times_are_shown_in_the_integration_timezone() -> None:
    times = next_fire_times(Schedule("0 0 */6 * * *", NEW_YORK), utc(2025, 6, 1, 12, 0), 3)
    assert [t.isoformat() for t in times] == [
        "2025-06-01T12:00:00-04:00",
        "2025-06-01T18:00:00-04:00",
        "2025-06-02T00:00:00-04:00",
    ]


def test_seconds_field_comes_first() -> None:
    every_ten_seconds = Schedule("*/10 * * * * *")
    assert fires(every_ten_seconds, utc(2025, 1, 1, 0, 0, 3), 2) == [
        utc(2025, 1, 1, 0, 0, 10),
        utc(2025, 1, 1, 0, 0, 20),
    ]


def test_a_cron_that_never_fires_has_no_next_time() -> None:
    assert next_fire(Schedule("0 0 0 30 2 *"), utc(2025, 1, 1)) is None
    assert previous_fire(Schedule("0 0 0 30 2 *"), utc(2025, 1, 1)) is None


def test_the_previous_tick_is_strictly_before_the_moment() -> None:
    hourly = Schedule("0 0 * * * *")
    assert previous_fire(hourly, utc(2025, 1, 1, 10, 30)) == utc(2025, 1, 1, 10, 0)
    assert previous_fire(hourly, utc(2025, 1, 1, 10, 0)) == utc(2025, 1, 1, 9, 0)


def test_the_previous_tick_in_a_skipped_hour_is_the_end_of_the_gap() -> None:
    at_half_past_two = Schedule("0 30 2 * * *", NEW_YORK)  # 02:30 does not exist on 2025-03-09
    assert previous_fire(at_half_past_two, utc(2025, 3, 9, 12, 0)) == utc(2025, 3, 9, 7, 0)
    assert previous_fire(at_half_past_two, utc(2025, 3, 9, 7, 0)) == utc(2025, 3, 8, 7, 30)


# --- startup: missed ticks -------------------------------------------------------------------

MINUTELY = Schedule("0 * * * * *")


def test_missed_ticks_collapse_into_one_catch_up_run() -> None:
    got = resume("a", MINUTELY, anchor=utc(2025, 1, 1, 10, 0), now=utc(2025, 1, 1, 10, 5, 30),
                 catch_up="once")  # fmt: skip
    assert got.missed == 4  # 10:01 … 10:04 are older than the grace; 10:05 is late, not missed
    assert got.run is not None
    assert (got.run.trigger, got.run.scheduled_for) == ("scheduled", utc(2025, 1, 1, 10, 5))
    assert got.next_fire == utc(2025, 1, 1, 10, 6)

    hourly = Schedule("0 0 * * * *")
    got = resume("a", hourly, anchor=utc(2025, 1, 1, 0, 0), now=utc(2025, 1, 1, 5, 30),
                 catch_up="once")  # fmt: skip
    assert (got.missed, got.first_missed, got.last_missed) == (
        5,
        utc(2025, 1, 1, 1, 0),
        utc(2025, 1, 1, 5, 0),
    )
    assert got.run is not None
    assert (got.run.trigger, got.run.scheduled_for) == ("catch_up", utc(2025, 1, 1, 5, 0))
    assert "one catch-up run" in got.describe()


def test_catch_up_skip_runs_nothing_but_reports_the_missed_ticks() -> None:
    hourly = Schedule("0 0 * * * *")
    got = resume("a", hourly, anchor=utc(2025, 1, 1, 0, 0), now=utc(2025, 1, 1, 5, 30),
                 catch_up="skip")  # fmt: skip
    assert got.run is None
    assert got.missed == 5
    assert "catch_up = skip" in got.describe()


def test_a_tick_recorded_before_a_restart_is_not_run_again() -> None:
    # The daemon recorded the 10:05 tick, died, and restarted 20 s later.
    got = resume("a", MINUTELY, anchor=utc(2025, 1, 1, 10, 5), now=utc(2025, 1, 1, 10, 5, 20),
                 catch_up="once")  # fmt: skip
    assert got.run is None
    assert got.missed == 0
    assert got.next_fire == utc(2025, 1, 1, 10, 6)


def test_long_downtime_is_counted_up_to_a_limit() -> None:
    every_second = Schedule("* * * * * *")
    got = resume("a", every_second, anchor=utc(2025, 1, 1), now=utc(2025, 1, 8), catch_up="once",
                 grace=timedelta(0))  # fmt: skip
    assert got.missed_more
    assert got.run is not None
    assert got.run.scheduled_for == utc(2025, 1, 8)
    assert "+ ticks missed" in got.describe()


def test_never_run_integration_without_anchor_waits_for_its_next_tick() -> None:
    got = resume("a", MINUTELY, anchor=None, now=utc(2025, 1, 1, 10, 0, 30), catch_up="once")
    assert got.run is None
    assert got.next_fire == utc(2025, 1, 1, 10, 1)


# --- run bookkeeping -------------------------------------------------------------------------


def test_thousand_minutely_integrations_fire_together_within_the_concurrency_bound() -> None:
    book = RunBook(max_concurrent=4)
    start = utc(2025, 1, 1, 10, 0, 30)
    book.set_schedules({f"i{n}": MINUTELY for n in range(1000)}, start)
    assert book.next_wakeup() == utc(2025, 1, 1, 10, 1)

    tick = utc(2025, 1, 1, 10, 1)
    book.collect_due(tick)
    assert book.next_wakeup() == utc(2025, 1, 1, 10, 2)  # each integration's next tick queued
    started: set[str] = set()
    while True:
        batch = book.take_launchable(tick)
        if not batch:
            break
        assert len(book.running) <= 4
        for run in batch:
            assert run.scheduled_for == tick
            started.add(run.integration_id)
            book.finished(run.integration_id)
    assert len(started) == 1000
    assert book.stats.launched == 1000


def test_one_run_per_integration_and_ticks_coalesce_while_it_runs() -> None:
    book = RunBook(max_concurrent=4)
    book.set_schedules({"a": Schedule("*/10 * * * * *")}, utc(2025, 1, 1, 0, 0, 1))
    book.collect_due(utc(2025, 1, 1, 0, 0, 10))
    [first] = book.take_launchable(utc(2025, 1, 1, 0, 0, 10))
    # Two more ticks pass while it runs: one waits, the other is coalesced into it.
    book.collect_due(utc(2025, 1, 1, 0, 0, 30))
    assert book.take_launchable(utc(2025, 1, 1, 0, 0, 30)) == []
    assert book.stats.coalesced == 1
    assert book.lag_s(utc(2025, 1, 1, 0, 0, 30)) == 10.0
    book.finished("a")
    [second] = book.take_launchable(utc(2025, 1, 1, 0, 0, 31))
    assert (first.scheduled_for, second.scheduled_for) == (
        utc(2025, 1, 1, 0, 0, 10),
        utc(2025, 1, 1, 0, 0, 20),
    )


def test_a_request_during_a_run_is_queued_and_runs_before_the_next_tick() -> None:
    book = RunBook(max_concurrent=2)
    now = utc(2025, 1, 1, 0, 0, 0)
    book.set_schedules({"a": MINUTELY}, now)
    manual = PendingRun("a", "manual", None, due_at=now, job="sync-a")
    assert book.claim("a", manual, now)
    again = PendingRun("a", "manual", None, due_at=now, job="sync-a-again")
    assert not book.claim("a", again, now)
    assert book.queue_request(again) == 1
    book.collect_due(utc(2025, 1, 1, 0, 1))  # the tick comes while the manual run goes on
    assert book.take_launchable(utc(2025, 1, 1, 0, 1)) == []
    book.finished("a")
    [queued] = book.take_launchable(utc(2025, 1, 1, 0, 1, 5))
    assert queued.job == "sync-a-again"
    book.finished("a")
    [tick] = book.take_launchable(utc(2025, 1, 1, 0, 1, 6))
    assert tick.trigger == "scheduled"


def test_unscheduling_drops_pending_ticks_and_rescheduling_moves_the_next_one() -> None:
    book = RunBook(max_concurrent=1)
    now = utc(2025, 1, 1, 0, 0, 30)
    book.set_schedules({"a": MINUTELY, "b": MINUTELY}, now)
    book.collect_due(utc(2025, 1, 1, 0, 1))
    changes = book.set_schedules({"a": Schedule("0 0 * * * *")}, utc(2025, 1, 1, 0, 1))
    assert changes == {"added": [], "removed": ["b"], "changed": ["a"]}
    launched = book.take_launchable(utc(2025, 1, 1, 0, 1))
    assert [r.integration_id for r in launched] == ["a"]  # b's pending tick was dropped
    assert book.next_fire_at("a") == utc(2025, 1, 1, 1, 0)
    assert book.next_fire_at("b") is None
    assert book.stats.dropped == 1


@pytest.mark.parametrize("zone", [NEW_YORK, LONDON, "UTC", "Asia/Kolkata"])
def test_fire_times_strictly_increase_over_a_year(zone: str) -> None:
    schedule = Schedule("0 15 */3 * * *", zone)
    times = fires(schedule, utc(2025, 1, 1), 8 * 365)
    assert all(a < b for a, b in itertools.pairwise(times))
