"""The one seam for state transactions and ``audit_log`` rows.

A DuckDB connection has no transaction context manager of its own (``with con:`` closes the
connection, and ``con.begin()``/``con.commit()`` leave the error path to every caller), so each
writer used to spell out ``BEGIN`` … ``COMMIT`` with a ``ROLLBACK`` on failure. That boilerplate
lives here once, and so does the single ``INSERT INTO audit_log``: every module that writes the
state (engine, ops, state itself) goes through :func:`transaction` and :func:`audit`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb


@contextlib.contextmanager
def transaction(
    con: duckdb.DuckDBPyConnection, *, read_only: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run the block in one transaction on ``con`` and yield ``con``.

    The transaction commits when the block succeeds and rolls back on any exception (including
    ``KeyboardInterrupt`` and a failed ``COMMIT``), which is re-raised. A ``read_only``
    transaction (``BEGIN TRANSACTION READ ONLY``) cannot write, not even ``nextval``; it has
    nothing to commit, so it always ends with ``ROLLBACK``, which also ends it cleanly after a
    failed statement has aborted it (a ``COMMIT`` would raise there).
    """
    if read_only:
        con.execute("BEGIN TRANSACTION READ ONLY")
        try:
            yield con
        finally:
            con.execute("ROLLBACK")
        return
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def audit(
    con: duckdb.DuckDBPyConnection,
    actor: str,
    action: str,
    detail: dict[str, Any],
    *,
    integration_id: str | None = None,
) -> None:
    """Write one ``audit_log`` row: who did what (to which integration), with a JSON detail.

    Values JSON cannot hold (datetimes are native to orjson; anything else) are written as their
    ``str``. The row joins whatever transaction ``con`` is in.
    """
    import orjson

    con.execute(
        "INSERT INTO audit_log (actor, action, integration_id, detail) VALUES (?, ?, ?, ?)",
        [actor, action, integration_id, orjson.dumps(detail, default=str).decode()],
    )
