"""Symbolic derivatives as text: the stages, then each derivative with its value."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bpcli.engine.printable import printable
from bpcli.views.numbers import format_value, warning_texts

if TYPE_CHECKING:
    from bpcli.analyses.symbolic import SymbolicResult


def symbolic_text(result: SymbolicResult, precision: int = 4, warnings: bool = True) -> str:
    """The stages and derivatives, one per line; then the warnings, unless not ``warnings``."""
    lines = [f"{name} = {text}" for name, text in result.stages]
    if not result.derivatives:
        source = printable(result.source, newlines=False)
        lines.append(f"{source} has no input variables: there is nothing to differentiate")
    for d in result.derivatives:
        shown = None if d.value is None else format_value(d.value, precision)
        value = "" if shown in (None, d.expression) else f" = {shown}"  # not "d²f/dx² = 0 = 0"
        lines.append(f"{d.label} = {d.expression}{value}")
    if warnings:
        lines.extend(warning_texts(result.warnings))
    return "\n".join(lines)


def symbolic_table(result: SymbolicResult, precision: int = 4, warnings: bool = True) -> Any:
    from rich.text import Text  # rich only to draw (start-up)

    return Text(symbolic_text(result, precision, warnings))
