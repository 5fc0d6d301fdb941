"""Batch evaluation with --points: one vectorized pass equals one pass per point."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

import bpcli
from bpcli.analyses.points import grad_points
from helpers import run_cli, run_process, validated

pytestmark = pytest.mark.usefixtures("points_path")  # every test on both paths of --points

NOTES = "(x + sigmoid(y)) / (sigmoid(x) + (x+y)**2)"


def write_csv(path, names, rows):
    path.write_text(",".join(names) + "\n" + "".join(",".join(map(str, row)) + "\n" for row in rows))
    return path


def test_vectorized_result_equals_per_point_results():
    rng = np.random.default_rng(7)
    xs, ys = rng.uniform(-3, 3, 200), rng.uniform(-3, 3, 200)
    result = grad_points(NOTES, {"x": xs, "y": ys})
    for i in range(0, 200, 17):
        single = bpcli.grad(NOTES, x=float(xs[i]), y=float(ys[i]))
        assert result.value[i] == pytest.approx(single.value, rel=1e-14)
        for name in ("x", "y"):
            assert result.gradients[name][i] == pytest.approx(single.gradients[name], rel=1e-13, abs=1e-15)


def test_csv_round_trip_through_the_command_line(tmp_path):
    points = write_csv(tmp_path / "points.csv", ["x", "y"], [(3, -4), (1, 2), (0.5, 0.25)])
    result = run_cli("grad", NOTES, "--points", str(points))
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["x", "y", "f", "df/dx", "df/dy"]
    first = bpcli.grad(NOTES, x=3, y=-4)
    assert float(rows[0]["f"]) == first.value  # written in full: the exact float comes back
    assert float(rows[0]["df/dx"]) == first.gradients["x"]
    assert [float(r["x"]) for r in rows] == [3.0, 1.0, 0.5]


def test_jsonl_in_and_out_with_a_fixed_binding(tmp_path):
    points = tmp_path / "points.jsonl"
    points.write_text('{"x": 1, "y": 2}\n{"x": -1, "y": 0.5}\n')
    out = tmp_path / "grads.jsonl"
    result = run_cli("grad", "w * x * y", "--points", str(points), "-w", "3", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    rows = [validated(line, "points") for line in out.read_text().splitlines()]
    assert rows[0] == {"inputs": {"w": 3.0, "x": 1.0, "y": 2.0}, "value": 6.0,
                       "gradients": {"w": 2.0, "x": 6.0, "y": 3.0}}
    assert rows[1]["gradients"]["x"] == 1.5


def test_structured_npy_points(tmp_path):
    table = np.rec.fromarrays([np.array([1.0, 2.0]), np.array([3.0, 4.0])], names="x,y")
    np.save(tmp_path / "points.npy", table)
    result = run_cli("grad", "x * y", "--points", str(tmp_path / "points.npy"), "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    assert [json.loads(line)["gradients"] for line in result.stdout.splitlines()] == [
        {"x": 3.0, "y": 1.0}, {"x": 4.0, "y": 2.0}]


def test_gates_that_combine_elements_are_evaluated_row_by_row(tmp_path):
    points = write_csv(tmp_path / "p.csv", ["x", "y"], [(3, 4), (1, 5)])
    result = grad_points("sum(x * y) + max(x)", {"x": [3, 1], "y": [4, 5]})
    np.testing.assert_array_equal(result.value, [15, 6])
    np.testing.assert_array_equal(result.gradients["x"], [5, 6])
    assert run_cli("grad", "sum(x*y)", "--points", str(points)).exit_code == 0


def test_non_finite_values_are_words_in_csv(tmp_path):
    points = write_csv(tmp_path / "p.csv", ["x"], [(0,), (1,)])
    result = run_cli("grad", "log(x)", "--points", str(points))
    assert result.stdout.splitlines()[1] == "0.0,-inf,inf"
    assert "log(0) is -inf" in result.stderr


@pytest.mark.parametrize(
    "content, suffix, fragment",
    [
        ("x,y\n1,2\n3,oops\n", ".csv", "line 3: 'oops' is not a number"),
        ("x,y\n1,2\n3\n", ".csv", "line 3: 1 values where the header names 2 columns"),
        ("1,2\n3,4\n", ".csv", "the first row must name the columns"),
        ('{"x": 1}\n{"x": "a"}\n', ".jsonl", "line 2: every value must be a number"),
        ('{"x": 1}\nnot json\n', ".jsonl", "line 2: not valid JSON"),
        ('{"x": 1}\n{"y": 1}\n', ".jsonl", "line 2: the keys"),
        ("x,x\n1,2\n", ".csv", "a column name appears twice"),
        ("x\n1\n", ".txt", "points are read from .csv, .jsonl, .npy, .npz, .parquet, .arrow or .feather"),
    ],
)
def test_bad_points_files_name_the_line(tmp_path, content, suffix, fragment):
    path = tmp_path / f"points{suffix}"
    path.write_text(content)
    result = run_cli("grad", "x * 2", "--points", str(path), "-y", "1")
    assert result.exit_code == 2, result.stdout
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr


def test_a_variable_without_column_or_value(tmp_path):
    points = write_csv(tmp_path / "p.csv", ["x"], [(1,)])
    result = run_cli("grad", "x * y", "--points", str(points))
    assert result.exit_code == 2
    assert "no column and no value for y" in result.stderr


def test_a_column_the_expression_does_not_use_is_a_warning(tmp_path):
    points = write_csv(tmp_path / "p.csv", ["x", "z"], [(1, 2)])
    result = run_cli("grad", "x * 2", "--points", str(points))
    assert result.exit_code == 0
    assert "the column z is not a variable of the expression" in result.stderr


def test_a_plain_npy_array_needs_one_name_per_column(tmp_path):
    # A plain array's columns are the expression's variables in order, or --columns: one name each.
    np.save(tmp_path / "plain.npy", np.ones((3, 2)))
    result = run_cli("grad", "x", "--points", str(tmp_path / "plain.npy"))
    assert result.exit_code == 2
    assert "has 2 columns and the expression has 1 variable (x): name its columns with --columns" in result.stderr


def test_upstream_does_not_go_with_points(tmp_path):
    points = write_csv(tmp_path / "p.csv", ["x"], [(1,)])
    result = run_cli("grad", "x", "--points", str(points), "--upstream", "ones")
    assert result.exit_code == 2


def test_a_real_pipe_gets_no_progress_bar(tmp_path):
    points = write_csv(tmp_path / "p.csv", ["x", "y"], [(i, i + 1) for i in range(2000)])
    process = run_process("grad", "x * y", "--points", str(points))
    assert process.returncode == 0, process.stderr
    assert process.stderr == ""
    assert len(process.stdout.splitlines()) == 2001


class TestPublicApi:
    EXPRESSION = "(x + sigmoid(y)) / (sigmoid(x) + (x+y)**2)"

    def test_bpcli_grad_points_is_what_the_command_writes(self, tmp_path):
        path = tmp_path / "points.csv"
        path.write_text("x,y\n3,-4\n1,2\n0.5,0.25\n")
        from_file = bpcli.grad_points(self.EXPRESSION, path)
        from_columns = bpcli.grad_points(self.EXPRESSION, {"x": [3, 1, 0.5], "y": [-4, 2, 0.25]})
        for fmt, text in (("csv", from_file.to_csv()), ("jsonl", from_file.to_jsonl())):
            printed = run_cli("grad", self.EXPRESSION, "--points", str(path), "--format", fmt)
            assert printed.exit_code == 0, printed.stderr
            assert text == printed.stdout
        assert from_columns.to_csv() == from_file.to_csv() == (
            "x,y,f,df/dx,df/dy\n"
            "3.0,-4.0,1.5456448841066441,2.0595697955721652,1.5922327514838093\n"
            "1.0,2.0,0.19327774699745687,-0.02031302061099069,-0.10838213417986817\n"
            "0.5,0.25,0.8963822410752926,-0.46856166384552145,-0.92698479175757\n"
        )

    def test_a_fixed_value_and_the_public_name(self):
        r = bpcli.grad_points("x * y", {"x": np.array([3.0, 1.0])}, y=2)
        assert (r.value.tolist(), r.gradients["x"].tolist(), r.gradients["y"].tolist()) == ([6.0, 2.0], [2.0, 2.0], [3.0, 1.0])
        assert "grad_points" in bpcli.__all__ and bpcli.grad_points is grad_points
        with pytest.raises(bpcli.BpcliError, match="no column and no value for y"):
            bpcli.grad_points("x * y", {"x": [1]})


def test_to_json_of_points_is_what_the_command_s_json_prints(tmp_path):
    """Every result's to_json() is its command's --json text (a PointsResult's raised: no such view)."""
    path = tmp_path / "points.csv"
    path.write_text("x,y\n1,2\n3,-4\n")
    printed = run_cli("grad", "x * y - x", "--points", str(path), "--json")
    assert printed.exit_code == 0, printed.stderr
    assert bpcli.grad_points("x * y - x", {"x": [1, 3], "y": [2, -4]}).to_json() == printed.stdout
