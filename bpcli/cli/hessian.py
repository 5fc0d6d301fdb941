"""``bpcli hessian``: second derivatives by reverse-over-reverse, or a Hessian-vector product."""

from __future__ import annotations

import re
from typing import Any, List, Optional


from bpcli.cli import common
from bpcli.cli.declare import Context, Option, command
from bpcli.engine.errors import BpcliError
from bpcli.engine.limits import Limits

_NAMED = r"(?s)([A-Za-z_][A-Za-z0-9_]*)=(.*)\Z"  # re.match compiles it for --vector only (start-up)


@command(
    context_settings=common.BINDINGS,
    epilog="""\b
Examples:
  bpcli hessian "x**2 * y + exp(x*y)" -x 1 -y 2
  bpcli hessian "sum(W @ x)**2" -W randn:2,3 -x randn:3 --wrt x
  bpcli hessian "sum(W @ x)**2" -W randn:2,3 -x randn:3 --vector x=ones:3
""",
)
def hessian(
    ctx: Context,
    expression: common.Expression = None,
    file: common.File = None,
    json_output: bool = Option(False, "--json", help="Print the bpcli.hessian/1 JSON document."),
    wrt: Optional[List[str]] = Option(
        None, "--wrt", metavar="NAME[,NAME...]",
        help="The variables to differentiate with respect to, in this order (default: all).",
    ),
    vector: Optional[List[str]] = Option(
        None, "--vector", metavar="VALUE|NAME=VALUE",
        help="Give H v instead of H: one flat VALUE over all the elements, or NAME=VALUE per variable "
        "(repeat; a variable left out is zero).",
    ),
    precision: common.Precision = 4,
    full: common.Full = False,
    seed: common.Seed = 0,
    max_entries: int = Option(
        1_000_000, "--max-entries", min=1, help="The largest Hessian to build (entries)."
    ),
    max_elements: common.MaxElements = common.DEFAULT_MAX_ELEMENTS,
    max_total_elements: common.MaxTotalElements = common.DEFAULT_MAX_TOTAL_ELEMENTS,
    max_length: common.MaxLength = common.DEFAULT_MAX_LENGTH,
) -> None:
    """The matrix of second derivatives of a number over its variables.

    Computed by reverse over reverse: the backward pass appends the gradient
    to the graph, and one more backward pass through the gradient per
    element gives each row. Arrays are flattened row by row. With --vector,
    the Hessian-vector product from one extra backward pass, without the
    matrix.

    {bindings}
    """
    from bpcli.analyses.hessian import hessian as second_derivatives  # only the command's own analysis (start-up)
    text, extra = common.read_expression(expression, file, ctx.args, max_length, command="hessian")
    reader = common.value_reader(seed, max_elements)
    values = common.bindings(extra, reader)
    names = common.names(wrt)
    result = second_derivatives(
        text, values, wrt=names, vector=vector_value(vector, reader), max_entries=max_entries,
        limits=Limits(max_elements, max_total_elements),
    )
    common.warn_unused(result.warnings)
    if json_output:
        common.print_json(result.to_json())
    else:
        from bpcli.views.hessian_table import hessian_table  # a view only when shown (start-up)

        common.print_view(hessian_table, result, precision=precision, full=full)


def vector_value(items: Optional[List[str]], reader: Any) -> Any:
    """One flat value, or a value per variable name."""
    if not items:
        return None
    named = [match for match in (re.match(_NAMED, item) for item in items) if match is not None]
    if len(named) == len(items):
        vector = {}
        for match in named:
            name = match.group(1)
            if name in vector:
                raise BpcliError(f"--vector gives {name} twice")
            vector[name] = reader.read(f"--vector {name}", match.group(2))
        return vector
    if len(items) == 1:
        return reader.read("--vector", items[0])
    raise BpcliError("--vector is one value over all the elements (--vector '[1, 0]') or NAME=VALUE per variable "
                     "(--vector x=1 --vector y=0), not a mix")


hessian.__doc__ = (hessian.__doc__ or "").format(bindings=common.BINDINGS_HELP)
