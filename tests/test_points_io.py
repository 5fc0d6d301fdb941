"""--points files in and out: every reader and writer round-trips float64 exactly, with and without pyarrow."""

from __future__ import annotations

import csv
import io
import sys
import warnings
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bpcli
from bpcli.analyses import points as points_module
from bpcli.engine import arrow
from helpers import run_cli, run_process

pytestmark = pytest.mark.usefixtures("points_path")  # every test on both paths of --points

try:
    import pyarrow
    from pyarrow import parquet
except ImportError:
    pyarrow = parquet = None

needs_arrow = pytest.mark.skipif(pyarrow is None, reason='pyarrow is not installed (pip install ".[arrow]")')

EDGES = [0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, float("inf"), float("-inf"),
         float("nan"), 1e-05, 1e-07, 1e-4, 1e-3, 1e9, 1e10, 1e15, 1e16, 1e17, 9999999999999998.0, 0.1, 3.0, -7.0]
# The fixtures (pyarrow present or not, a temporary folder) hold for every generated input alike.
fixtures_reused = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
numbers = st.lists(st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True) | st.sampled_from(EDGES),
                   min_size=1, max_size=40)


def same(a, b) -> bool:
    """Equal as float64 values, the sign of zero included, nan equal to nan."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.all((a == b) & (np.signbit(a) == np.signbit(b)) | np.isnan(a) & np.isnan(b)))


def identical(a, b) -> bool:
    """The same bits (binary formats keep even nan's payload)."""
    return np.array_equal(np.asarray(a, np.float64).view(np.uint64), np.asarray(b, np.float64).view(np.uint64))


@pytest.fixture(params=["pyarrow", "without pyarrow"])
def arrow_or_not(request, monkeypatch):
    """Each CSV test runs with pyarrow's reader and writer and, its import failing, with numpy's."""
    if request.param == "pyarrow":
        if pyarrow is None:
            pytest.skip('pyarrow is not installed (pip install ".[arrow]")')
    else:
        monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now raises ImportError
    return request.param


# ---- CSV -------------------------------------------------------------------------------


@given(values=numbers)
@fixtures_reused
def test_csv_writes_every_number_as_repr_and_reads_it_back(arrow_or_not, values):
    result = bpcli.grad_points("x", {"x": values})
    rows = list(csv.reader(io.StringIO(result.to_csv())))
    assert rows[0] == ["x", "x", "dx/dx"]  # the output of "x" is x itself
    assert [row[0] for row in rows[1:]] == [repr(float(v)) for v in values]  # -0.0, inf, nan as Python writes them
    back = points_module.read_points_data(("x\n" + "".join(row[0] + "\n" for row in rows[1:])).encode())
    assert same(back["x"], values)


@given(values=numbers)
@fixtures_reused
def test_the_fast_csv_reader_reads_what_the_careful_one_reads(arrow_or_not, values):
    data = ("x,y\n" + "".join(f"{v!r},{-v!r}\n" for v in values)).encode()
    fast, careful = points_module.read_points_data(data), points_module._read_csv_carefully("p", data)
    assert same(fast["x"], careful["x"]) and same(fast["y"], careful["y"])


def test_csv_text_is_the_same_with_and_without_pyarrow(monkeypatch):
    if pyarrow is None:
        pytest.skip('pyarrow is not installed (pip install ".[arrow]")')
    rng = np.random.default_rng(3)
    columns = {"x": np.concatenate([rng.standard_normal(3000) * 10.0 ** rng.integers(-12, 20, 3000), EDGES]),
               "y": np.round(rng.uniform(-1e6, 1e6, 3000 + len(EDGES)))}
    with_arrow = bpcli.grad_points("x * y", columns).to_csv()
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    assert bpcli.grad_points("x * y", columns).to_csv() == with_arrow


@pytest.mark.parametrize("data", [b"x,y\r\n1,2\r\n3,4\r\n", b"\xef\xbb\xbfx,y\n1,2\n3,4", b"x, y\n1, 2\n\n3,4\n"])
def test_windows_lines_a_byte_order_mark_and_blank_lines_read_as_before(arrow_or_not, data):
    fast, careful = points_module.read_points_data(data), points_module._read_csv_carefully("p", data)
    assert fast["x"].tolist() == careful["x"].tolist() == [1.0, 3.0]
    assert fast["y"].tolist() == careful["y"].tolist() == [2.0, 4.0]


def test_odd_csv_still_goes_through_the_careful_reader(arrow_or_not, tmp_path):
    # Quotes, blanks and spaces are not for the fast parsers; a number that underflows is still reported.
    path = tmp_path / "p.csv"
    path.write_text('x,y\n"1",2\n\n 3 , 1e-400\n')
    result = bpcli.grad_points("x + y", path)
    assert result.inputs["x"].tolist() == [1.0, 3.0] and result.inputs["y"].tolist() == [2.0, 0.0]
    assert any("1e-400 underflows float64 to 0" in w.message for w in result.warnings)
    path.write_text("x,y\n1,2\n3,oops\n")
    failed = run_cli("grad", "x + y", "--points", str(path))
    assert failed.exit_code == 2 and "line 3: 'oops' is not a number" in failed.stderr


# ---- binary files in -------------------------------------------------------------------


def written(tmp_path, suffix: str, columns: dict[str, np.ndarray]):
    """A points file of ``columns`` written by numpy or pyarrow themselves."""
    path = tmp_path / f"points{suffix}"
    if suffix == ".npy":
        np.save(path, np.column_stack(list(columns.values())))
    elif suffix == ".npz":
        np.savez(path, **columns)
    elif suffix == ".parquet":
        parquet.write_table(pyarrow.table(columns), path)
    else:
        with pyarrow.ipc.new_file(path, pyarrow.table(columns).schema) as writer:
            writer.write_table(pyarrow.table(columns))
    return path


BINARY_IN = [".npy", ".npz", pytest.param(".parquet", marks=needs_arrow), pytest.param(".arrow", marks=needs_arrow),
             pytest.param(".feather", marks=needs_arrow)]


@pytest.mark.parametrize("suffix", BINARY_IN)
@given(values=numbers)
@fixtures_reused
def test_binary_points_are_read_bit_for_bit(tmp_path, suffix, values):
    x = np.array(values, dtype=np.float64)
    y = x[::-1].copy()
    result = bpcli.grad_points("x * y", written(tmp_path, suffix, {"x": x, "y": y}))
    assert identical(result.inputs["x"], x) and identical(result.inputs["y"], y)


def test_a_plain_npy_names_its_columns_by_the_variables_in_order_or_by_columns(tmp_path):
    np.save(tmp_path / "p.npy", np.array([[1.0, 10.0], [2.0, 20.0]]))
    by_order = bpcli.grad_points("y - x", tmp_path / "p.npy")  # y appears first: y is column 0
    assert by_order.inputs["y"].tolist() == [1.0, 2.0] and by_order.value.tolist() == [-9.0, -18.0]
    result = run_cli("grad", "y - x", "--points", str(tmp_path / "p.npy"), "--columns", "x,y")
    assert result.exit_code == 0, result.stderr
    # The output's columns are the variables in order whatever the file's order: y, x, f, df/dy, df/dx.
    assert result.stdout.splitlines() == ["y,x,f,df/dy,df/dx", "10.0,1.0,9.0,1.0,-1.0", "20.0,2.0,18.0,1.0,-1.0"]
    np.save(tmp_path / "one.npy", np.array([4.0, 5.0]))  # 1-D: one column
    assert bpcli.grad_points("x * x", tmp_path / "one.npy").value.tolist() == [16.0, 25.0]


@pytest.mark.parametrize("make, fragment", [
    (lambda p: np.save(p / "p.npy", np.ones((2, 2, 2))), "an array of shape (2, 2, 2)"),
    (lambda p: np.save(p / "p.npy", np.array([[1, "a"]], dtype=object), allow_pickle=True), "bpcli never loads pickles"),
    (lambda p: np.save(p / "p.npy", np.ones((2, 2), dtype=complex)), "complex128 values, not numbers"),
    (lambda p: np.save(p / "p.npy", np.array([["1", "2"]])), "<U1 values, not numbers"),
    (lambda p: np.savez(p / "p.npz", x=np.ones((2, 2)), y=np.ones(2)), "has shape (2, 2)"),
    (lambda p: np.savez(p / "p.npz", x=np.array([1, None], dtype=object), y=np.ones(2)), "bpcli never loads pickles"),
    (lambda p: np.savez(p / "p.npz", x=np.ones(3), y=np.ones(2)), "the columns have different lengths"),
    (lambda p: np.savez(p / "p.npz", x=np.ones(3)), "no column and no value for y"),
    (lambda p: (p / "p.npz").write_bytes(b"PK\x03\x04 not a zip"), "is not a readable .npz file"),
    (lambda p: (p / "p.npy").write_bytes(b"x,y\n1,2\n"), "is not a readable .npy file"),
])
def test_bad_binary_points_exit_2(tmp_path, make, fragment):
    make(tmp_path)
    path = next(tmp_path.glob("p.*"))
    result = run_cli("grad", "x * y", "--points", str(path))
    assert result.exit_code == 2, result.stdout
    assert fragment in result.stderr and "Traceback" not in result.stderr


@needs_arrow
@pytest.mark.parametrize("table, fragment", [
    ({"x": ["a", "b"], "y": [1.0, 2.0]}, "the column x holds string values, not numbers"),
    ({"x": [1.0, None], "y": [1.0, 2.0]}, "the column x has 1 missing values"),
    ({"x": [1.0, 2.0], "d/dy": [1.0, 2.0]}, "the column name 'd/dy' is not a variable name"),
])
def test_bad_parquet_exits_2(tmp_path, table, fragment):
    parquet.write_table(pyarrow.table(table), tmp_path / "p.parquet")
    result = run_cli("grad", "x * y", "--points", str(tmp_path / "p.parquet"), "-y", "1")
    assert result.exit_code == 2 and fragment in result.stderr


@needs_arrow
@pytest.mark.parametrize("suffix", [".parquet", ".arrow", ".npz"])
def test_a_table_larger_than_max_elements_is_refused_before_it_is_unpacked(tmp_path, suffix):
    path = written(tmp_path, suffix, {"x": np.zeros(100_000), "y": np.zeros(100_000)})
    result = run_cli("grad", "x * y", "--points", str(path), "--max-elements", "1000")
    assert result.exit_code == 2 and "--max-elements" in result.stderr


@needs_arrow
@pytest.mark.parametrize("suffix", [".parquet", ".arrow"])
def test_a_column_that_is_not_numbers_is_refused_before_the_data_is_unpacked(tmp_path, suffix, monkeypatch):
    # Strings compress to nothing: 25 kB of Parquet held 200 MB of them, all unpacked before the refusal.
    path = written(tmp_path, suffix, {"x": np.ones(3), "s": np.array(["a" * 2000] * 3)})

    def unpacked(*args, **kwargs):
        raise AssertionError("the data was unpacked")
    monkeypatch.setattr(parquet.ParquetFile, "read", unpacked)
    monkeypatch.setattr(pyarrow.ipc.RecordBatchFileReader, "get_batch", unpacked)
    result = run_cli("grad", "x", "--points", str(path))
    assert result.exit_code == 2 and "the column s holds string values, not numbers" in result.stderr


@pytest.mark.parametrize("suffix", [".parquet", ".arrow"])
def test_truncated_arrow_files_exit_2(tmp_path, suffix):
    if pyarrow is None:
        pytest.skip('pyarrow is not installed (pip install ".[arrow]")')
    path = written(tmp_path, suffix, {"x": np.ones(10), "y": np.ones(10)})
    path.write_bytes(path.read_bytes()[:40])
    result = run_cli("grad", "x * y", "--points", str(path))
    assert result.exit_code == 2 and "is not a readable" in result.stderr


def test_an_npz_member_is_refused_by_its_unpacked_size(tmp_path):
    # A zip bomb: a few kilobytes that unpack to 8 MB; refused from the directory, before unpacking.
    with zipfile.ZipFile(tmp_path / "p.npz", "w", zipfile.ZIP_DEFLATED) as archive:
        buffer = io.BytesIO()
        np.save(buffer, np.zeros(1_000_000))
        archive.writestr("x.npy", buffer.getvalue())
    assert (tmp_path / "p.npz").stat().st_size < 100_000
    result = run_cli("grad", "x", "--points", str(tmp_path / "p.npz"), "--max-elements", "1000")
    assert result.exit_code == 2 and "--max-elements" in result.stderr


@needs_arrow
def test_a_compressed_arrow_file_is_refused_by_its_rows_before_it_is_unpacked(tmp_path, monkeypatch):
    # A few kilobytes of zstd that unpack to 2,000,000 rows: refused from the footer's metadata.
    table = pyarrow.table({"x": np.zeros(2_000_000)})
    path = tmp_path / "p.arrow"
    with pyarrow.ipc.new_file(str(path), table.schema,
                              options=pyarrow.ipc.IpcWriteOptions(compression="zstd")) as writer:
        writer.write_table(table)
    assert path.stat().st_size < 100_000
    unpacked = []
    monkeypatch.setattr(pyarrow.ipc.RecordBatchFileReader, "get_batch",
                        lambda self, i: unpacked.append(i))  # never reached
    result = run_cli("grad", "x", "--points", str(path), "--max-elements", "1000")
    assert result.exit_code == 2 and "holds 2,000,000 rows of 1 columns" in result.stderr
    assert unpacked == []


@needs_arrow
def test_arrow_metadata_that_points_outside_the_file_is_refused(tmp_path):
    path = written(tmp_path, ".arrow", {"x": np.ones(10)})
    data = bytearray(path.read_bytes())
    data[-10:-6] = (len(data) * 2).to_bytes(4, "little")  # the footer's size, beyond the file
    path.write_bytes(bytes(data))
    result = run_cli("grad", "x", "--points", str(path))
    assert result.exit_code == 2 and "is not a readable Arrow IPC file" in result.stderr


def test_an_npz_with_two_arrays_of_one_name_is_refused(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name it is told to write
        with zipfile.ZipFile(tmp_path / "p.npz", "w") as archive:
            for value in (1.0, 2.0):
                buffer = io.BytesIO()
                np.save(buffer, np.array([value]))
                archive.writestr("x.npy", buffer.getvalue())
    result = run_cli("grad", "x", "--points", str(tmp_path / "p.npz"))
    assert result.exit_code == 2 and "holds two arrays named 'x'; one per column" in result.stderr


# ---- binary files out -------------------------------------------------------------------


def read_back(path, names):
    """The columns of a written file, read by numpy or pyarrow themselves."""
    if path.suffix == ".npy":
        array = np.load(path, allow_pickle=False)
        return {name: array[:, i] for i, name in enumerate(names)}
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in names}
    table = parquet.read_table(path) if path.suffix == ".parquet" else pyarrow.ipc.open_file(path).read_all()
    assert table.column_names == names
    return {name: table.column(name).to_numpy() for name in names}


BINARY_OUT = [".npy", ".npz", pytest.param(".parquet", marks=needs_arrow), pytest.param(".arrow", marks=needs_arrow),
              pytest.param(".feather", marks=needs_arrow)]


@pytest.mark.parametrize("suffix", BINARY_OUT)
@given(values=numbers)
@fixtures_reused
def test_binary_output_holds_the_columns_bit_for_bit(tmp_path, suffix, values):
    result = bpcli.grad_points("x * y", {"x": values, "y": values[::-1]})
    out = tmp_path / f"out{suffix}"
    from bpcli.cli.atomic import atomic_output
    from bpcli.cli.points import output_format
    from bpcli.views.points_out import write_points

    with atomic_output(out, binary=True) as stream:
        write_points(result, stream, output_format(out, None, False))
    names = ["x", "y", "f", "df/dx", "df/dy"]
    back = read_back(out, names)
    expected = [result.inputs["x"], result.inputs["y"], result.value, result.gradients["x"], result.gradients["y"]]
    assert all(identical(back[name], column) for name, column in zip(names, expected))


@pytest.mark.parametrize("suffix", [".npy", pytest.param(".parquet", marks=needs_arrow)])
def test_the_command_line_writes_the_format_of_the_suffix(tmp_path, suffix):
    points = tmp_path / "points.csv"
    points.write_text("x,y\n3,-4\n1,2\n")
    out = tmp_path / f"grads{suffix}"
    process = run_process("grad", "x * y", "--points", str(points), "--out", str(out))
    assert process.returncode == 0 and process.stdout == "", process.stderr
    back = read_back(out, ["x", "y", "f", "df/dx", "df/dy"])
    assert back["f"].tolist() == [-12.0, 2.0] and back["df/dx"].tolist() == [-4.0, 2.0]


def test_a_binary_format_needs_a_file(tmp_path):
    points = tmp_path / "points.csv"
    points.write_text("x\n1\n")
    result = run_cli("grad", "x", "--points", str(points), "--format", "npy")
    assert result.exit_code == 2 and "npy is a binary format: write it to a file with --out PATH.npy" in result.stderr
    result = run_cli("grad", "x", "--points", str(points), "--format", "xlsx")
    assert result.exit_code == 2 and "--format is csv, jsonl, npy, npz, parquet or arrow, not 'xlsx'" in result.stderr


def test_columns_is_for_a_plain_npy(tmp_path):
    points = tmp_path / "points.csv"
    points.write_text("x\n1\n")
    result = run_cli("grad", "x", "--points", str(points), "--columns", "x")
    assert result.exit_code == 2 and "--columns names the columns of a plain .npy file" in result.stderr


# ---- without pyarrow ---------------------------------------------------------------------


@pytest.mark.parametrize("arguments", [
    ("--points", "{dir}/p.parquet"),
    ("--points", "{dir}/p.arrow"),
    ("--points", "{dir}/p.csv", "--out", "{dir}/out.parquet"),
    ("--points", "{dir}/p.csv", "--out", "{dir}/out.feather"),
])
def test_without_pyarrow_the_message_says_how_to_get_it(tmp_path, monkeypatch, arguments):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now raises ImportError
    (tmp_path / "p.csv").write_text("x\n1\n")
    (tmp_path / "p.parquet").write_bytes(b"PAR1")
    (tmp_path / "p.arrow").write_bytes(b"ARROW1")
    result = run_cli("grad", "x", *(a.format(dir=tmp_path) for a in arguments))
    assert result.exit_code == 2
    assert 'needs pyarrow, which is not installed: pip install "bpcli[arrow]"' in result.stderr
    assert not (tmp_path / "out.parquet").exists() and not (tmp_path / "out.feather").exists()
    assert arrow.optional() is None


# ---- evaluation in blocks -------------------------------------------------------------------

BLOCK_EXPRESSIONS = [
    "(x + sigmoid(y)) / (sigmoid(x) + (x+y)**2)",
    "tanh(x) * exp(-y * y) + log(1 + x * x)",
    "relu(x - y) + abs(x) * max(x, y) - min(x, 0.5)",
    "x ** 3 / (1 + y ** 2) + 2",
    "sqrt(x * x + 1) * y",
]


def blocks_and_whole(monkeypatch, expression, columns, block):
    monkeypatch.setattr(points_module, "BLOCK", block)
    in_blocks = bpcli.grad_points(expression, columns)
    monkeypatch.setattr(points_module, "BLOCK", 10 ** 9)  # one evaluation of the whole columns
    return in_blocks, bpcli.grad_points(expression, columns)


@pytest.mark.parametrize("expression", BLOCK_EXPRESSIONS)
@given(seed=st.integers(0, 2 ** 32 - 1), count=st.integers(1, 300), block=st.integers(1, 64))
@fixtures_reused
def test_evaluation_in_blocks_is_bit_for_bit_the_whole_evaluation(monkeypatch, expression, seed, count, block):
    rng = np.random.default_rng(seed)
    columns = {"x": rng.uniform(-3, 3, count), "y": rng.standard_normal(count) * 10.0 ** rng.integers(-3, 3, count)}
    in_blocks, whole = blocks_and_whole(monkeypatch, expression, columns, block)
    assert identical(in_blocks.value, whole.value)
    assert all(identical(in_blocks.gradients[n], whole.gradients[n]) for n in ("x", "y"))
    assert in_blocks.warnings == whole.warnings


def test_a_block_with_something_to_warn_about_leaves_the_warnings_to_the_whole_evaluation(monkeypatch):
    # A nan in row 90 and a kink (relu at 0) in row 3: the warnings count them over every row, as before.
    x = np.linspace(-1, 1, 101)
    x[90] = np.nan
    in_blocks, whole = blocks_and_whole(monkeypatch, "relu(x) + x * x", {"x": x}, 8)
    assert identical(in_blocks.value, whole.value) and identical(in_blocks.gradients["x"], whole.gradients["x"])
    assert in_blocks.warnings == whole.warnings
    assert any("of 101 elements" in w.message for w in whole.warnings)


def test_evaluation_in_blocks_keeps_the_budget_of_the_whole(monkeypatch):
    monkeypatch.setattr(points_module, "BLOCK", 16)
    with pytest.raises(bpcli.BpcliError, match="max-total-elements"):
        bpcli.grad_points("exp(x) * x", {"x": np.ones(1000)}, limits=bpcli.Limits(max_total_elements=2000))
