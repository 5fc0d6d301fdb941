"""``bpcli jacobian``: the Jacobian matrix, one vector-Jacobian product per output element."""

from __future__ import annotations


from bpcli.cli import common
from bpcli.cli.declare import Context, Option, command
from bpcli.engine.limits import Limits


@command(
    context_settings=common.BINDINGS,
    epilog="""\b
Examples:
  bpcli jacobian "relu(x)" -x '[1,-2,3,-1]'
  bpcli jacobian "relu(x)" -x '[1,-2,3,-1]' --layout inputs-first
  bpcli jacobian "W @ x" -W '[[1,2],[3,4]]' -x '[5,6]' --json
""",
)
def jacobian(
    ctx: Context,
    expression: common.Expression = None,
    file: common.File = None,
    json_output: bool = Option(False, "--json", help="Print the bpcli.jacobian/1 JSON document."),
    layout: str = Option(
        "outputs-first", "--layout", metavar="outputs-first|inputs-first",
        help="Rows are output elements (as torch.autograd.functional.jacobian), or inputs-first: "
        "the transpose, as in the lecture notes.",
    ),
    precision: common.Precision = 4,
    full: common.Full = False,
    seed: common.Seed = 0,
    max_entries: int = Option(
        1_000_000, "--max-entries", min=1, help="The largest Jacobian to build (entries)."
    ),
    max_elements: common.MaxElements = common.DEFAULT_MAX_ELEMENTS,
    max_total_elements: common.MaxTotalElements = common.DEFAULT_MAX_TOTAL_ELEMENTS,
    max_length: common.MaxLength = common.DEFAULT_MAX_LENGTH,
) -> None:
    """The Jacobian matrix of the output with respect to each input.

    Built from one vector-Jacobian product per output element: backward passes
    with a one-hot upstream gradient, as backpropagation never needs the
    matrix itself.

    {bindings}
    """
    from bpcli.analyses.jacobian import jacobian as build_jacobian  # only the command's own analysis (start-up)
    text, extra = common.read_expression(expression, file, ctx.args, max_length, command="jacobian")
    values = common.bindings(extra, common.value_reader(seed, max_elements))
    result = build_jacobian(
        text, values, layout=layout, max_entries=max_entries, limits=Limits(max_elements, max_total_elements)
    )
    common.warn_unused(result.warnings)
    if json_output:
        common.print_json(result.to_json())
    else:
        from bpcli.views.jacobian_table import jacobian_table  # a view only when shown (start-up)

        common.print_view(jacobian_table, result, precision=precision, full=full)


jacobian.__doc__ = (jacobian.__doc__ or "").format(bindings=common.BINDINGS_HELP)
