"""The Jacobian for people: one labelled matrix per input variable."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.text import Text

from bpcli.engine.shapes import element_labels
from bpcli.views.matrix import matrix_table
from bpcli.views.table import DEFAULT_PRECISION, warning_lines

if TYPE_CHECKING:  # views read results, never import the analyses
    from bpcli.analyses.jacobian import JacobianResult


def jacobian_table(result: JacobianResult, precision: int = DEFAULT_PRECISION, full: bool = False,
                   warnings: bool = True) -> Group:
    parts: list[Any] = []
    for name in result.entries:
        parts.append(_matrix(result, name, precision, full))
    how = "one backward pass per output element"
    plural = "s" if result.passes != 1 else ""
    parts.append(Text(f"Built from {result.passes} vector-Jacobian product{plural} ({how})."))
    parts.extend(warning_lines(result.warnings, warnings))
    return Group(*parts)


def _matrix(result: JacobianResult, name: str, precision: int, full: bool) -> Group:
    rows = element_labels(result.output, result.output_shape)
    columns = element_labels(name, result.shapes[name])
    if result.layout == "inputs-first":
        rows, columns = columns, rows
    title = f"∂{result.output}/∂{name}, rows are {'outputs' if result.layout == 'outputs-first' else 'inputs'}:"
    return matrix_table(title, rows, columns, result.rows(name), precision, full)
