"""``bpcli code``: the staged Python of the forward and backward pass, in the lecture notes' style."""

from __future__ import annotations


from bpcli.cli import common
from bpcli.cli.declare import Context, Option, command


@command(
    context_settings=common.BINDINGS,
    epilog="""\b
Examples:
  bpcli code "(x + sigmoid(y)) / (sigmoid(x) + (x+y)**2)"
  bpcli code "(x + sigmoid(y)) / (sigmoid(x) + (x+y)**2)" -x 3 -y -4
  bpcli code "D = W @ X" -W randn:5,10 -X randn:10,3 --upstream randn:5,3
""",
)
def code(
    ctx: Context,
    expression: common.Expression = None,
    file: common.File = None,
    numpy: bool = Option(
        False, "--numpy", help="Write numpy rather than math (implied by arrays and by @, sum, mean, .T)."
    ),
    upstream: common.Upstream = None,
    expand: common.Expand = False,
    seed: common.Seed = 0,
    max_elements: common.MaxElements = common.DEFAULT_MAX_ELEMENTS,
    max_total_elements: common.MaxTotalElements = common.DEFAULT_MAX_TOTAL_ELEMENTS,
    max_length: common.MaxLength = common.DEFAULT_MAX_LENGTH,
) -> None:
    """Staged Python code: one line per gate forward, the same stages backward.

    The forward pass is one assignment per stage, numbered #(1), #(2), ...;
    the backward pass visits the stages in reverse order and gives each input
    its gradient dv = local gradient * upstream gradient, with += where a value
    used more than once collects its gradients. The program runs as plain
    Python; with values bound it calls itself with them and prints bpcli's
    value and gradients, without values it reads them from its command line.

    {bindings}
    """
    from bpcli.views.code import python_code  # a view only when shown (start-up)

    result = common.evaluated(
        expression, file, ctx.args, upstream, expand, seed, max_elements, circuit_without_values=True,
        max_length=max_length, max_total_elements=max_total_elements, command="code",
    )
    common.warn_values(result.warnings)
    print(python_code(result, numpy=numpy), end="")


code.__doc__ = (code.__doc__ or "").format(bindings=common.BINDINGS_HELP)
