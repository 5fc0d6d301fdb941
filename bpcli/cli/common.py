"""What every command shares: bindings, error reporting, reading the expression, options."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer

from bpcli.errors import EXIT_INTERNAL_ERROR, BpcliError

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
Seed = Annotated[int, typer.Option("--seed", help="Seed of the random fills randn:... and rand:....")]
MaxElements = Annotated[
    int, typer.Option("--max-elements", min=1, help="The largest array a value may hold (elements).")
]
DEFAULT_MAX_ELEMENTS = 50_000_000
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
    """Bad input becomes one message on stderr and exit code 2, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except BpcliError as error:
            error_message(error.render())
            raise typer.Exit(error.exit_code) from None
        except (typer.Exit, typer.Abort, BrokenPipeError):
            raise  # a reader that went away (| head) is handled where bpcli exits
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
        except Exception as error:  # a bug in bpcli, not in the input
            if os.environ.get("BPCLI_DEBUG"):
                raise
            error_message(
                f"internal error ({type(error).__name__}: {error}); this is a bug in bpcli, "
                "please report it with the command line (BPCLI_DEBUG=1 shows the traceback)"
            )
            raise typer.Exit(EXIT_INTERNAL_ERROR) from None

    return wrapper


def error_message(message: str) -> None:
    print(f"bpcli: error: {message}", file=sys.stderr)


def warn(message: str) -> None:
    print(f"bpcli: warning: {message}", file=sys.stderr)


def warn_unused(warnings: list[Any]) -> None:
    """Warnings about the command line itself go to stderr."""
    for warning in warnings:
        if warning.kind == "unused-binding":
            warn(warning.message)


def read_expression(expression: Optional[str], file: Optional[Path], extra: list[str]) -> tuple[str, list[str]]:
    """The expression text and the arguments left for bindings."""
    if file is not None:
        if expression is not None:
            extra = [expression, *extra]  # with --file, the first argument is already a binding
        return read_text(file), extra
    if expression is None:
        raise BpcliError(
            'no expression: give one (bpcli grad "(x+y)*z" -x -2 -y 5 -z -4), - for standard input, or --file PATH'
        )
    if expression == "-":
        return read_stdin(), extra
    return expression, extra


def read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise BpcliError(f"{path} is not UTF-8 text (byte {error.start})") from None
    except OSError as error:
        raise BpcliError(f"cannot read {path}: {error.strerror or error}") from None


def read_stdin() -> str:
    try:
        return sys.stdin.buffer.read().decode("utf-8")
    except UnicodeDecodeError as error:
        raise BpcliError(f"standard input is not UTF-8 text (byte {error.start})") from None


def value_reader(seed: int, max_elements: int) -> Any:
    from bpcli.values import ValueReader

    return ValueReader(seed=seed, max_elements=max_elements, note=warn)


def evaluated(
    expression: Optional[str], file: Optional[Path], arguments: list[str], upstream: Optional[str],
    expand: bool, seed: int, max_elements: int, circuit_without_values: bool = False,
) -> Any:
    """The GradResult of the command line.

    With ``circuit_without_values`` and no values bound at all, the circuit
    alone (api.circuit: values None), for the views that can show structure.
    """
    from bpcli.api import circuit, grad

    text, extra = read_expression(expression, file, arguments)
    reader = value_reader(seed, max_elements)
    values = bindings(extra, reader)
    seed_value = upstream if upstream in (None, "ones") else reader.read("--upstream", upstream)
    if circuit_without_values and not values:
        return circuit(text, upstream=seed_value, expand=expand)
    result = grad(text, values, upstream=seed_value, expand=expand)
    warn_unused(result.warnings)
    return result


def write_output(data: str | bytes, path: Optional[Path]) -> None:
    """Text or bytes to a file, or to standard output."""
    if path is None:
        if isinstance(data, bytes):
            sys.stdout.buffer.write(data)
        else:
            sys.stdout.write(data)
        return
    try:
        path.write_bytes(data) if isinstance(data, bytes) else path.write_text(data, encoding="utf-8")
    except OSError as error:
        raise BpcliError(f"cannot write {path}: {error.strerror or error}") from None


def print_renderable(renderable: Any, path: Optional[Path]) -> None:
    """A rich renderable on the terminal, or as plain text in a file."""
    if path is None:
        console().print(renderable)
        return
    from rich.console import Console

    try:
        with path.open("w", encoding="utf-8") as handle:
            Console(file=handle, width=120, color_system=None, highlight=False).print(renderable)
    except OSError as error:
        raise BpcliError(f"cannot write {path}: {error.strerror or error}") from None


def read_upstream(upstream: Optional[str], reader: Any) -> Any:
    """The --upstream value: None, "ones", or a value read like a binding."""
    return upstream if upstream in (None, "ones") else reader.read("--upstream", upstream)


def bindings(arguments: list[str], reader: Any) -> dict[str, Any]:
    from bpcli.bindings import split_bindings

    return {name: reader.read(name, text) for name, text in split_bindings(arguments).items()}


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    # Piped output gets no colour codes (rich also honours NO_COLOR) and a
    # width that keeps the tables' columns readable.
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 120
    return Console(highlight=False, width=width, stderr=stderr)
