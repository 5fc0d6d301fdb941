"""``bpcli grad``: the stage table or the bpcli.grad/1 document."""

from __future__ import annotations

from typing import Any, Optional


from bpcli.cli import common
from bpcli.cli.declare import Context, Option, Path, command
from bpcli.engine.errors import BpcliError
from bpcli.engine.limits import Limits

GRADIENTS_ONLY_WITHOUT_JSON = "--gradients-only shortens the JSON document: use it with --json"


@command(
    context_settings=common.BINDINGS,
    epilog="""\b
Examples:
  bpcli grad "(x+y)*z" -x -2 -y 5 -z -4
  bpcli grad "q = x + y; f = q * z" -x -2 -y 5 -z -4 --json
  bpcli grad "relu(x)" -x '[1,-2,3,-1]' --upstream '[4,-1,5,9]'
""",
)
def grad(
    ctx: Context,
    expression: common.Expression = None,
    file: common.File = None,
    json_output: bool = Option(False, "--json", help="Print the bpcli.grad/1 JSON document."),
    gradients_only: bool = Option(
        False, "--gradients-only",
        help="With --json: leave out the stages and the forks (the value, inputs and gradients only).",
    ),
    upstream: common.Upstream = None,
    precision: common.Precision = 4,
    full: common.Full = False,
    max_stages: int = Option(
        200, "--max-stages", min=0, help="Rows of the stage table at most; 0 shows every stage."
    ),
    order: Optional[int] = Option(
        None, "--order", min=1, metavar="N",
        help="The N-th derivative with respect to one variable (--wrt), and the stages of its graph.",
    ),
    wrt: Optional[str] = Option(
        None, "--wrt", metavar="NAME", help="The variable of --order (needed when there are several)."
    ),
    symbolic: bool = Option(
        False, "--symbolic",
        help="Each gradient (or, with --order, derivative) as a simplified expression; needs no values.",
    ),
    max_nodes: int = Option(
        1_000_000, "--max-nodes", min=1,
        help="The largest derivative graph --order may build (nodes), and the largest --symbolic expressions "
        "(terms and factors in all).",
    ),
    max_order: int = Option(
        1_000, "--max-order", min=1, help="The highest --order (each order is one more backward pass)."
    ),
    seed: common.Seed = 0,
    max_elements: common.MaxElements = common.DEFAULT_MAX_ELEMENTS,
    max_total_elements: common.MaxTotalElements = common.DEFAULT_MAX_TOTAL_ELEMENTS,
    max_length: common.MaxLength = common.DEFAULT_MAX_LENGTH,
    expand: common.Expand = False,
    explain: bool = Option(
        False, "--explain", help="Add one plain sentence per stage, in backward order (JSON: \"explanation\")."
    ),
    points: Optional[Path] = Option(
        None, "--points", metavar="FILE",
        help="Evaluate at every row of FILE (.csv with a header, .jsonl, .npy, .npz; .parquet, .arrow, .feather "
        "with bpcli[arrow]): writes the inputs, the value and every gradient per row.",
    ),
    columns: Optional[str] = Option(
        None, "--columns", metavar="x,y,...",
        help="With --points FILE.npy (a plain 2-D array): the names of its columns, in order "
        "(by default the expression's variables in the order they first appear).",
    ),
    out: Optional[Path] = Option(
        None, "--out", help="With --points: write there instead of standard output (- is standard output)."
    ),
    fmt: Optional[str] = Option(
        None, "--format", metavar="csv|jsonl|npy|npz|parquet|arrow",
        help="With --points: csv (default), jsonl, npy, npz, parquet or arrow (else from --out's suffix).",
    ),
) -> None:
    """Forward pass, backward pass, and every stage in between.

    One row per gate in forward order: its value, its local gradients (formula
    and value), the upstream gradient it receives and what each of its inputs
    receives downstream. Then the gradient on every input.

    --order N --wrt x: d^N f/dx^N by N backward passes, each through the
    last one's result, with the stages of that derivative graph (x and the
    output must be numbers). --symbolic: the derivatives as simplified
    expressions in the input names, shared parts named as stages.

    {bindings}
    """
    if points is not None:
        from bpcli.cli import points as batch  # only for --points (start-up)

        if upstream is not None:
            raise BpcliError("--upstream does not go with --points: every point's output is a number")
        if str(points) == "-" and expression == "-":
            raise BpcliError("standard input holds the expression or the points, not both: give the other one "
                             "as text or a file (--file PATH, --points FILE)")
        if symbolic or order is not None or wrt is not None or explain or gradients_only:
            raise BpcliError("--order, --wrt, --symbolic, --explain and --gradients-only do not go with --points, "
                             "which writes the value and the gradients at every row (and no stages)")
        text, extra = common.read_expression(expression, file, ctx.args, max_length, command="grad")
        values = common.bindings(extra, common.value_reader(seed, max_elements))
        batch.run(text, points, values, common.out_path(out), fmt, json_output, expand,
                  Limits(max_elements, max_total_elements), columns)
        return
    if columns is not None:
        raise BpcliError("--columns names the columns of a --points .npy file; without --points there are none")
    if out is not None or fmt is not None:
        raise BpcliError("--out and --format are for the rows of --points; without --points, bpcli grad prints "
                         "to standard output (redirect it with > FILE, or use --json)")
    if symbolic or order is not None or wrt is not None:
        if upstream is not None:
            raise BpcliError(
                "--upstream is for the gradient of an array; --order and --symbolic differentiate a number"
            )
        if expand or explain or gradients_only:
            raise BpcliError(
                "--expand, --explain and --gradients-only show the first-order stages or leave them out; they do not "
                "go with --order or --symbolic"
            )
        text, extra = common.read_expression(expression, file, ctx.args, max_length, command="grad")
        values = common.bindings(extra, common.value_reader(seed, max_elements))
        _higher(
            text, values, order or 1, wrt, symbolic, json_output, precision, max_stages, full, max_nodes, max_order,
            Limits(max_elements, max_total_elements),
        )
        return
    # The JSON document and the table read a large expression's stages from the flat tape's run; --explain
    # reads the graph's, so only it has the graph built at once.
    result = common.evaluated(expression, file, ctx.args, upstream, expand, seed, max_elements, max_length=max_length,
                              max_total_elements=max_total_elements, command="grad", stages=explain)
    sentences = None
    if explain:
        from bpcli.views.explain import explain as explain_stages  # a view only when shown (start-up)

        sentences = explain_stages(result, precision)
    if gradients_only and not json_output:
        raise BpcliError(GRADIENTS_ONLY_WITHOUT_JSON)
    common.print_grad(result, json_output, precision, max_stages, full, sentences, gradients_only)


def _higher(
    text: str, values: dict[str, Any], order: int, wrt: Optional[str], symbolic: bool, json_output: bool,
    precision: int, max_stages: int, full: bool, max_nodes: int, max_order: int, limits: Limits,
) -> None:
    """grad --order / --wrt / --symbolic."""
    if symbolic:
        from bpcli.analyses.symbolic import symbolic as derive  # only the command's own analysis (start-up)

        expressions = derive(
            text, values, wrt=wrt, order=order, max_nodes=max_nodes, max_order=max_order, limits=limits
        )
        common.warn_unused(expressions.warnings)
        if json_output:
            common.print_json(expressions.to_json())
        else:
            print(expressions.to_text(precision, warnings=False))
            common.warn_values(expressions.warnings)
        return
    from bpcli.analyses.derivative import derivative  # only the command's own analysis (start-up)

    result = derivative(text, values, wrt=wrt, order=order, max_nodes=max_nodes, max_order=max_order, limits=limits)
    common.warn_unused(result.warnings)
    if json_output:
        common.print_json(result.to_json())
    else:
        from bpcli.views.derivative_table import derivative_table  # a view only when shown (start-up)

        common.print_view(derivative_table, result, precision=precision, max_stages=max_stages, full=full)


grad.__doc__ = (grad.__doc__ or "").format(bindings=common.BINDINGS_HELP)
