"""What the monitor's "New integration" form asks of Tether: the same `add_form`, `add_check` and
`add` operations `tether add` uses, always in this process (``connect(..., local=True)``):
credentials go from the form to `sops` on stdin, never over the daemon's socket."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tether.daemon.client import Backend


class SetupSource:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def catalogue(self) -> list[dict[str, Any]]:
        services: list[dict[str, Any]] = self.backend.call("add_form")["services"]
        return services

    def form(self, service: str) -> dict[str, Any]:
        form: dict[str, Any] = self.backend.call("add_form", service=service)
        return form

    def check(self, service: str, key: str, text: str, timezone: str) -> dict[str, Any]:
        checked: dict[str, Any] = self.backend.call(
            "add_check", service=service, key=key, text=text, timezone=timezone
        )
        return checked

    def add(self, service: str, integration_id: str, answers: dict[str, str]) -> dict[str, Any]:
        result: dict[str, Any] = self.backend.call(
            "add", service=service, id=integration_id, answers=answers
        )
        return result
