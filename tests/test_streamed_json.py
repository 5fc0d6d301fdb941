"""--json is written as it is made, arrays a row at a time: the same document, without the nested lists in memory."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pytest
from helpers import run_cli, validated
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import bpcli
from bpcli.views.json_doc import dumps, grad_document, write

FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64)


def streamed(result, **options) -> str:
    text = io.StringIO()
    write(grad_document(result, streamed=True, **options), text)
    return text.getvalue()


@given(arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 3)), elements=FLOATS),
       arrays(np.float64, st.integers(1, 3), elements=FLOATS))
def test_a_streamed_document_is_the_document(W, x):
    W = W[:, : len(x)] if W.shape[1] >= len(x) else np.resize(W, (W.shape[0], len(x)))
    with np.errstate(all="ignore"):
        result = bpcli.grad("relu(W @ x) * 2", W=W, x=x, upstream=np.ones(W.shape[0]))
    text = streamed(result)
    assert text == dumps(grad_document(result))  # the very same text, -0.0, nan and inf included
    assert json.loads(text) == json.loads(result.to_json())


def test_three_dimensional_values_keep_their_nesting():
    x = np.arange(24.0).reshape(2, 3, 4) - 11.5
    result = bpcli.grad("sum(x * x)", x=x)
    document = json.loads(streamed(result))
    assert document["gradients"]["x"] == (2 * x).tolist()
    assert document["stages"][0]["value"] == (x * x).tolist()


def test_gradients_only_leaves_out_the_stages_and_forks_and_follows_the_schema():
    run = run_cli("grad", "sum(W @ x)", "-W", "[[1, 2], [3, 4]]", "-x", "[1, -1]", "--json", "--gradients-only")
    assert run.exit_code == 0, run.stderr
    document = validated(run.stdout)
    assert "stages" not in document and "forks" not in document
    assert document["gradients"] == {"W": [[1.0, -1.0], [1.0, -1.0]], "x": [4.0, 6.0]}
    full = validated(run_cli("grad", "sum(W @ x)", "-W", "[[1, 2], [3, 4]]", "-x", "[1, -1]", "--json").stdout)
    assert {key: value for key, value in full.items() if key not in ("stages", "forks")} == document


def test_gradients_only_is_for_the_json_document():
    run = run_cli("grad", "x * y", "-x", "1", "-y", "2", "--gradients-only")
    assert run.exit_code == 2 and "--json" in run.stderr


@pytest.mark.parametrize("words", [["--order", "2", "--wrt", "x"], ["--symbolic"], ["--points", "-"]])
def test_gradients_only_is_refused_where_there_are_no_first_order_stages_to_leave_out(words):
    """--order, --symbolic and --points ignored it silently, with --json or without."""
    for json_output in ([], ["--json"]):
        run = run_cli("grad", "x * y", *words, "--gradients-only", *json_output, input="x,y\n1,2\n")
        assert run.exit_code == 2 and "--gradients-only" in run.stderr, (words, json_output, run.stderr)


@pytest.mark.slow
def test_a_large_tensor_document_in_a_real_process(tmp_path):
    """A 300 × 300 product through the console script: the text parses back to numpy's numbers."""
    rng = np.random.default_rng(0)
    W, X = rng.standard_normal((300, 300)), rng.standard_normal((300, 300))
    np.save(tmp_path / "W.npy", W)
    np.save(tmp_path / "X.npy", X)
    run = subprocess.run(
        [sys.executable, "-m", "bpcli", "grad", "sum(W @ X)", "-W", f"@{tmp_path / 'W.npy'}",
         "-X", f"@{tmp_path / 'X.npy'}", "--json"],
        capture_output=True, text=True, check=True,
    )
    document = json.loads(run.stdout)
    assert np.array_equal(np.array(document["gradients"]["W"]), np.ones((300, 300)) @ X.T)
    assert np.array_equal(np.array(document["stages"][0]["value"]), W @ X)
