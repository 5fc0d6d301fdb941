"""Expected values and the tolerance they are checked with.

A number a person wrote carries its own precision: ``0.39`` claims two
decimals, so it passes when the true value rounds to 0.39, that is when
|actual - expected| <= half a unit in the last written place (0.005), plus a
few float64 rounding steps. ``0.20`` is stricter than ``0.2``, ``-4`` allows
0.5 and ``1e-3`` allows 0.0005. So the digits must be kept from the text: a
number is read as a ``Written`` float that remembers it.

Numbers nobody typed (a ``.npy`` file, a value a backward file computed) are
compared with a relative tolerance instead (``COMPUTED_RTOL``, ``COMPUTED_ATOL``).
``--rtol`` / ``--atol`` replace both rules: |actual - expected| <= atol + rtol·|expected|.
"""

from __future__ import annotations

import math
import re
from typing import Any

from bpcli.engine.errors import BpcliError
from bpcli.engine.paths import path_text
from bpcli.engine.record import Record
from bpcli.engine.values import (
    NUMBER, ValueReader, csv_cells, file_kind, parse_json, read_bytes, utf8_text, value_file_bytes,
)

EPSILON = 2.0**-52
SLACK_ULPS = 4  # float64 rounding steps allowed on top of the written precision
COMPUTED_RTOL = 1e-6  # values computed in float64 (or saved in float32) agree far closer than mistakes do
COMPUTED_ATOL = 1e-9

_DECIMAL = re.compile(r"[+-]?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\Z")


class Written(float):
    """A number together with the text it was written as (0.20 and 0.2 differ in precision)."""

    text: str

    def __new__(cls, text: str) -> Written:
        number = super().__new__(cls, text)
        number.text = text
        return number

    @property
    def half_unit(self) -> float:
        return half_unit(self.text)


def half_unit(text: str) -> float:
    """Half a unit in the last written place: 0.39 -> 0.005, -4 -> 0.5, 1e-3 -> 0.0005, 3.0 -> 0.05.

    inf and nan are exact.
    """
    match = _DECIMAL.match(text.strip().replace("_", ""))
    if match is None or not (match.group(1) or match.group(2)):
        return 0.0
    decimals = len(match.group(2) or "")
    try:
        exponent = int(match.group(3) or 0)
        return 0.5 * 10.0 ** (exponent - decimals)
    except (OverflowError, ValueError):  # 1e999: beyond float64, the number is inf, and exact
        return 0.0


def tolerance(name: str, value: Any) -> float | None:
    """A tolerance as given (None: not given), or a BpcliError: inf or nan would pass or fail everything.

        >>> tolerance("rtol", 1e-3), tolerance("atol", None)
        (0.001, None)
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise BpcliError(f"{name} must be a finite number, 0 or more, not {value!r}")
    return float(value)


class Rule(Record, frozen=True):
    """How close is close enough: None for both means the digits rule (and COMPUTED_* for unwritten numbers)."""

    rtol: float | None = None
    atol: float | None = None

    def __post_init__(self) -> None:
        for name in ("rtol", "atol"):
            tolerance(name, getattr(self, name))

    @property
    def digits(self) -> bool:
        return self.rtol is None and self.atol is None

    def describe(self) -> str:
        if self.digits:
            return "the digits written: half a unit in the last written place"
        return f"|actual - expected| <= {self.atol or 0:g} + {self.rtol or 0:g}·|expected|"


DIGITS = Rule()



class Expected(Record, frozen=True):
    """An expected value: a number or an array, and the precision it was written with."""

    value: Any  # a float or a float64 array
    text: str  # as given, for the report
    half: Any = None  # half a unit in the last written place (per element); None: not written by hand

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(getattr(self.value, "shape", ()))

    def allowed(self, actual: Any, rule: Rule = DIGITS) -> Any:
        """The largest |actual - expected| that passes (per element for arrays)."""
        size = _magnitude(self.value)
        if not rule.digits:
            return (rule.atol or 0.0) + (rule.rtol or 0.0) * size
        if self.half is None:
            return COMPUTED_ATOL + COMPUTED_RTOL * size
        larger = _maximum(size, _magnitude(actual))
        return self.half + SLACK_ULPS * EPSILON * larger


def computed(value: Any, text: str = "") -> Expected:
    """A value nobody typed: checked with the relative tolerance of computed numbers."""
    return Expected(value, text, None)


SAMPLED_FROM = 4096  # arrays this large are compared on a sample of their elements first
SAMPLE = 256


def agrees(actual: Any, expected: Expected, rule: Rule = DIGITS) -> bool:
    """Whether ``actual`` passes for ``expected``. A large array is first compared at a few elements
    spread over it, with the same rule: most wrong candidates a diagnosis tries fail there, at once."""
    size = getattr(actual, "size", 1)
    if size >= SAMPLED_FROM and getattr(actual, "shape", ()) == expected.shape:
        import numpy as np  # numpy only where arrays are (start-up)

        picks = np.linspace(0, size - 1, SAMPLE).astype(np.intp)
        half = expected.half if expected.half is None or np.ndim(expected.half) == 0 else expected.half.flat[picks]
        sample = Expected(expected.value.flat[picks], expected.text, half)
        picked = np.asarray(actual).flat[picks]
        if not within(picked, sample.value, sample.allowed(picked, rule)):
            return False
    return within(actual, expected.value, expected.allowed(actual, rule))


def within(actual: Any, expected: Any, allowed: Any) -> bool:
    """Whether ``actual`` is within ``allowed`` of ``expected``; equal infinities and two nans match."""
    if not hasattr(actual, "shape") and not hasattr(expected, "shape"):
        actual, expected = float(actual), float(expected)
        if actual == expected or (actual != actual and expected != expected):
            return True
        return abs(actual - expected) <= allowed
    import numpy as np  # numpy only where arrays are (start-up)

    a, e = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        return False
    return bool(np.all(close(a, e, allowed)))


def close(actual: Any, expected: Any, allowed: Any) -> Any:
    """Element by element, whether ``actual`` is within ``allowed`` of ``expected`` (arrays of one shape)."""
    import numpy as np  # numpy only where arrays are (start-up)

    a, e = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        same = (a == e) | (np.isnan(a) & np.isnan(e))
        return same | (np.abs(a - e) <= allowed)


def _magnitude(value: Any) -> Any:
    if hasattr(value, "shape"):
        import numpy as np  # numpy only where arrays are (start-up)

        return np.where(np.isfinite(value), np.abs(value), 0.0)
    value = float(value)
    return abs(value) if math.isfinite(value) else 0.0


def _maximum(a: Any, b: Any) -> Any:
    if hasattr(a, "shape") or hasattr(b, "shape"):
        import numpy as np  # numpy only where arrays are (start-up)

        try:
            return np.maximum(a, b)
        except ValueError:  # shapes differ: the check fails on shape anyway
            return a
    return max(a, b)


# ---- reading expected values -------------------------------------------------------


def read_expected(name: str, text: str, reader: Any = None) -> Expected:
    """An expected value written as on the command line: a number, a JSON array or @file."""
    stripped = text.strip()
    if NUMBER.match(stripped):
        return from_python(name, Written(stripped), stripped)
    if stripped.startswith("["):
        return _nested(name, parse_json(name, stripped, "JSON array", number=Written), stripped)
    if stripped.startswith("@"):
        path = path_text(stripped[1:])
        kind = file_kind(name, path)
        if kind == ".npy":
            value = (reader or ValueReader()).read(name, stripped)
            return computed(value, stripped)
        limit = value_file_bytes((reader or ValueReader()).max_elements)
        content = utf8_text(path, read_bytes(path, f" (expected value of {name})", limit, "--max-elements"))
        if kind == ".json":
            return from_python(name, parse_json(name, content, f"JSON file {path}", number=Written), stripped)
        note = getattr(reader, "note", lambda message: None)
        rows = [[Written(cell) for cell in row] for row in csv_cells(name, path, content, note)]
        vector = len(rows) == 1 or len(rows[0]) == 1  # as numpy.loadtxt: one row or column is a vector
        return _nested(name, [cell for row in rows for cell in row] if vector else rows, stripped)
    raise BpcliError(
        f"the expected value of {name} is not a number: {text!r} (write a number, a JSON array "
        "'[1, 2]' or @file.json/.csv/.npy)"
    )


def from_python(name: str, value: Any, text: str | None = None) -> Expected:
    """An expected value given from Python or a TOML file.

    A float's shortest text stands for its digits (0.39 -> 0.005); an int is
    exact to its units; a string is read as on the command line; a numpy
    array is a computed value.
    """
    if isinstance(value, Expected):
        return value
    if isinstance(value, bool):
        raise BpcliError(f"the expected value of {name} is true/false, not a number")
    if isinstance(value, Written):
        return Expected(float(value), text or value.text, value.half_unit)
    if isinstance(value, (int, float)):
        # repr(float(...)): a numpy float64 is a float whose repr is "np.float64(3.0)" under numpy 2
        return from_python(name, Written(repr(float(value)) if isinstance(value, float) else str(value)), text)
    if isinstance(value, str):
        return read_expected(name, value)
    if isinstance(value, (list, tuple)):
        return _nested(name, value, text or _list_text(value))
    if hasattr(value, "shape"):
        import numpy as np  # numpy only where arrays are (start-up)

        array = np.asarray(value, dtype=np.float64)
        return computed(float(array) if array.ndim == 0 else array, text or "array")
    raise BpcliError(f"the expected value of {name} must be a number or an array, not {type(value).__name__}")


def _nested(name: str, content: Any, text: str) -> Expected:
    """A nested list of numbers: the array and, element by element, the precision each was written with."""
    import numpy as np  # numpy only where arrays are (start-up)

    if not isinstance(content, list):
        return from_python(name, content, text)
    try:
        cells = np.array(content, dtype=object)
    except ValueError:
        cells = None
    if cells is None or cells.size == 0 or any(_not_a_number(cell) for cell in cells.flat):
        raise BpcliError(f"the expected value of {name} is not a rectangular array of numbers")
    value = cells.astype(np.float64)
    half = np.array([_written(cell).half_unit for cell in cells.flat]).reshape(cells.shape)
    return Expected(value, text, half)


def _not_a_number(cell: Any) -> bool:
    return isinstance(cell, bool) or not isinstance(cell, (int, float))


def _written(cell: Any) -> Written:
    if isinstance(cell, Written):
        return cell
    return Written(repr(cell) if isinstance(cell, float) else str(cell))


def _list_text(value: Any) -> str:
    import json  # only for an array written in a TOML file (start-up: a table of numbers prints no JSON)

    return json.dumps(value, default=float)
