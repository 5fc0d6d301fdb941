"""Values given on the command line: numbers, JSON arrays, files and random fills.

    -x -2                  a number
    -W '[[1, 2], [3, 4]]'  a JSON array
    -X @data.csv           a .json, .csv or .npy file (numpy loads without pickle)
    -W randn:5,10          a fill: randn, rand, zeros or ones, with its shape

Numbers need no numpy, so a scalar run never imports it. Random fills draw from
one generator seeded by ``--seed``, in the order the values are given, so a
command line always means the same numbers.
"""

from __future__ import annotations

import functools
import os
import re
import stat
import sys
from typing import TYPE_CHECKING, Any, Callable, Collection

from bpcli.engine.errors import BpcliError
from bpcli.engine.limits import DEFAULT_MAX_ELEMENTS
from bpcli.engine.paths import path_suffix, path_text
from bpcli.engine.printable import excerpt
from bpcli.engine.record import NamedTuple

if TYPE_CHECKING:
    from numpy.random import Generator

    from bpcli.engine.paths import FilePath

NUMBER = re.compile(r"[+-]?((\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|inf|infinity|nan)\Z", re.IGNORECASE)
# The patterns below are only for some values: re.match compiles each on its first use and keeps it (start-up).
_FILL = r"(randn|rand|zeros|ones|shape):(.*)\Z"
MAX_DIMENSIONS = 64  # numpy's


_NONZERO_MANTISSA = r"[^eE]*[1-9]"


def underflows(text: str, value: float) -> bool:
    """Whether a number written nonzero (1e-400) became 0 in float64."""
    return value == 0.0 and re.match(_NONZERO_MANTISSA, text.strip()) is not None


_LITERAL_NUMBER = r"(?<![\w.])(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?"


def underflowed_numbers(text: str) -> list[str]:
    """The numbers written nonzero in ``text`` (an array literal) that float64 makes 0, in order."""
    return [m.group() for m in re.finditer(_LITERAL_NUMBER, text) if underflows(m.group(), float(m.group()))]


class ShapeOnly(NamedTuple):
    """A shape without values (``-W shape:5,10``): enough for the views of the circuit alone
    (``bpcli code``, ``bpcli graph``), which need to know what ``W @ x`` is but compute nothing."""

    dims: tuple[int, ...]
    text: str


class Constant:
    """A value bound to an input that takes no gradient (``--const NAME``): a one-hot matrix, a dropout mask.

        >>> import bpcli
        >>> r = bpcli.grad("sum(x * m)", x=[1, 2], m=bpcli.Constant([0, 1]))
        >>> r.gradients, r.constants
        ({'x': array([0., 1.])}, ['m'])
    """

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class Underflowed(float):
    """0.0 read from a number written nonzero (``-x 1e-400``); ``underflow`` says so.

    The value is an ordinary 0.0 to everything that computes with it;
    ``api.bind`` sees the mark and warns, as it would of 1e999 (inf).
    """

    underflow: str

    def __new__(cls, text: str) -> Underflowed:
        number = super().__new__(cls, text)
        number.underflow = f"{text} underflows float64 to 0"
        return number


def marked_underflow(array: Any, first: str | None, count: int) -> Any:
    """``array`` marked with the first number written nonzero that became 0 in it (api.bind warns)."""
    if first is None or not hasattr(array, "shape"):
        return Underflowed(first) if first is not None else array
    marked = array.view(_underflowed_array())
    marked.underflow = (
        f"{first} underflows float64 to 0" if count == 1
        else f"{count} numbers underflow float64 to 0, {first} the first"
    )
    return marked


@functools.cache
def _underflowed_array() -> type:
    """An ndarray that carries ``underflow`` (numpy is imported only when an array is read)."""
    import numpy as np  # numpy only where arrays are (start-up)

    class UnderflowedArray(np.ndarray):
        underflow: str

    return UnderflowedArray


class _Literals:
    """Reads numbers from their text (JSON's number hook, CSV cells), noting those written nonzero
    that float64 makes 0."""

    def __init__(self) -> None:
        self.first: str | None = None
        self.count = 0

    def __call__(self, text: str) -> float:
        value = float(text)
        if underflows(text, value):
            self.count += 1
            self.first = self.first or text
        return value


class ValueReader:
    """Reads value texts into floats and float64 arrays."""

    def __init__(
        self, seed: int = 0, max_elements: int = DEFAULT_MAX_ELEMENTS, note: Callable[[str], None] | None = None
    ) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise BpcliError(f"the seed of the random fills is a whole number, 0 or more, not {seed!r}")
        self.seed = seed
        self.max_elements = max_elements
        self.note = note or (lambda message: None)
        self._rng: Generator | None = None  # made on the first random fill (numpy is imported then)

    def read(self, name: str, text: str) -> Any:
        """The value of ``name`` given as ``text``."""
        stripped = text.strip()
        if NUMBER.match(stripped):
            number = float(stripped)
            return Underflowed(stripped) if underflows(stripped, number) else number
        if stripped.startswith("["):
            literals = _Literals()
            array = self._array(name, parse_json(name, stripped, "JSON array", number=literals))
            return marked_underflow(array, literals.first, literals.count)
        if stripped.startswith("@"):
            return self._file(name, path_text(stripped[1:]))
        fill = re.match(_FILL, stripped)
        if fill:
            return self._fill(name, fill.group(1), fill.group(2))
        raise BpcliError(
            f"the value of {name} is not a number: {text!r} (a value is a number, a JSON array '[1, 2]', "
            "@file.json/.csv/.npy, or a fill such as randn:3,4)"
        )

    # ---- sources -------------------------------------------------------------

    def _file(self, name: str, path: FilePath) -> Any:
        readers = {".json": self._json_file, ".csv": self._csv_file, ".npy": self._npy_file}
        reader = readers[file_kind(name, path)]  # the suffix first: a wrong one is refused unread
        return reader(name, path, read_bytes(path, f" (value of {name})", value_file_bytes(self.max_elements),
                                             "--max-elements"))

    def _json_file(self, name: str, path: FilePath, data: bytes) -> Any:
        self._check_size(name, (count_fields(data),))  # before parsing, which takes some 30 bytes a number
        literals = _Literals()
        content = parse_json(name, utf8_text(path, data), f"JSON file {path}", number=literals)
        if isinstance(content, (int, float)) and not isinstance(content, bool):
            return marked_underflow(float(content), literals.first, literals.count)
        return marked_underflow(self._array(name, content), literals.first, literals.count)

    def _csv_file(self, name: str, path: FilePath, data: bytes) -> Any:
        import numpy as np  # numpy only where arrays are (start-up)

        self._check_size(name, (count_fields(data),))
        rows = csv_cells(name, path, utf8_text(path, data), self.note)
        literals = _Literals()
        array = np.array([[literals(cell) for cell in row] for row in rows])
        # As numpy.loadtxt: a single row or a single column is a vector.
        array = self._checked(name, array.reshape(-1) if 1 in array.shape else array)
        return marked_underflow(array, literals.first, literals.count)

    def _npy_file(self, name: str, path: FilePath, data: bytes) -> Any:
        self._check_size(name, npy_shape(data))  # before numpy allocates what the header claims
        array = load_npy(path, data)
        if array.dtype.kind not in "biuf":
            raise BpcliError(f"{path} holds {array.dtype} values; bpcli needs numbers")
        return self._array(name, array)

    def _fill(self, name: str, kind: str, dims: str) -> Any:
        try:
            shape = tuple(int(d) for d in dims.split(",")) if dims.strip() or kind != "shape" else ()
        except ValueError:
            raise BpcliError(f"{kind}:{dims}: the shape is whole numbers separated by commas, as {kind}:5,10") from None
        if any(d <= 0 for d in shape):
            raise BpcliError(f"{kind}:{dims}: every dimension must be at least 1")
        if len(shape) > MAX_DIMENSIONS:
            raise BpcliError(f"{kind}:{dims}: an array has at most {MAX_DIMENSIONS} dimensions")
        self._check_size(name, shape)
        if kind == "shape":
            return ShapeOnly(shape, f"{kind}:{dims}")
        import numpy as np  # numpy only where arrays are (start-up)

        if kind in ("zeros", "ones"):
            return np.full(shape, 0.0 if kind == "zeros" else 1.0)
        if self._rng is None:
            self._rng = np.random.default_rng(self.seed)
        return self._rng.standard_normal(shape) if kind == "randn" else self._rng.random(shape)

    # ---- checks ----------------------------------------------------------------

    def _array(self, name: str, content: Any) -> Any:
        import numpy as np  # numpy only where arrays are (start-up)

        if isinstance(content, list) and _holds_non_numbers(content):
            raise BpcliError(f"the value of {name} holds something that is not a number")
        try:
            array = np.array(content, dtype=np.float64)
        except (ValueError, TypeError):
            raise BpcliError(f"the value of {name} is not a rectangular array of numbers") from None
        return self._checked(name, array)

    def _checked(self, name: str, array: Any) -> Any:
        if array.ndim == 0:
            return float(array)
        if array.size == 0:
            raise BpcliError(f"the value of {name} is an empty array")
        self._check_size(name, array.shape)
        return array

    def _check_size(self, name: str, shape: tuple[int, ...]) -> None:
        count = 1
        for d in shape:
            count *= d
        if count > self.max_elements:
            raise BpcliError(
                f"the value of {name} would have {count:,} elements; the limit is {self.max_elements:,} "
                "(raise it with --max-elements)"
            )


def file_kind(name: str, path: FilePath) -> str:
    """The suffix of a file bpcli reads values from, or a BpcliError."""
    suffix = path_suffix(path).lower()
    if suffix not in (".json", ".csv", ".npy"):
        raise BpcliError(f"{path}: bpcli reads .json, .csv and .npy files (value of {name})")
    return suffix


def value_file_bytes(max_elements: int) -> int:
    """The largest value file read for arrays of ``max_elements`` numbers: room for 32 bytes a number
    (a JSON or CSV number with its separator; an .npy file takes 8) and a header."""
    return 32 * max_elements + 65_536


MAX_FILE_BYTES = value_file_bytes(DEFAULT_MAX_ELEMENTS)  # 1.6 GB: the default cap on any file read


def read_bytes(path: FilePath, purpose: str = "", limit: int = MAX_FILE_BYTES, raise_with: str = "") -> bytes:
    """The bytes of a regular file, or of standard input for ``-``: every file bpcli reads is read here.

    At most ``limit`` bytes are ever read; a longer file is refused (``raise_with`` names the option
    that raises the limit). A device (/dev/zero), a FIFO or a directory is refused without reading it,
    whatever symlink leads there; a FIFO is opened without blocking, so refusing it never waits for
    a writer. ``purpose`` completes a message (" (value of x)").
    """
    if str(path) == "-":
        if sys.stdin is None:
            raise BpcliError("cannot read standard input: it is closed")
        return _capped(sys.stdin.buffer, limit, f"standard input{purpose}", raise_with)
    try:
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as error:
        raise BpcliError(f"cannot read {path}{purpose}: {error.strerror or error}") from None
    # Checked before the descriptor becomes a file object: os.open opens a directory, fdopen refuses it.
    status = os.fstat(handle)
    if not stat.S_ISREG(status.st_mode):
        os.close(handle)
        raise BpcliError(f"cannot read {path}{purpose}: it is not a regular file (a device, a FIFO or a "
                         "directory); bpcli reads files, and - for standard input")
    with os.fdopen(handle, "rb") as stream:
        return _capped(stream, limit, f"{path}{purpose}", raise_with, status.st_size)


def _capped(stream: Any, limit: int, what: str, raise_with: str, size: int | None = None) -> bytes:
    """At most ``limit`` bytes and one more (to see a longer stream). ``size``: a file's size, read
    first: a read of ``limit`` bytes sets aside that much memory before it reads (1.6 GB, ten times as
    slow for a file of 16 MB); one byte more than the size sees a file that grew, read on to the cap."""
    wanted = limit + 1 if size is None else min(limit, size) + 1
    try:
        data: bytes = stream.read(wanted)
        if len(data) == wanted <= limit:  # the file grew since its size was read
            data += stream.read(limit + 1 - wanted)
    except OSError as error:
        raise BpcliError(f"cannot read {what}: {error.strerror or error}") from None
    if len(data) > limit:
        raise BpcliError(f"{what} holds more than {limit:,} bytes, the most bpcli reads from it"
                         + (f" (raise the limit with {raise_with})" if raise_with else ""))
    return data


_FIELD_BYTES = bytes(32 if chr(byte) in "[],; \t\r\n" else 110 for byte in range(256))  # b" " or b"n"


def count_fields(data: bytes) -> int:
    """How many numbers a JSON array or a CSV file holds, counted without parsing: the runs of
    characters between brackets, commas and white space (exact for a valid file, cheap for a huge one)."""
    marked = data.translate(_FIELD_BYTES)
    return marked.count(b" n") + marked.startswith(b"n")


def npy_shape(data: bytes) -> tuple[int, ...]:
    """The shape an .npy file's header declares (() if it cannot be read: numpy will say why)."""
    import io  # only for files (start-up)

    import numpy as np  # numpy only where arrays are (start-up)

    stream = io.BytesIO(data)
    try:
        major, _ = np.lib.format.read_magic(stream)
        read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        return tuple(read(stream)[0])
    except Exception:  # a damaged header: np.load reports it
        return ()


NPY_MAGIC = b"\x93NUMPY"


def load_npy(path: FilePath, data: bytes) -> Any:
    """The array an .npy file holds, loaded without pickle, or a BpcliError that says why not.

    numpy takes any file without the .npy magic bytes for a pickle, so random bytes
    or text would be reported as "pickled data": the magic is checked first, and only
    a real .npy file whose dtype holds Python objects is called a pickle.
    """
    import io  # only for files (start-up)

    import numpy as np  # numpy only where arrays are (start-up)

    if not data.startswith(NPY_MAGIC):
        raise BpcliError(f"{path} is not a readable .npy file (it does not start with the .npy signature \\x93NUMPY)")
    stream = io.BytesIO(data)
    try:
        major, _ = np.lib.format.read_magic(stream)
        read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        dtype = read(stream)[2]
    except Exception as error:  # numpy raises several types for a damaged header
        raise BpcliError(f"{path} is not a readable .npy file ({error})") from None
    if dtype.hasobject:
        raise BpcliError(f"{path} holds Python objects (a pickle); bpcli never loads pickles")
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as error:  # numpy raises several types for a damaged file
        raise BpcliError(f"{path} is not a readable .npy file ({error})") from None


def csv_cells(name: str, path: FilePath, text: str, note: Callable[[str], None]) -> list[list[str]]:
    """The numeric cells of a CSV file, row by row, as written (a header row is skipped with a note)."""
    import csv  # only for files (start-up)

    rows = [row for row in csv.reader(text.splitlines()) if any(cell.strip() for cell in row)]
    if rows and not all(NUMBER.match(cell.strip()) for cell in rows[0]):
        note(f"{path}: the first row is not numeric and is taken as a header: {excerpt(','.join(rows[0]), 80)}")
        rows = rows[1:]
        header = 1
    else:
        header = 0
    if not rows:
        raise BpcliError(f"{path} has no numbers (value of {name})")
    width = len(rows[0])
    for line, row in enumerate(rows, start=1 + header):
        if len(row) != width:
            raise BpcliError(f"{path}, row {line}: {len(row)} columns where the first row has {width}")
        for cell in row:
            if not NUMBER.match(cell.strip()):
                raise BpcliError(f"{path}, row {line}: {excerpt(cell)} is not a number")
    return [[cell.strip() for cell in row] for row in rows]


def parse_json(name: str, text: str, what: str, number: Callable[[str], Any] | None = None) -> Any:
    """JSON text; ``number`` (if given) reads every number from its text, as json's parse_float.

    Whole numbers are read as floats too: a value is float64 in the end, and
    Python's int refuses a whole number of more than 4,300 digits.
    """
    import json  # only where a value is JSON (start-up: a table prints none)

    try:
        return json.loads(text, parse_float=number, parse_int=number or float)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno}, column {error.colno}" if "\n" in text else f"character {error.pos}"
        raise BpcliError(f"the value of {name} is not a valid {what}: {error.msg} at {where}"
                         f"{_spelling_hint(text, error.pos)}") from None
    except RecursionError:
        raise BpcliError(f"the value of {name} is nested too deeply") from None


_NON_FINITE_WORD = r"(?i)[+-]?(nan|inf(inity)?)\b"  # compiled on its first use, as the patterns above
_JSON_SPELLING = {"nan": "NaN", "inf": "Infinity", "infinity": "Infinity"}


def _spelling_hint(text: str, position: int) -> str:
    """Where JSON stops at nan or inf: how JSON (as Python's json reads it) spells them."""
    word = re.compile(_NON_FINITE_WORD).match(text, position)
    if word is None:
        return ""
    sign = "-" if word.group().startswith("-") else ""
    spelt = sign + _JSON_SPELLING[word.group(1).lower()]
    return f" ({word.group()} is not JSON: write {spelt}, as in '[{spelt}, 1]')"


def read_text_file(path: FilePath, limit: int, raise_with: str = "--max-length") -> str:
    """A UTF-8 text file (or standard input, for ``-``) of at most ``limit`` bytes: an expression's,
    a backward pass's, an answers file's, a student's Python file."""
    named = path_text(path)
    return utf8_text("standard input" if named == "-" else named, read_bytes(named, limit=limit, raise_with=raise_with))


BYTE_ORDER_MARK = b"\xef\xbb\xbf"  # as Windows editors write it first: not part of the text


def utf8_text(source: FilePath, data: bytes) -> str:
    """``data`` as UTF-8 text, without a byte order mark (as Windows editors write, it is not part of the
    text); ``source``, a path or "standard input", names it in the error. (What the utf-8-sig codec does,
    counting a bad byte from after the mark as it does, without that codec's import.)"""
    try:
        return data.removeprefix(BYTE_ORDER_MARK).decode("utf-8")
    except UnicodeDecodeError as error:
        raise BpcliError(f"{source} is not UTF-8 text (byte {error.start})") from None


def toml_table(table: Any, where: str, keys: Collection[str], kind: str, advice: str = "") -> dict[str, Any]:
    """``table`` (read from a TOML file) checked to be a table with none but ``keys``: an answers file's
    problem, a grading key's, an exercise's. ``keys`` with meanings (a dict) are listed with them."""
    if not isinstance(table, dict):
        raise BpcliError(f"{where} is not a table" + (f": {advice}" if advice else ""))
    unknown = set(table) - set(keys)
    if unknown:
        known = ("; ".join(f"{key}: {meaning}" for key, meaning in keys.items()) if isinstance(keys, dict)
                 else ", ".join(sorted(keys)))
        raise BpcliError(f"{where}: unknown key {sorted(unknown)[0]!r} ({kind} has {known})")
    return table


def _holds_non_numbers(content: list[Any]) -> bool:
    work = [content]
    while work:
        for item in work.pop():
            if isinstance(item, list):
                work.append(item)
            elif isinstance(item, bool) or not isinstance(item, (int, float)):
                return True
    return False
