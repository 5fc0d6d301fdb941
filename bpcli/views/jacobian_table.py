"""The Jacobian for people: one labelled matrix per input variable."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from bpcli.views.numbers import format_value
from bpcli.views.table import DEFAULT_PRECISION, warning_lines

PREVIEW = 12  # rows and columns shown before "…", unless full


def jacobian_table(result: Any, precision: int = DEFAULT_PRECISION, full: bool = False) -> Group:
    parts: list[Any] = []
    for name in result.matrices:
        parts.append(_matrix(result, name, precision, full))
    how = "one backward pass per output element"
    plural = "s" if result.passes != 1 else ""
    parts.append(Text(f"Built from {result.passes} vector-Jacobian product{plural} ({how})."))
    parts.extend(warning_lines(result.warnings))
    return Group(*parts)


def _matrix(result: Any, name: str, precision: int, full: bool) -> Group:
    rows = _labels(result.output, result.output_shape)
    columns = _labels(name, result.shapes[name])
    if result.layout == "inputs-first":
        rows, columns = columns, rows
    matrix = result.matrix(name)
    title = f"∂{result.output}/∂{name}, rows are {'outputs' if result.layout == 'outputs-first' else 'inputs'}:"
    table = Table()
    table.add_column("")
    shown_columns = _shown(len(columns), full)
    for j in shown_columns:
        table.add_column(Text("…" if j is None else columns[j]), justify="right")
    for i in _shown(len(rows), full):
        if i is None:
            table.add_row("…", *["…" for _ in shown_columns])
            continue
        cells = ["…" if j is None else format_value(matrix[i, j], precision) for j in shown_columns]
        table.add_row(Text(rows[i]), *cells)
    return Group(Text(title), table)


def _shown(count: int, full: bool) -> list[int | None]:
    """Indices to show: all of them, or the first and last few around a None for "…"."""
    if full or count <= PREVIEW:
        return list(range(count))
    half = PREVIEW // 2
    return [*range(half), None, *range(count - half, count)]


def _labels(name: str, shape: tuple[int, ...]) -> list[str]:
    if shape == ():
        return [name]
    import numpy as np

    return [f"{name}[{','.join(str(i) for i in index)}]" for index in np.ndindex(*shape)]
