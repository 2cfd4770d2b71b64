"""Opening the DuckDB state file: migrations, and the holder-named lock around writers.

DuckDB allows one writing process per file. Tether adds a lock file beside it
(``state/tether.lock``) that says *who* holds the state, so a second writer fails with
``StateLockedError`` naming the holder (pid, user, operation, since) instead of DuckDB's bare
"Conflicting lock is held". Liveness comes from ``flock`` (the OS drops it when a process dies);
the JSON record inside says who it was. A record left by a process that died during ``apply`` must
be cleared with ``tether unlock``; other operations take over a dead holder's lock with a warning.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import json
import os
import pwd
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tether.errors import StateError, StateLockedError
from tether.state.store import transaction

if TYPE_CHECKING:
    import duckdb

SCHEMA_VERSION_KEY = "schema_version"


def current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (containers)
        return str(os.getuid())


@dataclass(frozen=True)
class LockHolder:
    pid: int
    user: str
    operation: str
    since: str
    host: str

    def describe(self) -> str:
        return (
            f"pid {self.pid}, user {self.user}, operation '{self.operation}', "
            f"since {self.since}"
            + ("" if self.host == socket.gethostname() else f" on {self.host}")
        )

    def alive(self) -> bool:
        if self.host != socket.gethostname():
            return True  # cannot tell; assume alive
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def lock_path(state_path: Path) -> Path:
    return state_path.with_name(state_path.stem + ".lock")


def read_holder(state_path: Path) -> LockHolder | None:
    """Who holds (or last held, if it died) the lock of this state file."""
    try:
        return _parse_holder(lock_path(state_path).read_bytes())
    except FileNotFoundError:
        return None


class StateLock:
    """Exclusive, holder-named lock for one writing process."""

    def __init__(self, state_path: Path, operation: str) -> None:
        self.state_path = state_path
        self.path = lock_path(state_path)
        self.operation = operation
        self._fd: int | None = None
        self.took_over: LockHolder | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = read_holder(self.state_path)
            who = holder.describe() if holder else "another process"
            raise StateLockedError(
                f"State is locked by {who}.",
                hint="Wait for it to finish, or run commands through the daemon "
                "(`tether daemon`) so they share one writer.",
            ) from None
        previous = _parse_holder(os.read(fd, 4096))
        if previous is not None and previous.operation == "apply" and self.operation != "unlock":
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
            raise StateLockedError(
                f"State is locked by a dead holder ({previous.describe()}); "
                "that apply did not finish.",
                hint="Its transaction was rolled back. Run `tether unlock` to clear the lock.",
            )
        self.took_over = previous
        holder = LockHolder(
            pid=os.getpid(),
            user=current_user(),
            operation=self.operation,
            since=datetime.now(UTC).isoformat(timespec="seconds"),
            host=socket.gethostname(),
        )
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder.__dict__).encode(), 0)
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)  # an empty record means "released cleanly"
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None


def _parse_holder(raw: bytes) -> LockHolder | None:
    try:
        data = json.loads(raw) if raw.strip() else None
        return LockHolder(**data) if data else None
    except (ValueError, TypeError):
        return None


_DUCKDB_HOLDER = re.compile(r"held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")


def conflicting_holder(state_path: Path, duckdb_message: str) -> str:
    """Who holds the DuckDB file, as Terraform names a lock holder: pid, user, command and, when
    it is Tether's own writer, its operation and since when. DuckDB names the pid and program of
    the process holding its file lock ("Conflicting lock is held in /usr/bin/python3 (PID 42)");
    Tether's lock record adds the operation — but only if it belongs to that same pid (a record
    left by a writer that finished is not the holder)."""
    holder = read_holder(state_path)
    match = _DUCKDB_HOLDER.search(duckdb_message)
    if match is None:
        return holder.describe() if holder else "another process"
    pid = int(match["pid"])
    if holder is not None and holder.pid == pid:
        return holder.describe()
    return f"pid {pid}{_process_owner(pid)}, command '{_command_line(pid) or match['program']}'"


def _process_owner(pid: int) -> str:
    try:
        return f", user {pwd.getpwuid(os.stat(f'/proc/{pid}').st_uid).pw_name}"
    except (OSError, KeyError):
        return ""


def _command_line(pid: int, limit: int = 120) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    words = [
        os.path.basename(w) if i == 0 else w
        for i, w in enumerate(raw.decode(errors="replace").split("\0"))
        if w
    ]
    text = " ".join(words)
    # a long command keeps both ends: the program and its last arguments name it best
    half = limit // 2
    return text if len(text) <= limit else f"{text[:half]} … {text[-half:]}"


def _migrations() -> list[tuple[int, str]]:
    folder = resources.files("tether.state") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text()))
    return sorted(found)


def migrate(con: duckdb.DuckDBPyConnection) -> None:
    """Bring the schema up to date; each numbered migration runs in its own transaction."""
    has_meta = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'main' AND table_name = 'meta'"
    ).fetchone()
    version = 0
    if has_meta and has_meta[0]:
        row = con.execute("SELECT value FROM meta WHERE key = ?", [SCHEMA_VERSION_KEY]).fetchone()
        version = int(row[0]) if row else 0
    for number, sql in _migrations():
        if number <= version:
            continue
        with transaction(con):
            con.execute(sql)
            con.execute(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)", [SCHEMA_VERSION_KEY, str(number)]
            )


def connect(
    path: Path, *, read_only: bool, config: dict[str, Any] | None = None
) -> duckdb.DuckDBPyConnection:
    import duckdb

    try:
        return duckdb.connect(str(path), read_only=read_only, config=config or {})
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            who = conflicting_holder(path, str(exc))
            raise StateLockedError(
                f"State file {path} is in use by {who}.",
                hint="While a daemon runs, commands go through its socket; otherwise wait for "
                "the other command to finish.",
            ) from None
        raise StateError(f"Cannot open state file {path}: {exc}") from exc


@contextlib.contextmanager
def open_for_write(path: Path, operation: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """Lock, open and migrate the state file for one writing operation."""
    lock = StateLock(path, operation)
    lock.acquire()
    try:
        con = connect(path, read_only=False)
        try:
            migrate(con)
            yield con
        finally:
            con.close()
    finally:
        lock.release()


@contextlib.contextmanager
def open_for_read(path: Path) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """Open read-only; yields ``None`` when no state exists yet (nothing applied)."""
    if not path.exists():
        yield None
        return
    con = connect(path, read_only=True)
    try:
        yield con
    finally:
        con.close()


def meta(con: duckdb.DuckDBPyConnection | None) -> dict[str, Any]:
    if con is None:
        return {}
    try:
        return dict(con.execute("SELECT key, value FROM meta").fetchall())
    except Exception:
        return {}
