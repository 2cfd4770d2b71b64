"""One integration: its configuration (never secrets), schedule with the next five fire times,
health, and its executions newest first (seed 000, diagnostic step 2)."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Footer, Header, Static

from tether.errors import TetherError
from tether.tui import format as fmt
from tether.tui.datasource import Row
from tether.tui.screens.base import INTEGRATION_BINDINGS, IntegrationActionsMixin, MonitorScreen
from tether.tui.widgets.action_bar import ActionBar
from tether.tui.widgets.fast_table import FastDataTable

PAGE = 50


class IntegrationScreen(IntegrationActionsMixin, MonitorScreen):
    HELP = "Configuration, schedule and executions of one integration; Enter opens an execution."
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("enter", "open", "Open", show=False),
        *INTEGRATION_BINDINGS,
        Binding("right_square_bracket", "more", "More", key_display="]", show=False),
        Binding("c", "copy_id", "Copy exec id", show=False),
    ]

    def __init__(self, integration_id: str, row: Row | None = None) -> None:
        super().__init__()
        self.integration_id = integration_id
        self.row: Row | None = row
        self.executions: list[Row] = []
        self.next_before_id: int | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="info"):
            with VerticalScroll(id="config-box"):
                yield Static("Loading…", id="config")
            with VerticalScroll(id="schedule-box"):
                yield Static("", id="schedule")
        yield ActionBar(id="actions")
        table: DataTable[Any] = FastDataTable(
            id="executions", cursor_type="row", zebra_stripes=True
        )
        yield table
        yield Static("", id="paging")
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"Integration {self.integration_id}"
        table = self.query_one("#executions", DataTable)
        for label, key in (
            ("Status", "status"),
            ("Domain type", "domain"),
            ("Started at", "started"),
            ("Duration", "duration"),
            ("Fetched", "fetched"),
            ("Success", "success"),
            ("Failed", "failed"),
            ("Skipped", "skipped"),
            ("Run", "run"),
            ("Trigger", "trigger"),
            ("Exec", "id"),
        ):
            table.add_column(label, key=key)
        table.focus()
        self.refresh_data()

    def refresh_data(self) -> None:
        self.load()

    @work(exclusive=True, group="load")
    async def load(self) -> None:
        # Keep as many executions as are on screen (the user may have paged further).
        limit = max(PAGE, len(self.executions))
        try:
            detail, page = await self.fetch(self._read, limit)
        except TetherError as exc:
            self.report_problem(exc)
            return
        self.row = detail
        self.executions = list(page.get("executions", []))
        self.next_before_id = page.get("next_before_id")
        self.show_info()
        self.show_executions()

    def _read(self, limit: int) -> tuple[Row, Row]:
        detail = self.source.integration(self.integration_id)
        page = self.source.executions(self.integration_id, limit=limit)
        return detail, page

    @work(exclusive=True, group="more")
    async def action_more(self) -> None:
        if self.next_before_id is None:
            return
        try:
            page = await self.fetch(
                self.source.executions,
                self.integration_id,
                limit=PAGE,
                before_id=self.next_before_id,
            )
        except TetherError as exc:
            self.report_problem(exc)
            return
        self.executions.extend(page.get("executions", []))
        self.next_before_id = page.get("next_before_id")
        self.show_executions()

    # -- rendering -------------------------------------------------------------------------------
    def show_info(self) -> None:
        row = self.row or {}
        palette, now = self.palette, self.now()
        config = Text()
        config.append(f"{row.get('name', self.integration_id)}\n", style="bold")
        config.append(f"{self.integration_id} · {row.get('service', '')}\n")
        config.append("State        ")
        config.append_text(fmt.state_badge(row, palette))
        if row.get("paused"):
            config.append(f" ({row.get('paused_reason') or 'no reason given'})", palette.warning)
        config.append("\n")
        config.append(f"Dry run      {'yes: nothing is saved' if row.get('dry_run') else 'no'}\n")
        config.append(f"Capabilities {', '.join(row.get('capabilities') or []) or '—'}\n")
        fields = ", ".join(row.get("credentials_fields") or [])
        config.append(f"Credentials  {row.get('credentials_ref') or '—'}")
        config.append(f" ({fields}; values hidden)\n" if fields else "\n")
        if row.get("source_path"):
            config.append(f"Defined in   {row['source_path']}\n")
        settings = fmt.settings_lines(row.get("settings") or {})
        if settings:
            config.append("Settings\n")
            config.append("\n".join(f"  {line}" for line in settings))
        self.query_one("#config", Static).update(config)

        schedule = Text()
        tz = str(row.get("timezone") or "UTC")
        schedule.append("Schedule     ", style="bold")
        schedule.append(f"{row.get('cron', '—')}  ({tz})\n")
        last = row.get("last_sync")
        schedule.append("Last sync    ")
        if last:
            schedule.append_text(fmt.status_badge(last.get("status"), palette))
            schedule.append(
                f" {fmt.relative(last.get('started_at'), now)} · {last.get('domain_type')}"
                f" · exec {last.get('execution_id')}\n"
            )
        else:
            schedule.append("never\n", style=palette.muted)
        schedule.append("Next sync    ")
        if row.get("next_sync"):
            schedule.append(f"{fmt.relative(row['next_sync'], now)}\n")
        else:
            why = "disabled" if not row.get("enabled", True) else "paused"
            schedule.append(f"none ({why})\n", style=palette.muted)
        flags = (row.get("health") or {}).get("flags") or []
        schedule.append("Health       ")
        if flags:
            for n, flag in enumerate(flags):
                schedule.append(" " * 13 if n else "")
                schedule.append(f"⚠ {flag['message']}\n", style=palette.error)
        else:
            schedule.append("✔ healthy\n", style=palette.success)
        self._completeness(schedule, row.get("verify") or [], now)
        fire_times = row.get("next_fire_times") or []
        if fire_times:
            schedule.append("Next fire times\n")
            for ts in fire_times[:5]:
                schedule.append(f"  {fmt.local_time(ts, tz)}  {fmt.relative(ts, now)}\n")
        self.query_one("#schedule", Static).update(schedule)
        self.query_one("#actions", ActionBar).show(self)

    def _completeness(self, text: Text, checks: list[Row], now: Any) -> None:
        """The newest `tether verify` result per capability: source vs state counts (nothing
        until the integration has been verified once)."""
        palette = self.palette
        if not checks:
            return
        text.append("Completeness ")
        for n, check in enumerate(checks):
            text.append(" " * 13 if n else "")
            status = str(check.get("status"))
            source, state = check.get("source_count"), check.get("state_count")
            counts = f"{source} at source, {state} in state" if source is not None else ""
            when = fmt.relative(check.get("checked_at"), now)
            if status == "match":
                text.append(f"✔ {check['domain_type']}: {counts}", style=palette.success)
            elif status == "not_countable":
                text.append(f"– {check['domain_type']}: not countable", style=palette.muted)
            else:
                label = {"missing": "records missing", "extra": "extra records"}.get(status, status)
                text.append(f"⚠ {check['domain_type']}: {label} — {counts or check.get('message')}",
                            style=palette.error)  # fmt: skip
            text.append(f" · {when}\n", style=palette.muted)

    def show_executions(self) -> None:
        table = self.query_one("#executions", DataTable)
        keep = None
        if table.row_count:
            keep = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        table.clear()
        palette = self.palette
        tz = str((self.row or {}).get("timezone") or "UTC")
        for e in self.executions:
            label = f"{e['status']} DRY" if e.get("dry_run") else None
            table.add_row(
                fmt.status_badge(e.get("status"), palette, label=label),
                e.get("domain_type", ""),
                fmt.local_time(e.get("started_at"), tz)[:16],
                fmt.duration(e.get("duration_s")),
                Text(fmt.count(e.get("records_fetched")), justify="right"),
                Text(fmt.count(e.get("success")), justify="right"),
                Text(
                    fmt.count(e.get("failed")),
                    justify="right",
                    style=palette.error if e.get("failed") else "",
                ),
                Text(fmt.count(e.get("skipped")), justify="right"),
                str(e.get("run_id", "")),
                fmt.trigger(e),
                str(e["id"]),
                key=str(e["id"]),
            )
        if keep is not None:
            for index, e in enumerate(self.executions):
                if str(e["id"]) == keep:
                    table.move_cursor(row=index, animate=False)
        more = " · ] or scroll down for older" if self.next_before_id is not None else ""
        count = len(self.executions)
        self.query_one("#paging", Static).update(
            f"{count} execution{'s' if count != 1 else ''} shown, newest first{more}"
            if count
            else "No executions yet: press t to trigger a sync."
        )

    def highlighted(self) -> Row | None:
        table = self.query_one("#executions", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((e for e in self.executions if str(e["id"]) == key), None)

    # -- events and actions ------------------------------------------------------------------
    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.cursor_row >= event.data_table.row_count - 1 and self.next_before_id is not None:
            self.action_more()

    def action_open(self) -> None:
        from tether.tui.screens.execution import ExecutionScreen

        execution = self.highlighted()
        if execution is not None:
            self.app.push_screen(ExecutionScreen(execution, self.row))

    def action_copy_id(self) -> None:
        execution = self.highlighted()
        if execution is not None:
            self.app.copy_to_clipboard(str(execution["id"]))
            self.notify(f"Copied execution id {execution['id']}")

    def action_target(self) -> Row | None:
        return self.row or {"id": self.integration_id}

    def after_action(self) -> None:
        self.refresh_data()
