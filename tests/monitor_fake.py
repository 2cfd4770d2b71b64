"""An in-memory ``MonitorSource`` with a fixed clock: for tests, snapshots and benchmarks.

It keeps the operations contract (filters, keyset paging, error analysis, actions) over plain
Python lists, so screens behave exactly as against the real operations. ``demo_source()`` builds
the seed 000 story: a Shopify store whose last executions failed items on unmapped SKUs and a
channel, a TrackStar integration failing authentication, a paused and a disabled integration.
"""

from __future__ import annotations

import copy
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tether.errors import NotFoundError, PermissionDeniedError
from tether.state.queries import ItemsQuery
from tether.tui.datasource import ACTION_ROLES, Progress, Row, role_allows

DEMO_NOW = datetime(2025, 3, 14, 12, 0, 0, tzinfo=UTC)
AGGREGATE = frozenset({"sales_history", "warehouse_inventory", "pricing", "sales_forecast"})


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class FakeSource:
    """Integrations, executions and items held in memory; actions mutate them like the engine."""

    now: datetime = DEMO_NOW
    integrations: list[Row] = field(default_factory=list)
    executions_: list[Row] = field(default_factory=list)  # any order
    items_: dict[int, list[Row]] = field(default_factory=dict)  # by execution, id order
    item_errors: dict[int, list[Row]] = field(default_factory=dict)  # by item id
    payloads: dict[int, Any] = field(default_factory=dict)
    details: dict[str, Row] = field(default_factory=dict)  # integration id -> extra detail
    role_: str | None = "operator"
    description_: str = "demo data (in memory)"
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    # -- MonitorSource -----------------------------------------------------------------------
    @property
    def description(self) -> str:
        return self.description_

    @property
    def role(self) -> str | None:
        return self.role_

    def status(self) -> Row:
        self.calls.append(("status", {}))
        return {
            "serial": 7,
            "lineage": "demo",
            "integrations": [self._row(i) for i in self.integrations],
        }

    def integration(self, integration_id: str) -> Row:
        self.calls.append(("integration", {"id": integration_id}))
        row = self._row(self._find(integration_id))
        row.update(copy.deepcopy(self.details.get(integration_id, {})))
        return row

    def executions(
        self, integration: str | None = None, *, limit: int = 50, before_id: int | None = None
    ) -> Row:
        self.calls.append(("executions", {"integration": integration, "before_id": before_id}))
        rows = sorted(self.executions_, key=lambda e: -int(e["id"]))
        if integration is not None:
            self._find(integration)
            rows = [e for e in rows if e["integration_id"] == integration]
        if before_id is not None:
            rows = [e for e in rows if e["id"] < before_id]
        page = rows[:limit]
        more = len(rows) > limit
        return {
            "executions": copy.deepcopy(page),
            "next_before_id": page[-1]["id"] if more and page else None,
        }

    def items(self, query: ItemsQuery) -> Row:
        execution_id, status, search = query.execution_id, query.status, query.search
        domain_type, after_id, limit = query.domain_type, query.after_id, query.limit
        self.calls.append(
            ("items", {"execution_id": execution_id, "status": status, "search": search})
        )
        rows = self.items_.get(execution_id, [])
        if status:
            rows = [r for r in rows if r["status"] == status]
        if domain_type:
            rows = [r for r in rows if r["domain_type"] == domain_type]
        if search:
            needle = search.lower()
            rows = [
                r
                for r in rows
                if needle in r["external_id"].lower()
                or needle in (r["error_message"] or "").lower()
            ]
        total = len(rows)
        if after_id is not None:
            rows = [r for r in rows if r["id"] > after_id]
        page = rows[:limit]
        more = len(rows) > limit
        return {
            "items": copy.deepcopy(page),
            "next_after_id": page[-1]["id"] if more and page else None,
            "total": total,
        }

    def items_count(self, query: ItemsQuery) -> Row:
        page = self.items(query.model_copy(update={"after_id": None, "limit": 10**9}))
        return {"total": page["total"], "total_capped": False}

    def item(self, execution_id: int, item_id: int) -> Row:
        self.calls.append(("item", {"execution_id": execution_id, "item_id": item_id}))
        for row in self.items_.get(execution_id, []):
            if row["id"] == item_id:
                return {
                    "item": copy.deepcopy(row),
                    "errors": copy.deepcopy(self.item_errors.get(item_id, [])),
                    "payload": copy.deepcopy(self.payloads.get(item_id)),
                }
        raise NotFoundError(f"Item {item_id} not found in execution {execution_id}.")

    def errors(self, execution_id: int) -> Row:
        self.calls.append(("errors", {"execution_id": execution_id}))
        errors = [
            (item, err)
            for item in self.items_.get(execution_id, [])
            for err in self.item_errors.get(item["id"], [])
        ]
        result: Row = {"scope": {"execution_id": execution_id}}
        for kind in ("sku", "channel", "warehouse"):
            counted = Counter(err[kind] for _, err in errors if err.get(kind))
            result[f"unmapped_{kind}s"] = [
                {kind: key, "items": n, "executions": 1} for key, n in counted.most_common()
            ]
        top = Counter((err["code"], err["message"]) for _, err in errors)
        result["top_errors"] = [
            {"code": code, "message": message, "count": n}
            for (code, message), n in top.most_common(10)
        ]
        result["ledger"] = copy.deepcopy(
            self.details.get(f"ledger:{execution_id}", {}).get("rows", [])
        )
        return result

    def sync(
        self, integration: str, *, dry_run: bool | None = None, progress: Progress | None = None
    ) -> Row:
        self._check("sync")
        self.calls.append(("sync", {"integration": integration, "dry_run": dry_run}))
        row = self._find(integration)
        run_id = max((int(e["run_id"]) for e in self.executions_), default=0) + 1
        made = []
        for domain in row["capabilities"]:
            execution = self._add_execution(
                integration,
                run_id,
                domain,
                "success",
                self.now,
                records=10,
                failed=0,
                trigger="manual",
                dry_run=bool(dry_run if dry_run is not None else row["dry_run"]),
            )
            if progress is not None:
                progress({"execution_id": execution["id"], "records_fetched": 10})
            made.append(copy.deepcopy(execution))
        return {"run_id": run_id, "queued": False, "executions": made, "remapped": {"items": 0}}

    def retry(self, integration: str, *, progress: Progress | None = None) -> Row:
        self._check("retry")
        self.calls.append(("retry", {"integration": integration}))
        self._find(integration)
        retried = 0
        for execution in self.executions_:
            if execution["integration_id"] != integration:
                continue
            for item in self.items_.get(execution["id"], []):
                if item["status"] in ("failed", "partial_mapped"):
                    retried += 1
        return {
            "run_id": max((int(e["run_id"]) for e in self.executions_), default=0) + 1,
            "items_retried": retried,
            "items_loaded": 0,
            "still_failed": retried,
            "executions": [],
        }

    def pause(self, integration: str, reason: str | None = None) -> Row:
        self._check("pause")
        self.calls.append(("pause", {"integration": integration, "reason": reason}))
        row = self._find(integration)
        row["paused"], row["paused_reason"] = True, reason
        return self._row(row)

    def resume(self, integration: str) -> Row:
        self._check("resume")
        self.calls.append(("resume", {"integration": integration}))
        row = self._find(integration)
        row["paused"], row["paused_reason"] = False, None
        return self._row(row)

    def reset(self, integration: str, confirm: str) -> Row:
        self._check("reset")
        self.calls.append(("reset", {"integration": integration, "confirm": confirm}))
        self._find(integration)
        if confirm != integration:
            raise NotFoundError(f"Confirmation '{confirm}' does not match '{integration}'.")
        gone = [e for e in self.executions_ if e["integration_id"] == integration]
        items = sum(len(self.items_.pop(e["id"], [])) for e in gone)
        self.executions_ = [e for e in self.executions_ if e["integration_id"] != integration]
        return {
            "integration": integration,
            "executions_deleted": len(gone),
            "items_deleted": items,
            "cursors_deleted": 1,
        }

    # -- building --------------------------------------------------------------------------
    def add_integration(self, row: Row, **detail: Any) -> Row:
        base: Row = {
            "enabled": True,
            "paused": False,
            "paused_reason": None,
            "dry_run": False,
            "cron": "0 0 0 * * *",
            "timezone": "UTC",
            "capabilities": [],
        }
        base.update(row)
        base.setdefault("name", base["id"])
        self.integrations.append(base)
        self.details[base["id"]] = detail
        return base

    def _add_execution(
        self,
        integration: str,
        run_id: int,
        domain: str,
        status: str,
        started: datetime,
        *,
        records: int,
        failed: int,
        skipped: int = 0,
        took: float = 42.0,
        trigger: str = "scheduled",
        dry_run: bool = False,
        error_code: str | None = None,
        error: str | None = None,
    ) -> Row:
        execution_id = max((int(e["id"]) for e in self.executions_), default=0) + 1
        running = status == "running"
        row: Row = {
            "id": execution_id,
            "run_id": run_id,
            "integration_id": integration,
            "domain_type": domain,
            "trigger": trigger,
            "status": status,
            "dry_run": dry_run,
            "full_resync": False,
            "started_at": iso(started),
            "finished_at": None if running else iso(started + timedelta(seconds=took)),
            "duration_s": None if running else took,
            "records_fetched": records,
            "success": 0 if dry_run else records - failed - skipped,
            "failed": failed,
            "skipped": skipped,
            "mapped": records - failed - skipped if dry_run else 0,
            "partial_mapped": 0,
            "rate_limit_wait_s": 0.0,
            "error_code": error_code,
            "error": error,
        }
        self.executions_.append(row)
        return row

    def add_items(
        self, execution: Row, specs: list[tuple[str, str | None, dict[str, Any]]]
    ) -> None:
        """Items for an execution: (status, error message or None, error fields) per item."""
        rows = self.items_.setdefault(execution["id"], [])
        aggregate = execution["domain_type"] in AGGREGATE
        next_id = 1 + max((r["id"] for rs in self.items_.values() for r in rs), default=0)
        fetched = datetime.fromisoformat(execution["started_at"].replace("Z", "+00:00"))
        for n, (status, message, fields) in enumerate(specs):
            item_id = next_id + n
            external = fields.pop("external_id", None) or _external_id(execution, n)
            records = int(fields.pop("records", 250 if aggregate else 1))
            row: Row = {
                "id": item_id,
                "execution_id": execution["id"],
                "domain_type": execution["domain_type"],
                "external_id": external,
                "status": status,
                "error_code": fields.get("code"),
                "error_message": message,
                "fetched_at": iso(fetched + timedelta(milliseconds=40 * n)),
                "records": records,
                "aggregate": aggregate,
            }
            rows.append(row)
            if message:
                breakdown = fields.pop("breakdown", None) or [dict(fields, message=message)]
                self.item_errors[item_id] = [
                    {
                        "external_id": e.get("line", external),
                        "code": e.get("code", "UNMAPPED_SKU"),
                        "message": e["message"],
                        "sku": e.get("sku"),
                        "channel": e.get("channel"),
                        "warehouse": e.get("warehouse"),
                    }
                    for e in breakdown
                ]
                self.payloads[item_id] = {"external_id": external, **fields.get("payload", {})}

    def _row(self, row: Row) -> Row:
        out = copy.deepcopy(row)
        mine = sorted(
            (e for e in self.executions_ if e["integration_id"] == row["id"]),
            key=lambda e: int(e["id"]),
        )
        last = mine[-1] if mine else None
        out["last_sync"] = (
            None
            if last is None
            else {
                "execution_id": last["id"],
                "run_id": last["run_id"],
                "started_at": last["started_at"],
                "finished_at": last["finished_at"],
                "status": last["status"],
                "domain_type": last["domain_type"],
            }
        )
        out["recent"] = [e["status"] for e in mine[-10:]]
        active = out["enabled"] and not out["paused"]
        out["next_sync"] = out.get("next_sync") if active else None
        out.setdefault("overdue", False)
        out["health"] = self._health(out, mine)
        return out

    def _health(self, row: Row, mine: list[Row]) -> Row:
        """The real health rule over the fake's executions (the daemon's ``status`` does this)."""
        from tether.engine.health import Health, Inputs, assess

        latest: dict[str, int] = {}
        for e in mine:
            if e["status"] != "running":
                latest[str(e["domain_type"])] = int(e["id"])
        unmapped: dict[tuple[str, str, str], set[int]] = {}
        for domain, execution_id in latest.items():
            for item in self.items_.get(execution_id, []):
                for error in self.item_errors.get(int(item["id"]), []):
                    code = str(error.get("code"))
                    key = error.get("sku") or error.get("channel") or error.get("warehouse")
                    if code.startswith("UNMAPPED_") and key:
                        unmapped.setdefault((domain, code, str(key)), set()).add(int(item["id"]))
        inputs = Inputs(
            executions=list(reversed(mine)),
            unmapped=[(d, c, k, len(n)) for (d, c, k), n in sorted(unmapped.items())],
            overdue=bool(row.get("overdue")),
        )
        return Health(str(row["id"]), tuple(assess(inputs)), self.now).to_doc()

    def _find(self, integration: str) -> Row:
        for row in self.integrations:
            if row["id"] == integration:
                return row
        raise NotFoundError(f"No integration '{integration}' in the applied state.")

    def _check(self, action: str) -> None:
        needed = ACTION_ROLES[action]
        if not role_allows(self.role_, needed):
            raise PermissionDeniedError(action, str(self.role_), needed)


def _external_id(execution: Row, n: int) -> str:
    domain = execution["domain_type"]
    if domain in ("sales_orders", "pending_sales"):
        return f"gid://shopify/Order/{5_100_000 + execution['id'] * 10_000 + n}"
    if domain in AGGREGATE:
        return f"page-{n + 1:04d}"
    return f"SKU-{n:05d}"


def demo_source(now: datetime = DEMO_NOW, *, role: str | None = "operator") -> FakeSource:
    """The seed 000 triage story, deterministic (fixed clock, seeded numbers)."""
    rnd = random.Random(7)
    src = FakeSource(now=now, role_=role)
    hours = timedelta(hours=1)

    src.add_integration(
        {
            "id": "shopify_us",
            "name": "Shopify US",
            "service": "shopify",
            "cron": "0 0 */6 * * *",
            "timezone": "America/New_York",
            "capabilities": ["sales_orders", "products"],
            "next_sync": "2025-03-14T18:00:00Z",
        },
        settings={"history_days": 365, "base_url": "http://127.0.0.1:8611"},
        credentials_ref="secrets/shopify_us.sops.yaml",
        credentials_fields=["store_url", "access_token"],
        next_fire_times=[
            "2025-03-14T14:00:00-04:00",
            "2025-03-14T20:00:00-04:00",
            "2025-03-15T00:00:00-04:00",
            "2025-03-15T06:00:00-04:00",
            "2025-03-15T12:00:00-04:00",
        ],
        source_path="integrations/shopify_us.yaml",
    )
    failed_trend = [0, 0, 0, 0, 0, 0, 3, 12]
    for n, failed in enumerate(failed_trend):
        started = now - (len(failed_trend) - n) * 6 * hours + timedelta(minutes=2)
        status = "partial" if failed else "success"
        run_id = 100 + n
        src._add_execution(
            "shopify_us",
            run_id,
            "products",
            "success",
            started,
            records=200 + rnd.randrange(20),
            failed=0,
            took=8.0 + rnd.random(),
        )
        src._add_execution(
            "shopify_us",
            run_id,
            "sales_orders",
            status,
            started,
            records=1150 + rnd.randrange(100),
            failed=failed,
            took=40.0 + rnd.randrange(10),
        )
    last = src._add_execution(
        "shopify_us",
        108,
        "sales_orders",
        "partial",
        now - 2 * hours,
        records=1200,
        failed=57,
        skipped=3,
        took=51.3,
    )
    specs: list[tuple[str, str | None, dict[str, Any]]] = []
    for n in range(1200):
        if n % 21 == 5 and sum(1 for s in specs if s[0] == "failed") < 52:
            sku = "UNMAPPED-001" if n % 2 else "UNMAPPED-002"
            msg = f"Unmapped SKU '{sku}': no mapping for this external id; add it to mappings/skus.csv"
            specs.append(("failed", msg, {"code": "UNMAPPED_SKU", "sku": sku}))
        elif n % 240 == 17:
            msg = "Unmapped channel 'tiktok_shop': add it to mappings/channels.csv"
            specs.append(("failed", msg, {"code": "UNMAPPED_CHANNEL", "channel": "tiktok_shop"}))
        elif n in (30, 31, 32):
            specs.append(("skipped", None, {}))
        else:
            specs.append(("success", None, {}))
    src.add_items(last, specs)
    tally = Counter(status for status, _, _ in specs)
    last.update(failed=tally["failed"], skipped=tally["skipped"], success=tally["success"])
    src.details["ledger:" + str(last["id"])] = {
        "rows": [
            {
                "code": "UNMAPPED_SKU",
                "key": "UNMAPPED-001",
                "state": "persisting",
                "first_seen_execution": last["id"] - 4,
                "last_seen_execution": last["id"],
                "items": 26,
            },
            {
                "code": "UNMAPPED_SKU",
                "key": "UNMAPPED-002",
                "state": "new",
                "first_seen_execution": last["id"],
                "last_seen_execution": last["id"],
                "items": 26,
            },
            {
                "code": "UNMAPPED_CHANNEL",
                "key": "tiktok_shop",
                "state": "persisting",
                "first_seen_execution": last["id"] - 2,
                "last_seen_execution": last["id"],
                "items": 5,
            },
            {
                "code": "UNMAPPED_SKU",
                "key": "OLD-SKU-9",
                "state": "resolved",
                "first_seen_execution": last["id"] - 6,
                "last_seen_execution": last["id"] - 4,
                "items": 0,
            },
        ]
    }

    src.add_integration(
        {
            "id": "bigquery_sales",
            "name": "BigQuery sales history",
            "service": "bigquery",
            "capabilities": ["sales_history"],
            "next_sync": iso(now + 12 * hours),
        },
        settings={
            "queries": {
                "sales_history": {
                    "sql": "SELECT order_date, sku, channel, quantity FROM sales.daily "
                    "WHERE updated_at > @cursor",
                    "cursor_column": "updated_at",
                }
            },
            "private_key_id": "should-never-show-3f9a",
        },
        credentials_ref="secrets/bigquery_sales.sops.yaml",
        credentials_fields=["project_id", "service_account_json"],
        next_fire_times=[iso(now + (12 + 24 * d) * hours) for d in range(5)],
        source_path="integrations/bigquery_sales.yaml",
    )
    for n in range(6):
        src._add_execution(
            "bigquery_sales",
            200 + n,
            "sales_history",
            "success",
            now - (6 - n) * 24 * hours + 12 * hours,
            records=5000,
            failed=0,
            took=30.0 + n,
        )
    agg = src._add_execution(
        "bigquery_sales",
        206,
        "sales_history",
        "partial",
        now - 12 * hours,
        records=1000,
        failed=0,
        took=31.0,
    )
    agg["partial_mapped"], agg["success"] = 250, 750
    src.add_items(
        agg,
        [
            ("success", None, {}),
            ("success", None, {}),
            (
                "partial_mapped",
                "3 of 250 records have unmapped SKUs",
                {
                    "code": "UNMAPPED_SKU",
                    "breakdown": [
                        {
                            "line": f"2025-03-13|UNMAPPED-00{k}|online_store",
                            "sku": f"UNMAPPED-00{k}",
                            "message": f"Unmapped SKU 'UNMAPPED-00{k}'",
                        }
                        for k in (3, 4, 5)
                    ],
                },
            ),
            ("success", None, {}),
        ],
    )

    src.add_integration(
        {
            "id": "trackstar_wh",
            "name": "TrackStar warehouses",
            "service": "trackstar",
            "cron": "0 */30 * * * *",
            "capabilities": ["warehouse_inventory"],
            "next_sync": iso(now + timedelta(minutes=20)),
        },
        settings={"base_url": "http://127.0.0.1:8614"},
        credentials_ref="secrets/trackstar_wh.sops.yaml",
        credentials_fields=["api_key", "access_token"],
        next_fire_times=[iso(now + timedelta(minutes=20 + 30 * k)) for k in range(5)],
        source_path="integrations/trackstar_wh.yaml",
    )
    for n in range(7):
        ok = n < 4
        src._add_execution(
            "trackstar_wh",
            300 + n,
            "warehouse_inventory",
            "success" if ok else "failed",
            now - timedelta(minutes=30 * (7 - n) - 10),
            records=800 if ok else 0,
            failed=0,
            took=12.0 if ok else 0.4,
            error_code=None if ok else "AUTH_FAILED",
            error=None
            if ok
            else "Authentication failed: TrackStar answered 401 for the access "
            "token; rotate it in secrets/trackstar_wh.sops.yaml",
        )

    src.add_integration(
        {
            "id": "brewman_uk",
            "name": "Brewman UK",
            "service": "brewman",
            "paused": True,
            "paused_reason": "supplier migration",
            "capabilities": ["sales_orders", "warehouse_inventory"],
        },
        settings={"tenant_region": "uk"},
        credentials_ref="secrets/brewman_uk.sops.yaml",
        credentials_fields=["api_token", "tenant_id"],
        next_fire_times=[],
        source_path="integrations/brewman_uk.yaml",
    )
    src._add_execution(
        "brewman_uk",
        400,
        "sales_orders",
        "success",
        now - 3 * 24 * hours,
        records=90,
        failed=0,
        took=5.0,
    )
    src.add_integration(
        {
            "id": "redshift_fin",
            "name": "Redshift finance",
            "service": "redshift",
            "enabled": False,
            "dry_run": True,
            "capabilities": ["pricing"],
        },
        settings={"queries": {"pricing": {"sql": "SELECT * FROM prices", "cursor_column": "ts"}}},
        credentials_ref="secrets/redshift_fin.sops.yaml",
        credentials_fields=["host", "port", "database", "user", "password"],
        next_fire_times=[],
        source_path="integrations/redshift_fin.yaml",
    )
    return src


def large_source(integrations: int, now: datetime = DEMO_NOW) -> FakeSource:
    """Many integrations with a little history each (dashboard start-up benchmark)."""
    src = FakeSource(now=now)
    services = ["shopify", "bigquery", "redshift", "trackstar", "brewman"]
    for n in range(integrations):
        ident = f"int_{n:04d}"
        src.add_integration(
            {
                "id": ident,
                "name": f"Integration {n:04d}",
                "service": services[n % len(services)],
                "capabilities": ["sales_orders"],
                "next_sync": iso(now + timedelta(minutes=n % 360)),
            }
        )
        for k in range(3):
            src._add_execution(
                ident,
                n * 10 + k,
                "sales_orders",
                "failed" if (n + k) % 17 == 0 else "success",
                now - timedelta(hours=3 - k),
                records=100,
                failed=0,
                took=10.0,
            )
    return src
