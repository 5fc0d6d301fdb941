"""Writing many points: CSV (a header row, then one row per point) or JSON Lines.

CSV columns: the variables, the output (named as in the expression), then
d<output>/d<variable> for each variable. A JSON Lines row is
{"inputs": {...}, "value": ..., "gradients": {...}}. Numbers are written in
full (shortest round-trip form); inf and nan as the words inf, -inf and nan.
"""

from __future__ import annotations

import json
from typing import IO, Any, Callable

from bpcli.views.json_doc import jsonable

CHUNK = 50_000  # rows converted and written at a time (and one progress step)


def write_points(result: Any, out: IO[str], fmt: str, progress: Callable[[int], None] | None = None) -> None:
    names = list(result.inputs)
    columns = [result.inputs[n] for n in names] + [result.value] + [result.gradients[n] for n in names]
    if fmt == "csv":
        out.write(",".join(names + [result.output] + [f"d{result.output}/d{n}" for n in names]) + "\n")
    for start in range(0, result.count, CHUNK):
        rows = zip(*(column[start:start + CHUNK].tolist() for column in columns))
        if fmt == "csv":
            out.writelines(",".join(map(_number, row)) + "\n" for row in rows)
        else:
            out.writelines(_json_row(names, row) + "\n" for row in rows)
        if progress is not None:
            progress(min(CHUNK, result.count - start))


def _number(value: float) -> str:
    return repr(value + 0.0) if value == value and value not in (float("inf"), float("-inf")) else jsonable(value)


def _json_row(names: list[str], row: tuple[float, ...]) -> str:
    n = len(names)
    document = {
        "inputs": dict(zip(names, map(jsonable, row[:n]))),
        "value": jsonable(row[n]),
        "gradients": dict(zip(names, map(jsonable, row[n + 1:]))),
    }
    return json.dumps(document, allow_nan=False)
