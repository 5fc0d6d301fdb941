"""The stage table for people: one row per gate, then the gradients, forks and warnings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from bpcli.engine.printable import printable
from bpcli.views.terminal import fitted
from bpcli.views.numbers import format_block, format_value, sum_text, warning_texts

if TYPE_CHECKING:
    from rich.console import JustifyMethod

DEFAULT_PRECISION = 4  # significant digits, as the lecture notes print them (0.7311, 0.1966)
DEFAULT_MAX_STAGES = 200  # a person reads a few dozen rows; a huge expression is for --json


def grad_table(
    result: Any, precision: int = DEFAULT_PRECISION, max_stages: int = DEFAULT_MAX_STAGES, full: bool = False,
    warnings: bool = True,
) -> Group:
    """Everything ``bpcli grad`` shows: stages, gradients, forks and warnings.

    With more than ``max_stages`` stages (0: no limit) the first and last
    stages are shown and the count of those left out. Arrays are previewed
    unless ``full``. Without ``warnings``, the warning lines are left to the
    caller (the command line prints them on standard error).
    """
    def show(value: Any) -> str:
        return format_value(value, precision, full)

    parts: list[Any] = [backprop_table(result, show, max_stages), _gradients(result, show, precision, full)]
    if result.forks:
        parts.append(_forks(result, show))
    parts.extend(warning_lines(result.warnings, warnings))
    return Group(*parts)


def backprop_table(result: Any, show, max_stages: int) -> Any:
    """The stage-by-stage table (the page draws it too, as HTML)."""
    if not result.stages:
        return Text(f"No gates: the output is {result.output} itself, so d{result.output}/d{result.output} = 1.")
    table = Table(title=Text(f"Backpropagation through {one_line(result.source)}"), title_justify="left")
    table.add_column("#", justify="right", style="dim")
    table.add_column("stage", style="bold")
    table.add_column("gate")
    table.add_column("expression")
    tensors = result.tensors
    # Numbers line up on the right; array previews read from the left.
    justify: JustifyMethod = "left" if tensors else "right"
    if tensors:
        table.add_column("shape")
    table.add_column("value", justify=justify, style="green")
    table.add_column("local gradient")
    table.add_column("upstream", justify=justify, style="red")
    table.add_column("downstream", style="red")
    for stage in elided(result.stages, max_stages):
        if isinstance(stage, int):
            table.add_row(*elision_row(stage))
            continue
        carried = [i for i, formula in enumerate(stage.formulas) if formula is not None]
        locals_ = [local_line(stage, i, show) for i in carried]
        downstream = [downstream_line(stage, i, show) for i in carried]
        shape = [_shape_text(stage.shape)] if tensors else []
        table.add_row(*map(Text, (
            str(stage.index),
            stage.name,
            stage.op,
            stage.expr,
            *shape,
            show(stage.value),
            "\n".join(locals_) or "—",
            show(stage.upstream),
            "\n".join(downstream) or "—",
        )))
    return fitted(table, heading="{0}. {1} = {3}  ({2})")


def elided(rows: list[Any], limit: int) -> list[Any]:
    """The first and last rows up to ``limit`` (0: all), with the count left out between them."""
    hidden = len(rows) - limit if limit else 0
    if hidden <= 0:
        return list(rows)
    return [*rows[: limit // 2], hidden, *rows[limit // 2 + hidden:]]


def elision_row(hidden: int) -> tuple[str, Text]:
    return "…", Text(f"{hidden:,} more stages (--max-stages 0 shows all, --json has every one)")


def local_line(stage: Any, position: int, show) -> str:
    """A stage's local gradient for one input as the table shows it: ``∂f/∂q = z = -4`` (also the page's and
    the exercise sheet's)."""
    formula = stage.formulas[position]
    if stage.structural:  # no local Jacobian: the vector-Jacobian product itself
        return f"d{stage.inputs[position]} = {formula}"
    value = show(stage.local[position])
    head = f"∂{stage.name}/∂{stage.inputs[position]} = "
    return head + (value if formula == value else f"{formula} = {value}")


def downstream_line(stage: Any, position: int, show) -> str:
    """What one input receives from a stage, as the table shows it: ``x ← -4``."""
    line = f"{stage.inputs[position]} ← {show(stage.downstream[position])}"
    return line + " (summed over broadcast axes)" if stage.summed[position] else line


def _shape_text(shape: tuple[int, ...]) -> str:
    return "scalar" if shape == () else str(tuple(shape))


def _gradients(result: Any, show, precision: int, full: bool) -> Any:
    if not result.tensors:
        table = Table(title=Text(f"Gradients of {result.output} = {show(result.value)}"), title_justify="left")
        table.add_column("input", style="bold")
        table.add_column("value", justify="right", style="green")
        table.add_column(Text(f"∂{result.output}/∂input"), justify="right", style="red")
        for name, value in result.inputs.items():
            table.add_row(Text(name), show(value), _gradient_cell(result, name, show))
        if not result.inputs:
            table.add_row("(none)", "", "")
        return fitted(table)
    # Arrays: each gradient laid out as numpy prints it, shaped like its input.
    shape = result.shapes[result.output]
    of = f"{result.output} = {show(result.value)}" if shape == () else f"{result.output} {_shape_text(shape)}"
    table = Table(title=Text(f"Gradients of {of}"), title_justify="left")
    table.add_column("input", style="bold")
    table.add_column("shape")
    table.add_column(Text(f"∂{result.output}/∂input"), style="red")
    for name in result.inputs:
        gradient = _gradient_cell(result, name, lambda value: format_block(value, precision, full))
        table.add_row(Text(name), _shape_text(result.shapes[name]), Text(gradient))
    return fitted(table)


def _gradient_cell(result: Any, name: str, show) -> str:
    """An input's gradient, or why it has none (an index input, a --const input)."""
    if name in result.gradients:
        return show(result.gradients[name])
    kind = "index input" if name in result.graph.index_inputs else "constant"
    return f"none ({kind})"


def _forks(result: Any, show) -> Text:
    lines = Text("Forks: a value used more than once gets the sum of the gradients flowing back to it\n")
    for fork in result.forks:
        lines.append(f"  d{fork.name} = {sum_text(fork, show)} = {show(fork.total)}\n")
    return lines


def warning_lines(warnings: list[Any], shown: bool = True) -> list[Text]:
    """Warnings about the computation, under a table (none unless ``shown``).

    Those about the command line go to stderr; so do these, from the command
    line (shared.print_view), which asks every view for none.
    """
    if not shown:
        return []
    return [Text(text, style="yellow") for text in warning_texts(warnings)]


def one_line(source: str, width: int = 80) -> str:
    """A program on one line, cut to ``width`` characters, its control characters escaped."""
    text = printable(" ".join(source.split()), newlines=False)
    return text if len(text) <= width else text[: width - 3] + "..."
