"""``bpcli grad``: the stage table or the bpcli.grad/1 document."""

from __future__ import annotations

from typing import Optional

import typer

from bpcli.cli import common
from bpcli.cli.app import app


@app.command(
    context_settings=common.BINDINGS,
    epilog="""\\b
Examples:
  bpcli grad "(x+y)*z" -x -2 -y 5 -z -4
  bpcli grad "q = x + y; f = q * z" -x -2 -y 5 -z -4 --json
  bpcli grad "sigmoid(w0*x0 + w1*x1 + w2)" --w0 2 --x0 -1 --w1 -3 --x1 -2 --w2 -3
  bpcli grad "W @ X" -W randn:5,10 -X randn:10,3 --upstream randn:5,3
  bpcli grad "relu(x)" -x '[1,-2,3,-1]' --upstream '[4,-1,5,9]'
""",
)
@common.reporting_errors
def grad(
    ctx: typer.Context,
    expression: common.Expression = None,
    file: common.File = None,
    json_output: bool = typer.Option(False, "--json", help="Print the bpcli.grad/1 JSON document."),
    upstream: Optional[str] = typer.Option(
        None, "--upstream", metavar="VALUE",
        help="The gradient flowing into a non-scalar output: a value (as for bindings) or ones.",
    ),
    precision: common.Precision = 4,
    full: common.Full = False,
    max_stages: int = typer.Option(
        200, "--max-stages", min=0, help="Rows of the stage table at most; 0 shows every stage."
    ),
    seed: common.Seed = 0,
    max_elements: common.MaxElements = common.DEFAULT_MAX_ELEMENTS,
) -> None:
    """Forward pass, backward pass, and every stage in between.

    One row per gate in forward order: its value, its local gradients (formula
    and value), the upstream gradient it receives and what each of its inputs
    receives downstream. Then the gradient on every input.

    {bindings}
    """
    from bpcli.api import grad as differentiate

    text, extra = common.read_expression(expression, file, ctx.args)
    reader = common.value_reader(seed, max_elements)
    values = common.bindings(extra, reader)
    upstream_value = upstream if upstream in (None, "ones") else reader.read("--upstream", upstream)
    result = differentiate(text, values, upstream=upstream_value)
    common.warn_unused(result.warnings)
    if json_output:
        print(result.to_json())
    else:
        from bpcli.views.table import grad_table

        common.console().print(grad_table(result, precision=precision, max_stages=max_stages, full=full))


grad.__doc__ = grad.__doc__.format(bindings=common.BINDINGS_HELP)
