"""The Hessian for people: the labelled matrix, or the Hessian-vector product beside its vector."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from bpcli.views.terminal import fitted
from bpcli.views.matrix import matrix_table
from bpcli.views.numbers import format_block, format_value
from bpcli.views.table import DEFAULT_PRECISION, warning_lines

if TYPE_CHECKING:  # views read results, never import the analyses
    from bpcli.analyses.hessian import HessianResult


def hessian_table(result: HessianResult, precision: int = DEFAULT_PRECISION, full: bool = False,
                  warnings: bool = True) -> Group:
    of = f"{result.output} = {format_value(result.value, precision)}"
    shapes = ", ".join(f"{name} {_shape_text(result.shapes[name])}" for name in result.variables)
    if result.mode == "matrix":
        n = len(result.elements)
        title = f"Hessian of {of}: ∂²{result.output}/∂row ∂column"
        parts: list[Any] = [
            matrix_table(title, result.elements, result.elements, result.entries, precision, full),
            Text(f"Over {shapes}: {n} element{'s' if n != 1 else ''}"
                 + (", each array flattened row by row." if any(result.shapes.values()) else ".")),
            Text(f"Built from {result.passes} backward pass{'es' if result.passes != 1 else ''} through the "
                 "gradient (reverse over reverse: one per element)."),
        ]
    else:
        table = Table()
        table.add_column("input", style="bold")
        table.add_column("shape")
        table.add_column("v")
        table.add_column("H v", style="red")
        assert result.vector is not None and result.product is not None  # the "hvp" mode has both
        for name in result.variables:
            table.add_row(Text(name), _shape_text(result.shapes[name]),
                          Text(format_block(result.vector[name], precision, full)),
                          Text(format_block(result.product[name], precision, full)))
        parts = [Text(f"Hessian-vector product of {of}"), fitted(table),
                 Text("Built from one extra backward pass, through <gradient, v>; the matrix itself is never formed.")]
    return Group(*parts, *warning_lines(result.warnings, warnings))


def _shape_text(shape: tuple[int, ...]) -> str:
    return "(scalar)" if shape == () else str(tuple(shape))
