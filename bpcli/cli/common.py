"""What every command shares: the options, declared once (typer reads them, and so does quick.py).

Nothing here imports typer (declare.py); the helpers are in ``shared.py`` and are used from here.
"""

from __future__ import annotations

from typing import Annotated, Optional

from bpcli.cli.declare import Argument, Option, Path
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
    write_bytes_out,
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
    Argument(help="An expression, or statements separated by ; or newlines; - reads standard input."),
]
File = Annotated[Optional[Path], Option("--file", help="Read the expression from a file.")]
Precision = Annotated[
    int, Option("--precision", min=1, max=17, help="Significant digits in tables (JSON is always exact).")
]
Full = Annotated[bool, Option("--full", help="Show whole arrays and matrices, not previews.")]
Seed = Annotated[int, Option("--seed", min=0, help="Seed of the random fills randn:... and rand:....")]
MaxElements = Annotated[
    int, Option("--max-elements", min=1, help="The largest array a value may hold (elements).")
]
MaxTotalElements = Annotated[
    int, Option(
        "--max-total-elements", min=1,
        help="The most numbers one evaluation holds, every array together (default 250,000,000: 2 GB of float64).",
    ),
]
MaxLength = Annotated[
    int, Option("--max-length", min=1, help="The longest expression read from --file or standard input (bytes)."),
]
Expand = Annotated[
    bool,
    Option("--expand", help="Decompose grouped gates into primitive ones (sigmoid: -1 *, exp, +1, 1/x)."),
]
Upstream = Annotated[
    Optional[str],
    Option(
        "--upstream", metavar="VALUE",
        help="The gradient flowing into a non-scalar output: a value (as for bindings) or ones.",
    ),
]


def check_option_words(command: str, options: set[str], elsewhere: set[str], arguments: list[str]) -> None:
    """An option of bpcli's among the bindings (it came after --), or a word close to one: say so.

    ``options``: the command's own long options; ``elsewhere``: every command's.
    """
    suggestible = [*sorted(options), "--help", "--version"]
    for position, argument in enumerate(arguments):
        if not argument.startswith("--") or "=" in argument:
            continue
        if argument in elsewhere and argument not in options:
            continue  # another command's option (--out to hessian): the bindings say what was meant
        if argument in options:
            raise BpcliError(f"{argument} is an option of bpcli, but after -- it is read as a binding: "
                             f"put the options before -- (bpcli {command} {argument} -- EXPR ...)")
        following = arguments[position + 1] if position + 1 < len(arguments) else None
        # --jsonn 2 may bind a variable jsonn; --jsn alone, or --max-stage (not a name), may not.
        may_bind = following is not None and (NUMBER.match(following) or following[:1] in "[@" or ":" in following)
        may_bind = may_bind and argument[2:].isidentifier()
        import difflib  # only where a word may be a misspelt option (start-up)

        close = difflib.get_close_matches(argument, suggestible, n=1, cutoff=0.8)
        if close and not may_bind:
            raise BpcliError(f"unknown option {argument}: did you mean {close[0]}?")
