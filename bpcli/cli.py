"""The command line: parses arguments, calls the library, prints a view.

Nothing here computes; every command is a few lines over ``bpcli.api``. Imports
of the parser, numpy and rich happen inside the commands that need them, so
``bpcli grad ... --json`` on scalars starts without numpy or rich.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import typer

from bpcli import __version__
from bpcli.errors import EXIT_INTERNAL_ERROR, BpcliError

app = typer.Typer(
    name="bpcli",
    help="Differentiate an expression and show every stage of backpropagation.",
    rich_markup_mode=None,  # plain help and plain one-line usage errors
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    add_completion=True,
)

# Every single letter may be a variable (-x -2), so commands that take
# bindings accept options they do not know and read them as bindings.
_BINDINGS = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": ["--help"]}

def _reporting_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Bad input becomes one message on stderr and exit code 2, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except BpcliError as error:
            _error(error.render())
            raise typer.Exit(error.exit_code) from None
        except (typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
        except Exception as error:  # a bug in bpcli, not in the input
            if os.environ.get("BPCLI_DEBUG"):
                raise
            _error(
                f"internal error ({type(error).__name__}: {error}); this is a bug in bpcli, "
                "please report it with the command line (BPCLI_DEBUG=1 shows the traceback)"
            )
            raise typer.Exit(EXIT_INTERNAL_ERROR) from None

    return wrapper


def _error(message: str) -> None:
    print(f"bpcli: error: {message}", file=sys.stderr)


def _warn(message: str) -> None:
    print(f"bpcli: warning: {message}", file=sys.stderr)


def _version(value: bool) -> None:
    if value:
        print(f"bpcli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Differentiate an expression and show every stage of backpropagation."""


def _read_expression(expression: Optional[str], file: Optional[Path], extra: list[str]) -> tuple[str, list[str]]:
    """The expression text and the arguments left for bindings."""
    if file is not None:
        if expression is not None:
            extra = [expression, *extra]  # with --file, the first argument is already a binding
        return _read_text(file), extra
    if expression is None:
        raise BpcliError("no expression: give one (bpcli grad \"(x+y)*z\" -x -2 -y 5 -z -4), - for standard input, or --file PATH")
    if expression == "-":
        return _read_stdin(), extra
    return expression, extra


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise BpcliError(f"{path} is not UTF-8 text (byte {error.start})") from None
    except OSError as error:
        raise BpcliError(f"cannot read {path}: {error.strerror or error}") from None


def _read_stdin() -> str:
    try:
        return sys.stdin.buffer.read().decode("utf-8")
    except UnicodeDecodeError as error:
        raise BpcliError(f"standard input is not UTF-8 text (byte {error.start})") from None


def _reader(seed: int, max_elements: int) -> Any:
    from bpcli.values import ValueReader

    return ValueReader(seed=seed, max_elements=max_elements, note=_warn)


def _bindings(arguments: list[str], reader: Any) -> dict[str, Any]:
    from bpcli.bindings import split_bindings

    return {name: reader.read(name, text) for name, text in split_bindings(arguments).items()}


@app.command(
    context_settings=_BINDINGS,
    epilog="""\b
Examples:
  bpcli grad "(x+y)*z" -x -2 -y 5 -z -4
  bpcli grad "q = x + y; f = q * z" -x -2 -y 5 -z -4 --json
  bpcli grad "sigmoid(w0*x0 + w1*x1 + w2)" --w0 2 --x0 -1 --w1 -3 --x1 -2 --w2 -3
  bpcli grad "W @ X" -W randn:5,10 -X randn:10,3 --upstream randn:5,3
  bpcli grad "relu(x)" -x '[1,-2,3,-1]' --upstream '[4,-1,5,9]'
""",
)
@_reporting_errors
def grad(
    ctx: typer.Context,
    expression: Optional[str] = typer.Argument(
        None, help="An expression, or statements separated by ; or newlines; - reads standard input."
    ),
    file: Optional[Path] = typer.Option(None, "--file", help="Read the expression from a file."),
    json_output: bool = typer.Option(False, "--json", help="Print the bpcli.grad/1 JSON document."),
    precision: int = typer.Option(
        4, "--precision", min=1, max=17, help="Significant digits in the table (JSON is always exact)."
    ),
    max_stages: int = typer.Option(
        200, "--max-stages", min=0, help="Rows of the stage table at most; 0 shows every stage."
    ),
    upstream: Optional[str] = typer.Option(
        None, "--upstream", metavar="VALUE",
        help="The gradient flowing into a non-scalar output: a value (as for bindings) or ones.",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the random fills randn:... and rand:...."),
    full: bool = typer.Option(False, "--full", help="Print whole arrays in the table, not previews."),
    max_elements: int = typer.Option(
        50_000_000, "--max-elements", min=1, help="The largest array a value may hold (elements)."
    ),
) -> None:
    """Forward pass, backward pass, and every stage in between.

    One row per gate in forward order: its value, its local gradients (formula
    and value), the upstream gradient it receives and what each of its inputs
    receives downstream. Then the gradient on every input.

    Bind every variable after the expression: -x -2, --x -2, --w0=2 or x=-2.
    Negative numbers are values, never options. A variable whose name is also
    an option of bpcli is bound as NAME=VALUE. An expression that starts with -
    follows --. A value is a number, a JSON array ('[[1,2],[3,4]]'),
    @file.json, @file.csv or @file.npy, or a fill: randn:5,10, rand:3,
    zeros:2,2, ones:4 (random fills follow --seed).
    """
    from bpcli.api import grad as differentiate

    text, extra = _read_expression(expression, file, ctx.args)
    reader = _reader(seed, max_elements)
    values = _bindings(extra, reader)
    seed_gradient = None if upstream is None else upstream if upstream == "ones" else reader.read("--upstream", upstream)
    result = differentiate(text, values, upstream=seed_gradient)
    _warn_unused(result.warnings)
    if json_output:
        print(result.to_json())
    else:
        from bpcli.views.table import grad_table

        _console().print(grad_table(result, precision=precision, max_stages=max_stages, full=full))


@app.command(
    context_settings=_BINDINGS,
    epilog="""\b
Examples:
  bpcli jacobian "relu(x)" -x '[1,-2,3,-1]'
  bpcli jacobian "relu(x)" -x '[1,-2,3,-1]' --layout inputs-first
  bpcli jacobian "W @ x" -W '[[1,2],[3,4]]' -x '[5,6]' --json
""",
)
@_reporting_errors
def jacobian(
    ctx: typer.Context,
    expression: Optional[str] = typer.Argument(None, help="An expression or program; - reads standard input."),
    file: Optional[Path] = typer.Option(None, "--file", help="Read the expression from a file."),
    json_output: bool = typer.Option(False, "--json", help="Print the bpcli.jacobian/1 JSON document."),
    layout: str = typer.Option(
        "outputs-first", "--layout", metavar="outputs-first|inputs-first",
        help="Rows are output elements (as torch.autograd.functional.jacobian), or inputs-first: "
        "the transpose, as in the lecture notes.",
    ),
    precision: int = typer.Option(4, "--precision", min=1, max=17, help="Significant digits in the table."),
    full: bool = typer.Option(False, "--full", help="Show every row and column, not a preview."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random fills randn:... and rand:...."),
    max_entries: int = typer.Option(
        1_000_000, "--max-entries", min=1, help="The largest Jacobian to build (entries)."
    ),
    max_elements: int = typer.Option(
        50_000_000, "--max-elements", min=1, help="The largest array a value may hold (elements)."
    ),
) -> None:
    """The Jacobian matrix of the output with respect to each input.

    Built from one vector-Jacobian product per output element: backward passes
    with a one-hot upstream gradient, as backpropagation never needs the
    matrix itself. Bindings as for grad.
    """
    from bpcli.jacobian import jacobian as build_jacobian

    text, extra = _read_expression(expression, file, ctx.args)
    values = _bindings(extra, _reader(seed, max_elements))
    result = build_jacobian(text, values, layout=layout, max_entries=max_entries)
    _warn_unused(result.warnings)
    if json_output:
        print(result.to_json())
    else:
        from bpcli.views.jacobian_table import jacobian_table

        _console().print(jacobian_table(result, precision=precision, full=full))


def _warn_unused(warnings: list[Any]) -> None:
    for warning in warnings:
        if warning.kind == "unused-binding":
            _warn(warning.message)


def _console() -> Any:
    from rich.console import Console

    # Piped output gets no colour codes (rich also honours NO_COLOR) and a
    # width that keeps the table's columns readable.
    width = None if sys.stdout.isatty() else 120
    return Console(highlight=False, width=width)


def main() -> None:
    """The console script: ``bpcli``."""
    try:
        app()
    except BrokenPipeError:
        # A reader such as `head -1` went away: stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
