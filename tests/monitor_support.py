"""Helpers for the monitor tests: build the app on a fake source with a frozen clock, wait for
its workers, and read the screen as a person would (plain text of every cell)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from monitor_fake import DEMO_NOW, demo_source
from textual.app import SeverityLevel
from textual.pilot import Pilot
from textual.widgets import DataTable

from tether.tui import app as app_module
from tether.tui.app import MonitorApp
from tether.tui.datasource import MonitorSource

# Toasts expire on the wall clock (3-8 s in the app). On a loaded CI machine the settle between a
# notification and the test reading it can take longer than that, so a test would see no toast.
# Tests keep them for the test's length instead; what each toast says is unchanged.
TOAST_S = 600.0


class PatientMonitorApp(MonitorApp):
    """The monitor with toasts that outlive a slow machine (the wall clock is not under test)."""

    CSS_PATH = str(Path(app_module.__file__).with_name(str(MonitorApp.CSS_PATH)))

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        super().notify(message, title=title, severity=severity, timeout=TOAST_S, markup=markup)


def make_app(source: MonitorSource | None = None, **kwargs: Any) -> MonitorApp:
    kwargs.setdefault("clock", lambda: DEMO_NOW)
    kwargs.setdefault("refresh_s", 0)
    kwargs.setdefault("debounce_s", 0.05)
    return PatientMonitorApp(source if source is not None else demo_source(), **kwargs)


def _busy(app: MonitorApp) -> bool:
    """Work still to show: a worker running or queued, or a table whose column widths and size
    are not yet measured (DataTable does that on idle, after its rows were added; a screen read
    before then shows new rows cut to the old column widths)."""
    if any(w.is_running or w.state.name == "PENDING" for w in app.workers):
        return True
    return any(
        t._new_rows or t._updated_cells or t._require_update_dimensions
        for t in app.screen.query(DataTable)
    )


async def settle(pilot: Pilot[Any]) -> None:
    """Let messages, workers and actions finish and the screen be redrawn — until a pass finds
    nothing to do and the screen reads the same as after the pass before (a worker's result may
    start another, e.g. a sync's result starts a refresh; under load the chain is longer than
    any fixed number of passes)."""
    app = pilot.app
    shown: str | None = None
    for _ in range(100):
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        if _busy(app):
            shown = None
            continue
        now_shown = screen_text(app)
        if now_shown == shown:
            return
        shown = now_shown
    raise AssertionError("the monitor never settled: workers or redraws still pending")


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
