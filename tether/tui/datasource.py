"""Where the monitor's screens get their data: a small ``MonitorSource``, nothing else.

``BackendSource`` wraps a ``Backend`` from ``tether.daemon.client.connect`` and calls operations by
name (shapes in the operations contract): without a daemon each call opens the DuckDB file for that
call only, so the monitor never holds the state between refreshes; with a daemon every call goes
over its socket. Tests use ``FakeSource`` (tests/monitor_fake.py), which keeps the same contract in memory.

Screens call these methods from Textual workers (threads), never on the UI thread.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from tether.errors import PermissionDeniedError
from tether.state.queries import ItemsQuery

if TYPE_CHECKING:
    from tether.daemon.client import Backend

Row = dict[str, Any]
Progress = Callable[[dict[str, Any]], None]

ROLES = ("viewer", "operator", "admin")

# What each action needs (mirrors the operations' registered roles; the backend still decides).
ACTION_ROLES: dict[str, str] = {
    "sync": "operator",
    "retry": "operator",
    "pause": "operator",
    "resume": "operator",
    "reset": "admin",
}


def role_allows(role: str | None, needed: str) -> bool:
    """Unknown role (a daemon that does not say) allows everything; the backend then refuses."""
    if role not in ROLES:
        return True
    return ROLES.index(role) >= ROLES.index(needed)


class MonitorSource(Protocol):
    """Everything the monitor reads or does. Blocking; called from worker threads."""

    @property
    def description(self) -> str:
        """Where the data comes from, for the header ('daemon at …' / 'state file …')."""
        ...

    @property
    def role(self) -> str | None:
        """The caller's role when known (viewer | operator | admin)."""
        ...

    def status(self) -> Row: ...

    def integration(self, integration_id: str) -> Row: ...

    def executions(
        self, integration: str | None = None, *, limit: int = 50, before_id: int | None = None
    ) -> Row: ...

    def items(self, query: ItemsQuery) -> Row:
        """A page; ``total`` may be ``None`` when counting needs a scan (see ``items_count``)."""
        ...

    def items_count(self, query: ItemsQuery) -> Row:
        """How many items match the query's filters (its page is ignored)."""
        ...

    def item(self, execution_id: int, item_id: int) -> Row: ...

    def errors(self, execution_id: int) -> Row: ...

    def sync(
        self, integration: str, *, dry_run: bool | None = None, progress: Progress | None = None
    ) -> Row: ...

    def retry(self, integration: str, *, progress: Progress | None = None) -> Row: ...

    def pause(self, integration: str, reason: str | None = None) -> Row: ...

    def resume(self, integration: str) -> Row: ...

    def reset(self, integration: str, confirm: str) -> Row: ...


class BackendSource:
    """The real source: operations through a ``Backend`` (local, or the daemon's socket)."""

    def __init__(self, backend: Backend, description: str = "") -> None:
        self.backend = backend
        self._description = description
        self._role: str | None = getattr(backend, "role", None)
        # In-process, a sync holds the state file open for writing; a read from another worker
        # would then conflict with it, so local calls take turns. The daemon serialises itself.
        self._turns: contextlib.AbstractContextManager[Any] = (
            contextlib.nullcontext() if backend.via_daemon else threading.Lock()
        )

    @property
    def description(self) -> str:
        return self._description

    @property
    def role(self) -> str | None:
        return self._role

    def _call(self, name: str, progress: Progress | None = None, **params: Any) -> Any:
        try:
            with self._turns:
                return self.backend.call(name, progress=progress, **params)
        except PermissionDeniedError as exc:
            self._role = exc.role or self._role  # learn the role from the refusal
            raise

    def status(self) -> Row:
        result: Row = self._call("status")
        return result

    def integration(self, integration_id: str) -> Row:
        result: Row = self._call("integration", id=integration_id)
        return result

    def executions(
        self, integration: str | None = None, *, limit: int = 50, before_id: int | None = None
    ) -> Row:
        params: dict[str, Any] = {"limit": limit}
        if integration is not None:
            params["integration"] = integration
        if before_id is not None:
            params["before_id"] = before_id
        result: Row = self._call("executions", **params)
        return result

    def items(self, query: ItemsQuery) -> Row:
        # The table updates first; a count that needs its own scan comes after (items_count).
        result: Row = self._call("items", count=False, **query.wire())
        return result

    def items_count(self, query: ItemsQuery) -> Row:
        result: Row = self._call("items_count", **query.count_wire())
        return result

    def item(self, execution_id: int, item_id: int) -> Row:
        result: Row = self._call("item", execution_id=execution_id, item_id=item_id)
        return result

    def errors(self, execution_id: int) -> Row:
        result: Row = self._call("errors", execution_id=execution_id)
        return result

    def sync(
        self, integration: str, *, dry_run: bool | None = None, progress: Progress | None = None
    ) -> Row:
        params: dict[str, Any] = {"integration": integration}
        if dry_run is not None:
            params["dry_run"] = dry_run
        result: Row = self._call("sync", progress=progress, **params)
        return result

    def retry(self, integration: str, *, progress: Progress | None = None) -> Row:
        result: Row = self._call("retry", progress=progress, integration=integration)
        return result

    def pause(self, integration: str, reason: str | None = None) -> Row:
        params: dict[str, Any] = {"integration": integration}
        if reason:
            params["reason"] = reason
        result: Row = self._call("pause", **params)
        return result

    def resume(self, integration: str) -> Row:
        result: Row = self._call("resume", integration=integration)
        return result

    def reset(self, integration: str, confirm: str) -> Row:
        result: Row = self._call("reset", integration=integration, confirm=confirm)
        return result


def execution_by_id(source: MonitorSource, integration: str, execution_id: int) -> Row | None:
    """One execution, fresh (keyset: the newest with id < execution_id + 1 is that execution)."""
    page = source.executions(integration, limit=1, before_id=execution_id + 1)
    rows: list[Row] = page.get("executions", [])
    return rows[0] if rows and rows[0].get("id") == execution_id else None
