"""``tether monitor``: a Textual app for triage (dashboard → integration → execution → items).

The app owns the data source, the clock (frozen in tests so relative times are stable), the live
refresh timer and the one place actions run (``perform``): off the UI thread, one at a time, each
ending in a notification that says what happened.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from tether.errors import TetherError
from tether.tui.datasource import MonitorSource, Row
from tether.tui.format import Palette
from tether.tui.setup_source import SetupSource

DEFAULT_REFRESH_S = 5.0
DEFAULT_DEBOUNCE_S = 0.25


def _utcnow() -> datetime:
    return datetime.now(UTC)


class MonitorApp(App[None]):
    CSS_PATH = "monitor.tcss"
    TITLE = "Tether monitor"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("f5", "refresh", "Refresh"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        source: MonitorSource,
        *,
        clock: Callable[[], datetime] = _utcnow,
        refresh_s: float = DEFAULT_REFRESH_S,
        debounce_s: float = DEFAULT_DEBOUNCE_S,
        theme: str | None = None,
        setup: SetupSource | None = None,
    ) -> None:
        super().__init__()
        self.source = source
        self.setup = setup
        """The "New integration" form's source; ``None`` leaves the form out."""
        self.clock = clock
        self.refresh_s = refresh_s
        self.debounce_s = debounce_s
        self.action_running = False
        self.progress_text = ""
        self.first_paint_at: float | None = None
        self.problem: str | None = None
        if theme:
            self.theme = theme

    def on_mount(self) -> None:
        from tether.tui.screens.dashboard import DashboardScreen

        self.sub_title = self.source.description
        self.push_screen(DashboardScreen())
        if self.refresh_s > 0:
            self.set_interval(self.refresh_s, self.action_refresh)

    @property
    def palette(self) -> Palette:
        theme = self.current_theme
        return Palette(
            success=theme.success or "green",
            warning=theme.warning or "yellow",
            error=theme.error or "red",
            accent=theme.accent or theme.primary or "blue",
            muted="grey50" if theme.dark else "grey42",
        )

    def show_problem(self, message: str) -> None:
        """A failed read: once as a notification, then kept in the header until a read works
        (live refresh would otherwise repeat it every few seconds, e.g. while a lock is held)."""
        if message != self.problem:
            self.notify(message, title="Could not load", severity="error", timeout=6)
        self.problem = message
        self.sub_title = "⚠ " + message.splitlines()[0]

    def clear_problem(self) -> None:
        if self.problem is not None:
            self.problem = None
            self.sub_title = self.progress_text or self.source.description

    # -- actions -------------------------------------------------------------------------------
    def action_new_integration(self) -> None:
        from tether.tui.screens.add import AddIntegrationDialog

        if self.setup is None:
            return

        def created(result: dict[str, Any] | None) -> None:
            if result is not None:
                self.notify(
                    f"Created {result['integration']} and {result['credentials']} (encrypted). "
                    "Next: tether plan, then tether apply.",
                    title="New integration",
                    timeout=8,
                )

        self.push_screen(AddIntegrationDialog(self.setup), created)

    def action_help(self) -> None:
        from tether.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_refresh(self) -> None:
        """Reload the active screen (skipped while an action runs: it may hold the state)."""
        from tether.tui.screens.base import MonitorScreen

        if self.action_running:
            return
        screen = self.screen
        if isinstance(screen, MonitorScreen):
            screen.refresh_data()

    def perform(
        self,
        title: str,
        call: Callable[[Callable[[dict[str, Any]], None]], Row],
        describe: Callable[[Row], str],
        after: Callable[[], None],
    ) -> None:
        """Run an action off the UI thread and say what happened."""
        if self.action_running:
            self.notify("Another action is still running.", severity="warning")
            return
        self.action_running = True
        self.refresh_bindings()
        self.notify(f"{title}…", timeout=3)
        self._perform(title, call, describe, after)

    @work(thread=True, group="action")
    def _perform(
        self,
        title: str,
        call: Callable[[Callable[[dict[str, Any]], None]], Row],
        describe: Callable[[Row], str],
        after: Callable[[], None],
    ) -> None:
        def progress(event: dict[str, Any]) -> None:
            self.call_from_thread(self._show_progress, title, event)

        try:
            result = call(progress)
        except TetherError as exc:  # includes PermissionDeniedError: its message says why
            self.call_from_thread(self._finish, title, exc.render(), "error", after)
        except Exception as exc:  # keep the monitor up; say what broke
            message = f"{type(exc).__name__}: {exc}"
            self.call_from_thread(self._finish, title, message, "error", after)
        else:
            self.call_from_thread(self._finish, title, describe(result), "information", after)

    def _show_progress(self, title: str, event: dict[str, Any]) -> None:
        shown = ", ".join(
            f"{k.replace('_', ' ')} {v:,}" if isinstance(v, int) else f"{k.replace('_', ' ')} {v}"
            for k, v in event.items()
            if isinstance(v, int | float | str)
        )
        self.progress_text = f"{title}: {shown}"
        self.sub_title = self.progress_text

    def _finish(self, title: str, message: str, severity: str, after: Callable[[], None]) -> None:
        self.action_running = False
        self.progress_text = ""
        self.sub_title = self.source.description
        self.notify(
            message,
            title=title if severity == "information" else f"{title} failed",
            severity="error" if severity == "error" else "information",
            timeout=8,
        )
        self.refresh_bindings()
        after()

    # -- command palette -------------------------------------------------------------------------
    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if self.setup is not None:
            yield SystemCommand(
                "New integration", "tether add, as a form", self.action_new_integration
            )
        from tether.tui.screens.base import INTEGRATION_ACTIONS, IntegrationActionsMixin
        from tether.tui.screens.help import screen_bindings

        for key, action, description in screen_bindings(type(screen)):
            if action in INTEGRATION_ACTIONS and isinstance(screen, IntegrationActionsMixin):
                reason = screen.denial(action)
                title = INTEGRATION_ACTIONS[action][1]
                if reason is not None:
                    yield SystemCommand(
                        f"{title} (disabled)",
                        f"{key} · {reason}",
                        lambda a=action, s=screen: s.run_denied(a),
                    )
                    continue
                yield SystemCommand(title, f"key {key}", lambda a=action: self._run(screen, a))
            elif action not in ("quit", "help", "command_palette"):
                yield SystemCommand(
                    description, f"key {key}", lambda a=action: self._run(screen, a)
                )
        yield SystemCommand("Help: every key", "key ?", self.action_help)

    def _run(self, screen: Screen[Any], action: str) -> None:
        self.call_later(screen.run_action, action)


def mark_first_paint(app: MonitorApp) -> None:
    if app.first_paint_at is None:
        app.first_paint_at = time.perf_counter()
