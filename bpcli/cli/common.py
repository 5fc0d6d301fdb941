"""What every typer command shares: the options, declared once, and error reporting.

The helpers that need no typer are in ``shared.py`` and are used from here.
"""

from __future__ import annotations

import difflib
import functools
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer

from bpcli import __version__
from bpcli.engine.errors import BpcliError
from bpcli.engine.values import NUMBER
from bpcli.cli.shared import (  # noqa: F401  (the commands reach every helper through common)
    DEFAULT_MAX_LENGTH,
    bindings,
    console,
    error_message,
    out_path,
    evaluated,
    expectations,
    names,
    evaluated_text,
    print_grad,
    print_json,
    print_renderable,
    print_view,
    read_expression,
    read_stdin,
    read_text,
    read_upstream,
    run_reporting,
    short_out_option,
    value_reader,
    warn,
    warn_unused,
    warn_values,
    write_output,
)
from bpcli.engine.limits import (  # noqa: F401  (the commands' --max-elements and --max-total-elements defaults)
    DEFAULT_MAX_ELEMENTS,
    DEFAULT_MAX_TOTAL_ELEMENTS,
)

# Every single letter may be a variable (-x -2), so commands that take
# bindings accept options they do not know and read them as bindings.
BINDINGS = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": ["--help"]}

BINDINGS_HELP = """Bind every variable after the expression: -x -2, --x -2, --w0=2 or x=-2.
    Negative numbers are values, never options. A variable whose name is also
    an option of bpcli is bound as NAME=VALUE. An expression that starts with -
    follows --. A value is a number, a JSON array ('[[1,2],[3,4]]'),
    @file.json, @file.csv or @file.npy, or a fill: randn:5,10, rand:3,
    zeros:2,2, ones:4 (random fills follow --seed); shape:5,10 is a shape
    without values, for bpcli code and bpcli graph."""

# Options shared by several commands, declared once.
Expression = Annotated[
    Optional[str],
    typer.Argument(help="An expression, or statements separated by ; or newlines; - reads standard input."),
]
File = Annotated[Optional[Path], typer.Option("--file", help="Read the expression from a file.")]
Precision = Annotated[
    int, typer.Option("--precision", min=1, max=17, help="Significant digits in tables (JSON is always exact).")
]
Full = Annotated[bool, typer.Option("--full", help="Show whole arrays and matrices, not previews.")]
Seed = Annotated[int, typer.Option("--seed", min=0, help="Seed of the random fills randn:... and rand:....")]
MaxElements = Annotated[
    int, typer.Option("--max-elements", min=1, help="The largest array a value may hold (elements).")
]
MaxTotalElements = Annotated[
    int, typer.Option(
        "--max-total-elements", min=1,
        help="The most numbers one evaluation holds, every array together (default 250,000,000: 2 GB of float64).",
    ),
]
MaxLength = Annotated[
    int, typer.Option("--max-length", min=1, help="The longest expression read from --file or standard input (bytes)."),
]
Expand = Annotated[
    bool,
    typer.Option("--expand", help="Decompose grouped gates into primitive ones (sigmoid: -1 *, exp, +1, 1/x)."),
]
Upstream = Annotated[
    Optional[str],
    typer.Option(
        "--upstream", metavar="VALUE",
        help="The gradient flowing into a non-scalar output: a value (as for bindings) or ones.",
    ),
]


def reporting_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Bad input becomes one message on stderr and exit code 2, never a traceback (shared.run_reporting)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = kwargs.get("ctx")
        ctx = ctx if hasattr(ctx, "args") and hasattr(ctx, "command") else None  # typer's (click's) Context
        if ctx is not None and _answered_as_an_option(ctx, kwargs.get("expression")):
            return
        def checked() -> Any:
            _check_option_words(ctx)
            return command(*args, **kwargs)

        code = run_reporting(checked)
        if code:
            raise typer.Exit(code)

    return wrapper


def _answered_as_an_option(ctx: Any, expression: Any) -> bool:
    """--help means the option wherever it is (bind a variable named help as help=V); so does
    --version, which the console script also hands to the root command (bpcli.cli.main)."""
    words = [expression, *ctx.args]
    if "--version" in words:
        print(f"bpcli {__version__}")
        return True
    if "--help" in words:
        print(ctx.get_help())
        return True
    return False


def _check_option_words(ctx: Any) -> None:
    """An option of bpcli's among the bindings (it came after --), or a word close to one: say so."""
    if ctx is None:
        return
    options = sorted({opt for param in ctx.command.params for opt in param.opts if opt.startswith("--")})
    suggestible = [*options, "--help", "--version"]
    commands = getattr(ctx.find_root().command, "commands", {}).values()
    elsewhere = {opt for command in commands for param in command.params for opt in param.opts}
    arguments = ctx.args
    for position, argument in enumerate(arguments):
        if not argument.startswith("--") or "=" in argument:
            continue
        if argument in elsewhere and argument not in options:
            continue  # another command's option (--out to hessian): the bindings say what was meant
        if argument in options:
            raise BpcliError(f"{argument} is an option of bpcli, but after -- it is read as a binding: "
                             f"put the options before -- (bpcli {ctx.command.name} {argument} -- EXPR ...)")
        following = arguments[position + 1] if position + 1 < len(arguments) else None
        # --jsonn 2 may bind a variable jsonn; --jsn alone, or --max-stage (not a name), may not.
        may_bind = following is not None and (NUMBER.match(following) or following[:1] in "[@" or ":" in following)
        may_bind = may_bind and argument[2:].isidentifier()
        close = difflib.get_close_matches(argument, suggestible, n=1, cutoff=0.8)
        if close and not may_bind:
            raise BpcliError(f"unknown option {argument}: did you mean {close[0]}?")
