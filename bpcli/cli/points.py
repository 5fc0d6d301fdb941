"""``bpcli grad EXPR --points FILE``: the value and every gradient at each row of a table."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

from bpcli.cli import common
from bpcli.cli.atomic import atomic_output
from bpcli.engine.errors import BpcliError
from bpcli.engine.limits import Limits
from bpcli.engine.values import read_bytes

PROGRESS_FROM = 100_000  # rows; fewer are written before a person would notice


def run(
    text: str, points: Path, values: dict[str, Any], out: Optional[Path], fmt: Optional[str], json_output: bool,
    expand: bool, limits: Limits,
) -> None:
    from bpcli.analyses.points import grad_points  # only the command's own analysis (start-up)
    from bpcli.views.points_out import write_points  # a view only when shown (start-up)

    fmt = fmt or ("jsonl" if (out is not None and out.suffix.lower() == ".jsonl") or json_output else "csv")
    if fmt not in ("csv", "jsonl"):
        raise BpcliError(f"--format is csv or jsonl, not {fmt!r}")
    result = grad_points(text, _stdin_points() if str(points) == "-" else points, values, expand=expand, limits=limits)
    common.warn_unused(result.warnings)
    common.warn_values(result.warnings)
    if out is None:
        with _progress(result.count) as advance:
            write_points(result, sys.stdout, fmt, advance)
        return
    # The file appears whole or not at all: a full disk, Ctrl-C or SIGTERM leaves the previous one.
    with atomic_output(out, newline="") as stream, _progress(result.count) as advance:
        write_points(result, stream, fmt, advance)


def _stdin_points() -> dict[str, Any]:
    """``--points -``: the points table on standard input (CSV with a header, or JSON Lines)."""
    from bpcli.analyses.points import read_points_data  # only the command's own analysis (start-up)

    return read_points_data(read_bytes(Path("-"), " (the points)"))  # capped, as every read


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
