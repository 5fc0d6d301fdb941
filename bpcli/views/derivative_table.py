"""Higher derivatives for people: the derivative graph's stages, then each order's value and formula."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from bpcli.views.terminal import fitted
from bpcli.views.numbers import format_value
from bpcli.views.table import DEFAULT_MAX_STAGES, DEFAULT_PRECISION, elided, elision_row, warning_lines

if TYPE_CHECKING:
    from rich.console import JustifyMethod


def derivative_table(
    result: Any, precision: int = DEFAULT_PRECISION, max_stages: int = DEFAULT_MAX_STAGES, full: bool = False,
    warnings: bool = True,
) -> Group:
    """The stages (order 0 is the forward pass, order k the k-th backward pass) and the derivatives."""
    def show(value: Any) -> str:
        return format_value(value, precision, full)

    highest = result.derivatives[-1].label
    justify: JustifyMethod
    stages = Table()
    for heading, justify in (("#", "right"), ("stage", "left"), ("order", "right"), ("gate", "left"),
                             ("expression", "left"), ("value", "right"), ("holds", "left")):
        stages.add_column(heading, justify=justify)
    for stage in elided(result.stages, max_stages):
        if isinstance(stage, int):
            stages.add_row(*elision_row(stage))
            continue
        stages.add_row(*map(Text, (str(stage.index), stage.name, str(stage.order), stage.op, stage.expr,
                                   show(stage.value), ", ".join(stage.holds))))
    at = ", ".join(f"{name} = {show(value)}" for name, value in result.inputs.items())
    summary = Table()
    for heading, justify in (("order", "right"), ("derivative", "left"), ("stage", "left"),
                             ("value", "right"), ("simplified", "left")):
        summary.add_column(heading, justify=justify)
    for d in result.derivatives:
        summary.add_row(*map(Text, (str(d.order), d.label, d.stage, show(d.value), d.formula or "—")))
    return Group(
        Text(f"The graph of {highest}: the forward pass (order 0), then one backward pass per order"),
        fitted(stages, heading="{0}. {1} = {4}  ({3}, order {2})"),
        Text(f"Derivatives of {result.output} with respect to {result.wrt} at {at}"),
        fitted(summary, heading="order {0}: {1}"),
        *warning_lines(result.warnings, warnings),
    )
