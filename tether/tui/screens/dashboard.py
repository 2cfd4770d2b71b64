"""The dashboard: every applied integration with its state, last/next sync, recent success rate
and health flags (seed 000, diagnostic step 1)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Header, Input, Static

from tether.errors import TetherError
from tether.tui import format as fmt
from tether.tui.datasource import Row
from tether.tui.screens.base import INTEGRATION_BINDINGS, IntegrationActionsMixin, MonitorScreen
from tether.tui.widgets.fast_table import FastDataTable


class DashboardScreen(IntegrationActionsMixin, MonitorScreen):
    HELP = "Every integration; Enter opens one. Actions apply to the highlighted row."
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open", show=False),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("a", "attention", "Needs attention"),
        *INTEGRATION_BINDINGS,
        Binding("c", "copy_id", "Copy id", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[Row] = []
        self.flags: dict[str, list[Row]] = {}
        """Health flags per integration, as the daemon evaluated them (``status``)."""
        self.attention_only = False
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Loading integrations…", id="summary")
        yield Input(placeholder="filter by id, name or service", id="filter", compact=True)
        table: DataTable[Any] = FastDataTable(
            id="integrations", cursor_type="row", zebra_stripes=True
        )
        yield table
        yield Static("", id="detail")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#integrations", DataTable)
        for label, key in (
            ("Integration", "name"),
            ("State", "state"),
            ("Health", "health"),
            ("Last sync", "last"),
            ("Next sync", "next"),
            ("Recent", "recent"),
            ("Service", "service"),
            ("Capabilities", "capabilities"),
        ):
            table.add_column(label, key=key)
        self.query_one("#filter", Input).display = False
        table.focus()
        self.refresh_data()

    def refresh_data(self) -> None:
        self.load()

    @work(exclusive=True, group="load")
    async def load(self) -> None:
        try:
            status = await self.fetch(self.source.status)
        except TetherError as exc:
            self.report_problem(exc)
            return
        self.rows = list(status.get("integrations", []))
        self.flags = {
            str(row["id"]): list((row.get("health") or {}).get("flags") or []) for row in self.rows
        }
        self.loaded = True
        self.show_rows()

    def visible_rows(self) -> list[Row]:
        needle = self.query_one("#filter", Input).value.strip().lower()
        rows = self.rows
        if needle:
            rows = [
                r
                for r in rows
                if needle in str(r["id"]).lower()
                or needle in str(r.get("name", "")).lower()
                or needle in str(r.get("service", "")).lower()
            ]
        if self.attention_only:
            rows = [r for r in rows if self.flags.get(str(r["id"]))]
        return rows

    def show_rows(self) -> None:
        from tether.tui.app import mark_first_paint

        table = self.query_one("#integrations", DataTable)
        keep = self.highlighted_id()
        now, palette = self.now(), self.palette
        rows = self.visible_rows()
        cells = {str(row["id"]): self.cells(row, now, palette) for row in rows}
        if list(cells) == [str(k.value) for k in table.rows]:
            # Same integrations in the same order (a live refresh): touch changed cells only,
            # so a refresh of 1,000 integrations does not rebuild the table.
            for ident, new in cells.items():
                old = table.get_row(ident)
                for column, (before, after) in zip(
                    table.columns, zip(old, new, strict=True), strict=True
                ):
                    if not _same(before, after):
                        table.update_cell(ident, column, after)
        else:
            table.clear()
            for ident, new in cells.items():
                table.add_row(*new, key=ident)
        if keep is not None:
            for index, row in enumerate(rows):
                if str(row["id"]) == keep:
                    table.move_cursor(row=index, animate=False)
                    break
        attention = sum(1 for r in self.rows if self.flags.get(str(r["id"])))
        shown = "" if len(rows) == len(self.rows) else f" · showing {len(rows)}"
        self.query_one("#summary", Static).update(
            Text.assemble(
                (f"{len(self.rows)} integrations", "bold"),
                " · ",
                (f"{attention} need attention", palette.error if attention else palette.success),
                shown,
                f" · updated {now:%H:%M:%S} UTC",
            )
            if self.rows
            else Text("No integrations applied yet: run `tether plan` and `tether apply`.")
        )
        self.show_detail()
        self.call_after_refresh(mark_first_paint, self.monitor)

    def cells(self, row: Row, now: datetime, palette: fmt.Palette) -> list[Any]:
        ident = str(row["id"])
        flags = self.flags.get(ident, [])
        last = row.get("last_sync") or {}
        last_cell = fmt.status_badge(last.get("status"), palette) if last else Text("never")
        if last:
            last_cell.append(f" {fmt.relative(last.get('started_at'), now)}")
        next_cell = (
            Text(fmt.relative(row.get("next_sync"), now))
            if row.get("next_sync")
            else Text("—", style=palette.muted)
        )
        health = Text(
            ("⚠ " if flags else "✔ ") + str((row.get("health") or {}).get("summary") or "ok"),
            style=palette.error if flags else palette.success,
        )
        return [
            Text(str(row.get("name") or ident)),
            fmt.state_badge(row, palette),
            health,
            last_cell,
            next_cell,
            fmt.sparkline(list(row.get("recent") or []), palette),
            Text(str(row.get("service", ""))),
            Text(", ".join(row.get("capabilities") or [])),
        ]

    def highlighted(self) -> Row | None:
        table = self.query_one("#integrations", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((r for r in self.rows if str(r["id"]) == key), None)

    def highlighted_id(self) -> str | None:
        row = self.highlighted()
        return None if row is None else str(row["id"])

    def show_detail(self) -> None:
        row = self.highlighted()
        detail = self.query_one("#detail", Static)
        if row is None:
            detail.update("")
            return
        palette = self.palette
        text = Text.assemble((str(row["id"]), "bold"), " · ")
        flags = self.flags.get(str(row["id"]), [])
        if row.get("paused"):
            text.append(
                f"paused: {row.get('paused_reason') or 'no reason given'} · ", palette.warning
            )
        if flags:
            text.append("; ".join(str(f["message"]) for f in flags), style=palette.error)
        else:
            text.append("healthy", style=palette.success)
        detail.update(text)

    # -- events and actions ------------------------------------------------------------------
    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_detail()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        from tether.tui.screens.integration import IntegrationScreen

        row = self.highlighted()
        if row is not None:
            self.app.push_screen(IntegrationScreen(str(row["id"]), row))

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.display = False
        self.query_one("#integrations", DataTable).focus()

    def action_attention(self) -> None:
        self.attention_only = not self.attention_only
        self.show_rows()

    def action_copy_id(self) -> None:
        ident = self.highlighted_id()
        if ident:
            self.app.copy_to_clipboard(ident)
            self.notify(f"Copied integration id {ident}")

    def on_input_changed(self, event: Input.Changed) -> None:
        if self.loaded:
            self.show_rows()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#integrations", DataTable).focus()

    def action_target(self) -> Row | None:
        return self.highlighted()

    def after_action(self) -> None:
        self.refresh_data()


def _same(before: Any, after: Any) -> bool:
    if isinstance(before, Text) and isinstance(after, Text):
        return (
            before.plain == after.plain
            and before.spans == after.spans
            and (before.style == after.style)
        )
    return bool(before == after)
