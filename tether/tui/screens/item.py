"""One sync item: its status and error, the per-record error breakdown (aggregate items and order
lines), and the raw record kept for re-mapping."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Header, Static

from tether.errors import TetherError
from tether.tui import format as fmt
from tether.tui.datasource import Row
from tether.tui.screens.base import MonitorScreen
from tether.tui.widgets.fast_table import FastDataTable


class ItemScreen(MonitorScreen):
    HELP = "One sync item with its per-record errors and the raw record."
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("c", "copy_external_id", "Copy external id"),
        Binding("i", "copy_execution_id", "Copy execution id", show=False),
    ]

    def __init__(self, execution: Row, item: Row) -> None:
        super().__init__()
        self.execution = execution
        self.item = item
        self.errors: list[Row] = []
        self.payload: Any = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="item-summary")
        table: DataTable[Any] = FastDataTable(
            id="record-errors", cursor_type="row", zebra_stripes=True
        )
        yield table
        with VerticalScroll(id="payload-box"):
            yield Static("Loading…", id="payload")
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"Item {self.item.get('external_id')} · execution {self.execution.get('id')}"
        table = self.query_one("#record-errors", DataTable)
        for label in ("Record", "Code", "Message", "SKU", "Channel", "Warehouse"):
            table.add_column(label, key=label.lower())
        table.focus()
        self.show_summary()
        self.refresh_data()

    def refresh_data(self) -> None:
        self.load()

    @work(exclusive=True, group="load")
    async def load(self) -> None:
        try:
            detail = await self.fetch(
                self.source.item, int(self.execution["id"]), int(self.item["id"])
            )
        except TetherError as exc:
            self.report_problem(exc)
            return
        self.item = detail.get("item") or self.item
        self.errors = list(detail.get("errors") or [])
        self.payload = detail.get("payload")
        self.show_summary()
        self.show_errors()

    def show_summary(self) -> None:
        item, palette = self.item, self.palette
        text = Text()
        text.append_text(fmt.status_badge(item.get("status"), palette))
        text.append(f"  {item.get('external_id')}", style="bold")
        text.append(
            f" · {item.get('domain_type')} · fetched {fmt.local_time(item.get('fetched_at'))}"
        )
        if item.get("aggregate"):
            text.append(f" · aggregate of {fmt.count(item.get('records'))} records")
        if item.get("error_message"):
            text.append(f"\n{item.get('error_code') or 'ERROR'}: ", style=f"bold {palette.error}")
            text.append(str(item["error_message"]), style=palette.error)
        self.query_one("#item-summary", Static).update(text)

    def show_errors(self) -> None:
        table = self.query_one("#record-errors", DataTable)
        table.clear()
        for n, err in enumerate(self.errors):
            table.add_row(
                str(err.get("external_id") or ""),
                str(err.get("code") or ""),
                fmt.one_line(err.get("message"), 200),
                str(err.get("sku") or ""),
                str(err.get("channel") or ""),
                str(err.get("warehouse") or ""),
                key=str(n),
            )
        count = len(self.errors)
        heading = Text(
            f"{count} record error{'s' if count != 1 else ''}" if count else "No record errors",
            style="bold",
        )
        body = Text()
        body.append_text(heading)
        body.append("\n\nRaw record (kept for re-mapping)\n", style="bold")
        if self.payload is None:
            body.append("not stored (the item was loaded)", style=self.palette.muted)
        else:
            body.append(json.dumps(self.payload, indent=2, default=str))
        self.query_one("#payload", Static).update(body)

    def action_copy_external_id(self) -> None:
        self.app.copy_to_clipboard(str(self.item.get("external_id")))
        self.notify(f"Copied external id {self.item.get('external_id')}")

    def action_copy_execution_id(self) -> None:
        self.app.copy_to_clipboard(str(self.execution.get("id")))
        self.notify(f"Copied execution id {self.execution.get('id')}")
