"""Many points at once: the value and every gradient at each row of a table.

Each variable is bound to a column of numbers and the graph is evaluated once
with arrays, the same evaluator as for one point; points are independent
because elementwise gates work element by element. A graph with a gate that
combines elements (a reduction, ``@``) would mix the rows, so it is evaluated
row by row instead.

Tables come from CSV (a header row names the columns), JSON Lines (one object
per line) or .npy (a structured array whose field names name the columns,
loaded without pickle).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Union

from bpcli import views
from bpcli.analyses.grad import differentiate, grad
from bpcli.analyses.expected import Written
from bpcli.analyses.result import Result
from bpcli.engine.errors import BpcliError
from bpcli.engine.printable import excerpt
from bpcli.engine.problem import Limits, Notice, Problem, build, to_value
from bpcli.engine.shapes import show, value_shape
from bpcli.engine.values import NUMBER, load_npy, marked_underflow, read_bytes, underflows


@dataclass
class PointsResult(Result):
    """The value and every gradient at each point (``bpcli grad --points``): columns as numpy arrays.

    ``to_csv()`` and ``to_jsonl()`` are the text the command writes with ``--format csv``
    and ``--format jsonl``.
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

    def _written(self, fmt: str) -> str:
        import io  # only for files (start-up)

        text = io.StringIO()
        views.write(self, text, fmt)
        return text.getvalue()


def grad_points(
    expression: str,
    points: Union[Mapping[str, Any], str, "os.PathLike[str]"],
    bindings: Mapping[str, Any] | None = None,
    /,
    *,
    expand: bool = False,
    limits: Limits = Limits(),
    **values: Any,
) -> PointsResult:
    """The value and every gradient of ``expression`` at each point, in one pass over arrays.

    ``points`` maps each variable to its column of numbers (lists or numpy arrays of one
    length), or is the path of a points file as ``bpcli grad --points`` reads it (.csv
    with a header, .jsonl, a structured .npy). Variables without a column take the same
    value at every point, from ``bindings`` or keyword arguments.

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

    columns = read_points(Path(points)) if isinstance(points, (str, os.PathLike)) else points
    bindings = {**(bindings or {}), **values}
    graph = build(expression, expand)  # bound below, once every variable has a column
    table = {name: np.asarray(column, dtype=np.float64).reshape(-1) for name, column in columns.items()}
    count = _row_count(table)
    variables = [graph.nodes[v].name for v in graph.variables]
    fixed = {name: _fixed_number(name, value) for name, value in bindings.items() if name in variables}
    notices = [
        Notice(None, None, "unused-binding", f"the column {name} is not a variable of the expression")
        for name in table
        if name not in variables
    ] + [
        Notice(None, None, "underflow-input", f"the column {name}: {column.underflow}")
        for name, column in columns.items()
        if getattr(column, "underflow", None)
    ]
    # Every variable gets a whole column, so that each point gets its own gradient.
    values = {
        name: table[name] if name in table else np.full(count, fixed[name]) if name in fixed else None
        for name in variables
    }
    missing = [name for name, column in values.items() if column is None]
    if missing:
        raise BpcliError(
            f"no column and no value for {', '.join(missing)}: add a column to the points, or bind it (-{missing[0]} 1)"
        )
    if graph.elementwise():
        # Upstream 1 rather than an array of ones: the same gradients, fewer multiplications.
        result = differentiate(Problem.bound(graph, values, limits))
        value = np.broadcast_to(result.value, (count,))
        gradients = {name: np.broadcast_to(g, (count,)) for name, g in result.gradients.items()}
        warnings = result.warnings
    else:
        value, gradients, warnings = _row_by_row(expression, values, count, expand, limits)
    return PointsResult(graph.nodes[graph.output].name, values, value, gradients, notices + warnings)


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


def read_points(path: Path) -> dict[str, Any]:
    """The columns of a points file, by name."""
    suffix = path.suffix.lower()
    readers = {".csv": _read_csv, ".jsonl": _read_jsonl, ".npy": _read_npy}
    if suffix not in readers:
        raise BpcliError(f"{path}: points are read from .csv, .jsonl or .npy files")
    return readers[suffix](path, read_bytes(path, " (the points)"))


STDIN = "standard input"


def read_points_data(data: bytes, source: str = STDIN) -> dict[str, Any]:
    """The columns of points given without a file name (``--points -``): JSON Lines if the first
    character that is not blank is ``{``, else CSV with a header row."""
    reader = _read_jsonl if data.lstrip()[:1] == b"{" else _read_csv
    return reader(source, data)


def _text(path: Path | str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise BpcliError(f"{path} is not UTF-8 text (byte {error.start})") from None


def _read_csv(path: Path | str, data: bytes) -> dict[str, Any]:
    import csv  # only for files (start-up)

    import numpy as np  # numpy only where arrays are (start-up)

    rows = csv.reader(_text(path, data).splitlines())
    header = next(rows, None)
    if not header or all(NUMBER.match(cell.strip()) for cell in header):
        raise BpcliError(f"{path}: the first row must name the columns (x,y,...)")
    names = [cell.strip() for cell in header]
    _check_names(path, names)
    underflowed = _Underflowed(len(names))
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
    array = np.array(numbers, dtype=np.float64).reshape(-1, len(names))
    return underflowed.columns(names, array)


class _Underflowed:
    """Per column, the numbers written nonzero that float64 made 0 (1e-400), so that they are reported."""

    def __init__(self, width: int) -> None:
        self.first: list[str | None] = [None] * width
        self.count = [0] * width

    def note(self, texts: list[str], numbers: list[float]) -> None:
        for i, (text, number) in enumerate(zip(texts, numbers)):
            if number == 0.0 and underflows(text, number):
                self.count[i] += 1
                self.first[i] = self.first[i] or text

    def columns(self, names: list[str], array: Any) -> dict[str, Any]:
        return {name: marked_underflow(array[:, i], self.first[i], self.count[i]) for i, name in enumerate(names)}


def _read_jsonl(path: Path | str, data: bytes) -> dict[str, Any]:
    import numpy as np  # numpy only where arrays are (start-up)

    names: list[str] | None = None
    underflowed: _Underflowed | None = None
    numbers: list[list[float]] = []
    for line, text in enumerate(_text(path, data).splitlines(), start=1):
        if not text.strip():
            continue
        try:
            # float64 in the end; int() refuses 4,300 digits. Numbers are kept as text too, to see 1e-400 become 0.
            row = json.loads(text, parse_int=float, parse_float=Written)
        except json.JSONDecodeError as error:
            raise BpcliError(f"{path}, line {line}: not valid JSON ({error.msg})") from None
        except RecursionError:
            raise BpcliError(f"{path}, line {line}: nested too deeply") from None
        if not isinstance(row, dict):
            raise BpcliError(f"{path}, line {line}: each line is an object such as {{\"x\": 1, \"y\": 2}}")
        if names is None:
            names = list(row)
            _check_names(path, names)
        if set(row) != set(names):
            raise BpcliError(
                f"{path}, line {line}: the keys {sorted(row)} differ from the first line's {sorted(names)}"
            )
        values = [row[name] for name in names]
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in values):
            raise BpcliError(f"{path}, line {line}: every value must be a number")
        numbers.append([float(v) for v in values])
        if underflowed is None:
            underflowed = _Underflowed(len(names))
        underflowed.note([v.text if isinstance(v, Written) else "" for v in values], numbers[-1])
    if names is None or underflowed is None:
        raise BpcliError(f"{path} has no points")
    array = np.array(numbers, dtype=np.float64)
    return underflowed.columns(names, array)


def _read_npy(path: Path, data: bytes) -> dict[str, Any]:
    import numpy as np  # numpy only where arrays are (start-up)

    array = load_npy(path, data)
    if array.dtype.names is None:
        raise BpcliError(
            f"{path}: a points .npy file is a structured array whose field names name the columns "
            "(numpy.rec.fromarrays([xs, ys], names='x,y')); use CSV or JSON Lines otherwise"
        )
    for name in array.dtype.names:
        if array.dtype[name].kind not in "biuf":
            raise BpcliError(f"{path}: the column {name} holds {array.dtype[name]} values, not numbers")
    _check_names(path, list(array.dtype.names))
    return {name: np.asarray(array[name], dtype=np.float64).reshape(-1) for name in array.dtype.names}


def _check_names(path: Path | str, names: list[str]) -> None:
    for name in names:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise BpcliError(f"{path}: the column name {name!r} is not a variable name")
    if len(set(names)) != len(names):
        raise BpcliError(f"{path}: a column name appears twice")
