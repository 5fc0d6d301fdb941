"""Numbers for people: a fixed count of significant digits, inf and nan spelt out.

Arrays come in two sizes: a one-line preview for a table cell
(``[-1.853, 0.2011, 3.4, …, 1.925]``) and a block laid out as numpy prints
it, cut with "..." beyond a hundred elements. ``full`` shows every element.
"""

from __future__ import annotations

import sys
from typing import Any

INLINE_ELEMENTS = 6  # a table cell shows at most this many elements of an array
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
    flat = value.reshape(-1)
    if flat.size <= INLINE_ELEMENTS:
        items = [format_value(v, precision) for v in flat]
    else:
        head = [format_value(v, precision) for v in flat[: INLINE_ELEMENTS - 2]]
        items = [*head, "…", format_value(flat[-1], precision)]
    return "[" + ", ".join(items) + "]"


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
