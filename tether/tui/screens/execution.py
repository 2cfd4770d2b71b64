"""One execution: summary and statistics, the error-analysis panel, and its sync items filtered by
status / search / domain type with keyset paging (seed 000, diagnostic steps 3 and 4)."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import Resize
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Header, Input, Select, Static

from tether.errors import TetherError
from tether.state.queries import ItemsQuery
from tether.tui import format as fmt
from tether.tui.datasource import Row, execution_by_id
from tether.tui.screens.base import INTEGRATION_BINDINGS, IntegrationActionsMixin, MonitorScreen
from tether.tui.widgets.fast_table import FastDataTable

PAGE = 50
WIDE = 120  # columns from which the error analysis sits beside the items
ITEM_STATUSES = ("failed", "partial_mapped", "success", "mapped", "skipped", "processing")
LIVE = ("running", "processing")
ERROR_WIDTH = 72  # in the table; the item screen shows the whole message


class ExecutionScreen(IntegrationActionsMixin, MonitorScreen):
    HELP = (
        "Summary, statistics and error analysis of one execution, and its sync items. "
        "Filters update as you type; Enter opens an item's per-record errors."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("enter", "open", "Open item", show=False),
        Binding("f", "failed_only", "Failed only"),
        Binding("slash", "search", "Search", key_display="/"),
        Binding("e", "analysis", "Error analysis"),
        Binding("right_square_bracket", "next_page", "Next page", key_display="]"),
        Binding("left_square_bracket", "previous_page", "Prev page", key_display="["),
        Binding("x", "clear_filters", "Clear filters", show=False),
        Binding("c", "copy_external_id", "Copy external id", show=False),
        Binding("i", "copy_execution_id", "Copy execution id", show=False),
        *INTEGRATION_BINDINGS,
    ]

    def __init__(self, execution: Row, integration: Row | None = None) -> None:
        super().__init__()
        self.execution = execution
        self.integration = integration or {"id": execution["integration_id"]}
        self.query_state = ItemsQuery(execution_id=int(execution["id"]), limit=PAGE)
        self.pages: list[int | None] = [None]  # after_id of each page seen, for going back
        self.items: list[Row] = []
        self.next_after_id: int | None = None
        self.total: int | None = 0
        self.total_capped = False
        self.analysis: Row | None = None
        self._search_timer: Timer | None = None
        self.analysis_open = False

    @property
    def execution_id(self) -> int:
        return int(self.execution["id"])

    def compose(self) -> ComposeResult:
        domains = sorted(
            {self.execution.get("domain_type", ""), *self.integration.get("capabilities", [])}
            - {""}
        )
        yield Header()
        yield Static("", id="exec-summary")
        with Horizontal(id="body"):
            with Vertical(id="items-pane"):
                with Horizontal(id="filters"):
                    yield Select(
                        [(s, s) for s in ITEM_STATUSES],
                        prompt="any status",
                        id="status",
                        compact=True,
                    )
                    yield Input(
                        placeholder="search external id or error…", id="search", compact=True
                    )
                    yield Select(
                        [(d, d) for d in domains], prompt="any domain", id="domain", compact=True
                    )
                table: DataTable[Any] = FastDataTable(
                    id="items", cursor_type="row", zebra_stripes=True
                )
                yield table
                yield Static("", id="items-paging")
            with VerticalScroll(id="analysis-pane"):
                yield Static("Loading error analysis…", id="analysis")
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"Execution {self.execution_id} · {self.execution.get('integration_id')}"
        table = self.query_one("#items", DataTable)
        for label, key in (
            ("Status", "status"),
            ("External ID", "external"),
            ("Error message", "error"),
            ("Fetched at", "fetched"),
            ("Domain type", "domain"),
            ("Records", "records"),
        ):
            table.add_column(label, key=key)
        table.focus()
        self.show_summary()
        self.load_items()
        self.load_analysis()

    def on_resize(self, event: Resize) -> None:
        self.set_class(event.size.width < WIDE, "-narrow")
        self._apply_layout()

    def _apply_layout(self) -> None:
        narrow = self.has_class("-narrow")
        self.query_one("#analysis-pane").display = self.analysis_open or not narrow
        self.query_one("#items-pane").display = not (narrow and self.analysis_open)

    # -- loading ---------------------------------------------------------------------------------
    def refresh_data(self) -> None:
        self.load_summary()
        if self.execution.get("status") in LIVE:
            self.load_items(keep_page=True)
            self.load_analysis()

    @work(exclusive=True, group="summary")
    async def load_summary(self) -> None:
        try:
            fresh = await self.fetch(
                execution_by_id,
                self.source,
                str(self.execution["integration_id"]),
                self.execution_id,
            )
        except TetherError as exc:
            self.report_problem(exc)
            return
        if fresh is not None:
            was_live = self.execution.get("status") in LIVE
            self.execution = fresh
            self.show_summary()
            if was_live and fresh.get("status") not in LIVE:  # just finished: final numbers
                self.load_items(keep_page=True)
                self.load_analysis()

    @work(exclusive=True, group="items")
    async def load_items(self, keep_page: bool = False) -> None:
        query = self.query_state
        if not keep_page:
            query = query.model_copy(update={"after_id": self.pages[-1]})
        try:
            page = await self.fetch(self.source.items, query)
        except TetherError as exc:
            self.report_problem(exc)
            return
        self.items = list(page.get("items", []))
        self.next_after_id = page.get("next_after_id")
        total = page.get("total")
        self.total = None if total is None else int(total)
        self.total_capped = bool(page.get("total_capped"))
        self.show_items()
        if self.total is None:
            self.load_count()

    @work(exclusive=True, group="count")
    async def load_count(self) -> None:
        """The number of matches, after the table: counting can scan millions of items."""
        query = self.query_state
        try:
            counted = await self.fetch(self.source.items_count, query)
        except TetherError as exc:
            self.report_problem(exc)
            return
        if query != self.query_state:
            return  # the filters changed meanwhile; that change asked for its own count
        self.total = int(counted.get("total") or 0)
        self.total_capped = bool(counted.get("total_capped"))
        self.show_items()

    @work(exclusive=True, group="analysis")
    async def load_analysis(self) -> None:
        try:
            self.analysis = await self.fetch(self.source.errors, self.execution_id)
        except TetherError as exc:
            self.report_problem(exc)
            return
        self.show_analysis()

    # -- rendering -------------------------------------------------------------------------------
    def show_summary(self) -> None:
        e, palette = self.execution, self.palette
        tz = str(self.integration.get("timezone") or "UTC")
        text = Text()
        text.append_text(fmt.status_badge(e.get("status"), palette))
        text.append(f"  {e.get('domain_type')} · execution {e['id']} · run {e.get('run_id')}")
        text.append(f" · {fmt.trigger(e, long=True)}")
        if e.get("dry_run"):
            text.append("  DRY RUN: nothing was saved ", style=f"bold reverse {palette.warning}")
        if e.get("full_resync"):
            text.append("  full re-sync", style=palette.accent)
        text.append("\n")
        text.append(
            f"Started {fmt.local_time(e.get('started_at'), tz)} ({fmt.relative(e.get('started_at'), self.now())})"
            f" · took {fmt.duration(e.get('duration_s'))}"
        )
        if e.get("rate_limit_wait_s"):
            text.append(f" · waited {fmt.duration(e['rate_limit_wait_s'])} on rate limits")
        text.append("\nFetched ")
        text.append(fmt.count(e.get("records_fetched")), style="bold")
        for label, key, colour in (
            ("success", "success", palette.success),
            ("failed", "failed", palette.error),
            ("skipped", "skipped", palette.muted),
            ("mapped", "mapped", palette.success),
            ("partial", "partial_mapped", palette.warning),
        ):
            value = int(e.get(key) or 0)
            if value or key in ("success", "failed", "skipped"):
                text.append(" · ")
                text.append(f"{label} {value:,}", style=colour if value else "")
        if e.get("error"):
            text.append(f"\n{e.get('error_code') or 'ERROR'}: ", style=f"bold {palette.error}")
            text.append(fmt.one_line(str(e["error"]), 300), style=palette.error)
        self.query_one("#exec-summary", Static).update(text)

    def show_items(self) -> None:
        table = self.query_one("#items", DataTable)
        table.clear()
        palette = self.palette
        for item in self.items:
            records = Text(fmt.count(item.get("records")), justify="right")
            if item.get("aggregate"):
                records.append(" ▸", style=palette.accent)
            table.add_row(
                fmt.status_badge(item.get("status"), palette),
                str(item.get("external_id", "")),
                Text(fmt.one_line(item.get("error_message"), ERROR_WIDTH), style=palette.error),
                fmt.local_time(item.get("fetched_at"))[:19],
                item.get("domain_type", ""),
                records,
                key=str(item["id"]),
            )
        start = sum(1 for _ in self.pages[:-1]) * PAGE
        q = self.query_state
        filters = [
            f"status {q.status}" if q.status else "",
            f"'{q.search}'" if q.search else "",
            q.domain_type or "",
        ]
        described = ", ".join(f for f in filters if f)
        if self.items:
            of = (
                "…"
                if self.total is None
                else f"{self.total:,}" + ("+" if self.total_capped else "")
            )
            text = f"Items {start + 1:,}–{start + len(self.items):,} of {of}"
        else:
            text = "No items match" if described else "No items recorded"
        if described:
            text += f" ({described})"
        nav = []
        if len(self.pages) > 1:
            nav.append("[ previous")
        if self.next_after_id is not None:
            nav.append("] next")
        if nav:
            text += " · " + " · ".join(nav)
        self.query_one("#items-paging", Static).update(text)

    def show_analysis(self) -> None:
        a, palette = self.analysis or {}, self.palette
        text = Text("Error analysis\n", style="bold")
        for title, key, field in (
            ("Unmapped SKUs", "unmapped_skus", "sku"),
            ("Unmapped channels", "unmapped_channels", "channel"),
            ("Unmapped warehouses", "unmapped_warehouses", "warehouse"),
        ):
            rows = a.get(key) or []
            if not rows:
                text.append(f"{title}: none\n", style=palette.muted)
                continue
            text.append(f"{title} ({len(rows)})\n", style=f"bold {palette.warning}")
            for row in rows[:15]:
                text.append(f"  {row.get(field)!s:<22} {int(row.get('items') or 0):>6,} items\n")
            if len(rows) > 15:
                text.append(f"  … {len(rows) - 15} more\n", style=palette.muted)
        top = a.get("top_errors") or []
        text.append(
            "Top errors\n" if top else "Top errors: none\n", style="bold" if top else palette.muted
        )
        for row in top[:8]:
            text.append(f"  {int(row.get('count') or 0):>5,}× ", style=palette.error)
            text.append(f"{row.get('code')} ", style="bold")
            text.append(f"{fmt.one_line(row.get('message'), 90)}\n")
        ledger = a.get("ledger") or []
        if ledger:
            text.append("Across runs\n", style="bold")
            for state, colour in (
                ("new", palette.error),
                ("persisting", palette.warning),
                ("resolved", palette.success),
            ):
                keys = [str(r.get("key")) for r in ledger if r.get("state") == state]
                if keys:
                    text.append(f"  {state:<11}", style=colour)
                    text.append(
                        ", ".join(keys[:8]) + (f" +{len(keys) - 8}" if len(keys) > 8 else "")
                    )
                    text.append("\n")
        if top or any(
            a.get(k) for k in ("unmapped_skus", "unmapped_channels", "unmapped_warehouses")
        ):
            text.append(
                "\nFix mappings in mappings/*.csv, apply, then r (retry) re-maps stored items.",
                style=palette.muted,
            )
        self.query_one("#analysis", Static).update(text)

    # -- filters and paging --------------------------------------------------------------------
    def _set_query(self, **changes: Any) -> None:
        self.query_state = ItemsQuery.model_validate(
            {**self.query_state.model_dump(), "after_id": None, **changes}
        )  # validated: an emptied search box is no filter
        self.pages = [None]
        self.load_items()

    def on_select_changed(self, event: Select.Changed) -> None:
        value = None if event.value is Select.NULL else str(event.value)
        if event.select.id == "status" and value != self.query_state.status:
            self._set_query(status=value)
        elif event.select.id == "domain" and value != self.query_state.domain_type:
            self._set_query(domain_type=value)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "search":
            return
        if self._search_timer is not None:
            self._search_timer.stop()
        value = event.value.strip() or None
        self._search_timer = self.set_timer(
            self.monitor.debounce_s, lambda: self._apply_search(value)
        )

    def _apply_search(self, value: str | None) -> None:
        if value != self.query_state.search:
            self._set_query(search=value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#items", DataTable).focus()

    def action_failed_only(self) -> None:
        status = self.query_one("#status", Select)
        status.value = Select.NULL if self.query_state.status == "failed" else "failed"

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_clear_filters(self) -> None:
        self.query_one("#status", Select).value = Select.NULL
        self.query_one("#domain", Select).value = Select.NULL
        self.query_one("#search", Input).value = ""
        self._set_query(status=None, search=None, domain_type=None)

    def action_next_page(self) -> None:
        if self.next_after_id is None:
            return
        self.pages.append(self.next_after_id)
        self.query_state = self.query_state.model_copy(update={"after_id": self.next_after_id})
        self.load_items()

    def action_previous_page(self) -> None:
        if len(self.pages) <= 1:
            return
        self.pages.pop()
        self.query_state = self.query_state.model_copy(update={"after_id": self.pages[-1]})
        self.load_items()

    def action_analysis(self) -> None:
        self.analysis_open = not self.analysis_open
        if not self.has_class("-narrow"):
            self.query_one("#analysis-pane").display = not self.query_one("#analysis-pane").display
            return
        self._apply_layout()

    def action_back(self) -> None:
        if self.has_class("-narrow") and self.analysis_open:
            self.action_analysis()
            return
        focused = self.focused
        if isinstance(focused, Input | Select):
            self.query_one("#items", DataTable).focus()
            return
        self.app.pop_screen()

    # -- items -------------------------------------------------------------------------------
    def highlighted(self) -> Row | None:
        table = self.query_one("#items", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((i for i in self.items if str(i["id"]) == key), None)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        from tether.tui.screens.item import ItemScreen

        item = self.highlighted()
        if item is not None:
            self.app.push_screen(ItemScreen(self.execution, item))

    def action_copy_external_id(self) -> None:
        item = self.highlighted()
        if item is not None:
            self.app.copy_to_clipboard(str(item["external_id"]))
            self.notify(f"Copied external id {item['external_id']}")

    def action_copy_execution_id(self) -> None:
        self.app.copy_to_clipboard(str(self.execution_id))
        self.notify(f"Copied execution id {self.execution_id}")

    def action_target(self) -> Row | None:
        return self.integration

    def after_action(self) -> None:
        self.load_summary()
        self.load_items(keep_page=True)
        self.load_analysis()
