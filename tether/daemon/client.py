"""The one way the CLI and the monitor reach Tether's state: ``connect(workspace) -> Backend``.

If a daemon answers on the workspace's socket, calls go to it (the daemon is then the only
process that opens the DuckDB file); otherwise ``LocalBackend`` runs operations in-process.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Protocol

from tether.config.project import Workspace
from tether.state.db import current_user


class Backend(Protocol):
    via_daemon: bool

    def call(
        self,
        name: str,
        progress: Callable[[dict[str, Any]], None] | None = None,
        **params: Any,
    ) -> Any: ...


class LocalBackend:
    """Run operations in this process, opening the state file per call."""

    via_daemon = False

    def __init__(self, workspace: Workspace, user: str | None = None) -> None:
        from tether import ops

        self.workspace = workspace
        self.user = user or current_user()
        self.role = ops.role_of(self.user, workspace) if user else ops.local_role(workspace)
        self.state = ops.LocalStateAccess(workspace)

    def call(
        self,
        name: str,
        progress: Callable[[dict[str, Any]], None] | None = None,
        **params: Any,
    ) -> Any:
        from tether import ops

        ctx = ops.Context(
            self.workspace, self.state, actor=self.user, role=self.role, progress=progress
        )
        return ops.run(ctx, name, params)


def connect(workspace: Workspace, *, local: bool = False) -> Backend:
    """A daemon client when a daemon listens on the workspace socket, else a local backend."""
    if not local and os.environ.get("TETHER_NO_DAEMON") != "1":
        socket_path = workspace.socket_path
        if socket_path.exists():
            try:
                from tether.daemon.remote import DaemonClient
            except ModuleNotFoundError:
                pass
            else:
                client: Backend | None = DaemonClient.try_connect(socket_path)
                if client is not None:
                    return client
    return LocalBackend(workspace)
