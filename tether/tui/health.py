"""Health indicators of an integration (seed 001 "Monitoring Sync Health"), as a pure function.

| indicator          | needs attention when                                                   |
|--------------------|------------------------------------------------------------------------|
| execution status   | the last two or more finished executions failed                        |
| failed count       | failed items rose over the last three executions of a domain type      |
| records fetched    | the latest execution fetched nothing where the usual volume is > 0      |
| duration           | the latest execution took far longer than usual (≥ 3× the median)       |
| schedule           | the last sync is older than the schedule implies (``overdue``)         |

Numeric checks compare executions of the same domain type (orders and products differ in volume)
and need a little history (three earlier finished executions) so a new integration is not flagged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import median
from typing import Any

from tether.tui.format import count, duration

FINISHED = ("success", "partial", "failed")
MIN_HISTORY = 3
SLOW_FACTOR = 3.0
SLOW_MIN_SECONDS = 5.0


@dataclass(frozen=True)
class HealthFlag:
    code: str  # repeated_failures | rising_failures | records_dropped | slow | overdue
    message: str


def assess(
    recent: Sequence[str],
    executions: Sequence[Mapping[str, Any]] = (),
    *,
    overdue: bool = False,
) -> list[HealthFlag]:
    """Flags for one integration: ``recent`` statuses oldest first, ``executions`` newest first."""
    flags: list[HealthFlag] = []
    streak = _failure_streak(recent)
    if streak >= 2:
        flags.append(HealthFlag("repeated_failures", f"last {streak} executions failed"))
    by_domain: dict[str, list[Mapping[str, Any]]] = {}
    for execution in executions:
        if execution.get("status") in FINISHED:
            by_domain.setdefault(str(execution.get("domain_type")), []).append(execution)
    for domain, runs in by_domain.items():
        oldest_first = list(reversed(runs))
        flags.extend(_numeric_flags(domain, oldest_first))
    if overdue:
        flags.append(HealthFlag("overdue", "last sync is older than the schedule implies"))
    return flags


def _failure_streak(recent: Sequence[str]) -> int:
    streak = 0
    for status in reversed([s for s in recent if s in FINISHED]):
        if status != "failed":
            break
        streak += 1
    return streak


def _numeric_flags(domain: str, runs: list[Mapping[str, Any]]) -> list[HealthFlag]:
    flags: list[HealthFlag] = []
    failed = [int(r.get("failed") or 0) for r in runs]
    if len(failed) >= 3 and failed[-1] > 0 and failed[-3] < failed[-2] < failed[-1]:
        trend = " → ".join(count(n) for n in failed[-3:])
        flags.append(HealthFlag("rising_failures", f"{domain}: failed items rising {trend}"))
    if len(runs) <= MIN_HISTORY:
        return flags
    latest, history = runs[-1], runs[:-1]
    usual_records = median(int(r.get("records_fetched") or 0) for r in history)
    if int(latest.get("records_fetched") or 0) == 0 and usual_records > 0:
        flags.append(
            HealthFlag(
                "records_dropped",
                f"{domain}: no records fetched (usually {count(round(usual_records))})",
            )
        )
    durations = [float(r["duration_s"]) for r in history if r.get("duration_s") is not None]
    took = latest.get("duration_s")
    if durations and took is not None:
        usual = median(durations)
        if float(took) >= max(SLOW_FACTOR * usual, SLOW_MIN_SECONDS):
            flags.append(
                HealthFlag(
                    "slow",
                    f"{domain}: took {duration(float(took))} (usually {duration(usual)})",
                )
            )
    return flags


def summary(flags: Sequence[HealthFlag]) -> str:
    """The dashboard cell: 'ok', or the first flag and how many more."""
    if not flags:
        return "ok"
    short = {
        "repeated_failures": "failing",
        "rising_failures": "failures rising",
        "records_dropped": "0 records",
        "slow": "slow",
        "overdue": "overdue",
    }
    first = short.get(flags[0].code, flags[0].code)
    return first if len(flags) == 1 else f"{first} +{len(flags) - 1}"
