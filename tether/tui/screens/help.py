"""`?`: every key of every screen, generated from the bindings so it cannot drift."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

NAVIGATION = [
    ("↑ ↓ PgUp PgDn", "move in a table"),
    ("Enter", "open the highlighted row"),
    ("Tab", "move between table and filters"),
    ("ctrl+p", "command palette: every action by name"),
    ("ctrl+q", "quit"),
]


def _key_label(binding: Binding) -> str:
    if binding.key_display:
        return binding.key_display
    names = {"question_mark": "?", "slash": "/", "escape": "Esc", "enter": "Enter"}
    return names.get(binding.key, binding.key)


def screen_bindings(screen_class: type[Any]) -> list[tuple[str, str, str]]:
    """(key, action, description) for a screen class's own bindings."""
    rows: list[tuple[str, str, str]] = []
    for item in getattr(screen_class, "BINDINGS", []):
        binding = item if isinstance(item, Binding) else Binding(*item)
        rows.append((_key_label(binding), binding.action, binding.description or binding.action))
    return rows


def all_sections() -> list[tuple[str, str, list[tuple[str, str, str]]]]:
    from tether.tui.app import MonitorApp
    from tether.tui.screens.dashboard import DashboardScreen
    from tether.tui.screens.execution import ExecutionScreen
    from tether.tui.screens.integration import IntegrationScreen
    from tether.tui.screens.item import ItemScreen

    return [
        ("Execution", ExecutionScreen.HELP, screen_bindings(ExecutionScreen)),
        ("Dashboard", DashboardScreen.HELP, screen_bindings(DashboardScreen)),
        ("Integration", IntegrationScreen.HELP, screen_bindings(IntegrationScreen)),
        ("Item", ItemScreen.HELP, screen_bindings(ItemScreen)),
        ("Everywhere", "", screen_bindings(MonitorApp)),
    ]


def _section(title: str, about: str, rows: list[tuple[str, str]]) -> Group:
    table = Table(box=None, show_header=False, padding=(0, 1, 0, 0), expand=True)
    table.add_column("key", style="bold", no_wrap=True, width=7)
    table.add_column("what")
    for key, what in rows:
        table.add_row(key, what)
    parts: list[Any] = [Text(title, style="bold underline")]
    if about:
        parts.append(Text(about, style="italic"))
    parts.append(table)
    return Group(*parts)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("question_mark", "close", "Close", key_display="?"),
        Binding("q", "close", "Close", show=False),
    ]

    def __init__(self, under: Screen[Any]) -> None:
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        from tether.tui.screens.base import INTEGRATION_ACTIONS, IntegrationActionsMixin

        under = self.under
        with Vertical(classes="dialog help"):
            yield Static("Tether monitor: keys  (Esc closes)", classes="dialog-title")
            with Grid(id="help-grid"):
                sections = all_sections()
                left = [sections[0]]
                right = sections[1:]
                for column in (left, right):
                    parts = []
                    for title, about, rows in column:
                        shown = []
                        for key, action, description in rows:
                            what = Text(description)
                            if isinstance(under, IntegrationActionsMixin) and (
                                action in INTEGRATION_ACTIONS
                            ):
                                reason = under.denial(action)
                                if reason:
                                    what.append(f" (disabled: {reason})", style="dim")
                            shown.append((key, what))
                        parts.append(_section(title, about, shown))  # type: ignore[arg-type]
                    if column is left:
                        parts.append(_section("Navigation", "", NAVIGATION))  # type: ignore[arg-type]
                    yield Static(Group(*parts))

    def action_close(self) -> None:
        self.dismiss(None)
