"""``bpcli check``: expected values and gradients, a student's backward pass, or an answers file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from bpcli.analyses.expected import tolerance
from bpcli.cli import common
from bpcli.cli.declare import Context, Option, Path, command
from bpcli.engine.errors import BpcliError
from bpcli.engine.limits import Limits
from bpcli.engine.paths import is_file, path_text

if TYPE_CHECKING:
    from bpcli.engine.paths import FilePath


@command(
    context_settings=common.BINDINGS,
    epilog="""\b
Examples:
  bpcli check "q = x + y; f = q * z" -x -2 -y 5 -z -4 --expect dx=-4 --expect dz=3 --expect q=3
  bpcli check "sigmoid(w0*x0 + w1*x1 + w2)" --w0 2 --x0 -1 --w1 -3 --x1 -2 --w2 -3 --expect dx0=0.39
  bpcli check "x*y" -x 3 -y 2 --expect dx=2 --json
""",
)
def check(
    ctx: Context,
    expression: common.Expression = None,
    file: common.File = None,
    expect: Optional[list[str]] = Option(
        None, "--expect", metavar="NAME=V",
        help="An expectation: NAME=V (a value), dNAME=V or d(NAME)=V (a gradient), dq/dx=V (a local gradient), "
        "'dx via q=V' (a downstream gradient). Repeat it.",
    ),
    backward: Optional[Path] = Option(
        None, "--backward", metavar="PATH",
        help="A backward pass in the notes' style, checked line by line; with --forward, FILE.py:NAME, the "
        "backward function.",
    ),
    forward: Optional[str] = Option(
        None, "--forward", metavar="FILE.py:NAME",
        help="A forward function of a Python file (layers.py:affine_forward), checked in place of an expression; "
        "its parameters are the inputs, the first value it returns the output.",
    ),
    answers: Optional[list[Path]] = Option(
        None, "--answers", metavar="PATH",
        help="A TOML file of [[problem]] tables, checked in one process; repeat it for several files, each scored.",
    ),
    allow_paths: Optional[list[Path]] = Option(
        None, "--allow-paths", metavar="DIR",
        help="A folder the @ paths of an answers file may read, besides the file's own (repeat it).",
    ),
    rtol: Optional[float] = Option(
        None, "--rtol", min=0.0, help="Relative tolerance (replaces the digits rule)."
    ),
    atol: Optional[float] = Option(
        None, "--atol", min=0.0, help="Absolute tolerance (replaces the digits rule)."
    ),
    json_output: bool = Option(False, "--json", help="Print the bpcli.check/1 JSON document."),
    html: Optional[Path] = Option(
        None, "--html", metavar="PATH",
        help="Also write the report as a self-contained HTML page: your lines beside the true values, "
        "wrong ones marked, the diagnosis.",
    ),
    upstream: common.Upstream = None,
    precision: common.Precision = 4,
    full: common.Full = False,
    seed: common.Seed = 0,
    max_elements: common.MaxElements = common.DEFAULT_MAX_ELEMENTS,
    max_total_elements: common.MaxTotalElements = common.DEFAULT_MAX_TOTAL_ELEMENTS,
    max_length: common.MaxLength = common.DEFAULT_MAX_LENGTH,
) -> int:
    """Check answers: values, gradients, a backward pass, an answers file.

    The exit status is the verdict: 0 when every expectation is met, 1 when
    one is not, 2 on bad input (for an answers file: when a problem could not
    be checked; the others are still checked and reported).

    \b
    --expect NAME=V      the forward value of an input or a named stage
    --expect dNAME=V     the gradient of the output with respect to NAME
    --expect d(NAME)=V   the same, never ambiguous
    --expect dq/dx=V     the local gradient of stage q for its input x
    --expect "dx via q=V"  the downstream gradient x receives from stage q
    V is a number, a JSON array ('[[1,2],[3,4]]') or @file.json/.csv/.npy.

    \b
    Tolerance: a number is held to the digits written. It passes when
    |actual - expected| <= half a unit in its last written place, plus
    float64 rounding: for a true 0.3932, 0.39, 0.4 and 0.393 pass while
    0.40 and 0.394 fail; -4 allows 0.5, 3.0 allows 0.05, 1e-3 allows 0.0005.
    Numbers nobody typed (.npy files, what a backward file computes) must
    agree to a relative 1e-6 (absolute 1e-9). --rtol/--atol replace both
    rules: |actual - expected| <= atol + rtol*|expected|.

    A wrong gradient gets a diagnosis: where the numbers part from the
    truth and, only when the numbers show it, the mistake: a fork whose
    gradients were not added up, a flipped sign, a multiply gate whose
    inputs were not swapped, an add gate that scaled instead of
    distributing, a max gate that routed to the smaller input.

    --backward PATH checks a backward pass written as in the notes (dnum =
    invden, dx += ...; math./np. spellings accepted; never run as Python):
    every dNAME it assigns against the true gradient, and names the first
    wrong line. It must assign the gradient of every input.

    --forward FILE.py:NAME checks a function of a student's file (parsed,
    never run): its parameters are bound like variables, its first returned
    value is the output. --backward FILE.py:NAME adds the backward function
    (dout, cache): it returns the gradients in the order of the forward's
    parameters (return dx, dw, db), each checked line by line. A non-scalar
    output gets a random upstream gradient (seeded by --seed) unless
    --upstream gives one.

    --answers PATH checks a TOML file of [[problem]] tables (expr, inputs,
    expect, optionally backward) and prints a score; several --answers
    give a score per file. Its @ paths are relative to its folder and may
    not leave it (--allow-paths DIR allows another folder). --rtol/--atol
    replace the tolerances a problem sets.

    {bindings}
    """
    tolerance("--rtol", rtol)
    tolerance("--atol", atol)
    if answers:
        # only the command's own analysis (start-up)
        from bpcli.analyses.answers import check_answers, check_answers_files

        if expression is not None or file is not None or expect or backward is not None or forward or ctx.args:
            raise BpcliError("--answers checks the problems in the file; give no expression, bindings, "
                             "--expect, --forward or --backward with it")
        allowed, limits = allow_paths or [], Limits(max_elements, max_total_elements)
        if len(answers) == 1:
            try:
                result = check_answers(answers[0], rtol=rtol, atol=atol, limits=limits, allow_paths=allowed,
                                       max_length=max_length)
            except BpcliError as error:
                if json_output:  # a grading script gets its document even when the file is malformed
                    _print_unreadable(answers[0], error, rtol, atol)
                raise
        else:
            result = check_answers_files(answers, rtol=rtol, atol=atol, limits=limits, allow_paths=allowed,
                                         max_length=max_length)
    elif allow_paths:
        raise BpcliError("--allow-paths is for the @ paths inside an answers file (--answers)")
    else:
        limits = Limits(max_elements, max_total_elements)
        if forward is not None:
            result = _check_functions(ctx, expression, file, forward, expect or [], backward, rtol, atol, upstream,
                                      seed, limits, max_length)
        else:
            result = _check_one(ctx, expression, file, expect or [], backward, rtol, atol, upstream, seed, limits,
                                max_length)
        common.warn_unused(result.problems[0].warnings)
    if html is not None:
        from bpcli.views.html import check_report  # a view only when asked for (start-up)

        common.write_output(check_report(result), common.out_path(html))
    if json_output:
        common.print_json(result.to_json())
    else:
        from bpcli.views.check_table import check_table  # a view only when shown (start-up)

        common.console().print(check_table(result, precision=precision, full=full))
    return result.exit_code


def _print_unreadable(answers: FilePath, error: BpcliError, rtol: Optional[float], atol: Optional[float]) -> None:
    """The bpcli.check/1 document of an answers file that could not be read: no problems, its error."""
    from bpcli.analyses.check import CheckResult  # only a malformed answers file needs these (start-up)
    from bpcli.analyses.expected import Rule

    print(CheckResult([], Rule(rtol, atol), answers=path_text(answers), error=error.render()).to_json())


def picks_a_function(backward: FilePath) -> bool:
    """--backward FILE.py:NAME, not a file of that name."""
    from bpcli.engine.syntax.function_spec import is_spec  # only where a backward pass is given (start-up)

    if not is_spec(path_text(backward)):
        return False
    try:
        return not is_file(backward)
    except OSError:  # a name too long, a folder that may not be searched: no file to read; reading the
        return True  # function's file says why, as bad input


def refuse_backward_function(backward: str) -> None:
    """--backward FILE.py:NAME without --forward: a backward function is checked with its forward function."""
    if picks_a_function(backward):
        raise BpcliError(f"--backward {backward} picks a backward function: give its forward function with "
                         "--forward FILE.py:NAME")


def _label(backward: FilePath | None) -> str:
    """The backward pass's path as the report names it, spelt as pathlib spells it ("None" without one)."""
    return "None" if backward is None else path_text(backward)


def _check_one(ctx, expression, file, expect, backward, rtol, atol, upstream, seed, limits, max_length):
    from bpcli.analyses.check import check as check_expectations  # only the command's own analysis (start-up)

    if backward is not None:
        refuse_backward_function(path_text(backward))
    text, extra = common.read_expression(expression, file, ctx.args, max_length, command="check")
    reader = common.value_reader(seed, limits.max_elements)
    values = common.bindings(extra, reader)
    expectations = common.expectations(expect, reader)
    return check_expectations(
        text, values, expect=expectations,
        backward=None if backward is None else common.read_text(backward, max_length),
        backward_label=_label(backward), rtol=rtol, atol=atol, upstream=common.read_upstream(upstream, reader),
        limits=limits,
    )


def _check_functions(ctx, expression, file, forward, expect, backward, rtol, atol, upstream, seed, limits,
                     max_length):
    """A student's forward function (and backward function) picked from Python files, as they hand them in."""
    # only the command's own analyses (start-up)
    from bpcli.analyses.check import check as check_expectations
    from bpcli.analyses.student_code import read_code

    if file is not None:
        raise BpcliError("--forward picks the forward pass from a Python file; give no --file with it")

    def read(path: str) -> str:  # on the command line, a path is the user's own (as --file and --backward)
        return common.read_text(path, max_length)

    # --backward FILE.py:NAME is the backward function; any other --backward is a backward pass in the notes'
    # style, over the forward function's own names (as %bpcli check reads it)
    function = backward is not None and picks_a_function(backward)
    code = read_code(forward, path_text(backward) if function else None, read)
    plain = None if backward is None or function else common.read_text(backward, max_length)
    reader = common.value_reader(seed, limits.max_elements)
    values = common.bindings([expression, *ctx.args] if expression is not None else ctx.args, reader)
    return check_expectations(
        forward, values, expect=common.expectations(expect, reader), backward=plain, backward_label=_label(backward),
        rtol=rtol, atol=atol, upstream=common.read_upstream(upstream, reader), limits=limits, code=code, seed=seed,
        fills=reader,
    )


check.__doc__ = (check.__doc__ or "").format(bindings=common.BINDINGS_HELP)
