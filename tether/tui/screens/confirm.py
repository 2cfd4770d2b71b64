"""Dialogs for actions that need words from the user: a pause reason, a typed reset confirmation."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class PauseDialog(ModalScreen[str | None]):
    """Dismisses with the reason ('' for none), or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, integration_id: str) -> None:
        super().__init__()
        self.integration_id = integration_id

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(f"Pause {self.integration_id}", classes="dialog-title")
            yield Static(
                "Scheduled syncs are skipped until you resume; manual syncs still run. "
                "The pause is recorded in the state and reported by `tether plan`."
            )
            yield Input(placeholder="reason (optional), Enter to pause", id="reason")
            yield Static("Enter pause · Esc cancel", classes="dialog-keys")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class ResetDialog(ModalScreen[str | None]):
    """Admin only. Dismisses with the typed id once it matches, or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, integration_id: str) -> None:
        super().__init__()
        self.integration_id = integration_id

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog danger"):
            yield Static(f"Reset sync state of {self.integration_id}", classes="dialog-title")
            yield Static(
                "Deletes this integration's execution history, sync items and cursors "
                "(the audit log is kept). The next sync is a full re-sync; data rows are "
                "upserted, never duplicated."
            )
            yield Static(f"Type [b]{self.integration_id}[/b] to confirm:")
            yield Input(placeholder=self.integration_id, id="confirm")
            yield Static("", id="mismatch")
            yield Static("Enter reset · Esc cancel", classes="dialog-keys")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() == self.integration_id:
            self.dismiss(event.value.strip())
        else:
            self.query_one("#mismatch", Static).update(
                f"That is not '{self.integration_id}'; nothing was reset."
            )

    def action_cancel(self) -> None:
        self.dismiss(None)
