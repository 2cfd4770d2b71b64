"""Every action Tether can take on its state, as named operations with a required role.

The CLI and the monitor never call the engine directly: they call an operation through a
``Backend`` (``tether.daemon.client.connect``). Without a daemon, ``LocalBackend`` runs the
operation in-process, opening the state file for that call only; with a daemon running, the
``DaemonClient`` sends it over the Unix socket and the daemon runs the *same* function against its
single open connection. Operations take and return plain JSON-able values, so the output is
identical either way.

Roles are ordered: viewer < operator < admin. The daemon checks them (HTTP 403); so does
``LocalBackend`` for the current user, so a refusal reads the same on both paths.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from tether.config.project import Workspace
from tether.errors import NotFoundError, PermissionDeniedError

if TYPE_CHECKING:
    import duckdb

ROLES = ("viewer", "operator", "admin")


class StateAccess(Protocol):
    """How an operation reaches the DuckDB state (per-call file, or the daemon's connection)."""

    def read(self) -> contextlib.AbstractContextManager[duckdb.DuckDBPyConnection | None]:
        """A connection for reading; ``None`` when no state exists yet."""
        ...

    def write(
        self, operation: str
    ) -> contextlib.AbstractContextManager[duckdb.DuckDBPyConnection]: ...

    def query(self) -> contextlib.AbstractContextManager[duckdb.DuckDBPyConnection | None]:
        """A connection for user SQL (`tether sql`): it reads the state and nothing else."""
        ...

    def audit_sql(self, actor: str, query: str, error: Exception | None) -> None:
        """Record a user statement in ``audit_log`` (inside ``query()``; best effort)."""
        ...


class LocalStateAccess:
    """Open the file for each call only, never holding it between calls."""

    def __init__(self, workspace: Workspace) -> None:
        self.path = workspace.state_path
        self._local = threading.local()  # the audit connection of this thread's query()

    @contextlib.contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection | None]:
        from tether.state.db import open_for_read

        with open_for_read(self.path) as con:
            yield con

    @contextlib.contextmanager
    def write(self, operation: str) -> Iterator[duckdb.DuckDBPyConnection]:
        from tether.state.db import open_for_write

        with open_for_write(self.path, operation) as con:
            yield con

    @contextlib.contextmanager
    def query(self) -> Iterator[duckdb.DuckDBPyConnection | None]:
        from tether.state.usersql import open_locked, read_only_transaction

        with open_locked(self.path) as (con, writable):
            if con is None or not writable:
                yield con  # read-only: no audit row (the user can read the file directly)
                return
            self._local.audit = con
            try:
                with read_only_transaction(con) as cur:
                    yield cur
            finally:
                self._local.audit = None

    def audit_sql(self, actor: str, query: str, error: Exception | None) -> None:
        from tether.state.usersql import audit

        con = getattr(self._local, "audit", None)
        if con is not None:
            audit(con, actor, query, error)


class SharedStateAccess:
    """The daemon's single connection; each call gets its own cursor (own transactions).

    File access is turned off for the whole instance here, before any peer can send SQL: the
    writers never read files through DuckDB, and user SQL must not (``tether.state.usersql``).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        from tether.state.usersql import forbid_external_access

        forbid_external_access(con)
        self.con = con

    @contextlib.contextmanager
    def query(self) -> Iterator[duckdb.DuckDBPyConnection | None]:
        from tether.state.usersql import read_only_transaction

        with read_only_transaction(self.con) as cur:
            yield cur

    def audit_sql(self, actor: str, query: str, error: Exception | None) -> None:
        from tether.state.usersql import audit

        cur = self.con.cursor()
        try:
            audit(cur, actor, query, error)
        finally:
            cur.close()

    @contextlib.contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection | None]:
        cur = self.con.cursor()
        try:
            yield cur
        finally:
            cur.close()

    @contextlib.contextmanager
    def write(self, operation: str) -> Iterator[duckdb.DuckDBPyConnection]:
        cur = self.con.cursor()
        try:
            yield cur
        finally:
            cur.close()


@dataclass
class Context:
    workspace: Workspace
    state: StateAccess
    actor: str
    role: str
    progress: Callable[[dict[str, Any]], None] | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    services: dict[str, Any] = field(default_factory=dict)
    """Hooks the daemon provides (e.g. "scheduler" for queueing manual runs)."""


OperationFn = Callable[..., Any]


RunPolicy = Literal["direct", "queued", "exclusive"]
"""How a daemon runs an operation beside the integration's syncs: ``direct`` (at once),
``queued`` (as a run, behind the one in progress) or ``exclusive`` (as a run, refused while one
is in progress). Without a daemon every operation runs directly, under the state's write lock."""


@dataclass(frozen=True)
class Operation:
    name: str
    role: str
    fn: OperationFn
    summary: str
    run_policy: RunPolicy = "direct"
    reloads: bool = False
    """It can change what is scheduled: a daemon reloads its schedule after it."""


_REGISTRY: dict[str, Operation] = {}
_loaded = False


def operation(
    name: str, role: str, *, run_policy: RunPolicy = "direct", reloads: bool = False
) -> Callable[[OperationFn], OperationFn]:
    """Register ``fn(ctx: Context, **params)`` as operation ``name`` needing ``role``; the
    operation declares how a daemon runs it, so the daemon keeps no list of names."""
    assert role in ROLES

    def register(fn: OperationFn) -> OperationFn:
        summary = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else name
        _REGISTRY[name] = Operation(name, role, fn, summary, run_policy, reloads)
        return fn

    return register


HOMES: dict[str, str] = {
    "alerts": "alerts",
    "alerts_test": "alerts",
    "health": "control",
    "pause": "control",
    "resume": "control",
    "doctor": "doctor",
    "add": "setup",
    "add_check": "setup",
    "add_form": "setup",
    "secrets_check": "setup",
    "secrets_keygen": "setup",
    "secrets_set": "setup",
    "reset": "syncs",
    "retry": "syncs",
    "sync": "syncs",
    "errors": "triage",
    "executions": "triage",
    "item": "triage",
    "items": "triage",
    "items_count": "triage",
    "verify": "verify",
    "apply": "workspace",
    "integration": "workspace",
    "plan": "workspace",
    "services": "workspace",
    "sql": "workspace",
    "status": "workspace",
    "unlock": "workspace",
    "validate": "workspace",
}
"""The module that registers each operation, so a command imports only its own: `tether plan`
need not load alerts, setup or doctor. A test checks it against what the modules register."""


def _register(module: str) -> None:
    """Import one operations module; its ``@operation`` decorators register what it defines.

    Imported here, not at the top: they need this module first, and they load the engine, which
    `tether --help` must not pay for. Each import is written out so import-linter sees it.
    """
    match module:
        case "alerts":
            from tether.ops import alerts

            del alerts  # imported to register
        case "control":
            from tether.ops import control

            del control  # imported to register
        case "doctor":
            from tether.ops import doctor

            del doctor  # imported to register
        case "setup":
            from tether.ops import setup

            del setup  # imported to register
        case "syncs":
            from tether.ops import syncs

            del syncs  # imported to register
        case "triage":
            from tether.ops import triage

            del triage  # imported to register
        case "verify":
            from tether.ops import verify

            del verify  # imported to register
        case "workspace":
            from tether.ops import workspace

            del workspace  # imported to register


def operations() -> dict[str, Operation]:
    """Every operation by name, registering them all on the first call."""
    global _loaded
    if not _loaded:
        for module in dict.fromkeys(HOMES.values()):
            _register(module)
        _loaded = True
    return _REGISTRY


def get(name: str) -> Operation:
    if name not in _REGISTRY and name in HOMES:
        _register(HOMES[name])
    try:
        return _REGISTRY[name] if name in _REGISTRY else operations()[name]
    except KeyError:
        raise NotFoundError(f"Unknown operation '{name}'.") from None


def allowed(role: str, needed: str) -> bool:
    return ROLES.index(role) >= ROLES.index(needed)


def role_of(user: str, workspace: Workspace) -> str:
    access = workspace.settings.access
    if user in access.admins:
        return "admin"
    if user in access.operators:
        return "operator"
    return "viewer"


def local_role(workspace: Workspace) -> str:
    """The current user's role when no daemon runs.

    Users named in [access] get their role. Anyone else who can write the state directory acts
    as admin: they could change the file directly, so refusing them here would protect nothing
    and only break a fresh `tether init` + `tether apply`. The daemon is where roles are a
    boundary (peer uid on a 0600 socket).
    """
    import os

    from tether.state.db import current_user

    user = current_user()
    access = workspace.settings.access
    if user in access.admins or user in access.operators:
        return role_of(user, workspace)
    state_dir = workspace.state_path.parent
    target = state_dir if state_dir.exists() else workspace.root
    return "admin" if os.access(target, os.W_OK) else "viewer"


def run(ctx: Context, name: str, params: dict[str, Any]) -> Any:
    op = get(name)
    if not allowed(ctx.role, op.role):
        raise PermissionDeniedError(name, ctx.role, op.role)
    return op.fn(ctx, **params)
