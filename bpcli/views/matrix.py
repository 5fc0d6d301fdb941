"""A matrix for people: labelled rows and columns, cut to the first and last few unless full."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from bpcli.views.terminal import fitted
from bpcli.views.numbers import format_value

PREVIEW = 12  # rows and columns shown before "…", unless full


def matrix_table(title: str, rows: list[str], columns: list[str], matrix: Any, precision: int, full: bool) -> Group:
    """``matrix``: a 2-D numpy array or a list of rows (read as ``matrix[i][j]``, which both are)."""
    table = Table()
    # Labels fold rather than end in "…", so that W[0,1] and W[0,2] stay apart in a narrow terminal.
    table.add_column("", no_wrap=True, min_width=max(map(len, rows), default=0))
    shown_columns = _shown(len(columns), full)
    for j in shown_columns:
        table.add_column(Text("…" if j is None else columns[j]), justify="right", overflow="fold")
    for i in _shown(len(rows), full):
        if i is None:
            table.add_row("…", *["…" for _ in shown_columns])
            continue
        cells = ["…" if j is None else format_value(matrix[i][j], precision) for j in shown_columns]
        table.add_row(Text(rows[i]), *cells)
    return Group(Text(title), fitted(table))


def _shown(count: int, full: bool) -> list[int | None]:
    """Indices to show: all of them, or the first and last few around a None for "…"."""
    if full or count <= PREVIEW:
        return list(range(count))
    half = PREVIEW // 2
    return [*range(half), None, *range(count - half, count)]
