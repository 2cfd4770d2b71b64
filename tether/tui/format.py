"""Pure formatting for the monitor: times, durations, counts, status badges, sparklines.

Everything here takes plain values (ISO strings from the operations, a fixed ``now``) and returns
strings or Rich ``Text``, so it is tested without running the app.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rich.text import Text

SECRET_HINTS = ("token", "password", "secret", "credential", "api_key", "apikey", "private")
MASK = "••••••"


@dataclass(frozen=True)
class Palette:
    """Theme colours (from the running app's theme, so badges read well on light and dark)."""

    success: str = "green"
    warning: str = "yellow"
    error: str = "red"
    accent: str = "blue"
    muted: str = "bright_black"


# status -> (symbol, palette attribute)
STATUS_STYLE: dict[str, tuple[str, str]] = {
    "success": ("✔", "success"),
    "mapped": ("✔", "success"),
    "partial": ("◐", "warning"),
    "partial_mapped": ("◐", "warning"),
    "failed": ("✖", "error"),
    "running": ("●", "accent"),
    "processing": ("●", "accent"),
    "skipped": ("○", "muted"),
    "cancelled": ("⊘", "muted"),
    "interrupted": ("⚠", "warning"),
}


def parse_ts(value: str | None) -> datetime | None:
    if not value:
        return None
    ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def relative(value: str | None, now: datetime) -> str:
    """'3m ago', 'in 2h 5m', 'just now', or '—' when there is no time."""
    ts = parse_ts(value)
    if ts is None:
        return "—"
    seconds = int((ts - now).total_seconds())
    if abs(seconds) < 5:
        return "just now"
    span = _span(abs(seconds))
    return f"in {span}" if seconds > 0 else f"{span} ago"


def _span(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds}s"
    minutes, _ = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


def local_time(value: str | None, tz: str = "UTC") -> str:
    """A timestamp shown in the given IANA zone, e.g. '2025-03-14 08:00 EDT'."""
    from zoneinfo import ZoneInfo

    ts = parse_ts(value)
    if ts is None:
        return "—"
    try:
        zone = ZoneInfo(tz)
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return ts.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def status_badge(status: str | None, palette: Palette, *, label: str | None = None) -> Text:
    if not status:
        return Text("—", style=palette.muted)
    symbol, colour = STATUS_STYLE.get(status, ("?", "muted"))
    return Text(f"{symbol} {label or status}", style=getattr(palette, colour))


def state_label(row: Mapping[str, Any]) -> str:
    """An integration's scheduling state as the seeds name it."""
    if not row.get("enabled", True):
        return "disabled"
    if row.get("paused"):
        return "paused"
    return "enabled"


def state_badge(row: Mapping[str, Any], palette: Palette) -> Text:
    label = state_label(row)
    colour = {"enabled": palette.success, "paused": palette.warning}.get(label, palette.muted)
    text = Text(label, style=colour)
    if row.get("dry_run"):
        text.append(" dry-run", style=palette.accent)
    return text


def success_rate(recent: Iterable[str]) -> float | None:
    finished = [s for s in recent if s not in ("running", "processing")]
    if not finished:
        return None
    return sum(1 for s in finished if s == "success") / len(finished)


def sparkline(recent: list[str], palette: Palette, width: int = 10) -> Text:
    """One coloured block per recent execution (oldest first) and the success rate."""
    text = Text()
    shown = recent[-width:]
    text.append("·" * (width - len(shown)), style=palette.muted)
    for status in shown:
        _, colour = STATUS_STYLE.get(status, ("?", "muted"))
        text.append("▮", style=getattr(palette, colour))
    rate = success_rate(shown)
    text.append(f" {'  —' if rate is None else f'{rate:>4.0%}'}")
    return text


def is_secret_key(key: str) -> bool:
    lowered = key.lower()
    return any(hint in lowered for hint in SECRET_HINTS)


def mask_settings(value: Any) -> Any:
    """Settings with any secret-looking key masked (operations already drop secrets; belt and braces)."""
    if isinstance(value, Mapping):
        return {
            str(k): (MASK if is_secret_key(str(k)) and v not in (None, "") else mask_settings(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask_settings(v) for v in value]
    return value


def settings_lines(settings: Mapping[str, Any], indent: int = 0) -> list[str]:
    """Settings as YAML-like lines (masked), for the integration screen."""
    lines: list[str] = []
    pad = "  " * indent
    for key, value in mask_settings(settings).items():
        if isinstance(value, Mapping) and value:
            lines.append(f"{pad}{key}:")
            lines.extend(settings_lines(value, indent + 1))
        elif isinstance(value, list):
            lines.append(f"{pad}{key}: [{', '.join(str(v) for v in value)}]")
        else:
            lines.append(f"{pad}{key}: {value}")
    return lines


def one_line(text: str | None, limit: int = 120) -> str:
    if not text:
        return ""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def trigger(execution: dict[str, Any], *, long: bool = False) -> str:
    """The run's trigger; a retry says its attempt: "retry_after_failure #2 (after run 41)"."""
    attempt = execution.get("attempt")
    text = str(execution.get("trigger") or "")
    if not attempt:
        return text
    text = f"{text} #{attempt}"
    if long and execution.get("retry_of"):
        text += f" (after run {execution['retry_of']})"
    return text
