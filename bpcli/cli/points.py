"""``bpcli grad EXPR --points FILE``: the value and every gradient at each row of a table."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Optional

from bpcli.cli import common
from bpcli.cli.atomic import atomic_output
from bpcli.engine import arrow
from bpcli.engine.errors import BpcliError
from bpcli.engine.limits import Limits
from bpcli.engine.paths import path_suffix
from bpcli.engine.printable import excerpt
from bpcli.engine.values import read_bytes

if TYPE_CHECKING:  # the analysis is imported where it is used (start-up)
    from bpcli.analyses.points import PointsResult

    from bpcli.engine.paths import FilePath

PROGRESS_FROM = 100_000  # rows; fewer are written before a person would notice


# The format written, from --out's suffix when --format does not name it (any other suffix: CSV).
FORMAT_OF_SUFFIX = {
    ".csv": "csv", ".jsonl": "jsonl", ".npy": "npy", ".npz": "npz", ".parquet": "parquet", ".arrow": "arrow",
    ".feather": "arrow",
}
FORMATS = ("csv", "jsonl", "npy", "npz", "parquet", "arrow")
TEXT_FORMATS = ("csv", "jsonl")


def run(
    text: str, points: FilePath, values: dict[str, Any], out: Optional[FilePath], fmt: Optional[str], json_output: bool,
    expand: bool, limits: Limits, columns: Optional[str] = None,
) -> None:
    from bpcli.views.points_out import write_points  # a view only when shown (start-up)

    fmt = output_format(out, fmt, json_output)
    names = column_option(columns)
    if names is not None and path_suffix(points).lower() != ".npy":  # standard input ("-") has no suffix
        raise BpcliError("--columns names the columns of a plain .npy file; the other formats name their own")
    result = _computed(text, points, values, fmt, expand, limits, names)
    common.warn_unused(result.warnings)
    common.warn_values(result.warnings)
    if out is None:  # what was printed as text comes first; the rows go to the bytes beneath it
        with _progress(result.count) as advance:
            common.write_bytes_out(lambda stream: write_points(result, stream, fmt, advance))
        return
    # The file appears whole or not at all: a full disk, Ctrl-C or SIGTERM leaves the previous one.
    with atomic_output(out, binary=True) as stream, _progress(result.count) as advance:
        write_points(result, stream, fmt, advance)


def _computed(
    text: str, points: FilePath, values: dict[str, Any], fmt: str, expand: bool, limits: Limits,
    names: Optional[list[str]],
) -> PointsResult:
    """The points' result: a small text table written as text row by row on numbers (few_points, which
    needs no numpy: start-up), anything else on the numpy path (grad_points)."""
    data = read_bytes("-", " (the points)") if str(points) == "-" else None  # capped, as every read
    if fmt in TEXT_FORMATS and names is None:
        from bpcli.analyses.few_points import few_points  # the command's own analysis (start-up)

        result = few_points(text, points, values, data=data, expand=expand, limits=limits)
        if result is not None:
            return result
    from bpcli.analyses.points import grad_points, read_points_data  # the command's own analysis (start-up)

    source = points if data is None else read_points_data(data)
    return grad_points(text, source, values, expand=expand, limits=limits, columns=names)


def output_format(out: Optional[FilePath], fmt: Optional[str], json_output: bool) -> str:
    """--format, else --out's suffix, else jsonl with --json, else csv; a binary format needs a file."""
    from bpcli.views.points_out import BINARY_FORMATS  # a view only when shown (start-up)

    fmt = fmt or (FORMAT_OF_SUFFIX.get(path_suffix(out).lower()) if out is not None else None) or (
        "jsonl" if json_output else "csv")
    if fmt not in FORMATS:
        raise BpcliError(f"--format is {', '.join(FORMATS[:-1])} or {FORMATS[-1]}, not {excerpt(fmt)}")
    if fmt in BINARY_FORMATS and out is None:
        raise BpcliError(f"{fmt} is a binary format: write it to a file with --out PATH.{fmt}")
    if fmt in ("parquet", "arrow"):
        arrow.required(f"writing {fmt} files")  # said before anything is computed
    return fmt


def column_option(columns: Optional[str]) -> Optional[list[str]]:
    """``--columns x,y``: the names of a plain .npy's columns, in order."""
    if columns is None:
        return None
    return [name.strip() for name in columns.split(",")]


class _progress:
    """A progress bar on a terminal for long runs; nothing at all in pipes and scripts."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.bar: Any = None

    def __enter__(self) -> Any:
        if self.total < PROGRESS_FROM or not sys.stderr.isatty():
            return None
        from rich.progress import Progress  # rich only to draw (start-up)

        self.bar = Progress(transient=True, console=common.console(stderr=True))
        task = self.bar.add_task("writing points", total=self.total)
        self.bar.start()
        return lambda rows: self.bar.advance(task, rows)

    def __exit__(self, *_: Any) -> None:
        if self.bar is not None:
            self.bar.stop()
