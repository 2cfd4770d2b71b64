"""tether.state.store: the one transaction and audit_log seam, on a real DuckDB state file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import orjson
import pytest

from tether.state.db import migrate
from tether.state.store import audit, transaction


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "state.duckdb"
    con = duckdb.connect(str(path))
    try:
        migrate(con)
        con.execute("CREATE TABLE t (n INTEGER)")
    finally:
        con.close()
    yield path


def _rows(path: Path) -> list[tuple[int]]:
    # a new connection: only what was committed to the file is seen
    con = duckdb.connect(str(path), read_only=True)
    try:
        return [(int(r[0]),) for r in con.execute("SELECT n FROM t ORDER BY n").fetchall()]
    finally:
        con.close()


def test_a_transaction_commits_when_the_block_succeeds(state: Path) -> None:
    con = duckdb.connect(str(state))
    try:
        with transaction(con) as tx:
            assert tx is con
            con.execute("INSERT INTO t VALUES (1), (2)")
    finally:
        con.close()
    assert _rows(state) == [(1,), (2,)]


def test_an_exception_rolls_the_transaction_back_and_is_re_raised(state: Path) -> None:
    con = duckdb.connect(str(state))
    try:
        with pytest.raises(KeyError, match="boom"), transaction(con):
            con.execute("INSERT INTO t VALUES (1)")
            raise KeyError("boom")
        # the connection is usable again: no transaction is left open
        con.execute("INSERT INTO t VALUES (3)")
    finally:
        con.close()
    assert _rows(state) == [(3,)]


def test_a_failed_statement_rolls_back_what_the_block_wrote_before_it(state: Path) -> None:
    con = duckdb.connect(str(state))
    try:
        with pytest.raises(duckdb.CatalogException), transaction(con):
            con.execute("INSERT INTO t VALUES (1)")
            con.execute("INSERT INTO no_such_table VALUES (1)")
    finally:
        con.close()
    assert _rows(state) == []


def test_a_read_only_transaction_refuses_a_write(state: Path) -> None:
    con = duckdb.connect(str(state))
    try:
        with (
            pytest.raises(duckdb.TransactionException, match="read-only"),
            transaction(con, read_only=True),
        ):
            con.execute("INSERT INTO t VALUES (1)")
        with transaction(con, read_only=True):
            assert con.execute("SELECT count(*) FROM t").fetchone() == (0,)
    finally:
        con.close()
    assert _rows(state) == []


def test_audit_writes_one_row_with_the_json_detail_and_the_integration(state: Path) -> None:
    con = duckdb.connect(str(state))
    try:
        with transaction(con):
            audit(con, "alice", "pause", {"reason": "maintenance", "n": 2}, integration_id="shop")
            audit(con, "bob", "unlock", {"cleared": "pid 1"})
        rows = con.execute(
            "SELECT actor, action, integration_id, detail, logged_at IS NOT NULL "
            "FROM audit_log ORDER BY id"
        ).fetchall()
    finally:
        con.close()
    assert [r[:3] for r in rows] == [("alice", "pause", "shop"), ("bob", "unlock", None)]
    assert orjson.loads(rows[0][3]) == {"reason": "maintenance", "n": 2}
    assert orjson.loads(rows[1][3]) == {"cleared": "pid 1"}
    assert all(r[4] for r in rows)


def test_audit_writes_values_json_cannot_hold_as_text(state: Path) -> None:
    con = duckdb.connect(str(state))
    try:
        audit(con, "alice", "sync", {"path": Path("/x/y")}, integration_id="shop")
        detail = con.execute("SELECT detail FROM audit_log").fetchone()
    finally:
        con.close()
    assert detail is not None
    assert orjson.loads(detail[0]) == {"path": "/x/y"}


def test_an_audit_row_rolls_back_with_its_transaction(state: Path) -> None:
    con = duckdb.connect(str(state))
    try:
        with pytest.raises(RuntimeError), transaction(con):
            audit(con, "alice", "apply", {"serial": 1})
            raise RuntimeError
        assert con.execute("SELECT count(*) FROM audit_log").fetchone() == (0,)
    finally:
        con.close()
