"""The bounds a run works within, passed to it as a value: never a module global set at run time.

The command line fills them from its --max-... options; the library takes them
as ``limits=Limits(...)``; the defaults are here and nowhere else.
"""

from __future__ import annotations

from bpcli.engine.record import NamedTuple

# The largest array a value or a gate may have (elements): an outer product or
# a broadcast of two vectors that are each fine can ask for terabytes.
DEFAULT_MAX_ELEMENTS = 50_000_000  # 400 MB of float64: far beyond any homework, well within the machine
# The most numbers one evaluation may hold at once, all arrays together (see engine/budget.py):
# 2 GB of float64, a tenth of a 24 GB machine, so that a few runs fit side by side.
DEFAULT_MAX_TOTAL_ELEMENTS = 250_000_000
# The longest text read as an expression, a backward pass, a problem's expr or a student's file, inline
# or from a file (--max-length): about 300,000 gates, which take some 400 MB and ten seconds. An
# argument is far shorter (the system allows 128 KB); a file can be anything, /dev/zero included.
DEFAULT_MAX_LENGTH = 1_000_000


class Limits(NamedTuple):  # a NamedTuple, not a dataclass: the quick path's start-up cannot pay for dataclasses
    """``max_elements``: the largest array read or computed (--max-elements); ``max_total_elements``:
    the most numbers one evaluation holds, every array together (--max-total-elements).

        >>> import bpcli
        >>> bpcli.grad("sum(x * x)", x=[1, 2, 3], limits=bpcli.Limits(max_elements=1_000)).gradients["x"].tolist()
        [2.0, 4.0, 6.0]
    """

    max_elements: int = DEFAULT_MAX_ELEMENTS
    max_total_elements: int = DEFAULT_MAX_TOTAL_ELEMENTS
