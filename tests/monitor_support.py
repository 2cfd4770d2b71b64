"""Helpers for the monitor tests: build the app on a fake source with a frozen clock, wait for
its workers, and read the screen as a person would (plain text of every cell)."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot

from tether.tui.app import MonitorApp
from tether.tui.datasource import MonitorSource
from tether.tui.fake import DEMO_NOW, demo_source


def make_app(source: MonitorSource | None = None, **kwargs: Any) -> MonitorApp:
    kwargs.setdefault("clock", lambda: DEMO_NOW)
    kwargs.setdefault("refresh_s", 0)
    kwargs.setdefault("debounce_s", 0.05)
    return MonitorApp(source if source is not None else demo_source(), **kwargs)


async def settle(pilot: Pilot[Any]) -> None:
    """Let messages, workers and actions finish — until a pass starts no new worker (a worker's
    result may start another, e.g. a sync's result starts a refresh; under load the chain is
    longer than any fixed number of passes)."""
    app = pilot.app
    for _ in range(50):
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        if not any(w.is_running or w.state.name == "PENDING" for w in app.workers):
            break


async def press(pilot: Pilot[Any], *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
        await settle(pilot)


def screen_text(app: MonitorApp) -> str:
    """What the terminal shows, line by line."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(seg.text for seg in strip).rstrip() for strip in strips)


def flat(app: MonitorApp) -> str:
    """The screen with lines joined and runs of spaces collapsed (for wrapped phrases)."""
    return " ".join(screen_text(app).split())


def region_text(app: MonitorApp, selector: str) -> str:
    """What one widget shows (its screen region), lines joined and spaces collapsed."""
    widget = app.screen.query_one(selector)
    region = widget.content_region
    lines = screen_text(app).splitlines()[region.y : region.bottom]
    return " ".join(" ".join(line[region.x : region.right] for line in lines).split())


def toasts(app: MonitorApp) -> str:
    """The notifications on screen, each's lines joined, spaces collapsed."""
    from textual.widgets._toast import Toast

    lines = screen_text(app).splitlines()
    found = []
    for toast in app.screen.query(Toast):
        r = toast.content_region
        found.append(
            " ".join(" ".join(line[r.x : r.right] for line in lines[r.y : r.bottom]).split())
        )
    return " | ".join(found)
