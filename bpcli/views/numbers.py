"""Numbers for people: a fixed count of significant digits, inf and nan spelt out.

Arrays come in two sizes: a one-line preview for a table cell, nested as
numpy nests it (``[[1, 2], [3, 4]]``, ``[-1.853, 0.2011, 3.4, ..., 8, 1.925]``),
and a block laid out as numpy prints it, cut with "..." beyond a hundred
elements. ``full`` shows every element.
"""

from __future__ import annotations

import sys
from typing import Any

from bpcli.engine.printable import printable

INLINE_ELEMENTS = 6  # a table cell shows an array whole up to this many elements, else summarised
# How many elements a summarised array keeps at each end of an axis: fewer the more axes it has,
# so that a cell stays a line or two (6 numbers of a vector, 16 of a matrix, 2**n of n axes).
INLINE_EDGE_ITEMS = {1: 3, 2: 2}
BLOCK_ELEMENTS = 100  # a block shows at most this many before numpy's "..."
FORK_TERMS_SHOWN = 8  # a fork's sum shows at most this many of its terms
# ``full`` shows every element up to this many; beyond, the edges of each axis and a note.
# A table of 100,000 numbers took 39 s to lay out and is read by no one: --json has them all.
FULL_ELEMENTS = 10_000


def format_value(value: Any, precision: int = 4, full: bool = False) -> str:
    """A value with ``precision`` significant digits: -12, 0.7311, 1e-05, inf, [4, 0, 5, 0]."""
    if value is None:
        return "—"
    if getattr(value, "ndim", 0) > 0:
        return format_block(value, precision, full) if full else _inline(value, precision)
    number = float(value)
    if number == 0:
        return "0"  # no "-0": the sign of zero says nothing a learner needs
    return f"{number:.{precision}g}"


def format_block(value: Any, precision: int = 4, full: bool = False) -> str:
    """An array laid out in rows and columns, as numpy prints it."""
    import numpy as np  # numpy only where arrays are (start-up)

    if getattr(value, "ndim", 0) == 0:
        return format_value(value, precision)
    array = np.asarray(value)
    cut = full and array.size > FULL_ELEMENTS
    text = np.array2string(
        array,
        formatter={"float_kind": lambda v: format_value(v, precision)},
        separator=", ",
        threshold=FULL_ELEMENTS if cut else sys.maxsize if full else BLOCK_ELEMENTS,
        # Each axis keeps this many at either end, so that about FULL_ELEMENTS are shown in all.
        edgeitems=max(3, int((FULL_ELEMENTS / 2 ** array.ndim) ** (1 / array.ndim))) if cut else 3,
        max_line_width=100,
    )
    if cut:
        text += f"\n({array.size:,} elements: --full shows about {FULL_ELEMENTS:,}; --json writes every one)"
    return text


def _inline(value: Any, precision: int) -> str:
    """An array on one line, nested as numpy nests it: [[1, 2], [3, 4]]; beyond INLINE_ELEMENTS,
    summarised the numpy way, the first and last few along each axis around "..."."""
    import numpy as np

    text = np.array2string(
        value,
        formatter={"float_kind": lambda v: format_value(v, precision)},
        separator=", ",
        threshold=INLINE_ELEMENTS,
        edgeitems=INLINE_EDGE_ITEMS.get(value.ndim, 1),
        max_line_width=sys.maxsize,  # numpy breaks lines only between rows, which are joined below
    )
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def sum_text(fork: Any, show) -> str:
    """A fork's contributions as a sum a person would write: 1.583 (via t4) - 0.03576 (via t3)."""
    text = ""
    shown = fork.contributions[:FORK_TERMS_SHOWN]
    for position, contribution in enumerate(shown):
        number = show(contribution.value)
        if position == 0:
            text = number
        elif number.startswith("-"):
            text += f" - {number[1:]}"
        else:
            text += f" + {number}"
        text += f" (via {contribution.stage})"
    more = len(fork.contributions) - len(shown)
    return text + (f" + … ({more:,} more)" if more else "")


def warning_texts(warnings: list[Any]) -> list[str]:
    """The warnings a view shows under its result, escaped; an unused binding is the command line's to report."""
    return [f"warning: {printable(warning.message)}" for warning in warnings if warning.kind != "unused-binding"]
