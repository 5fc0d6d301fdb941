"""A small table of points, evaluated row by row on Python floats: ``bpcli grad --points`` without numpy.

Importing numpy costs more processor time (some 180 ms here, its BLAS threads
started) than evaluating a few thousand rows of a small expression one at a
time, and its start-up is paid by every process of a loop over files. So the
command line tries this path first, and it takes a table only when it can
answer alone:

- the points are text (CSV or JSON Lines, a file or standard input) of at most
  ``SMALL_BYTES`` bytes, and the rows times the graph's nodes (and a row's
  own cost, ``ROW_NODES``) at most ``SMALL_WORK``: the time it takes;
- the output is text too (CSV or JSON Lines), and the graph is elementwise, of
  variables that are all numbers (no example values in a program to replace);
- nothing needs a word: no cell that underflowed, no inf, nan, kink or tie met
  by any row, and nothing near a limit (``--max-elements``, ``--max-total-elements``).

Anything else returns None, and the numpy path (``points.grad_points``) does
the work and says what is to be said, in its own words. This path reads every
table with the careful reader (``points.csv_rows``, ``points.jsonl_rows``), to
which the numpy path's fast CSV parsers hand any table they do not take, and
both bind it with the same ``bound_columns``, so an error reads the same on
either (the fast parsers round plain numbers as ``float`` does).

Each row is evaluated as ``bpcli grad`` evaluates one point: the graph built
and differentiated once, as for one point, then evaluated with each row's
numbers on the scalar backend (math's functions). So every row's value and
gradients are those of ``bpcli grad`` at that point, bit for bit; numpy's
functions (np.exp, np.tanh, np.power) may differ from the C library's in the
last bit, so the numpy path's may too (docs/commands/points.md says which path
applies when).
"""

from __future__ import annotations

import os
from array import array
from typing import TYPE_CHECKING, Any, Mapping

from bpcli.analyses.points import STDIN, PointsResult, bound_columns, csv_body, csv_rows, is_jsonl, jsonl_rows
from bpcli.analyses.result import GradResult
from bpcli.engine.backward import Adjoints
from bpcli.engine.errors import BpcliError
from bpcli.engine.paths import path_suffix
from bpcli.engine.problem import Limits, Notice, Problem, build
from bpcli.engine.values import read_bytes

if TYPE_CHECKING:
    from bpcli.engine.paths import FilePath

SMALL_BYTES = 256 * 1024  # a points table read as text on this path at most (some 6,000 rows of two columns)
# Rows times (nodes + ROW_NODES) at most, the nodes those of the graph and its backward pass. A row costs
# here about 9 µs to read and set up and 0.5 to 1.4 µs a node (evaluate's own loop): ROW_NODES nodes'
# worth. So the path takes at most about 100 ms, less than numpy's import alone (115 ms of wall time,
# 185 ms of processor time, its BLAS threads started): some 2,300 rows of the notes' example (28 nodes),
# 5,000 of x * y (4 nodes).
SMALL_WORK = 100_000
ROW_NODES = 16
TEXT_SUFFIXES = (".csv", ".jsonl")


def few_points(
    expression: str, points: FilePath, bindings: Mapping[str, Any], *, data: bytes | None = None,
    expand: bool = False, limits: Limits = Limits(),
) -> PointsResult | None:
    """The rows of a small text table evaluated one by one, or None (see the module's docstring).

    ``points`` is the table's path, or ``-`` with ``data`` the bytes read from standard input. What is
    done first is what the numpy path does first, so that the same error comes first: a file is read
    after the expression is built, standard input before (an expression it cannot build is left to the
    numpy path, which reads the table first). The rows are bounded before a cell is read.
    """
    if data is None:
        suffix = path_suffix(points).lower()
        if suffix not in TEXT_SUFFIXES or not _small_file(points):
            return None
        differentiated = _differentiated(expression, expand, limits)
        if differentiated is None:
            return None
        data = read_bytes(points, " (the points)")
        source: FilePath = points
        jsonl = suffix == ".jsonl"
    else:
        if len(data) > SMALL_BYTES:
            return None
        try:
            differentiated = _differentiated(expression, expand, limits)
        except BpcliError:
            return None  # the numpy path says it, after an error in the table if there is one
        if differentiated is None:
            return None
        source, jsonl = STDIN, is_jsonl(data)
    problem, adjoints = differentiated
    if _too_much(data, problem):
        return None  # too many rows to be worth it, known before a cell is read
    table = _table(source, data, jsonl)
    if table is None:
        return None
    graph = problem.graph
    variables = [graph.nodes[v].name for v in graph.variables]
    values, notices, count = bound_columns(variables, table, table, bindings,
                                           lambda rows, number: array("d", [number]) * rows)
    if count > limits.max_elements or len(graph.nodes) * count > limits.max_total_elements:
        return None  # a column longer than the limit, a budget the whole columns may exceed: numpy's words
    return _evaluated(problem, adjoints, values, count, notices)


def _differentiated(expression: str, expand: bool, limits: Limits) -> tuple[Problem, Adjoints] | None:
    """The expression built and differentiated once, as for one point (on numbers, the graph is the same
    whatever their values), or None for a graph this path does not take."""
    graph = build(expression, expand)
    if graph.example_values or not graph.elementwise():
        return None
    problem = Problem.bound(graph, {graph.nodes[v].name: 0.0 for v in graph.variables}, limits)
    if graph.shapes is not None:
        return None  # an array among the constants ([1, 2] * x): not a number per row
    return problem, problem.backward(None)


# Where str.splitlines ends a line, in UTF-8 ("\r\n" is one end): the readers split a table's rows so.
_LINE_ENDS = tuple(map(str.encode, "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"))


def _too_much(data: bytes, problem: Problem) -> bool:
    """Whether the rows (at most the lines) times the graph's nodes and ROW_NODES exceed SMALL_WORK."""
    lines = sum(map(data.count, _LINE_ENDS)) - data.count(b"\r\n") + 1
    return len(data) > SMALL_BYTES or lines * (len(problem.graph.nodes) + ROW_NODES) > SMALL_WORK


def _table(source: FilePath, data: bytes, jsonl: bool) -> dict[str, array[float]] | None:
    """The columns of a CSV or JSON Lines table, read as the numpy path's careful reader reads them (the
    same errors); None if a cell underflowed (the numpy path reports it, with its column)."""
    if not jsonl:
        csv_body(source, data)  # the header checked on its own first, as points._read_csv does: the same error
    names, numbers, underflowed = (jsonl_rows if jsonl else csv_rows)(source, data)
    if underflowed.any():
        return None
    return {name: array("d", [row[i] for row in numbers]) for i, name in enumerate(names)}


def _small_file(path: FilePath) -> bool:
    """Whether ``path`` is a file of at most SMALL_BYTES (anything odd: the usual reader says what)."""
    try:
        return os.stat(path).st_size <= SMALL_BYTES
    except (OSError, ValueError):
        return False


def _evaluated(
    problem: Problem, adjoints: Adjoints, values: dict[str, array[float]], count: int, notices: list[Notice]
) -> PointsResult | None:
    """Every row's value and gradients, or None where a row meets what must be said (then the numpy
    path says it, over all rows)."""
    value = array("d")
    gradients: dict[str, array[float]] = {}
    for row in range(count):
        problem.inputs = {name: column[row] for name, column in values.items()}  # the same graph, another point
        result = GradResult(problem, adjoints, problem.gradients(adjoints))  # as grad.differentiate
        if result.evaluation.findings:
            return None
        value.append(result.value)
        for name, gradient in result.gradients.items():
            gradients.setdefault(name, array("d")).append(gradient)
    graph = problem.graph
    return PointsResult(graph.nodes[graph.output].name, values, value, gradients, notices + problem.warnings([]))
