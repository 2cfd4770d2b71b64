"""The window of ``tether sync --since/--until`` (a backfill) and ``tether verify``.

``--since`` / ``--until`` take a date (``2026-03-01``: midnight UTC), an ISO timestamp (UTC
unless it names a zone) or a span back from now (``7d``, ``12h``). The window is
``[since, until)``; no ``--until`` means up to now. ``tether verify --since all`` counts
everything a full sync reads against the whole state.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from tether.connectors.base import Window
from tether.errors import UsageError

DEFAULT_DAYS = 30
"""Without ``--since``, ``tether verify`` counts the last 30 days."""

_RELATIVE = re.compile(r"^(\d+)\s*([dh])$")


def parse_moment(text: str, *, now: datetime, option: str) -> datetime:
    """``2026-03-01``, ``2026-03-01T12:00:00Z`` (no zone: UTC), or ``7d`` / ``12h`` ago."""
    value = text.strip()
    relative = _RELATIVE.match(value)
    if relative:
        amount, unit = int(relative[1]), relative[2]
        return now - (timedelta(days=amount) if unit == "d" else timedelta(hours=amount))
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{option} {text!r} is not a date.",
            hint=f"Write {option} 2026-03-01, {option} 2026-03-01T06:00:00Z (UTC unless a zone is "
            f"given) or {option} 7d (days ago; 12h: hours ago).",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_window(
    since: str | None, until: str | None, *, now: datetime, default_days: int | None = None
) -> Window | None:
    """The window of ``--since`` / ``--until``; ``None`` when neither is given and there is no
    default. Refuses an empty window or one that starts in the future."""
    if since is None and until is not None:
        raise UsageError("--until needs --since.", hint="Give the window's start with --since.")
    if since is None:
        if default_days is None:
            return None
        return Window(now - timedelta(days=default_days), None)
    if since.strip().lower() == "all" and default_days is not None:
        if until is not None:
            raise UsageError("--since all takes no --until.", hint="Drop --until.")
        return None  # verify: everything a full sync reads, against the whole state
    start = parse_moment(since, now=now, option="--since")
    end = None if until is None else parse_moment(until, now=now, option="--until")
    if start >= now:
        raise UsageError(
            f"--since {since} is in the future ({start.isoformat()}).",
            hint="Give a start in the past.",
        )
    if end is not None and end <= start:
        raise UsageError(
            f"--until {until} is not after --since {since}: the window is empty.",
            hint="The window is [since, until): until must come later.",
        )
    return Window(start, end)


def window_json(window: Window | None) -> dict[str, str | None] | None:
    if window is None:
        return None
    return {
        "since": iso(window.since),
        "until": None if window.until is None else iso(window.until),
    }


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
