"""The one error type users see: bad input, reported as one message and exit code 2."""

from __future__ import annotations

from bpcli.engine.printable import printable

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL_ERROR = 3

# Long lines (a 100,000-gate expression is one line) are cut around the caret.
_CONTEXT_CHARS = 60


class BpcliError(Exception):
    """Bad input: the command line, the expression, a value or a file.

    ``span`` is a (start, end) character range in ``source``; when both are
    given the message shows the offending line with a caret under it.

        >>> import bpcli
        >>> try:
        ...     bpcli.grad("(x+)*z", x=1, z=2)
        ... except bpcli.BpcliError as error:
        ...     print(error.exit_code)
        ...     print(error)
        2
        parse error at line 1, column 4: unexpected ')'
          (x+)*z
             ^
        expected a value: a number, a name or a parenthesised expression
    """

    exit_code = EXIT_BAD_INPUT

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        span: tuple[int, int] | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.source = source
        self.span = span
        self.hint = hint

    def render(self) -> str:
        """The full message: what went wrong, where, and what to do about it."""
        parts = [self.message]
        if self.source is not None and self.span is not None:
            parts.append(caret_excerpt(self.source, self.span))
        if self.hint:
            parts.append(self.hint)
        return "\n".join(parts)

    def __str__(self) -> str:
        return self.render()


def placed(error: BpcliError, label: str, source: str) -> BpcliError:
    """``error`` with the file it is about, and the line when it points into ``source``: "mine.py, line 3: ..."."""
    if error.message.startswith(label):
        return error
    where = label
    if error.source == source and error.span is not None and not error.message.startswith("line ") \
            and " at line " not in error.message:
        where += f", line {line_and_column(source, error.span[0])[0]}"
    error.message = f"{where}: {error.message}"
    return error


def line_and_column(source: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    line = source.count("\n", 0, offset) + 1
    column = offset - (source.rfind("\n", 0, offset) + 1) + 1
    return line, column


def caret_excerpt(source: str, span: tuple[int, int]) -> str:
    """The source line holding ``span`` with carets under the span."""
    start, end = span
    start = max(0, min(start, len(source)))
    line_start = source.rfind("\n", 0, start) + 1
    line_end = source.find("\n", start)
    if line_end == -1:
        line_end = len(source)
    if line_end > start + 1 and source[line_end - 1] == "\r":  # a Windows line ending is not part of the line
        line_end -= 1
    end = max(start + 1, min(end, line_end))
    text = source[line_start:line_end]
    column = start - line_start
    width = end - start
    # Cut very long lines to a window around the caret.
    lo = max(0, column - _CONTEXT_CHARS)
    hi = min(len(text), column + max(width, 1) + _CONTEXT_CHARS)
    prefix = "..." if lo > 0 else ""
    suffix = "..." if hi < len(text) else ""
    shown = prefix + text[lo:hi] + suffix
    caret_col = len(prefix) + column - lo
    caret_len = max(1, min(width, hi - column))
    # Control characters are shown escaped (\\x1b), and the caret moves by what the escapes add.
    before, marked = shown[:caret_col], shown[caret_col:caret_col + caret_len]
    caret_col = len(printable(before, newlines=False))
    caret_len = max(1, len(printable(marked, newlines=False)))
    return f"  {printable(shown, newlines=False)}\n  {' ' * caret_col}{'^' * caret_len}"
