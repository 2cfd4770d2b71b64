"""The row of integration actions with their keys; a disabled one says why (role, busy)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

if TYPE_CHECKING:
    from tether.tui.screens.base import IntegrationActionsMixin

KEYS = {"sync": "t", "dry_run": "d", "retry": "r", "toggle_pause": "p", "reset": "R"}


class ActionBar(Static):
    def show(self, screen: IntegrationActionsMixin) -> None:
        target = screen.action_target() or {}
        palette = screen._screen().palette
        labels = {
            "sync": "sync",
            "dry_run": "dry run",
            "retry": "retry failed",
            "toggle_pause": "resume" if target.get("paused") else "pause",
            "reset": "reset (admin)",
        }
        text = Text()
        reasons: list[str] = []
        for action, key in KEYS.items():
            reason = screen.denial(action)
            if text:
                text.append("  ")
            if reason is None:
                text.append(f" {key} ", style=f"bold reverse {palette.accent}")
                text.append(f" {labels[action]}")
            else:
                text.append(f" {key} ", style=f"strike {palette.muted}")
                text.append(f" {labels[action]}", style=f"strike {palette.muted}")
                if reason not in reasons:
                    reasons.append(reason)
        if reasons:
            text.append(f"   disabled: {'; '.join(reasons)}", style=palette.muted)
        self.update(text)
