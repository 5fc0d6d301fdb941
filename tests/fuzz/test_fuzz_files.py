"""Random files wherever bpcli reads one: an answer or one clear error, never a traceback.

Value files (@x.json, .csv, .npy), expression files (--file), points
(--points .csv, .jsonl, .npy), answers files (check --answers) and backward
passes (check --backward) get random bytes, random text and damaged versions
of what they should hold.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from fuzzing import budget, run_and_judge

# inf and nan are bpcli's to report: a numpy RuntimeWarning reaching the user fails the case.
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

GOOD = {
    ".json": b"[[1, 2], [3, 4]]",
    ".csv": b"a,b\n1,2\n3,4\n",
    ".jsonl": b'{"x": 1, "y": 2}\n{"x": 3, "y": 4}\n',
    ".toml": b'[[problem]]\nexpr = "x * y"\ninputs = { x = 3, y = -2 }\nexpect = { dx = -2 }\n',
    ".py": b"dx = y\ndy = x\n",
    ".txt": b"q = x * y\nf = q + x\n",
}


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


GOOD[".npy"] = _npy(np.arange(4.0).reshape(2, 2))

damaged = st.tuples(st.sampled_from(sorted(GOOD)), st.integers(min_value=0), st.binary(max_size=8), st.integers(0, 8)).map(
    lambda t: GOOD[t[0]][: t[1] % (len(GOOD[t[0]]) + 1)] + t[2] + GOOD[t[0]][t[1] % (len(GOOD[t[0]]) + 1) + t[3]:]
)
arrays = st.sampled_from([np.float32, np.int8, np.complex128, np.bool_, "U3", "V8"]).flatmap(
    lambda dtype: st.integers(0, 3).map(lambda n: _npy(np.zeros((n,) * min(n, 3), dtype=dtype)))
)
contents = st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode), damaged, arrays)

# Where each kind of file is read: the command line, with {} for the file's path.
READERS = [
    ("grad", "sum(x)", "-x", "@{}"),
    ("grad", "--file", "{}", "x=2", "y=3"),
    ("grad", "x * y", "--points", "{}"),
    ("check", "--answers", "{}"),
    ("check", "x * y", "-x", "3", "-y", "2", "--backward", "{}"),
    ("check", "sum(x)", "-x", "[[1, 2], [3, 4]]", "--expect", "dx=@{}"),
]
SUFFIXES = [".json", ".csv", ".npy", ".jsonl", ".toml", ".py", ".txt"]


@budget(1.0)
@given(contents, st.sampled_from(READERS), st.sampled_from(SUFFIXES))
@example(b'[[problem]]\nexpr = ""\ninputs = { x = 0 }\nexpect = { dx = 0 }\n', READERS[3], ".toml")  # reported, exit 2
def test_random_files(content, reader, suffix):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"input{suffix}"
        path.write_bytes(content)
        command = tuple(argument.format(path) for argument in reader)
        run_and_judge(*command)
