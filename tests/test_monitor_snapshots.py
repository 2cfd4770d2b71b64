"""Snapshots of every monitor screen at 80×24 and 160×48 (fake source, frozen clock).

Update after an intended change with `pytest tests/test_monitor_snapshots.py --snapshot-update`
and review the SVGs in tests/__snapshots__/ (the report opens them side by side on failure).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from monitor_fake import demo_source
from monitor_support import make_app, press, settle
from textual.pilot import Pilot
from textual.widgets import Input

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]


def keys(*names: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await press(pilot, *names)
        # A dialog's input blinks its cursor on the wall clock: hold it on, as it starts, so the
        # picture does not depend on when (on a loaded machine) the screenshot is taken.
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False
        await settle(pilot)

    return run_before


SCREENS = {
    "dashboard": (),
    "integration": ("enter",),
    "execution": ("enter", "enter"),
    "execution_failed": ("enter", "enter", "f"),
    "execution_analysis_narrow": ("enter", "enter", "e"),
    "item_aggregate": ("down", "enter", "enter", "down", "down", "enter"),
    "help": ("question_mark",),
    "pause_dialog": ("enter", "p"),
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen(snap_compare: Any, screen: str, size: tuple[int, int]) -> None:
    app = make_app(demo_source(role="operator"))
    assert snap_compare(app, terminal_size=size, run_before=keys(*SCREENS[screen]))


@pytest.mark.parametrize("size", SIZES)
def test_reset_dialog_for_admin(snap_compare: Any, size: tuple[int, int]) -> None:
    app = make_app(demo_source(role="admin"))
    assert snap_compare(app, terminal_size=size, run_before=keys("enter", "R"))


def test_light_theme(snap_compare: Any) -> None:
    app = make_app(demo_source(), theme="textual-light")
    assert snap_compare(app, terminal_size=(160, 48), run_before=keys("enter", "enter"))
