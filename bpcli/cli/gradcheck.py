"""``bpcli gradcheck``: backpropagation's gradient against centred finite differences."""

from __future__ import annotations

from typing import Optional


from bpcli.cli import common
from bpcli.cli.declare import Context, Option, command
from bpcli.analyses.gradcheck import DEFAULT_H, DEFAULT_MAX_CHECKS, DEFAULT_MAX_ERROR
from bpcli.engine.limits import Limits


@command(
    context_settings=common.BINDINGS,
    epilog="""\b
Examples:
  bpcli gradcheck "sigmoid(w0*x0 + w1*x1 + w2)" --w0 2 --x0 -1 --w1 -3 --x1 -2 --w2 -3
  bpcli gradcheck "relu(x) * y" -x 0 -y 3
  bpcli gradcheck "sum(tanh(W @ X))" -W randn:5,10 -X randn:10,3 --json
""",
)
def gradcheck(
    ctx: Context,
    expression: common.Expression = None,
    file: common.File = None,
    h: float = Option(DEFAULT_H, "--h", "--step", help="The finite-difference step, scaled by max(1, |x|)."),
    max_error: float = Option(
        DEFAULT_MAX_ERROR, "--max-error", min=0.0, help="Exit 1 when a relative error exceeds this."
    ),
    max_checks: Optional[int] = Option(
        None, "--max-checks", min=1,
        help=f"Input elements to check at most (chosen at random beyond); by default {DEFAULT_MAX_CHECKS:,}, "
        "or fewer for large arrays, so that the check takes seconds.",
    ),
    json_output: bool = Option(False, "--json", help="Print the bpcli.gradcheck/1 JSON document."),
    upstream: common.Upstream = None,
    precision: int = Option(8, "--precision", min=1, max=17, help="Significant digits in the table."),
    full: bool = Option(False, "--full", help="One row per input element, not per input."),
    seed: common.Seed = 0,
    max_elements: common.MaxElements = common.DEFAULT_MAX_ELEMENTS,
    max_total_elements: common.MaxTotalElements = common.DEFAULT_MAX_TOTAL_ELEMENTS,
    max_length: common.MaxLength = common.DEFAULT_MAX_LENGTH,
) -> int:
    """Compare the analytic gradient with a centred finite difference.

    For every input element: numeric = (f(x+h) - f(x-h)) / 2h with
    h = --h·max(1, |x|), and the relative error
    |a - n| / max(|a| + |n|, 1e-12), read as the lecture reads it:

    \b
      > 1e-2          wrong
      1e-4 .. 1e-2    suspicious
      1e-7 .. 1e-4    acceptable near kinks
      < 1e-7          good

    Exit 1 when any error exceeds --max-error. When a kink (relu at 0, a
    max tie, abs at 0) lies within h of an input, it warns and shows the
    one-sided differences; a gradient that agrees with either side passes. A
    difference below the rounding error of the finite difference (about
    10·eps·|f|/h), or one that is inf or nan, is "inconclusive", not wrong.
    A non-scalar output is checked through sum(upstream · output). The
    variable h is bound as -h 2 or h=2 (--h is the step).

    {bindings}
    """
    from bpcli.analyses.gradcheck import gradcheck as check_gradients  # only the command's own analysis (start-up)
    text, extra = common.read_expression(expression, file, ctx.args, max_length, command="gradcheck")
    reader = common.value_reader(seed, max_elements)
    values = common.bindings(extra, reader)
    result = check_gradients(
        text, values, h=h, max_error=max_error, upstream=common.read_upstream(upstream, reader),
        max_checks=max_checks, seed=seed, limits=Limits(max_elements, max_total_elements),
    )
    common.warn_unused(result.warnings)
    if json_output:
        common.print_json(result.to_json())
    else:
        from bpcli.views.gradcheck_table import gradcheck_table  # a view only when shown (start-up)

        common.print_view(gradcheck_table, result, precision=precision, full=full)
    return result.exit_code


gradcheck.__doc__ = (gradcheck.__doc__ or "").format(bindings=common.BINDINGS_HELP)
