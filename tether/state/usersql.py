"""User SQL (`tether sql`): reads the state and nothing else.

Two gates. First DuckDB's own parser: exactly one SELECT or EXPLAIN statement, so COPY, ATTACH,
INSTALL/LOAD, SET/RESET/PRAGMA, EXPORT/IMPORT, CALL and stacked statements are refused with a
line saying why. Then DuckDB itself: the connection user SQL runs on has
``enable_external_access = false``, so a file reader hidden in a SELECT (``read_text``,
``read_csv``, ``glob``, ``'/path'`` as a table, a CTE or subquery around them, or a function
nobody listed here) is refused by the engine, not by a list we keep.

Without a daemon the connection is opened read-only for the one query with that setting and
``lock_configuration = true`` (nothing the query does can turn it back on). The daemon keeps one
read-write instance for its writers, which change ``memory_limit`` during syncs and so cannot
lock the configuration; it turns external access off for the whole instance at start (DuckDB
refuses to turn it back on while the database runs: "Cannot enable external access while
database is running") and runs user SQL in a ``READ ONLY`` transaction on its own cursor.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tether.errors import QueryRefusedError, StateError, TetherError
from tether.state import store

if TYPE_CHECKING:
    import duckdb

LOCKED_CONFIG = {"enable_external_access": False, "lock_configuration": True}
"""The connection settings user SQL runs under when it has a connection of its own."""

READ_ONLY_STATEMENTS = frozenset({"SELECT", "EXPLAIN"})

_WHY = {
    "COPY": "COPY reads or writes files",
    "COPY_DATABASE": "COPY FROM DATABASE writes another database",
    "ATTACH": "ATTACH opens another database file",
    "DETACH": "DETACH changes the attached databases",
    "LOAD": "INSTALL and LOAD add extensions",
    "SET": "SET and RESET change settings",
    "VARIABLE_SET": "SET and RESET change settings",
    "PRAGMA": "PRAGMA and IMPORT DATABASE change settings or read files",
    "EXPORT": "EXPORT DATABASE writes files",
    "CALL": "CALL runs table functions and pragmas outside a SELECT",
    "TRANSACTION": "transaction control is tether's own",
    "CREATE": "CREATE changes the state",
    "CREATE_FUNC": "CREATE changes the state",
    "INSERT": "INSERT changes the state",
    "UPDATE": "UPDATE changes the state",
    "DELETE": "DELETE changes the state",
    "DROP": "DROP changes the state",
    "ALTER": "ALTER changes the state",
    "MERGE_INTO": "MERGE changes the state",
    "VACUUM": "VACUUM changes the state",
    "ANALYZE": "ANALYZE changes the state",
    "EXTENSION": "extensions are out of reach",
    "PREPARE": "prepared statements are not supported",
    "EXECUTE": "prepared statements are not supported",
    "MULTI": "this statement expands to several statements (PIVOT without ON values?)",
}


def check(query: str) -> str:
    """The one read-only statement in ``query``, or ``QueryRefusedError`` saying why not."""
    import duckdb

    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise TetherError(f"SQL error: {exc}") from None
    if not statements:
        raise TetherError("No SQL statement given.", hint='Example: tether sql "select 1"')
    if len(statements) > 1:
        raise QueryRefusedError(f"{len(statements)} statements given; run one at a time")
    kind = statements[0].type.name.removesuffix("_STATEMENT")
    if kind not in READ_ONLY_STATEMENTS:
        raise QueryRefusedError(_WHY.get(kind, f"this is a {kind} statement, not a SELECT"))
    return query


@contextlib.contextmanager
def open_locked(path: Path) -> Iterator[tuple[duckdb.DuckDBPyConnection | None, bool]]:
    """The state file for one query, with file access off and the settings locked.

    Yields the connection and whether it may write: it is opened read-write (holding the state
    lock) when the lock is free and the file writable, so the same connection records the
    ``audit_log`` row (one open instead of two); the query itself then runs in a ``READ ONLY``
    transaction (``read_only_transaction``). Otherwise it is opened read-only.
    """
    if not path.exists():
        yield None, False
        return
    from tether.errors import StateLockedError
    from tether.state.db import StateLock, connect

    lock: StateLock | None = StateLock(path, "sql")
    try:
        if not os.access(path, os.W_OK):
            raise PermissionError(path)
        assert lock is not None
        lock.acquire()
    except (StateLockedError, OSError):
        lock = None
    try:
        con = connect(path, read_only=lock is None, config=LOCKED_CONFIG)
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    try:
        yield con, lock is not None
    finally:
        con.close()
        if lock is not None:
            lock.release()


def audit(con: duckdb.DuckDBPyConnection, actor: str, query: str, error: Exception | None) -> None:
    """The ``audit_log`` row of one user statement: who, which, and whether it ran."""
    outcome = (
        "ok" if error is None else "refused" if isinstance(error, QueryRefusedError) else "error"
    )
    detail = {
        "statement": query[:AUDITED_STATEMENT_CHARS],
        "truncated": len(query) > AUDITED_STATEMENT_CHARS,
        "outcome": outcome,
    }
    store.audit(con, actor, "sql", detail)


AUDITED_STATEMENT_CHARS = 4000
"""How much of a user SQL statement audit_log keeps (the statement, never its results)."""


def forbid_external_access(con: duckdb.DuckDBPyConnection) -> None:
    """Turn file, network and extension access off for the whole instance (the daemon's)."""
    con.execute("SET enable_external_access = false")


@contextlib.contextmanager
def read_only_transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor whose transaction cannot write (not even ``nextval``), rolled back after."""
    cur = con.cursor()
    try:
        with store.transaction(cur, read_only=True):
            yield cur
    finally:
        cur.close()


def run(
    con: duckdb.DuckDBPyConnection, statement: str, limit: int | None
) -> tuple[list[str], list[str], list[tuple[Any, ...]]]:
    """Columns, their types and the rows of one checked statement."""
    import duckdb

    try:
        cursor = con.execute(statement)
        columns = [d[0] for d in cursor.description or []]
        types = [str(d[1]) for d in cursor.description or []]
        rows = cursor.fetchmany(limit) if limit else cursor.fetchall()
    except duckdb.PermissionException as exc:
        raise QueryRefusedError(
            f"the query reaches outside the state ({_first_line(exc)})"
        ) from None
    except duckdb.TransactionException as exc:
        raise QueryRefusedError(
            f"the query tries to change the state ({_first_line(exc)})"
        ) from None
    except duckdb.CatalogException as exc:
        found = _FILE_AS_TABLE.search(str(exc))
        if found and any(c in found.group(1) for c in "/."):
            raise QueryRefusedError(
                f"'{found.group(1)}' is a file, not a table of the state"
            ) from None
        raise TetherError(f"SQL error: {exc}") from None
    except duckdb.Error as exc:
        if "read-only mode" in str(exc):  # nextval() and friends on the read-only file
            raise QueryRefusedError(
                f"the query tries to change the state ({_first_line(exc)})"
            ) from None
        raise TetherError(f"SQL error: {exc}") from None
    return columns, types, rows


_FILE_AS_TABLE = re.compile(r"Table with name (.+?) does not exist")
"""DuckDB's answer to ``FROM '/path'`` once replacement scans (external access) are off."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def require_state(con: duckdb.DuckDBPyConnection | None) -> duckdb.DuckDBPyConnection:
    if con is None:
        raise StateError("No state yet.", hint="Run `tether apply` first.")
    return con
