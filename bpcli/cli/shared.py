"""What the commands share that needs no typer: reading input, reporting, printing.

The quick path (``quick.py``) runs ``bpcli grad`` without importing typer at
all, so everything it needs lives here; ``common.py`` adds typer's options.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, Callable, Optional

from bpcli.cli.bindings import split_bindings, split_constants
from bpcli.cli.encoding import json_for, json_stream, respelling, tolerate_encoding
from bpcli.engine.errors import EXIT_BAD_INPUT, EXIT_INTERNAL_ERROR, BpcliError
from bpcli.engine.limits import DEFAULT_MAX_LENGTH, DEFAULT_MAX_TOTAL_ELEMENTS, Limits
from bpcli.engine.paths import path_text
from bpcli.engine.printable import printable
from bpcli.engine.values import Constant, ShapeOnly, ValueReader, read_text_file

if TYPE_CHECKING:  # a path is text (the quick reader) or a pathlib.Path (typer): engine/paths.py reads either
    from typing import TypeVar

    from bpcli.engine.paths import FilePath

    P = TypeVar("P", bound=FilePath)  # a path handed back as it came: text, or a pathlib.Path

# The width of a table written to a pipe or a file, where COLUMNS does not say:
# wide enough for the stage table's columns to keep their numbers on one line.
PIPED_WIDTH = 120
# Narrower than this, not even the vertical layout keeps a label and a number on a line.
MIN_WIDTH = 20


EXIT_TERMINATED = 128 + 15  # as a shell reports a process ended by SIGTERM


class Terminated(BaseException):
    """SIGTERM, raised where bpcli is (``terminate_as_interrupt``), so that it unwinds as Ctrl-C does:
    a half-written --out file is removed and a progress bar gives the terminal its cursor back."""


def terminate_as_interrupt() -> None:
    """SIGTERM raises Terminated instead of ending the process on the spot."""
    import signal  # only the console script installs the handler (the library leaves signals alone)

    def terminated(signum: int, frame: Any) -> None:
        raise Terminated()

    signal.signal(signal.SIGTERM, terminated)


def run_reporting(command: Callable[[], Any]) -> int:
    """Run ``command``; bad input becomes one message on stderr and its exit code, never a traceback.

    The exit code: the one ``command`` returns (a check's verdict), 0 if it
    returns None, or the error's.
    """
    try:
        tolerate_encoding(sys.stdout)  # a stream that cannot write ∂ writes d (encoding.py)
        tolerate_encoding(sys.stderr)
        code = command() or 0
        flush_standard_output()  # a failure to write is reported here, not by Python on its way out
        return code
    except BpcliError as error:
        stream = sys.stdout
        if isinstance(stream, _GuardedStream) and stream.failure is error:
            stream.failure = None  # reported here, not again by an outer run_reporting
        error_message(error.render())
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    except Terminated:
        return EXIT_TERMINATED
    except MemoryError:  # what the limits (--max-elements, --max-length, ...) let through, this machine could not
        error_message("out of memory: the arrays or the expression are too large for this machine")
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # binary output (an SVG, a PNG) to a reader that went away
        silence(1)
        return 0
    except Exception as error:  # a bug in bpcli, not in the input
        if os.environ.get("BPCLI_DEBUG"):
            raise
        error_message(
            f"internal error ({type(error).__name__}: {error}); this is a bug in bpcli, "
            "please report it with the command line (BPCLI_DEBUG=1 shows the traceback)"
        )
        return EXIT_INTERNAL_ERROR


class _GuardedStream:
    """Standard output or standard error, so that no failure to write turns into a traceback.

    Standard output whose reader has gone away (bpcli ... | head -1) falls
    silent: the command runs to its end and exits with its own code, so a
    check's verdict does not turn into an error because the reader stopped
    early. Any other failure (a full disk, standard output closed with >&-)
    is bad input: one message and exit 2. Standard error never fails: a
    diagnostic that cannot be written is dropped, and the exit code stays.
    """

    def __init__(self, stream: Any, fd: int, strict: bool) -> None:
        self._stream = stream  # None: standard output was closed when bpcli started
        self._fd = fd
        self._strict = strict  # report a failure (standard output) or drop the text (standard error)
        # Nothing to flush until something is written: a flush of nothing still
        # calls write(), and /dev/full refuses even that.
        self._written = False
        # The failure met, for flush_standard_output, in case the code that wrote swallowed it.
        self.failure: Optional[BpcliError] = None

    def write(self, text: str) -> int:
        if self._stream is None:
            raise _closed()
        self._written = True
        try:
            return self._stream.write(text)
        except OSError as error:
            self._failed(error)
            return len(text)

    def flush(self) -> None:
        if self._stream is None or not self._written:
            return
        try:
            self._stream.flush()
        except OSError as error:
            self._failed(error)

    def isatty(self) -> bool:
        return self._stream is not None and self._stream.isatty()

    @property
    def buffer(self) -> Any:
        if self._stream is None:
            raise _closed()
        self._written = True  # whoever takes the bytes underneath may write them
        return self._stream.buffer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def _failed(self, error: OSError) -> None:
        silence(self._fd)  # what is still buffered goes nowhere, and Python's exit does not fail on it
        if self._strict:
            try:
                check_output_error(error)
            except BpcliError as failure:
                self.failure = failure
                raise


def check_output_error(error: OSError) -> None:
    """A failure to write to standard output: none if its reader went away, else bad input."""
    if not isinstance(error, BrokenPipeError):
        raise BpcliError(f"cannot write to standard output: {error.strerror or error}") from None


def _closed() -> BpcliError:
    return BpcliError("cannot write to standard output: it is closed")


def guard_standard_streams() -> None:
    """The console script's first act: failures to write become messages or silence (_GuardedStream).

    A descriptor closed before bpcli started (>&-, <&-, 2>&-) is opened on the
    null device, so that no file bpcli opens takes its number. Python leaves
    such a stream None: standard input and output stay None, and bpcli says
    so when they are used; standard error writes nowhere.
    """
    for fd, stream, mode in ((0, sys.stdin, os.O_RDONLY), (1, sys.stdout, os.O_WRONLY), (2, sys.stderr, os.O_WRONLY)):
        if stream is None:
            _null_onto(fd, mode)
    if sys.stderr is None:
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False)
    for stream in (sys.stdout, sys.stderr):
        tolerate_encoding(stream)  # typer's help and usage errors too, not only the commands' output
    sys.stdout = _GuardedStream(sys.stdout, 1, strict=True)
    sys.stderr = _GuardedStream(sys.stderr, 2, strict=False)


def flush_standard_output() -> None:
    """Write out what standard output still holds, so a failure is reported while bpcli can still say so
    (and not by Python on its way out); also a failure that the code which met it swallowed."""
    stream = sys.stdout
    if stream is None:
        return
    stream.flush()
    if isinstance(stream, _GuardedStream) and stream.failure is not None:
        failure, stream.failure = stream.failure, None  # reported once
        raise failure


def flushed_at_exit(code: Any) -> Any:
    """The exit code, once standard output is flushed: what a command that failed left in the buffer is
    written while bpcli can still say that it could not be (one more message, exit 2 at least), not by
    Python on its way out (a traceback, exit 120) or by the console script's last flush (exit 1)."""
    try:
        flush_standard_output()
    except BpcliError as failure:
        error_message(failure.render())
        return code or failure.exit_code
    return code


def silence(fd: int) -> None:
    """Send whatever is still written to this descriptor nowhere (its reader is gone, or it failed)."""
    try:
        _null_onto(fd, os.O_WRONLY)
    except OSError:
        pass


def _null_onto(fd: int, mode: int) -> None:
    devnull = os.open(os.devnull, mode)
    if devnull != fd:
        os.dup2(devnull, fd)
        os.close(devnull)


def error_message(message: str) -> None:
    _diagnostic(f"bpcli: error: {message}")


def warn(message: str) -> None:
    _diagnostic(f"bpcli: warning: {message}")


def _diagnostic(line: str) -> None:
    """A line on standard error, its control characters escaped (messages quote paths, names and file
    contents); one that cannot be written is dropped (it must not change the exit code)."""
    line = printable(line)
    stream = sys.stderr
    if stream is None:
        return
    try:
        tolerate_encoding(stream)  # a message with a ∂ or a ← is written the ASCII way, not dropped
        stream.write(line + "\n")
        stream.flush()
    except (OSError, ValueError):
        pass


def warn_unused(warnings: list[Any]) -> None:
    """Warnings about the command line itself go to stderr."""
    for warning in warnings:
        if warning.kind == "unused-binding":
            warn(warning.message)


def warn_values(warnings: list[Any]) -> None:
    """Warnings about the values (a kink, an inf, a nan) go to stderr too, after what is on stdout."""
    notes = [warning.message for warning in warnings if warning.kind != "unused-binding"]
    if notes:
        flush_standard_output()  # where both go to one terminal or file, the warnings come under the table
    for note in notes:
        warn(note)


def print_view(view: Callable[..., Any], result: Any, **options: Any) -> None:
    """A text view of ``result`` on standard output, its warnings on standard error.

    Standard output is then only the table a script reads; every view is
    asked for none of its warning lines (``warnings=False``).
    """
    console().print(view(result, **options, warnings=False))
    warn_values(result.warnings)


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


# What a command's "no expression" error offers: its own example, runnable as written, and the other
# places an expression may come from.
NO_EXPRESSION = {
    "grad": ('"(x+y)*z" -x -2 -y 5 -z -4', ""),
    "check": ('"(x+y)*z" -x -2 -y 5 -z -4 --expect dx=-4', ", --answers FILE"),
    "graph": ('"(x+y)*z"', ""),
    "code": ('"(x+y)*z"', ""),
    "jacobian": ("\"relu(x)\" -x '[1,-2,3,-1]'", ""),
    "hessian": ('"x**2 * y" -x 1 -y 2', ""),
    "gradcheck": ('"relu(x) * y" -x 0 -y 3', ""),
    "exercise": ('"q = x + y; f = q * z" --seed 7', ", --set PATH"),
}


def read_expression(
    expression: Optional[str], file: Optional[FilePath], extra: list[str], max_length: int = DEFAULT_MAX_LENGTH,
    *, command: str,
) -> tuple[str, list[str]]:
    """The expression text and the arguments left for bindings; ``command`` names the command in the
    error given when there is no expression."""
    if file is not None:
        if expression is not None:
            extra = [expression, *extra]  # with --file, the first argument is already a binding
        return read_text(file, max_length), extra
    if expression is None:
        example, elsewhere = NO_EXPRESSION[command]
        raise BpcliError(
            f"no expression: give one (bpcli {command} {example}), - for standard input{elsewhere}, or --file PATH"
        )
    if expression == "-":
        return read_stdin(max_length), extra
    return expression, extra


def read_text(path: FilePath, max_length: int = DEFAULT_MAX_LENGTH) -> str:
    """A text file of at most ``max_length`` bytes (more is never read)."""
    return read_text_file(path, max_length)


def read_stdin(max_length: int = DEFAULT_MAX_LENGTH) -> str:
    return read_text("-", max_length)


def value_reader(seed: int, max_elements: int) -> Any:
    """The reader of the command line's values, which --max-elements bounds (as it bounds what is computed)."""
    return ValueReader(seed=seed, max_elements=max_elements, note=warn)


def evaluated(
    expression: Optional[str], file: Optional[FilePath], arguments: list[str], upstream: Optional[str],
    expand: bool, seed: int, max_elements: int, circuit_without_values: bool = False,
    max_length: int = DEFAULT_MAX_LENGTH, max_total_elements: int = DEFAULT_MAX_TOTAL_ELEMENTS, *, command: str,
    stages: bool = True,
) -> Any:
    """The GradResult of the command line.

    With ``circuit_without_values`` and no values bound at all, the circuit
    alone (api.circuit: values None), for the views that can show structure.
    Without ``stages`` (no view that reads the graph: the table and the JSON document read the tape), a large
    expression may go on the flat tape (analyses.grad.grad_shown).
    """
    text, extra = read_expression(expression, file, arguments, max_length, command=command)
    return evaluated_text(text, extra, upstream, expand, seed, max_elements, circuit_without_values, max_total_elements,
                          stages)


def evaluated_text(
    text: str, arguments: list[str], upstream: Optional[str], expand: bool, seed: int, max_elements: int,
    circuit_without_values: bool = False, max_total_elements: int = DEFAULT_MAX_TOTAL_ELEMENTS,
    stages: bool = True,
) -> Any:
    """``evaluated`` for an expression already read: ``arguments`` are the bindings."""
    from bpcli.analyses.grad import circuit, grad_shown  # only the command's own analysis (start-up)
    limits = Limits(max_elements, max_total_elements)
    reader = value_reader(seed, max_elements)
    values = bindings(arguments, reader)
    seed_value = upstream if upstream in (None, "ones") else reader.read("--upstream", upstream)
    shapes = {name: value for name, value in values.items() if isinstance(value, ShapeOnly)}
    if circuit_without_values and len(shapes) == len(values):  # no values, or shapes only (-W shape:5,10)
        return circuit(text, upstream=seed_value, expand=expand, limits=limits, shapes=shapes)
    result = grad_shown(text, values, upstream=seed_value, expand=expand, limits=limits, stages=stages)
    warn_unused(result.warnings)
    return result


def short_out_option(text: str, arguments: list[str], out: Optional[FilePath]) -> tuple[Optional[FilePath], list[str]]:
    """``-o PATH`` read as ``--out PATH``, unless the expression has a variable o for it to bind.

    Every single letter may be a variable, so ``-o`` is a binding first; an
    expression without an o leaves it free to mean what it means elsewhere.
    """
    if "-o" not in arguments:
        return out, arguments
    from bpcli.engine.problem import build  # the engine only for a command that builds (start-up)

    graph = build(text)
    position = arguments.index("-o")
    if "o" in (graph.nodes[v].name for v in graph.variables) or position + 1 == len(arguments):
        return out, arguments
    if out is not None:
        raise BpcliError("give the file to write once: -o PATH or --out PATH")
    return path_text(arguments[position + 1]), arguments[:position] + arguments[position + 2:]


def out_path(path: Optional[P]) -> Optional[P]:
    """The file an --out option names; None (standard output) for ``-``, as for every other tool."""
    return None if path is None or str(path) == "-" else path


def write_output(data: str | bytes, path: Optional[FilePath]) -> None:
    """Text or bytes to a file (whole or not at all: atomic.atomic_output), or to standard output."""
    if path is None:
        if isinstance(data, str):
            sys.stdout.write(data)
            return
        write_bytes_out(lambda stream: stream.write(data))
        return
    from bpcli.cli.atomic import atomic_output  # only when a file is written (start-up)

    with atomic_output(path, binary=isinstance(data, bytes)) as handle:
        handle.write(data)


def write_bytes_out(write: Callable[[Any], Any]) -> None:
    """``write`` given standard output's bytes, beneath what was printed as text; a failure to write them
    is said as any output's is (a reader gone away: silence; a full disk: one message, exit 2)."""
    sys.stdout.flush()
    try:
        write(sys.stdout.buffer)
        sys.stdout.buffer.flush()
    except OSError as error:
        silence(1)
        check_output_error(error)


def print_renderable(renderable: Any, path: Optional[FilePath]) -> None:
    """A rich renderable on the terminal, or as plain text in a file."""
    if path is None:
        console().print(renderable)
        return
    from rich.console import Console  # rich only to draw (start-up)

    from bpcli.cli.atomic import atomic_output  # only when a file is written (start-up)
    from bpcli.views.terminal import PrintHook

    with atomic_output(path) as handle:
        output = Console(file=handle, width=PIPED_WIDTH, color_system=None, highlight=False, emoji=False)
        output.push_render_hook(PrintHook())
        output.print(renderable)


def read_upstream(upstream: Optional[str], reader: Any) -> Any:
    """The --upstream value: None, "ones", or a value read like a binding."""
    return upstream if upstream in (None, "ones") else reader.read("--upstream", upstream)


# Options some commands have: given to one that has not, they are read as bindings. Where the value then
# is not a value, the error says what was likely meant.
_OPTIONS_ELSEWHERE = {
    "out": "it prints to standard output: redirect that with > FILE",
    "format": "formats are for bpcli graph and bpcli grad --points; --json gives JSON",
    "points": "bpcli grad --points evaluates at many points",
}


def bindings(arguments: list[str], reader: Any) -> dict[str, Any]:
    """The values bound on the command line; those named by ``--const NAME`` take no gradient."""
    constants, arguments = split_constants(arguments)
    values = {}
    for name, text in split_bindings(arguments).items():
        try:
            values[name] = reader.read(name, text)
        except BpcliError:
            if name not in _OPTIONS_ELSEWHERE:
                raise
            raise BpcliError(f"this command has no --{name} option ({_OPTIONS_ELSEWHERE[name]}), and {text!r} "
                             f"is not a value to bind a variable {name} to") from None
    for name in constants:
        if name not in values:
            raise BpcliError(f"--const {name}: {name} is not bound; give it a value too: --const {name} -{name} 1")
        values[name] = Constant(values[name])
    return values


def console(stderr: bool = False) -> Any:
    from rich.console import Console  # rich only to draw (start-up)

    from bpcli.views.terminal import PrintHook

    # Piped output gets no escape codes at all. rich drops only the colours for
    # NO_COLOR and keeps bold and dim; bpcli drops every style, as the variable asks.
    stream = sys.stderr if stderr else sys.stdout
    tolerate_encoding(stream)
    plain = _no_color()
    # emoji=False: a ":name:" in the text stays as written, and rich's table of emoji is never imported (start-up).
    output = Console(highlight=False, width=output_width(stream), stderr=stderr,
                     color_system=None if plain else "auto", emoji=False)
    # No line ends in spaces (rich pads titles and cells); ∂ is d where the stream cannot write it.
    output.push_render_hook(PrintHook(respelling(stream)))
    return output


def console_styles(stream: Any) -> Optional[bool]:
    """Whether console() prints to ``stream`` with styles (a terminal), or without a single one (no
    terminal, NO_COLOR), as rich decides it; None wherever rich decides otherwise or alone (a notebook, IDLE,
    Windows' consoles, FORCE_COLOR, TTY_COMPATIBLE, and TERM=dumb, where rich prints 80 columns wide whatever
    it is told): there the console prints."""
    if sys.platform == "win32" or "idlelib" in sys.modules or "IPython" in sys.modules:
        return None
    if "FORCE_COLOR" in os.environ or "TTY_COMPATIBLE" in os.environ:
        return None
    try:
        terminal = stream.isatty()
    except ValueError:  # a closed stream: the console meets the error and says so
        return None
    if terminal and os.environ.get("TERM", "").lower() in ("dumb", "unknown"):
        return None  # rich's 80 columns, NO_COLOR or not
    return False if _no_color() else terminal


def _no_color() -> bool:
    """NO_COLOR is set and not empty (no-color.org): console() prints no style at all."""
    return os.environ.get("NO_COLOR", "") != ""


def output_width(stream: Any) -> int:
    """The columns to lay tables out in: COLUMNS where it is a positive number (COLUMNS=0 would print
    nothing at all), else a terminal's own width, else (a pipe, a file) PIPED_WIDTH; never below MIN_WIDTH."""
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return max(int(columns), MIN_WIDTH)
    if not stream.isatty():
        return PIPED_WIDTH
    try:
        measured = os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        measured = 0
    return max(MIN_WIDTH, measured or 80)


def print_json(text: str) -> None:
    """A JSON document on standard output, escaped where the stream's encoding cannot write it."""
    print(json_for(sys.stdout, text))


def print_grad(result: Any, json_output: bool, precision: int = 4, max_stages: int = 200, full: bool = False,
               sentences: Optional[list[Any]] = None, gradients_only: bool = False) -> None:
    """What bpcli grad prints: the bpcli.grad/1 document, or the stage table (and the sentences of --explain).

    The document is written as it is made, arrays a row at a time, so a large
    tensor's JSON needs no more memory than the tensor.
    """
    from bpcli.engine.problem import collector_paused  # loaded with the result already

    # A large expression's stages, rows and documents are many small objects and no cycles.
    with collector_paused():
        _print_grad(result, json_output, precision, max_stages, full, sentences, gradients_only)


def _print_grad(result: Any, json_output: bool, precision: int, max_stages: int, full: bool,
                sentences: Optional[list[Any]], gradients_only: bool) -> None:
    if json_output:
        from bpcli.views.json_doc import grad_document, write  # a view only when shown (start-up)

        write(grad_document(result, sentences, gradients_only, streamed=True), json_stream(sys.stdout))
        sys.stdout.write("\n")
        return
    from bpcli.views.table import grad_table  # a view only when shown (start-up)

    output = console()
    output.print(grad_table(result, precision=precision, max_stages=max_stages, full=full, warnings=False))
    if sentences is not None:
        from rich.console import Group  # rich only to draw (start-up)
        from rich.text import Text  # rich only to draw (start-up)

        from bpcli.views.explain import explanation_lines  # a view only when shown (start-up)

        # One Text per line: rich splits a single Text at each newline by partitioning what
        # is left of it, which is quadratic in the length of a large explanation.
        lines = [f"In words, backward from {result.output}:", *explanation_lines(sentences)]
        output.print(Group(*(Text(line) for line in lines)))
    warn_values(result.warnings)


def expectations(specs: list[str], reader: Any) -> dict[str, Any]:
    """``--expect NAME=VALUE`` (or dNAME, d(NAME)) as bpcli.check takes them; a key given twice is bad input."""
    from bpcli.analyses.expected import read_expected  # only check reads expectations (start-up)

    expected: dict[str, Any] = {}
    for spec in specs:
        key, sign, value = spec.partition("=")
        if not sign or not key.strip():
            raise BpcliError(f"--expect {spec}: write NAME=VALUE, dNAME=VALUE or d(NAME)=VALUE, as --expect dx=-4")
        key = key.strip()
        if key in expected:
            raise BpcliError(f"{key} is expected twice")
        expected[key] = read_expected(key, value, reader)
    return expected


def names(items: Optional[list[str]]) -> Optional[list[str]]:
    """Names given as ``--wrt x,y --wrt z``; None when none are given."""
    return [name.strip() for item in items or [] for name in item.split(",") if name.strip()] or None
