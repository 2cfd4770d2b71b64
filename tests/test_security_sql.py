"""`tether sql` reads the state and nothing else: with a daemon and without (issue 14)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import WorkspaceBuilder, run_tether
from daemon_support import running_daemon, shop_workspace

SECRET_ENV = "TETHER_TEST_SECRET_ENV"
SECRET_ENV_VALUE = "env-secret-4b1d9c"


def escapes(ws: WorkspaceBuilder, outside: Path) -> list[str]:
    """Every way out we know of; each must be refused (the engine refuses the ones we do not)."""
    key = str(ws.key.path)
    return [
        f"select content from read_text('{key}')",
        f"select content from read_blob('{key}')",
        "select * from read_csv('/etc/passwd')",
        f"select * from read_json('{outside}/x.json')",
        f"select * from read_parquet('{outside}/x.parquet')",
        f"select * from '{key}'",
        "select * from '/etc/passwd'",
        "select * from glob('/*')",
        "select * from read_text('/proc/self/environ')",
        f"with k as (select content from read_text('{key}')) select * from k",
        f"select (select content from read_text('{key}')) as c",
        "select * from integrations where id in (select content from read_text('/etc/hostname'))",
        f"select * from sniff_csv('{key}')",
        f"copy integrations to '{outside}/out.csv'",
        f"copy (select 1) to '{outside}/out.csv'",
        f"attach '{outside}/other.duckdb' as other",
        "install httpfs",
        "load httpfs",
        "set enable_external_access = true",
        "reset enable_external_access",
        "pragma enable_profiling",
        f"export database '{outside}/dump'",
        f"import database '{outside}/dump'",
        "call pragma_version()",
        "select 1; select 2",
        "select nextval('audit_id_seq')",
        "delete from integrations",
    ]


ORDINARY = [
    ("select id, service from main.integrations", [["shop", "fake"]]),
    ("select count(*) from data.sales_orders", [[10]]),
    ("select count(*) > 0 from v_executions", [[True]]),
    ("with s as (select 1 as a) select a from s", [[1]]),
]


def sql(root: Path, statement: str) -> tuple[int, str, str]:
    result = run_tether("-w", str(root), "sql", statement, "--format", "json")
    return result.exit_code, result.stdout, result.stderr


def check_refused(ws: WorkspaceBuilder, outside: Path) -> None:
    key_material = ws.key.path.read_text().strip().splitlines()[-1]
    assert key_material.startswith("AGE-SECRET-KEY-")
    for statement in escapes(ws, outside):
        code, out, err = sql(ws.root, statement)
        assert code == 1, (statement, out, err)
        assert out == "", statement
        first = err.strip().splitlines()[0]
        assert first.startswith("Error: Refused: "), (statement, err)
        assert "read-only SQL over the state" in first, statement
        for leaked in (key_material, SECRET_ENV_VALUE, "root:x:0:0"):
            assert leaked not in out + err, statement
    assert sorted(p.name for p in outside.iterdir()) == ["x.json", "x.parquet"]


def check_ordinary(ws: WorkspaceBuilder) -> None:
    for statement, rows in ORDINARY:
        code, out, err = sql(ws.root, statement)
        assert code == 0, (statement, err)
        assert [list(r.values()) for r in json.loads(out)] == rows, statement


@pytest.fixture
def applied(
    workspace: WorkspaceBuilder, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> tuple[WorkspaceBuilder, Path]:
    shop_workspace(workspace, monkeypatch)
    assert run_tether("-w", str(workspace.root), "sync", "shop").exit_code == 0
    monkeypatch.setenv(SECRET_ENV, SECRET_ENV_VALUE)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.json").write_text('{"a": 1}')
    import duckdb

    duckdb.execute(f"copy (select 1 as a) to '{outside}/x.parquet'")
    return workspace, outside


def test_without_a_daemon_only_the_state_is_readable(
    applied: tuple[WorkspaceBuilder, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    ws, outside = applied
    monkeypatch.setenv("TETHER_NO_DAEMON", "1")
    check_refused(ws, outside)
    check_ordinary(ws)
    audit = ws.query(
        "SELECT actor, detail->>'statement', detail->>'outcome' FROM audit_log "
        "WHERE action = 'sql' ORDER BY id"
    )
    statements = escapes(ws, outside)
    assert [a[1] for a in audit] == statements + [s for s, _ in ORDINARY]
    assert {a[2] for a in audit[: len(statements)]} == {"refused"}
    assert {a[2] for a in audit[len(statements) :]} == {"ok"}


def test_through_the_daemon_only_the_state_is_readable(
    applied: tuple[WorkspaceBuilder, Path],
) -> None:
    ws, outside = applied
    os.environ.pop("TETHER_NO_DAEMON", None)
    with running_daemon(ws):
        check_refused(ws, outside)
        check_ordinary(ws)
        # The daemon's own work still runs with file access off: a sync writes as before.
        assert run_tether("-w", str(ws.root), "sync", "shop").exit_code == 0
    audit = ws.query(
        "SELECT detail->>'statement', detail->>'outcome' FROM audit_log "
        "WHERE action = 'sql' ORDER BY id"
    )
    statements = escapes(ws, outside)
    assert [a[0] for a in audit] == statements + [s for s, _ in ORDINARY]
    assert [a[1] for a in audit] == ["refused"] * len(statements) + ["ok"] * len(ORDINARY)
    key_material = ws.key.path.read_text().strip().splitlines()[-1]
    assert key_material not in json.dumps(ws.query("SELECT * FROM audit_log"), default=str)
    assert ws.query("SELECT count(*) FROM integrations") == [(1,)]
