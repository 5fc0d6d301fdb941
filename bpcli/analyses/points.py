"""Many points at once: the value and every gradient at each row of a table.

Each variable is bound to a column of numbers and the graph is evaluated with
arrays, the same gates as for one point, a block of rows at a time
(``engine.blocks``: sized for the processor's cache, buffers reused, blocks shared
among threads; several times as fast as whole columns, and bit for bit the same);
points are independent because elementwise gates work element by element. A
graph with a gate that combines elements (a reduction, ``@``) would mix the
rows, so it is evaluated row by row instead.

Tables come from CSV (a header row names the columns), JSON Lines (one object
per line), .npy (a structured array whose field names name the columns, or a
plain 1-D or 2-D array whose columns ``columns=`` names, else the expression's
variables in order), .npz (one 1-D array per column, by name), and with pyarrow
(``bpcli[arrow]``) Parquet and Arrow IPC (.arrow, .feather); binary files are
loaded without pickle, and every file is read through ``read_bytes`` (capped).
"""

from __future__ import annotations

import json
import os
import re
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence, Union

from bpcli import views
from bpcli.analyses.grad import grad
from bpcli.analyses.result import GradResult, Result
from bpcli.engine import arrow
from bpcli.engine.budget import check_budget
from bpcli.engine.errors import BpcliError
from bpcli.engine.paths import path_suffix, path_text
from bpcli.engine.printable import excerpt
from bpcli.engine.problem import Limits, Notice, Problem, build, to_value
from bpcli.engine.record import NamedTuple, Record, field
from bpcli.engine.shapes import show, value_shape
from bpcli.engine.values import (
    BYTE_ORDER_MARK, MAX_FILE_BYTES, NUMBER, load_npy, marked_underflow, read_bytes, underflows, utf8_text,
)

if TYPE_CHECKING:
    from bpcli.engine.paths import FilePath


class PointsResult(Result, Record):
    """The value and every gradient at each point (``bpcli grad --points``): columns as numpy arrays.

    ``to_csv()`` and ``to_jsonl()`` are the text the command writes with ``--format csv``
    and ``--format jsonl``. (The command line's small tables, ``few_points``, hold the columns
    as ``array("d")`` instead: numpy is not imported for them.)
    """

    output: str
    inputs: dict[str, Any]  # variable -> its value at every point (a column)
    value: Any  # the output at every point
    gradients: dict[str, Any]  # variable -> d(output)/d(variable) at every point
    warnings: list[Notice] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.value)

    def to_csv(self) -> str:
        """What ``bpcli grad --points FILE`` writes: a header row, then one row per point."""
        return self._written("csv")

    def to_jsonl(self) -> str:
        """What ``--format jsonl`` writes: one bpcli.points/1 object per line."""
        return self._written("jsonl")

    def to_json(self, indent: int | None = 2) -> str:
        """What ``--json`` prints for points: JSON Lines, as ``to_jsonl`` (a line a point has no indent)."""
        return self.to_jsonl()

    def _written(self, fmt: str) -> str:
        import io  # only for files (start-up)

        written = io.BytesIO()
        views.write(self, written, fmt)
        return written.getvalue().decode()


def grad_points(
    expression: str,
    points: Union[Mapping[str, Any], str, "os.PathLike[str]"],
    bindings: Mapping[str, Any] | None = None,
    /,
    *,
    expand: bool = False,
    limits: Limits = Limits(),
    columns: Sequence[str] | None = None,
    **values: Any,
) -> PointsResult:
    """The value and every gradient of ``expression`` at each point, in one pass over arrays.

    ``points`` maps each variable to its column of numbers (lists or numpy arrays of one
    length), or is the path of a points file as ``bpcli grad --points`` reads it (.csv
    with a header, .jsonl, .npy, .npz, .parquet, .arrow, .feather). ``columns`` names the
    columns of a plain 2-D .npy (by default the expression's variables in the order they
    first appear). Variables without a column take the same value at every point, from
    ``bindings`` or keyword arguments.

        >>> import bpcli
        >>> r = bpcli.grad_points("x * y", {"x": [3, 1], "y": [-4, 2]})
        >>> r.value.tolist(), r.gradients["x"].tolist(), r.gradients["y"].tolist()
        ([-12.0, 2.0], [-4.0, 2.0], [3.0, 1.0])
        >>> print(bpcli.grad_points("x * y", {"x": [3, 1]}, y=2).to_csv(), end="")
        x,y,f,df/dx,df/dy
        3.0,2.0,6.0,2.0,3.0
        1.0,2.0,2.0,2.0,1.0
    """
    import numpy as np  # numpy only where arrays are (start-up)

    bindings = {**(bindings or {}), **values}
    graph = build(expression, expand)  # bound below, once every variable has a column
    variables = [graph.nodes[v].name for v in graph.variables]
    given: Mapping[str, Any]
    if isinstance(points, (str, os.PathLike)):
        given = read_points(path_text(points), Order(list(columns or variables), columns is not None), limits)
    elif columns is not None:
        raise BpcliError("columns= names the columns of a plain .npy file; a mapping names its own columns")
    else:
        given = points
    table = {name: np.asarray(column, dtype=np.float64).reshape(-1) for name, column in given.items()}
    values, notices, count = bound_columns(variables, table, given, bindings, np.full)
    if graph.elementwise():
        problem = Problem.bound(graph, values, limits)
        adjoints = problem.backward(None)  # upstream 1 rather than an array of ones: fewer multiplications
        blocks = _by_blocks(expression, expand, problem, values, count) if count > 2 * BLOCK else None
        if blocks is not None:
            value, gradients = blocks
            warnings = problem.warnings([])  # those of binding, and the stages that do not reach the output
        else:
            result = GradResult(problem, adjoints, problem.gradients(adjoints))
            value = np.broadcast_to(result.value, (count,))
            gradients = {name: np.broadcast_to(g, (count,)) for name, g in result.gradients.items()}
            warnings = result.warnings
    else:
        value, gradients, warnings = _row_by_row(expression, values, count, expand, limits)
    return PointsResult(graph.nodes[graph.output].name, values, value, gradients, notices + warnings)


def bound_columns(
    variables: list[str], table: Mapping[str, Any], given: Mapping[str, Any], bindings: Mapping[str, Any],
    full: Callable[[int, float], Any],
) -> tuple[dict[str, Any], list[Notice], int]:
    """A column for every variable (``table``'s, else ``full(rows, number)`` of its binding), the notices
    of the table (columns no variable uses, cells that underflowed, as ``given`` marks them) and the
    number of rows. Both paths of ``--points`` (numpy's, and ``few_points``' on numbers) go through
    here, so that they say the same."""
    count = _row_count(table)
    fixed = {name: _fixed_number(name, value) for name, value in bindings.items() if name in variables}
    unused = [name for name in table if name not in variables]
    notices = [
        Notice(None, None, "unused-binding", f"the column {name} is not a variable of the expression")
        for name in unused[:UNUSED_NAMED]
    ]
    if len(unused) > UNUSED_NAMED:  # a table of 100,000 columns is not 100,000 lines of warnings
        notices.append(Notice(None, None, "unused-binding",
                              f"{len(unused) - UNUSED_NAMED:,} more columns are not variables of the expression"))
    notices += [
        Notice(None, None, "underflow-input", f"the column {name}: {column.underflow}")
        for name, column in given.items()
        if getattr(column, "underflow", None)
    ]
    # Every variable gets a whole column, so that each point gets its own gradient.
    values = {
        name: table[name] if name in table else full(count, fixed[name]) if name in fixed else None
        for name in variables
    }
    missing = [name for name, column in values.items() if column is None]
    if missing:
        raise BpcliError(
            f"no column and no value for {', '.join(missing)}: add a column to the points, or bind it (-{missing[0]} 1)"
        )
    return values, notices, count


UNUSED_NAMED = 5  # columns named one by one in a warning or a message; the rest are counted
BLOCK = 16_384  # rows evaluated at a time: a block's arrays, every gate's together, stay in the processor's cache
FIRST_ROWS = 256  # rows evaluated the usual way first, for their findings: every array there is allocated anew


def _by_blocks(
    expression: str, expand: bool, whole: Problem, values: dict[str, Any], count: int
) -> tuple[Any, dict[str, Any]] | None:
    """The value and gradients evaluated BLOCK rows at a time (``engine.blocks``), bit for bit those of the
    whole columns at once (the gates are elementwise), several times as fast; or None if a block has
    anything to warn about (inf, nan, a kink), so that the whole evaluation counts and words it over
    every row.

    The whole problem's budget is checked first, as if evaluated at once. The first rows are evaluated
    the usual way, with their findings; the plan made from them evaluates the others.
    """
    import numpy as np  # numpy only where arrays are (start-up)

    from bpcli.engine.blocks import Plan  # only for many rows (start-up)

    check_budget(whole.graph, whole.limits.max_total_elements)
    first = min(FIRST_ROWS, BLOCK)
    problem = Problem.bound(build(expression, expand), {name: column[:first] for name, column in values.items()},
                            whole.limits)
    adjoints = problem.backward(None)
    evaluation = problem.gradients(adjoints)
    if evaluation.findings:
        return None
    graph = problem.graph
    names = [graph.nodes[v].name for v in graph.differentiable_variables()]
    flowing = {graph.nodes[v].name: node for v in graph.differentiable_variables()
               if (node := adjoints.gradient(v)) is not None}  # the others are 0 at every row
    columns = Plan(graph, evaluation.values, first, values, [graph.output, *flowing.values()], BLOCK).run(count)
    if columns is None:
        return None
    value, *computed = columns
    found = dict(zip(flowing, computed))
    return value, {name: found[name] if name in found else np.zeros(count) for name in names}


def _fixed_number(name: str, value: Any) -> float:
    """A value bound beside the points, the same at every row: a number.

    An array is refused rather than broadcast: a points table holds one
    number per variable and per row (a CSV cell, a JSON Lines value), and an
    array's gradient at every row would have no place in it.
    """
    number = to_value(name, value)
    if hasattr(number, "shape"):
        raise BpcliError(
            f"{name} is an array of shape {show(value_shape(number))}, but a value bound beside --points is a "
            f"number, the same at every row: the points table holds one number per variable and row, and so "
            f"does its output. Give {name}'s elements a column each (write them as separate variables), "
            f"or leave out --points to differentiate with the array"
        )
    return number


def _row_by_row(
    expression: str, values: dict[str, Any], count: int, expand: bool, limits: Limits
) -> tuple[Any, dict[str, Any], list[Notice]]:
    import numpy as np  # numpy only where arrays are (start-up)

    value = np.empty(count)
    gradients = {name: np.empty(count) for name in values}
    warnings: list[Notice] = []
    for row in range(count):
        point = {name: float(column[row]) for name, column in values.items()}
        result = grad(expression, point, expand=expand, limits=limits)
        value[row] = result.value
        for name, gradient in result.gradients.items():
            gradients[name][row] = gradient
        warnings.extend(Notice(w.stage, w.index, w.kind, f"row {row + 1}: {w.message}") for w in result.warnings)
    return value, gradients, warnings


def _row_count(table: Mapping[str, Any]) -> int:
    lengths = {len(column) for column in table.values()}
    if len(lengths) > 1:
        raise BpcliError(f"the columns have different lengths: {sorted(lengths)}")
    if not lengths or 0 in lengths:
        raise BpcliError("the points have no rows")
    return lengths.pop()


# ---- reading tables -------------------------------------------------------------


class Order(NamedTuple):
    """The names of a plain array's columns: given (``--columns``), or the expression's variables in order."""

    names: list[str]
    given: bool = False


def read_points(path: FilePath, order: Order | None = None, limits: Limits = Limits()) -> dict[str, Any]:
    """The columns of a points file, by name (``order`` names a plain .npy's columns)."""
    suffix = path_suffix(path).lower()
    readers = {
        ".csv": _read_csv, ".jsonl": _read_jsonl, ".npy": _read_npy, ".npz": _read_npz,
        ".parquet": _read_parquet, ".arrow": _read_arrow, ".feather": _read_arrow,
    }
    if suffix not in readers:
        raise BpcliError(f"{path}: points are read from .csv, .jsonl, .npy, .npz, .parquet, .arrow or .feather files")
    if suffix in (".parquet", ".arrow", ".feather"):
        arrow.required(f"reading {suffix} files")  # before the file is read, so that the message comes first
    reader: Any = readers[suffix]
    return reader(path, read_bytes(path, " (the points)"), _Context(order or Order([]), limits))


NPY_HEADER_BYTES = 65_536  # an .npy header is at most 4 GiB by the format, a few hundred bytes in practice


class _Context(NamedTuple):
    order: Order
    limits: Limits


STDIN = "standard input"


def read_points_data(data: bytes, source: str = STDIN) -> dict[str, Any]:
    """The columns of points given without a file name (``--points -``): JSON Lines or CSV with a header
    row, as ``is_jsonl`` tells."""
    reader = _read_jsonl if is_jsonl(data) else _read_csv
    return reader(source, data)


def is_jsonl(data: bytes) -> bool:
    """Whether points given without a file name are JSON Lines: the first character that is not blank
    (after the byte order mark an editor may write, which the readers skip) is ``{``; else they are CSV.
    Both paths of ``--points -`` decide here (few_points too)."""
    return data.removeprefix(BYTE_ORDER_MARK).lstrip()[:1] == b"{"


def _read_csv(path: FilePath, data: bytes, context: _Context | None = None) -> dict[str, Any]:
    """CSV with a header row: plain numbers by a fast parser (pyarrow's, else numpy's), anything else
    (quotes, blank cells, a word, numbers that may underflow) by the careful reader that names the line."""
    body = csv_body(path, data)
    if body is not None:
        names, rows = body
        columns = _parsed(rows, len(names)) if _number_bytes_only(rows) else None
        if columns is not None and not any(_may_underflow(column, rows) for column in columns):
            return dict(zip(names, columns))
    return _read_csv_carefully(path, data)


def _read_csv_carefully(path: FilePath, data: bytes) -> dict[str, Any]:
    names, numbers, underflowed = csv_rows(path, data)
    return underflowed.columns(names, numbers)


def csv_body(path: FilePath, data: bytes) -> tuple[list[str], memoryview] | None:
    """The names of the header row (checked) and the bytes beneath it, or None for a file of one line."""
    start = len(BYTE_ORDER_MARK) if data.startswith(BYTE_ORDER_MARK) else 0
    end = data.find(b"\n", start)
    if end < 0:
        return None
    # The body is not a copy: a million rows are tens of megabytes.
    return _header(path, utf8_text(path, data[start:end])), memoryview(data)[end + 1:]


# The bytes plain numbers are written with: digits, signs, points, exponents, inf, infinity and nan.
_NUMBER_BYTES = b"0123456789+-.eE,\r\n \tinfatyINFATY"
# A number written nonzero is 0 in float64 only with an exponent of 3 digits or 200 zeros after the point
# (in CSV or in JSON Lines).
_TINY = re.compile(rb"[eE]-\d{3}|0{200}")


def _number_bytes_only(body: memoryview) -> bool:
    return not bytes(body).translate(None, _NUMBER_BYTES)  # a copy, but at memcpy's speed; nothing is left


def _may_underflow(array: Any, body: memoryview) -> bool:
    """Whether a 0 in ``array`` may have been written nonzero (then the careful reader finds and reports it)."""
    return bool((array == 0).any()) and _TINY.search(body) is not None


def _parsed(body: memoryview, width: int) -> list[Any] | None:
    """The ``width`` columns of ``body``'s rows as contiguous float64 arrays, correctly rounded, or None
    if a fast parser refuses them (the careful reader then says why)."""
    import numpy as np  # numpy only where arrays are (start-up)

    pyarrow = arrow.optional()
    try:
        columns = _numpy_csv(body, width) if pyarrow is None else _arrow_csv(pyarrow, body, width)
    except ValueError:  # pyarrow's ArrowInvalid is one too
        return None
    rows = {np.shape(column) for column in columns}
    return columns if len(columns) == width and len(rows) == 1 and rows.pop()[0] > 0 else None


def _numpy_csv(body: memoryview, width: int) -> list[Any]:
    import io  # only for files (start-up)
    import warnings  # only for files (start-up)

    import numpy as np  # numpy only where arrays are (start-up)

    with warnings.catch_warnings():  # no rows: "input contained no data"; the careful reader says it better
        warnings.simplefilter("ignore")
        array = np.loadtxt(io.StringIO(str(body, "ascii")), delimiter=",", dtype=np.float64, ndmin=2,
                           comments=None, quotechar=None)
    return list(np.ascontiguousarray(array.T)) if array.shape[1:] == (width,) else []


def _arrow_csv(pyarrow: Any, body: memoryview, width: int) -> list[Any]:
    from pyarrow import csv  # the optional extra (start-up)

    names = [str(i) for i in range(width)]
    table = csv.read_csv(
        pyarrow.BufferReader(pyarrow.py_buffer(body)),
        # One thread: pyarrow's thread pool, torn down as the process exits, now and then aborted it
        # ("terminate called without an active exception", seen in 1 run of 90 under load).
        read_options=csv.ReadOptions(column_names=names, use_threads=False),
        parse_options=csv.ParseOptions(quote_char=False),
        convert_options=csv.ConvertOptions(
            column_types={name: pyarrow.float64() for name in names}, null_values=[], strings_can_be_null=False
        ),
    )
    return [table.column(name).to_numpy() for name in names]


def _header(path: FilePath, line: str) -> list[str]:
    import csv  # only for files (start-up)

    header = next(csv.reader([line]), None)
    if not header or all(NUMBER.match(cell.strip()) for cell in header):
        raise BpcliError(f"{path}: the first row must name the columns (x,y,...)")
    names = [cell.strip() for cell in header]
    _check_names(path, names)
    return names


def csv_rows(path: FilePath, data: bytes) -> tuple[list[str], list[list[float]], Underflowed]:
    """The careful reader: the names, each row's numbers, and the cells that underflowed; every wrong
    cell named with its line. Numbers only, no numpy: the small tables' reader too (few_points)."""
    import csv  # only for files (start-up)

    lines = utf8_text(path, data).splitlines()
    names = _header(path, lines[0] if lines else "")
    rows = csv.reader(lines[1:])
    underflowed = Underflowed(len(names))
    numbers: list[list[float]] = []
    for line, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(names):
            raise BpcliError(f"{path}, line {line}: {len(row)} values where the header names {len(names)} columns")
        for cell in row:
            if not NUMBER.match(cell.strip()):
                raise BpcliError(f"{path}, line {line}: {excerpt(cell.strip())} is not a number")
        numbers.append([float(cell) for cell in row])
        underflowed.note([cell.strip() for cell in row], numbers[-1])
    return names, numbers, underflowed


class Underflowed:
    """Per column, the numbers written nonzero that float64 made 0 (1e-400), so that they are reported."""

    def __init__(self, width: int) -> None:
        self.first: list[str | None] = [None] * width
        self.count = [0] * width

    def note(self, texts: list[str], numbers: list[float]) -> None:
        for i, (text, number) in enumerate(zip(texts, numbers)):
            if number == 0.0 and underflows(text, number):
                self.count[i] += 1
                self.first[i] = self.first[i] or text

    def any(self) -> bool:
        return any(self.count)

    def columns(self, names: list[str], numbers: list[list[float]]) -> dict[str, Any]:
        """The rows' numbers as float64 columns by name, each marked with what underflowed in it (the array
        is rows by names even with no rows, or no names)."""
        import numpy as np  # numpy only where arrays are (start-up)

        array = np.array(numbers, dtype=np.float64).reshape(len(numbers), len(names))
        return {name: marked_underflow(array[:, i], self.first[i], self.count[i]) for i, name in enumerate(names)}


def _read_jsonl(path: FilePath, data: bytes, context: _Context | None = None) -> dict[str, Any]:
    names, numbers, underflowed = jsonl_rows(path, data)
    return underflowed.columns(names, numbers)


def jsonl_rows(path: FilePath, data: bytes) -> tuple[list[str], list[list[float]], Underflowed]:
    """The names, each row's numbers and the cells that underflowed of JSON Lines; no numpy (few_points)."""
    number: Any = float
    if _TINY.search(data):  # a number that may underflow: each is kept with its text, to see 1e-400 become 0
        from bpcli.analyses.expected import Written  # only then (start-up: check's module; a float parses faster)

        number = Written
    names: list[str] | None = None
    underflowed: Underflowed | None = None
    numbers: list[list[float]] = []
    for line, text in enumerate(utf8_text(path, data).splitlines(), start=1):
        if not text.strip():
            continue
        try:
            # float64 in the end (int() refuses 4,300 digits)
            row = json.loads(text, parse_int=float, parse_float=number, object_pairs_hook=_unique_keys)
        except json.JSONDecodeError as error:
            raise BpcliError(f"{path}, line {line}: not valid JSON ({error.msg})") from None
        except RecursionError:
            raise BpcliError(f"{path}, line {line}: nested too deeply") from None
        except BpcliError as error:  # _unique_keys: a key twice
            raise BpcliError(f"{path}, line {line}: {error}") from None
        if not isinstance(row, dict):
            raise BpcliError(f"{path}, line {line}: each line is an object such as {{\"x\": 1, \"y\": 2}}")
        if names is None:
            names = list(row)
            _check_names(path, names)
        if set(row) != set(names):
            missing, extra = sorted(set(names) - set(row))[:UNUSED_NAMED], sorted(set(row) - set(names))[:UNUSED_NAMED]
            raise BpcliError(f"{path}, line {line}: the keys differ from the first line's"
                             + (f"; it lacks {missing}" if missing else "") + (f"; it adds {extra}" if extra else ""))
        values = [row[name] for name in names]
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in values):
            raise BpcliError(f"{path}, line {line}: every value must be a number")
        numbers.append([float(v) for v in values])
        if underflowed is None:
            underflowed = Underflowed(len(names))
        underflowed.note([getattr(v, "text", "") for v in values], numbers[-1])
    if names is None or underflowed is None:
        raise BpcliError(f"{path} has no points")
    return names, numbers, underflowed


def _read_npy(path: FilePath, data: bytes, context: _Context) -> dict[str, Any]:
    import numpy as np  # numpy only where arrays are (start-up)

    array = load_npy(path, data)
    if array.dtype.names is None:
        return _plain_columns(path, array, context.order)
    for name in array.dtype.names:
        _check_numbers(path, name, array.dtype[name])
    _check_names(path, list(array.dtype.names))
    return {name: np.asarray(array[name], dtype=np.float64).reshape(-1) for name in array.dtype.names}


def _plain_columns(path: FilePath, array: Any, order: Order) -> dict[str, Any]:
    """A plain array's columns (a 1-D array is one column), named by ``order``."""
    if array.ndim not in (1, 2):
        raise BpcliError(
            f"{path} holds an array of shape {show(array.shape)}; points are a 1-D array (one column) or a 2-D "
            "array (one row per point, one column per variable)"
        )
    _check_numbers(path, "of the array", array.dtype)
    width = 1 if array.ndim == 1 else array.shape[1]
    if len(order.names) != width:
        named = f"--columns names {len(order.names)}" if order.given else (
            f"the expression has {len(order.names)} variable{'s' if len(order.names) != 1 else ''} "
            f"({', '.join(order.names)})")
        raise BpcliError(f"{path} has {width} column{'s' if width != 1 else ''} and {named}: name its columns "
                         "with --columns x,y,... (columns= in Python), one name per column")
    _check_names(path, order.names)
    return _contiguous_columns(order.names, array.reshape(len(array), width))


def _contiguous_columns(names: list[str], array: Any) -> dict[str, Any]:
    """The columns of a 2-D array, each a contiguous float64 copy: every gate then reads it at full speed."""
    import numpy as np  # numpy only where arrays are (start-up)

    return {name: np.ascontiguousarray(array[:, i], dtype=np.float64) for i, name in enumerate(names)}


def _read_npz(path: FilePath, data: bytes, context: _Context) -> dict[str, Any]:
    """One 1-D .npy array per column, named as the variables; each member's size checked before it is read."""
    import io  # only for files (start-up)
    import zipfile  # only for .npz files (start-up)

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise BpcliError(f"{path} is not a readable .npz file ({error})") from None
    largest = max((member.file_size for member in members), default=0)
    total = sum(member.file_size for member in members)
    if largest > NPY_HEADER_BYTES + 8 * context.limits.max_elements or total > MAX_FILE_BYTES:
        raise BpcliError(f"{path} unpacks to arrays of more than {context.limits.max_elements:,} numbers "
                         f"(--max-elements) or more than {MAX_FILE_BYTES:,} bytes in all; bpcli reads no more")
    columns = {}
    with archive:
        for member in members:
            name = member.filename.removesuffix(".npy")
            if name in columns:  # a zip may hold two members of one name; numpy would keep either
                raise BpcliError(f"{path} holds two arrays named {excerpt(name)}; one per column")
            try:
                content = archive.read(member)
            except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as error:
                raise BpcliError(f"{path}: the array {excerpt(name)} cannot be read ({error})") from None
            array = load_npy(f"{path}, array {excerpt(name)}", content)
            if array.ndim != 1 or array.dtype.names is not None:
                raise BpcliError(f"{path}: the array {excerpt(name)} has shape {show(array.shape)}; each array of a "
                                 "points .npz is one column, 1-D")
            _check_numbers(path, excerpt(name), array.dtype)
            columns[name] = array
    if not columns:
        raise BpcliError(f"{path} has no arrays")
    _check_names(path, list(columns))
    return columns


def _read_parquet(path: FilePath, data: bytes, context: _Context) -> dict[str, Any]:
    pyarrow = arrow.required("reading .parquet files")
    from pyarrow import parquet  # the optional extra (start-up)

    try:
        source = parquet.ParquetFile(pyarrow.BufferReader(data))
        _check_size(path, source.metadata.num_rows, source.metadata.num_columns, context.limits)
        _check_schema(path, source.schema_arrow)
        table = source.read()
    except (pyarrow.ArrowException, OSError, ValueError) as error:
        raise BpcliError(f"{path} is not a readable Parquet file ({error})") from None
    return _table_columns(path, table)


def _read_arrow(path: FilePath, data: bytes, context: _Context) -> dict[str, Any]:
    """An Arrow IPC file (.arrow, .feather v2), read batch by batch so that its size is checked as it grows."""
    pyarrow = arrow.required(f"reading {path_suffix(path)} files")
    try:
        reader = pyarrow.ipc.open_file(pyarrow.BufferReader(data))
        _check_schema(path, reader.schema)
        # The rows from the file's metadata first: a compressed batch is unpacked whole before pyarrow counts it.
        _check_size(path, sum(arrow.batch_rows(data)), len(reader.schema), context.limits)
        batches, rows = [], 0
        for i in range(reader.num_record_batches):
            batches.append(reader.get_batch(i))
            rows += batches[-1].num_rows
            _check_size(path, rows, len(reader.schema), context.limits)
        table = pyarrow.Table.from_batches(batches, schema=reader.schema)
    except (pyarrow.ArrowException, OSError, ValueError) as error:
        raise BpcliError(f"{path} is not a readable Arrow IPC file ({error})") from None
    return _table_columns(path, table)


def _check_size(path: FilePath, rows: int, width: int, limits: Limits) -> None:
    """A table is refused before it is unpacked if a column exceeds --max-elements or all of them the file cap."""
    if rows > limits.max_elements or 8 * rows * width > MAX_FILE_BYTES:
        raise BpcliError(f"{path} holds {rows:,} rows of {width} columns; the limit is {limits.max_elements:,} rows "
                         f"(--max-elements) and {MAX_FILE_BYTES // 8:,} numbers in all")


def _check_schema(path: FilePath, schema: Any) -> None:
    """Every column named as a variable and of numbers, from the schema: before the data is unpacked, since
    strings or lists compress to almost nothing (a few kB of Parquet can hold gigabytes of them)."""
    from pyarrow import types  # the optional extra, there when an Arrow file is read (start-up)

    _check_names(path, list(schema.names))
    for column in schema:
        if not (types.is_integer(column.type) or types.is_floating(column.type)):
            raise BpcliError(f"{path}: the column {column.name} holds {column.type} values, not numbers")


def _table_columns(path: FilePath, table: Any) -> dict[str, Any]:
    """The columns of an Arrow table whose schema was checked (_check_schema), without missing values."""
    import numpy as np  # numpy only where arrays are (start-up)

    columns = {}
    for name in table.column_names:
        column = table.column(name)
        if column.null_count:
            raise BpcliError(f"{path}: the column {name} has {column.null_count:,} missing values")
        columns[name] = np.asarray(column.to_numpy(), dtype=np.float64)
    if not columns:
        raise BpcliError(f"{path} has no columns")
    return columns


def _check_numbers(path: FilePath, name: str, dtype: Any) -> None:
    if dtype.kind not in "biuf":
        what = "the array holds" if name == "of the array" else f"the column {name} holds"
        raise BpcliError(f"{path}: {what} {dtype} values, not numbers")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different: {"x": 1, "x": 2} names a column twice, as x,x does."""
    row = dict(pairs)
    if len(row) != len(pairs):
        raise BpcliError("a column name appears twice")
    return row


def _check_names(path: FilePath, names: list[str]) -> None:
    for name in names:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise BpcliError(f"{path}: the column name {excerpt(name)} is not a variable name")
    if len(set(names)) != len(names):
        raise BpcliError(f"{path}: a column name appears twice")
