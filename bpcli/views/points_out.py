"""Writing many points: CSV, JSON Lines, or a binary table (.npy, .npz, Parquet, Arrow IPC).

Columns: the variables, the output (named as in the expression), then
d<output>/d<variable> for each variable. A JSON Lines row is
{"inputs": {...}, "value": ..., "gradients": {...}}. CSV numbers are written
exactly as Python's ``repr`` writes them (the shortest text that reads back to
the same float64; -0.0 stays -0.0) and inf and nan as the words inf, -inf and
nan; pyarrow, when installed, writes the same text faster. A .npy is one 2-D
float64 array, its columns in the CSV's order; a .npz, Parquet or Arrow file
holds one float64 column per CSV column, under the same name.
"""

from __future__ import annotations

import json
from typing import IO, Any, Callable

from bpcli.engine import arrow
from bpcli.views.json_doc import jsonable

CHUNK = 65_536  # rows converted and written at a time (and one progress step)
BINARY_FORMATS = ("npy", "npz", "parquet", "arrow")


def column_names(result: Any) -> list[str]:
    """The names of the columns written, in order: the inputs, the output, then each gradient."""
    names = list(result.inputs)
    return names + [result.output] + [f"d{result.output}/d{n}" for n in names]


def _columns(result: Any) -> list[Any]:
    names = list(result.inputs)
    return [result.inputs[n] for n in names] + [result.value] + [result.gradients[n] for n in names]


def write_points(result: Any, out: IO[bytes], fmt: str, progress: Callable[[int], None] | None = None) -> None:
    """``result``'s rows to the binary stream ``out`` (text formats in UTF-8)."""
    if fmt in BINARY_FORMATS:
        _BINARY_WRITERS[fmt](column_names(result), _columns(result), out)
        return
    names, columns = list(result.inputs), _columns(result)
    # pyarrow for numpy's columns; the small tables' array("d") columns (few_points) are written by repr,
    # the same text, without importing pyarrow or numpy (start-up).
    pyarrow = arrow.optional() if fmt == "csv" and hasattr(result.value, "dtype") else None
    if fmt == "csv":
        out.write((",".join(column_names(result)) + "\n").encode())
    for start in range(0, result.count, CHUNK):
        block = [column[start:start + CHUNK] for column in columns]
        if fmt == "csv":
            out.write(_csv_rows(pyarrow, block))
        else:
            out.write("".join(_json_row(names, row) + "\n" for row in zip(*(column.tolist() for column in block)))
                      .encode())
        if progress is not None:
            progress(min(CHUNK, result.count - start))


def _csv_rows(pyarrow: Any | None, block: list[Any]) -> bytes:
    """Rows of CSV, one per element of the columns in ``block``."""
    if pyarrow is None:
        texts = [map(float.__repr__, column.tolist()) for column in block]
        return "".join(",".join(row) + "\n" for row in zip(*texts)).encode("ascii")
    import io  # only for files (start-up)

    from pyarrow import csv  # the optional extra (start-up)

    table = pyarrow.table({str(i): _arrow_texts(pyarrow, column) for i, column in enumerate(block)})
    text = io.BytesIO()
    csv.write_csv(table, text, csv.WriteOptions(include_header=False, quoting_style="none"))
    return text.getvalue()


def _arrow_texts(pyarrow: Any, column: Any) -> Any:
    """``column``'s numbers as ``repr`` writes them, as an Arrow string array.

    Arrow writes the same shortest round-trip digits as ``repr`` but spells some
    of them differently: "3" for 3.0, "-0" for -0.0, "0.00001" for 1e-05, "1e-7"
    for 1e-07 and "1.5e+10" for 15000000000.0. Whole numbers get their ".0"; the
    numbers whose spelling may differ otherwise (1e-10 ≤ |x| < 1e-3 and
    1e9 ≤ |x| < 1e17, with a margin) are written by ``repr`` itself.
    """
    import numpy as np  # numpy only where arrays are (start-up)
    from pyarrow import compute  # the optional extra (start-up)

    magnitude = np.abs(column)
    respelled = ((magnitude >= 1e-10) & (magnitude < 1e-3)) | ((magnitude >= 1e9) & (magnitude < 1e17))
    with np.errstate(invalid="ignore"):  # nan and inf are not whole, and say so without a warning
        whole = (magnitude < 1e9) & (column == np.trunc(column))
    texts = compute.cast(pyarrow.array(column, pyarrow.float64()), pyarrow.string())
    if whole.any():
        mask = pyarrow.array(whole)
        texts = compute.replace_with_mask(texts, mask, compute.binary_join_element_wise(
            compute.filter(texts, mask), ".0", ""))
    if respelled.any():
        texts = compute.replace_with_mask(texts, pyarrow.array(respelled), pyarrow.array(
            list(map(float.__repr__, column[respelled].tolist())), pyarrow.string()))
    return texts


def _json_row(names: list[str], row: tuple[float, ...]) -> str:
    n = len(names)
    document = {
        "inputs": dict(zip(names, map(jsonable, row[:n]))),
        "value": jsonable(row[n]),
        "gradients": dict(zip(names, map(jsonable, row[n + 1:]))),
    }
    return json.dumps(document, allow_nan=False)


# ---- binary tables ---------------------------------------------------------------


NPY_ROWS = 16_384  # rows interleaved at a time into a .npy's row-major table: the buffer stays in the cache


def _write_npy(names: list[str], columns: list[Any], out: IO[bytes]) -> None:
    """The bytes ``np.save`` writes for the 2-D table of the columns, interleaved a few rows at a time into
    one small buffer rather than stacked whole first (a copy of every number, in memory the size of the file)."""
    import numpy as np  # numpy only where arrays are (start-up)

    count, width = len(columns[0]), len(columns)
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float64)), "fortran_order": False,
              "shape": (count, width)}
    np.lib.format.write_array_header_1_0(out, header)
    rows = np.empty((min(NPY_ROWS, count), width))
    for start in range(0, count, NPY_ROWS):
        block = rows[:min(NPY_ROWS, count - start)]
        for i, column in enumerate(columns):
            block[:, i] = column[start:start + len(block)]
        out.write(block.data)


def _write_npz(names: list[str], columns: list[Any], out: IO[bytes]) -> None:
    import numpy as np  # numpy only where arrays are (start-up)

    arrays: dict[str, Any] = {name: np.asarray(column, dtype=np.float64) for name, column in zip(names, columns)}
    np.savez(out, **arrays)


def _arrow_table(names: list[str], columns: list[Any]) -> Any:
    pyarrow = arrow.required("writing Parquet and Arrow files")
    return pyarrow.table({name: pyarrow.array(column, pyarrow.float64()) for name, column in zip(names, columns)})


def _write_parquet(names: list[str], columns: list[Any], out: IO[bytes]) -> None:
    table = _arrow_table(names, columns)
    from pyarrow import parquet  # the optional extra (start-up)

    parquet.write_table(table, out)


def _write_arrow(names: list[str], columns: list[Any], out: IO[bytes]) -> None:
    table = _arrow_table(names, columns)
    import pyarrow  # the optional extra, there once the table is (start-up)

    with pyarrow.ipc.new_file(out, table.schema) as writer:
        writer.write_table(table)


_BINARY_WRITERS: dict[str, Callable[[list[str], list[Any], IO[bytes]], None]] = {
    "npy": _write_npy, "npz": _write_npz, "parquet": _write_parquet, "arrow": _write_arrow,
}
