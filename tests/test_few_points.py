"""grad --points on a small text table: row by row on numbers (analyses/few_points.py), without numpy.

Each row must be what ``bpcli grad --json`` gives at that point, bit for bit; the text written and every
message must be the numpy path's (grad_points), byte for byte, wherever the two compute the same numbers.
"""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import bpcli
from bpcli.analyses import few_points
from helpers import run_cli, run_json

# np.exp, np.tanh, np.power... differ from the C library's in the last bit at some points: the rows of
# these must still be bpcli grad's own.
TRANSCENDENTAL = [
    "(x + sigmoid(y)) / (sigmoid(x) + (x+y)**2)",
    "tanh(x) * log(y * y + 1) + exp(x - y)",
    "x ** y + log1p(x) * expm1(y)",
    "q = sqrt(x * x + y); f = q / (1 + tanh(q * y))",
]


def points_file(folder: Path, rows: list[tuple[str, str]], suffix: str = ".csv") -> Path:
    path = folder / f"points{suffix}"
    if suffix == ".csv":
        path.write_text("x,y\n" + "".join(f"{x},{y}\n" for x, y in rows))
    else:
        path.write_text("".join(f'{{"x": {x}, "y": {y}}}\n' for x, y in rows))
    return path


@pytest.mark.parametrize("expression", TRANSCENDENTAL)
def test_every_row_is_bpcli_grads_own_at_that_point(tmp_path, expression):
    generator = random.Random(expression)
    rows = [(repr(generator.uniform(0.01, 3)), repr(generator.uniform(0.01, 3))) for _ in range(40)]
    result = run_cli("grad", expression, "--points", str(points_file(tmp_path, rows)), "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    written = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(written) == len(rows)
    for (x, y), row in zip(rows, written):
        single = run_json("grad", expression, "-x", x, "-y", y)
        assert row["value"] == single["value"]
        assert row["gradients"] == single["gradients"]


def test_the_rows_are_evaluated_on_numbers_not_arrays(tmp_path):
    """The path is taken: the result holds array("d") columns, and a bigger table goes to numpy."""
    rows = [(str(i / 10), str(-i / 7)) for i in range(1, 21)]
    small = few_points.few_points(TRANSCENDENTAL[0], points_file(tmp_path, rows), {})
    assert small is not None and type(small.value).__name__ == "array" and small.count == 20
    problem, _ = few_points._differentiated(TRANSCENDENTAL[0], False, bpcli.Limits())
    nodes = len(problem.graph.nodes)  # 28, differentiated
    most = few_points.SMALL_WORK // (nodes + few_points.ROW_NODES) - 2  # the header and the last newline: 2 lines
    taken = few_points.few_points(TRANSCENDENTAL[0], points_file(tmp_path, [("1", "2")] * most), {})
    assert taken is not None and taken.count == most
    assert few_points.few_points(TRANSCENDENTAL[0], points_file(tmp_path, [("1", "2")] * (most + 1)), {}) is None


# Cells as a student's table may hold them: the edges of float64 and words, written as repr writes them,
# and a few that float64 makes 0 (1e-400: warned of, by the numpy path).
EDGES = ["0.0", "-0.0", "5e-324", "-5e-324", "2.2250738585072014e-308", "1.7976931348623157e+308", "inf", "-inf",
         "nan", "1e-400", "-0", "3", "0.1", "1e16"]
cells = st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True).map(repr) | st.sampled_from(EDGES)
# A table of these the small path mostly takes (hypothesis draws -0.0 and subnormals among them too).
ordinary = st.floats(-1e3, 1e3).map(repr) | st.integers(-9, 9).map(str)
tables = (st.lists(st.tuples(ordinary, ordinary), min_size=1, max_size=8)
          | st.lists(st.tuples(cells, cells), min_size=1, max_size=12))
# Both paths compute these exactly (+, -, * and max are correctly rounded by numpy and by Python alike, and so
# is division by a written number). Not division by a variable: its local gradient -1 / b**2 squares b with the
# C library's pow on one path and with numpy's b * b on the other ((x - y) / (x + y) at x = 5.96e-08, y = 7).
EXACT = ["x + y", "x * y - x", "(x - y) * (x + y)", "x / 4 * y", "-x * y + y / 8", "q = x * y; f = q * (x - y)",
         "max(x, y) * relu(x)", "x * x * x - y"]


# -0.0 and subnormals: the small path takes them, and must write them as the numpy path does.
EDGE_ROWS = [("-0.0", "5e-324"), ("-5e-324", "-0.0"), ("2.2250738585072014e-308", "0.5")]


def both_paths(*words: str, input: str | None = None):
    """The command line's result with the small tables' path, then with the numpy path alone."""
    first = run_cli(*words, input=input)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(few_points, "SMALL_BYTES", -1)
        second = run_cli(*words, input=input)
    return first, second


@given(expression=st.sampled_from(EXACT), rows=tables,
       suffix=st.sampled_from([".csv", ".jsonl"]), fmt=st.sampled_from(["csv", "jsonl"]))
@example(expression="x * y - x", rows=EDGE_ROWS, suffix=".csv", fmt="csv")  # taken by the small path (below)
@settings(deadline=None)
def test_both_paths_write_the_same_text_and_say_the_same(expression, rows, suffix, fmt):
    if suffix == ".jsonl":  # JSON has no words for inf and nan: numbers beyond float64 stand for them
        rows = [tuple(_json_number(cell) for cell in row) for row in rows]
    with tempfile.TemporaryDirectory() as folder:
        path = points_file(Path(folder), rows, suffix)
        small, numpy = both_paths("grad", expression, "--points", str(path), "--format", fmt)
    assert (small.exit_code, small.stdout, small.stderr) == (numpy.exit_code, numpy.stdout, numpy.stderr)


def test_the_edge_rows_compared_on_both_paths_are_taken_by_the_small_path(tmp_path):
    """Else the comparison above, for them, would compare the numpy path with itself."""
    taken = few_points.few_points("x * y - x", points_file(tmp_path, EDGE_ROWS), {})
    assert taken is not None and list(taken.value) == [0.0, 5e-324, -1.1125369292536007e-308]


def _json_number(cell: str) -> str:
    return {"inf": "1e999", "-inf": "-1e999", "nan": "0"}.get(cell, cell)


@pytest.mark.parametrize("content, words", [
    ("x,y\n1,2\n3,oops\n", []),  # a bad cell names its line
    ("x,y\n1,2\n3\n", []),  # a short row
    ("x,x\n1,2\n", []),  # a column named twice
    ("1,2\n3,4\n", []),  # no header
    ("x,y\n", []),  # no rows
    ("x,y,z\n1,2,3\n", []),  # a column the expression does not use: a warning
    ("x\n1\n2\n", []),  # no column and no value for y
    ("x\n1\n2\n", ["-y", "[1,2]"]),  # an array beside the points
    ("x\n1\n2\n", ["-y", "1e-400"]),  # a fixed value that underflows
    ("x,y\n0,0\n1,2\n", []),  # 0 / 0: nan, and its warning
    ("x,y\n1,1\n1,2\n", []),  # max(x, y) ties
    ("x,y\n1,2\n", ["--max-elements", "1"]),  # a column longer than the limit... not here: one row
    ("x,y\n1,2\n3,4\n", ["--max-elements", "1"]),  # ...here
    ("x,y\n1,2\n3,4\n", ["--max-total-elements", "30"]),
])
def test_errors_and_warnings_read_the_same_on_both_paths(tmp_path, content, words):
    path = tmp_path / "points.csv"
    path.write_text(content)
    small, numpy = both_paths("grad", "max(x, y) / (x - y + 0 * y * x)", "--points", str(path), *words)
    assert (small.exit_code, small.stdout, small.stderr) == (numpy.exit_code, numpy.stdout, numpy.stderr)
    assert small.exit_code in (0, 2)


def test_standard_input_reads_the_same_on_both_paths():
    for table in ("x,y\n1,2\n3,4\n", '{"x": 1, "y": 2}\n{"x": 3, "y": 4}\n'):  # the small path takes these
        taken = few_points.few_points("x / y", Path("-"), {}, data=table.encode())
        assert taken is not None and list(taken.value) == [0.5, 0.75]
    for table in ("x,y\n1,2\n3,4\n", '{"x": 1, "y": 2}\n{"x": 3, "y": 4}\n', "x,y\n1,oops\n", "{oops\n"):
        small, numpy = both_paths("grad", "x / y", "--points", "-", input=table)
        assert (small.exit_code, small.stdout, small.stderr) == (numpy.exit_code, numpy.stdout, numpy.stderr)


def test_a_table_on_standard_input_too_large_for_the_small_path_is_handed_over_before_a_cell_is_read(monkeypatch):
    """As for a file: the rows are bounded first (parsing 256 KiB of rows took some 0.3 s, then numpy's did it again)."""
    monkeypatch.setattr(few_points, "_table", lambda *arguments: pytest.fail("the table was parsed"))
    data = b"x,y\n" + b"1,2\n" * (few_points.SMALL_WORK // few_points.ROW_NODES)
    assert len(data) <= few_points.SMALL_BYTES
    assert few_points.few_points("x * y", Path("-"), {}, data=data) is None


@pytest.mark.parametrize("end", ["\r", "\x0c", "\u2028"])
def test_the_rows_are_bounded_whatever_ends_them(tmp_path, end):
    """The readers split rows where str.splitlines does: a table of one "\\n" is not one row."""
    path = tmp_path / "points.csv"
    path.write_text(end.join(["x,y", *["1,2"] * (few_points.SMALL_WORK // few_points.ROW_NODES)]), newline="")
    assert path.stat().st_size <= few_points.SMALL_BYTES
    assert few_points.few_points("x * y", path, {}) is None
    assert few_points.few_points("x * y", Path("-"), {}, data=path.read_bytes()) is None


def test_standard_input_s_error_comes_before_the_expression_s_on_both_paths():
    for expression in ("x +", "x * y"):
        small, numpy = both_paths("grad", expression, "--points", "-", input="x,y\n1,oops\n")
        assert small.exit_code == 2 and (small.exit_code, small.stderr) == (numpy.exit_code, numpy.stderr)
        assert "standard input, line 2: 'oops' is not a number" in small.stderr


def test_json_lines_on_standard_input_after_a_byte_order_mark_read_as_json_lines():
    """An editor's UTF-8 byte order mark before the first { (a .jsonl file with one is read): it was CSV."""
    table = '\ufeff{"x": 1, "y": 2}\n{"x": 3, "y": 4}\n'
    for path, result in zip(("small", "numpy"), both_paths("grad", "x / y", "--points", "-", input=table)):
        assert (result.exit_code, result.stderr) == (0, ""), path
        assert result.stdout == "x,y,f,df/dx,df/dy\n1.0,2.0,0.5,0.5,-0.25\n3.0,4.0,0.75,0.25,-0.1875\n", path


@pytest.mark.parametrize("expression, suffix, content", [
    ("x * 2", ".jsonl", "{}\n{}\n"),  # objects of no keys: no columns, so no rows
    ("x * [1, 2]", ".csv", "x\n1\n2\n"),  # an array among the constants: the numpy path's
    ("sum(x) * y", ".csv", "x,y\n1,2\n3,4\n"),  # a gate that combines elements: row by row, numpy's
    ("x = 3; f = x * y", ".csv", "x,y\n1,2\n"),  # an example value the column replaces
])
def test_what_the_small_path_does_not_take_reads_the_same(tmp_path, expression, suffix, content):
    path = tmp_path / f"points{suffix}"
    path.write_text(content)
    small, numpy = both_paths("grad", expression, "--points", str(path))
    assert (small.exit_code, small.stdout, small.stderr) == (numpy.exit_code, numpy.stdout, numpy.stderr)
    if small.exit_code == 0:  # not taken: handed to the numpy path (the same text alone cannot tell)
        assert few_points.few_points(expression, path, {}) is None
