"""What every typer command shares: the options, declared once, and error reporting.

The helpers that need no typer are in ``shared.py`` and are used from here.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer

from bpcli.cli.shared import (  # noqa: F401  (the commands reach every helper through common)
    DEFAULT_MAX_LENGTH,
    bindings,
    console,
    error_message,
    out_path,
    evaluated,
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
from bpcli.engine.limits import DEFAULT_MAX_ELEMENTS  # noqa: F401  (the commands' --max-elements default)

# Every single letter may be a variable (-x -2), so commands that take
# bindings accept options they do not know and read them as bindings.
BINDINGS = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": ["--help"]}

BINDINGS_HELP = """Bind every variable after the expression: -x -2, --x -2, --w0=2 or x=-2.
    Negative numbers are values, never options. A variable whose name is also
    an option of bpcli is bound as NAME=VALUE. An expression that starts with -
    follows --. A value is a number, a JSON array ('[[1,2],[3,4]]'),
    @file.json, @file.csv or @file.npy, or a fill: randn:5,10, rand:3,
    zeros:2,2, ones:4 (random fills follow --seed)."""

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
        code = run_reporting(lambda: command(*args, **kwargs))
        if code:
            raise typer.Exit(code)

    return wrapper
