"""FastDataTable draws exactly what Textual's DataTable draws, character by character and style
by style, for the kinds of cells the monitor uses (and falls back for the rest)."""

from __future__ import annotations

from typing import Any

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widgets import DataTable

from tether.tui.widgets.fast_table import FastDataTable

pytestmark = pytest.mark.anyio

ROWS = [
    (
        Text("✖ failed", style="red"),
        f"gid://shopify/Order/{5270000 + n}",
        Text("Unmapped SKU 'UNMAPPED-001': no mapping " * (n % 3 + 1), style="bold red"),
        "2025-03-14 [b]10:00[/b]",  # markup: spans, general path
        "",
        Text(f"{n * 1000:,}", justify="right"),
        Text("1 ▸", justify="right", style="blue"),
        None,
        "tab\there",
    )
    for n in range(30)
]


async def draw(table_class: type[DataTable[Any]], cursor_row: int) -> list[tuple[str, Any]]:
    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield table_class(cursor_type="row", zebra_stripes=True)

    app = One()
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.query_one(table_class)
        table.add_columns(*"abcdefghi")
        for n, row in enumerate(ROWS):
            table.add_row(*row, key=str(n))
        table.move_cursor(row=cursor_row)
        await pilot.pause()
        strips = table.render_lines(Region(0, 0, table.size.width, table.size.height))
        return [(char, seg.style) for strip in strips for seg in strip for char in seg.text]


@pytest.mark.parametrize("cursor_row", [0, 4])
async def test_fast_table_draws_what_datatable_draws(cursor_row: int) -> None:
    expected = await draw(DataTable, cursor_row)
    drawn = await draw(FastDataTable, cursor_row)
    assert "".join(c for c, _ in drawn) == "".join(c for c, _ in expected)
    assert drawn == expected


async def test_rows_drawn_before_the_columns_are_measured_are_redrawn_at_the_new_width() -> None:
    """A repaint may come between `add_row` and the idle-time measure of the columns (a loaded
    machine: the monitor's execution list showed 'success' for 'success DRY'). The cells drawn
    at the old width must not be reused at the new one."""

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield FastDataTable(cursor_type="row")

    app = One()
    async with app.run_test(size=(80, 6)) as pilot:
        table = app.query_one(FastDataTable)
        table.add_columns("Status", "Domain")
        table.add_row(Text("✔ success"), "products", key="1")
        await pilot.pause()
        table.clear()
        table.add_row(Text("✔ success DRY"), "products", key="1")
        region = Region(0, 0, table.size.width, table.size.height)
        table.render_lines(region)  # drawn before the idle measure, at the old width
        await pilot.pause()
        text = "\n".join(strip.text for strip in table.render_lines(region))
        assert "✔ success DRY" in text, text
