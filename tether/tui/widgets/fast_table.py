"""A ``DataTable`` that draws plain one-line cells without Rich's layout machinery.

Most monitor cells are one-line ``Text`` with a single style (a status badge, an id, a count, an
error message). Rendering each through Rich (Padding → Styled → Text wrapping) costs ~0.15 ms a
cell, which made repainting a 40-row page of items ~30 ms. For such cells this builds the same
segments directly (pre style + text style + post style, padded to the column width, cropped), and
falls back to ``DataTable``'s own rendering for anything else (spans, multi-line, headers).
``tests/test_monitor_table.py`` checks the output equals DataTable's own, cell by cell.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.widgets import DataTable


class FastDataTable(DataTable[Any]):
    def _update_dimensions(self, new_rows: Iterable[Any]) -> None:
        """Measure the columns (DataTable does it on idle, after rows were added), then drop the
        cells drawn before: a repaint between ``add_row`` and this measure cached them at the
        old column width, and the cell cache is keyed on ``_update_count``, not on the width
        (a loaded machine showed 'success' for 'success DRY' until the next change)."""
        super()._update_dimensions(new_rows)
        self._update_count += 1
        self.refresh()

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> list[list[Segment]]:
        fast = self._fast_cell(row_index, column_index, base_style, width, cursor, hover)
        if fast is not None:
            return fast
        lines: list[list[Segment]] = super()._render_cell(
            row_index, column_index, base_style, width, cursor, hover
        )
        return lines

    def _fast_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool,
        hover: bool,
    ) -> list[list[Segment]] | None:
        if row_index < self.fixed_rows or column_index < self.fixed_columns:
            return None  # headers (-1), row labels (-1) and fixed cells: the general path
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        if row_key is None or column_key is None:
            return None
        row = self.rows.get(row_key)
        if row is None or row.height != 1:
            return None
        cache_key = (
            row_key,
            column_key,
            base_style,
            cursor,
            hover,
            self._show_hover_cursor,
            self._update_count,
            self._pseudo_class_state,
        )
        cached: list[list[Segment]] | None = self._cell_render_cache.get(cache_key)
        if cached is not None:
            return cached
        cell = self._get_row_renderables(row_index).cells[column_index]
        if (
            not isinstance(cell, Text)
            or cell.spans
            or "\n" in cell.plain
            or cell.justify not in (None, "default", "left", "right")
        ):
            return None
        component_style, post_style = self._get_styles_to_render_cell(
            False,
            False,
            False,
            hover,
            cursor,
            self.show_cursor,
            self._show_hover_cursor,
            self.cursor_foreground_priority == "css",
            self.cursor_background_priority == "css",
        )
        pre = base_style + Style.from_meta({"row": row_index, "column": column_index})
        pre += component_style
        console = self.app.console
        text_style = console.get_style(cell.style) if cell.style else Style()
        pad = self.cell_padding
        inner = max(0, width - 2 * pad)
        plain = cell.plain.expandtabs(cell.tab_size or 8)
        if cell_len(plain) > inner:
            plain = set_cell_size(plain, inner)
        fill = " " * (inner - cell_len(plain))
        outer = pre + post_style
        styled = pre + text_style + post_style
        line: list[Segment] = []
        if pad:
            line.append(Segment(" " * pad, outer))
        if cell.justify == "right":
            line.append(Segment(fill + plain, styled))
        else:
            if plain:
                line.append(Segment(plain, styled))
            if fill:
                line.append(Segment(fill, outer))
        if pad:
            line.append(Segment(" " * pad, outer))
        lines = [line]
        self._cell_render_cache[cache_key] = lines
        return lines
