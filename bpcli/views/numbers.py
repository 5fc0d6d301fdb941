"""Numbers for people: a fixed count of significant digits, inf and nan spelt out."""

from __future__ import annotations

from typing import Any


def format_value(value: Any, precision: int = 4) -> str:
    """A value with ``precision`` significant digits: -12, 0.7311, 1e-05, inf."""
    if value is None:
        return "—"
    number = float(value)
    if number == 0:
        return "0"  # no "-0": the sign of zero says nothing a learner needs
    return f"{number:.{precision}g}"
