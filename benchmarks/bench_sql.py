"""`tether sql` before and after issue 14's lockdown, in one run: ordinary SELECTs, same speed?

    python -m benchmarks.bench_sql [rows]     # default 1,000,000 rows in data.sales_orders

"before" is the previous code path (a plain read-only connection locally; a cursor of the
daemon's connection); "after" is the ``sql`` operation as users now run it: the parser check,
the locked connection (locally) or a READ ONLY transaction (daemon), and the audit_log row.
"after, no audit" separates the cost of the audit row from the cost of the locked connection.
Each figure is the median of 9, the variants interleaved so machine load hits them alike.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

QUERIES = {
    "count integrations": "select count(*) from integrations",
    "aggregate 1M orders": "select channel, count(*), sum(total) from data.sales_orders group by 1",
    "point lookup": "select * from data.sales_orders where external_id = 'o-777777'",
    "view": "select * from v_executions limit 50",
}
REPEATS = 9


def _workspace(root: Path, rows: int) -> Any:
    from tether.config.project import load_project
    from tether.state.db import open_for_write

    (root / "tether.toml").write_text('[project]\nname = "bench"\n')
    workspace = load_project(root)
    with open_for_write(workspace.state_path, "bench") as con:
        con.execute(
            "INSERT INTO data.sales_orders (integration_id, external_id, channel, total) "
            "SELECT 'shop', 'o-' || i, ['web', 'pos', 'b2b'][1 + i % 3], i % 1000 "
            "FROM range(?) t(i)",
            [rows],
        )
    return workspace


def main() -> None:
    import duckdb

    from tether import ops
    from tether.state import usersql
    from tether.state.db import open_for_read

    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        workspace = _workspace(Path(tmp), rows)
        path = workspace.state_path
        local = ops.Context(workspace, ops.LocalStateAccess(workspace), "bench", "admin")

        def local_before(q: str) -> None:
            with open_for_read(path) as con:
                assert con is not None
                con.execute(q).fetchall()

        def local_after_no_audit(q: str) -> None:
            with usersql.open_locked(path) as (con, _):
                usersql.run(usersql.require_state(con), usersql.check(q), None)

        def local_after(q: str) -> None:
            ops.run(local, "sql", {"query": q})

        variants: dict[str, Callable[[str], None]] = {
            "local before": local_before,
            "local after, no audit": local_after_no_audit,
            "local after": local_after,
        }
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(REPEATS):
            for qname, q in QUERIES.items():
                for vname, fn in variants.items():
                    started = time.perf_counter()
                    fn(q)
                    times.setdefault((qname, vname), []).append(time.perf_counter() - started)

        # The daemon's side: one read-write connection held open (as `tether daemon` does).
        con = duckdb.connect(str(path))
        shared_before = con.cursor()  # before: a cursor, external access on
        shared = ops.SharedStateAccess(con)  # after: external access off for the instance
        daemon = ops.Context(workspace, shared, "bench", "admin")

        def daemon_before(q: str) -> None:
            cur = shared_before.cursor()
            cur.execute(q).fetchall()
            cur.close()

        def daemon_after(q: str) -> None:
            ops.run(daemon, "sql", {"query": q})

        def daemon_after_no_audit(q: str) -> None:
            with shared.query() as cur:
                usersql.run(usersql.require_state(cur), usersql.check(q), None)

        for _ in range(REPEATS):
            for qname, q in QUERIES.items():
                for vname, fn in {
                    "daemon before": daemon_before,
                    "daemon after, no audit": daemon_after_no_audit,
                    "daemon after": daemon_after,
                }.items():
                    started = time.perf_counter()
                    fn(q)
                    times.setdefault((qname, vname), []).append(time.perf_counter() - started)
        con.close()

    names = list(dict.fromkeys(v for _, v in times))
    print(f"tether sql, {rows:,} orders; median of {REPEATS} ms (ratio to 'before' of its side)")
    print(f"{'query':22}" + "".join(f"{n:>24}" for n in names))
    for qname in QUERIES:
        cells = []
        for n in names:
            ms = statistics.median(times[(qname, n)]) * 1000
            side = "local before" if n.startswith("local") else "daemon before"
            base = statistics.median(times[(qname, side)]) * 1000
            cells.append(f"{ms:8.2f} ({ms / base:4.2f}x)")
        print(f"{qname:22}" + "".join(f"{c:>24}" for c in cells))


if __name__ == "__main__":
    main()
