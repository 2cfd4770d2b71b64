"""What every monitor screen shares: the data source, the clock, loading in workers, and the
integration actions (sync, dry run, retry, pause/resume, reset) with their role checks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from textual.binding import Binding, BindingType
from textual.screen import Screen

from tether.errors import TetherError
from tether.tui.datasource import ACTION_ROLES, MonitorSource, Row, role_allows
from tether.tui.format import Palette

if TYPE_CHECKING:
    from tether.tui.app import MonitorApp

T = TypeVar("T")

# action method name -> (operation it calls, what the user sees)
INTEGRATION_ACTIONS: dict[str, tuple[str, str]] = {
    "sync": ("sync", "Trigger sync"),
    "dry_run": ("sync", "Dry-run sync"),
    "retry": ("retry", "Retry failed items"),
    "toggle_pause": ("pause", "Pause / resume schedule"),
    "reset": ("reset", "Reset sync state"),
}

INTEGRATION_BINDINGS: list[BindingType] = [
    Binding("t", "sync", "Sync"),
    Binding("d", "dry_run", "Dry run"),
    Binding("r", "retry", "Retry"),
    Binding("p", "toggle_pause", "Pause/Resume"),
    Binding("R", "reset", "Reset"),
]


class MonitorScreen(Screen[None]):
    """A screen that reads through the app's ``MonitorSource`` (from workers, never inline)."""

    HELP: ClassVar[str] = ""

    @property
    def monitor(self) -> MonitorApp:
        from tether.tui.app import MonitorApp

        assert isinstance(self.app, MonitorApp)
        return self.app

    @property
    def source(self) -> MonitorSource:
        return self.monitor.source

    @property
    def palette(self) -> Palette:
        return self.monitor.palette

    def now(self) -> datetime:
        return self.monitor.clock()

    async def fetch(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking source call off the UI thread.

        Anything unexpected from the state (e.g. a DuckDB error while another process rewrites
        the file) is reported as a ``TetherError`` so the monitor stays up; the next refresh
        retries.
        """
        try:
            result = await asyncio.to_thread(fn, *args, **kwargs)
        except TetherError:
            raise
        except Exception as exc:  # a monitor must survive a bad read
            raise TetherError(
                f"Reading the state failed: {type(exc).__name__}: {exc}",
                hint="The monitor retries on the next refresh (f5).",
            ) from exc
        self.monitor.clear_problem()
        return result

    def refresh_data(self) -> None:
        """Reload what the screen shows (live refresh); screens override."""

    def report_problem(self, exc: TetherError) -> None:
        """Show a load failure without losing what is on screen (next refresh retries)."""
        self.monitor.show_problem(exc.render())


class IntegrationActionsMixin:
    """Key actions on one integration; the screen says which integration is in focus."""

    def action_target(self) -> Row | None:
        """The integration row the actions apply to (None: nothing selected)."""
        raise NotImplementedError

    def after_action(self) -> None:
        """Reload after an action changed something."""

    # Textual calls this to show bindings enabled / disabled (None = shown disabled).
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in INTEGRATION_ACTIONS:
            return True if self.denial(action) is None else None
        return True

    def denial(self, action: str) -> str | None:
        """Why the user may not run ``action`` now, or None if they may."""
        screen = self._screen()
        op = INTEGRATION_ACTIONS[action][0]
        needed = ACTION_ROLES[op]
        role = screen.source.role
        if not role_allows(role, needed):
            return f"needs the {needed} role; your role is {role}"
        if screen.monitor.action_running:
            return "another action is running"
        return None

    def _screen(self) -> MonitorScreen:
        assert isinstance(self, MonitorScreen)
        return self

    def _target_id(self) -> str | None:
        row = self.action_target()
        return None if row is None else str(row["id"])

    def action_sync(self) -> None:
        self._sync(dry_run=None)

    def action_dry_run(self) -> None:
        self._sync(dry_run=True)

    def _sync(self, dry_run: bool | None) -> None:
        ident = self._target_id()
        if ident is None:
            return
        label = "Dry-run sync" if dry_run else "Sync"
        source = self._screen().source

        def call(progress: Callable[[dict[str, Any]], None]) -> Row:
            return source.sync(ident, dry_run=dry_run, progress=progress)

        self._screen().monitor.perform(
            f"{label} of {ident}", call, _describe_sync, self.after_action
        )

    def action_retry(self) -> None:
        ident = self._target_id()
        if ident is None:
            return
        source = self._screen().source

        def call(progress: Callable[[dict[str, Any]], None]) -> Row:
            return source.retry(ident, progress=progress)

        self._screen().monitor.perform(
            f"Retry of {ident}", call, _describe_retry, self.after_action
        )

    def action_toggle_pause(self) -> None:
        row = self.action_target()
        if row is None:
            return
        ident = str(row["id"])
        source = self._screen().source
        monitor = self._screen().monitor
        if row.get("paused"):
            monitor.perform(
                f"Resume of {ident}",
                lambda progress: source.resume(ident),
                lambda _: f"{ident} resumed; it runs on its schedule again.",
                self.after_action,
            )
            return
        from tether.tui.screens.confirm import PauseDialog

        def paused(reason: str | None) -> None:
            if reason is None:
                return
            monitor.perform(
                f"Pause of {ident}",
                lambda progress: source.pause(ident, reason or None),
                lambda _: f"{ident} paused; scheduled syncs are skipped until you resume (p).",
                self.after_action,
            )

        self._screen().app.push_screen(PauseDialog(ident), paused)

    def action_reset(self) -> None:
        ident = self._target_id()
        if ident is None:
            return
        from tether.tui.screens.confirm import ResetDialog

        source = self._screen().source
        monitor = self._screen().monitor

        def confirmed(typed: str | None) -> None:
            if typed is None:
                return
            monitor.perform(
                f"Reset of {ident}",
                lambda progress: source.reset(ident, typed),
                _describe_reset,
                self.after_action,
            )

        self._screen().app.push_screen(ResetDialog(ident), confirmed)

    def run_denied(self, action: str) -> None:
        """Explain a disabled action (from the command palette)."""
        reason = self.denial(action)
        self._screen().notify(
            f"{INTEGRATION_ACTIONS[action][1]} is disabled: {reason}.", severity="warning"
        )


def _describe_sync(result: Row) -> str:
    run = result.get("run_id")
    if result.get("queued"):
        return f"Run {run} queued: a sync of this integration is in progress; it starts after it."
    parts = []
    for e in result.get("executions", []):
        parts.append(
            f"{e.get('domain_type')} {e.get('status')} "
            f"({e.get('records_fetched', 0):,} fetched, {e.get('failed', 0):,} failed)"
        )
    remapped = (result.get("remapped") or {}).get("items", 0)
    extra = f"; re-mapped {remapped:,} stored items" if remapped else ""
    return f"Run {run}: " + ("; ".join(parts) or "no executions") + extra + "."


def _describe_retry(result: Row) -> str:
    return (
        f"Retried {result.get('items_retried', 0):,} items: {result.get('items_loaded', 0):,} "
        f"loaded, {result.get('still_failed', 0):,} still failing (run {result.get('run_id')})."
    )


def _describe_reset(result: Row) -> str:
    return (
        f"Reset {result.get('integration')}: deleted {result.get('executions_deleted', 0):,} "
        f"executions, {result.get('items_deleted', 0):,} items, "
        f"{result.get('cursors_deleted', 0):,} cursors. The next sync is a full re-sync."
    )
