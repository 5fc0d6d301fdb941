"""The total memory budget: how many numbers one evaluation may hold at once.

--max-elements bounds each array, but not their number: ``sum(exp(exp(...(x))))``
on 50,000,000 zeros makes a dozen arrays of that size forward and as many backward,
and reached 7 GB. The evaluator keeps every node's value (the views show them all),
so what an evaluation holds is, at most, the elements of every node's shape, known
after shape inference and before anything is computed. That estimate is checked
against the budget before evaluating.

The default (engine/limits.py), 250,000,000 numbers, is 2 GB of float64: a tenth
of a 24 GB machine, room for a few runs side by side with their temporaries (numpy
makes one or two arrays of a gate's size while computing it), and a hundred times
any homework. ``--max-total-elements`` (``Limits.max_total_elements``) raises it.
"""

from __future__ import annotations

from typing import Any

from bpcli.engine.errors import BpcliError
from bpcli.engine.limits import DEFAULT_MAX_TOTAL_ELEMENTS
from bpcli.engine.shapes import size

BYTES_PER_ELEMENT = 8  # float64


def elements_in_flight(graph: Any) -> int:
    """The numbers evaluating ``graph`` holds at most: every node's elements (a number counts 1)."""
    if graph.shapes is None:  # numbers only
        return len(graph.nodes)
    return sum(size(shape) for shape in graph.shapes)


def check_budget(graph: Any, max_total: int = DEFAULT_MAX_TOTAL_ELEMENTS, more: int = 0, besides: str = "") -> None:
    """A BpcliError, before anything is computed, if evaluating ``graph`` would hold more than ``max_total`` numbers.

    ``more``: numbers held at the same time besides the graph's values (a matrix being filled, a batch of
    moved copies), which ``besides`` names (", and ..." in the message).
    """
    total = elements_in_flight(graph) + more
    if total > max_total:
        raise BpcliError(
            f"evaluating this would hold {total:,} numbers at once ({_gigabytes(total)} of float64 over "
            f"{len(graph.nodes):,} values, forward and backward{besides}); the budget is {max_total:,} numbers "
            f"({_gigabytes(max_total)}): raise it with --max-total-elements, or use smaller arrays"
        )


def check_work(graph: Any, max_total: int, passes: int, each: int, what: str) -> None:
    """A BpcliError, before anything is computed, if the first evaluation of ``graph`` and ``passes`` - 1 more
    of ``each`` numbers (the rows of a matrix, ``what``) would compute more than ``max_total`` numbers in all."""
    first = elements_in_flight(graph)
    total = first + (passes - 1) * each
    if total > max_total:
        raise BpcliError(
            f"{what} would compute {total:,} numbers in all ({passes:,} passes: the first {first:,}, then {each:,} "
            f"each); the budget is {max_total:,} numbers ({_gigabytes(max_total)}): raise it with "
            "--max-total-elements, or use smaller arrays"
        )


def room_left(graph: Any, max_total: int, held: int, each: int, besides: str) -> int:
    """How many batch elements of ``each`` numbers fit in the budget beside the graph's values and ``held``
    other numbers (at least 1), or the BpcliError of ``check_budget`` if not even one does."""
    check_budget(graph, max_total, held + each, besides)
    return max(1, (max_total - elements_in_flight(graph) - held) // max(1, each))


def _gigabytes(elements: int) -> str:
    """The bytes of ``elements`` float64 numbers, in the unit that reads best (2.4 GB, 40 MB, 0.5 KB)."""
    size = elements * BYTES_PER_ELEMENT
    for unit, scale in (("GB", 1e9), ("MB", 1e6)):
        if size >= scale / 10:
            return f"{size / scale:.1f} {unit}"
    return f"{size / 1e3:.1f} KB"
