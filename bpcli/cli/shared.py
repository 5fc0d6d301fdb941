"""What the commands share that needs no typer: reading input, reporting, printing.

The quick path (``quick.py``) runs ``bpcli grad`` without importing typer at
all, so everything it needs lives here; ``common.py`` adds typer's options.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, Callable, Optional

from bpcli.errors import EXIT_BAD_INPUT, EXIT_INTERNAL_ERROR, BpcliError

if TYPE_CHECKING:  # pathlib's import costs start-up time; typer hands the commands Path objects
    from pathlib import Path

DEFAULT_MAX_ELEMENTS = 50_000_000  # 400 MB of float64 (bpcli.values)
# The longest expression read from a file or standard input: about 300,000
# gates, which take some 400 MB and ten seconds. An argument is far shorter
# (the system allows 128 KB); a file can be anything, /dev/zero included.
DEFAULT_MAX_LENGTH = 1_000_000


def run_reporting(command: Callable[[], Any]) -> int:
    """Run ``command``; bad input becomes one message on stderr and its exit code, never a traceback.

    The exit code: the one ``command`` returns (a check's verdict), 0 if it
    returns None, or the error's.
    """
    try:
        return command() or 0
    except BpcliError as error:
        error_message(error.render())
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    except MemoryError:  # what the limits (--max-elements, --max-length, ...) let through, this machine could not
        error_message("out of memory: the arrays or the expression are too large for this machine")
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # binary output (an SVG, a PNG) to a reader that went away
        quiet_standard_output()
        return 0
    except Exception as error:  # a bug in bpcli, not in the input
        if os.environ.get("BPCLI_DEBUG"):
            raise
        error_message(
            f"internal error ({type(error).__name__}: {error}); this is a bug in bpcli, "
            "please report it with the command line (BPCLI_DEBUG=1 shows the traceback)"
        )
        return EXIT_INTERNAL_ERROR


class _QuietWhenClosed:
    """Standard output that falls silent once its reader has gone away (bpcli ... | head -1).

    The command then runs to its end and exits with its own code: a check's
    verdict does not turn into an error because the reader stopped early.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            quiet_standard_output()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            quiet_standard_output()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def guard_standard_output() -> None:
    """Make writes to standard output survive a closed pipe (the console script's first act)."""
    sys.stdout = _QuietWhenClosed(sys.stdout)


def quiet_standard_output() -> None:
    """Send whatever is still written to standard output nowhere; its reader is gone."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.__stdout__.fileno())
    finally:
        os.close(devnull)


def error_message(message: str) -> None:
    print(f"bpcli: error: {message}", file=sys.stderr)


def warn(message: str) -> None:
    print(f"bpcli: warning: {message}", file=sys.stderr)


def warn_unused(warnings: list[Any]) -> None:
    """Warnings about the command line itself go to stderr."""
    for warning in warnings:
        if warning.kind == "unused-binding":
            warn(warning.message)


def warn_values(warnings: list[Any]) -> None:
    """The warnings grad shows in its table or JSON (an inf, a nan, a kink, ...), on stderr:
    for the views whose standard output is a diagram or a program."""
    for warning in warnings:
        if warning.kind != "unused-binding":  # warn_unused has said it
            warn(warning.message)


def require_utf8(arguments: list[str]) -> None:
    """Refuse an argument that is not UTF-8 (Python keeps its undecodable bytes as lone surrogates,
    which no parser accepts and no output can print)."""
    for position, argument in enumerate(arguments, start=1):
        try:
            argument.encode("utf-8")
        except UnicodeEncodeError as error:
            raw = os.fsencode(argument)
            byte = len(os.fsencode(argument[: error.start]))
            raise BpcliError(f"argument {position} is not UTF-8 text (byte {byte}): {raw!r}") from None


def read_expression(
    expression: Optional[str], file: Optional[Path], extra: list[str], max_length: int = DEFAULT_MAX_LENGTH
) -> tuple[str, list[str]]:
    """The expression text and the arguments left for bindings."""
    if file is not None:
        if expression is not None:
            extra = [expression, *extra]  # with --file, the first argument is already a binding
        return read_text(file, max_length), extra
    if expression is None:
        raise BpcliError(
            'no expression: give one (bpcli grad "(x+y)*z" -x -2 -y 5 -z -4), - for standard input, or --file PATH'
        )
    if expression == "-":
        return read_stdin(max_length), extra
    return expression, extra


def read_text(path: Path, max_length: int = DEFAULT_MAX_LENGTH) -> str:
    """A text file of at most ``max_length`` bytes (more is never read)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(max_length + 1)
    except OSError as error:
        raise BpcliError(f"cannot read {path}: {error.strerror or error}") from None
    return _decoded(data, str(path), max_length)


def read_stdin(max_length: int = DEFAULT_MAX_LENGTH) -> str:
    return _decoded(sys.stdin.buffer.read(max_length + 1), "standard input", max_length)


def _decoded(data: bytes, source: str, max_length: int) -> str:
    if len(data) > max_length:
        raise BpcliError(
            f"{source} holds more than {max_length:,} bytes, the most bpcli reads as an expression "
            "(raise the limit with --max-length)"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BpcliError(f"{source} is not UTF-8 text (byte {error.start})") from None


def value_reader(seed: int, max_elements: int) -> Any:
    """The reader of the command line's values; --max-elements bounds the arrays computed from them too."""
    from bpcli import shapes
    from bpcli.values import ValueReader

    shapes.MAX_ELEMENTS = max_elements

    return ValueReader(seed=seed, max_elements=max_elements, note=warn)


def evaluated(
    expression: Optional[str], file: Optional[Path], arguments: list[str], upstream: Optional[str],
    expand: bool, seed: int, max_elements: int, circuit_without_values: bool = False,
    max_length: int = DEFAULT_MAX_LENGTH,
) -> Any:
    """The GradResult of the command line.

    With ``circuit_without_values`` and no values bound at all, the circuit
    alone (api.circuit: values None), for the views that can show structure.
    """
    from bpcli.api import circuit, grad

    text, extra = read_expression(expression, file, arguments, max_length)
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

    # Piped output gets no escape codes at all and a width that keeps the
    # tables' columns readable. rich drops only the colours for NO_COLOR and
    # keeps bold and dim; bpcli drops every style, as the variable asks.
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 120
    plain = os.environ.get("NO_COLOR", "") != ""
    return Console(highlight=False, width=width, stderr=stderr, color_system=None if plain else "auto")


def print_grad(result: Any, json_output: bool, precision: int = 4, max_stages: int = 200, full: bool = False,
               sentences: Optional[list[Any]] = None) -> None:
    """What bpcli grad prints: the bpcli.grad/1 document, or the stage table (and the sentences of --explain)."""
    if json_output:
        from bpcli.views.json_doc import dumps, grad_document

        print(dumps(grad_document(result, sentences)))
        return
    from bpcli.views.table import grad_table

    output = console()
    output.print(grad_table(result, precision=precision, max_stages=max_stages, full=full))
    if sentences is not None:
        from rich.text import Text

        from bpcli.views.explain import explanation_text

        output.print(Text(f"In words, backward from {result.output}:\n" + explanation_text(sentences)))
