"""Evaluation in blocks (engine/blocks.py): pooled buffers, threads, and the columns bit for bit those of
the whole evaluation; the fast reads and writes of --points files around it."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bpcli
from bpcli.analyses import points as points_module
from bpcli.engine import blocks
from bpcli.engine.backends import array
from bpcli.engine.gates import REGISTRY
from bpcli.engine.values import _capped
from bpcli.views import points_out

# The fixtures (monkeypatch) hold for every generated input alike.
fixtures_reused = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
EDGES = [0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, np.inf, -np.inf, np.nan,
         1e-300, 709.0, 710.0, -745.0, 0.5, 1.0, -1.0, 2.0, -3.5, 1e16, np.pi]


def identical(a, b) -> bool:
    """The same bits, the shape included (nan's payload and the sign of 0 too)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a.shape == b.shape and np.array_equal(a.view(np.uint64), b.view(np.uint64))


def in_blocks_and_whole(monkeypatch, expression, columns, block, threads=None):
    monkeypatch.setattr(points_module, "BLOCK", block)
    if threads is not None:
        monkeypatch.setattr(blocks, "_threads", lambda count: threads)
    in_blocks = bpcli.grad_points(expression, columns)
    monkeypatch.setattr(points_module, "BLOCK", 10 ** 9)  # one evaluation of the whole columns
    return in_blocks, bpcli.grad_points(expression, columns)


def assert_the_same(in_blocks, whole):
    assert identical(in_blocks.value, whole.value)
    assert in_blocks.gradients.keys() == whole.gradients.keys()
    assert all(identical(in_blocks.gradients[n], whole.gradients[n]) for n in whole.gradients)
    assert in_blocks.warnings == whole.warnings


@pytest.mark.parametrize("op", sorted(blocks._into_functions()))
def test_a_gate_written_into_a_buffer_is_its_forward_bit_for_bit(op):
    gate = REGISTRY[op]
    rng = np.random.default_rng(len(op))
    arity = 3 if op == "accumulate" else gate.arity
    values = [np.array(rng.permutation(EDGES * 4)) for _ in range(arity)]
    for inputs in (values, [2.0, *values[1:]], [*values[:-1], -0.5]):  # a number among them, as a constant is
        if all(isinstance(v, float) for v in inputs):
            continue
        out = np.full(len(EDGES) * 4, 7.0)
        with np.errstate(all="ignore"):
            blocks._into_functions()[op](out, *inputs)
            expected = gate.forward(array, *inputs)
        assert identical(out, expected), op


def test_accumulate_of_two_terms_written_into_a_buffer_is_its_forward():
    a, b = np.array(EDGES), np.array(EDGES[::-1])
    out = np.empty(len(EDGES))
    with np.errstate(all="ignore"):
        blocks._into_functions()["accumulate"](out, a, b)
        assert identical(out, REGISTRY["accumulate"].forward(array, a, b))


# A value read long after it is made, many buffers taken and given back in between: its buffer must not be
# reused before its last reader; a gradient that is an input (y of x * y) or a constant.
LONG_LIVED = [
    "a = x * y; b = exp(-a * a) + sigmoid(x) * tanh(y) + log1p(x * x) + (x - y) ** 2; f = b * a + sqrt(a * a + 1)",
    "u = x * y; v = u + 1; w = v * v; f = w / (1 + u ** 2)",
    "x * y",
    "x + y",
    "t = sigmoid(x); s = t * t * t * t; f = s + t",
    "x",  # the output is an input, its gradient the constant 1
    "a = x * y; b = a.astype(float); c = sigmoid(y) * y + exp(y) * 3; f = c * b + b",  # astype hands back a itself
    "x * sigmoid(2) - abs(x) ** y",  # a stage the same at every row; a gate without out= (pow's gradient: mul0)
]


@pytest.mark.parametrize("expression", LONG_LIVED)
@pytest.mark.parametrize("threads", [1, 3])
@given(seed=st.integers(0, 2 ** 32 - 1), count=st.integers(1, 400), block=st.integers(1, 40))
@fixtures_reused
def test_buffers_reused_from_block_to_block_change_no_bit(monkeypatch, expression, threads, seed, count, block):
    rng = np.random.default_rng(seed)
    columns = {"x": rng.uniform(-3, 3, count), "y": rng.standard_normal(count) * 10.0 ** rng.integers(-3, 3, count)}
    assert_the_same(*in_blocks_and_whole(monkeypatch, expression, columns, block, threads))


def test_negative_zeros_stay_negative_in_blocks(monkeypatch):
    x, y = np.tile([-0.0, 0.0, 1.0, -2.0], 50), np.tile([0.0, -0.0, -0.0, 3.0], 50)
    in_blocks, whole = in_blocks_and_whole(monkeypatch, "x * y * 2", {"x": x, "y": y}, 8, threads=2)
    assert_the_same(in_blocks, whole)
    assert identical(in_blocks.value, x * y * 2) and np.signbit(in_blocks.value[-4:-1]).all()  # -0.0 three times
    assert identical(in_blocks.gradients["x"], y * 2) and identical(in_blocks.gradients["y"], x * 2)
    assert not in_blocks.warnings


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan, 1e308])
@pytest.mark.parametrize("row", [3, 150, 399])
def test_a_row_that_is_not_finite_in_any_block_leaves_it_all_to_the_whole_evaluation(monkeypatch, bad, row):
    x = np.linspace(-2, 2, 400)
    x[row] = bad
    in_blocks, whole = in_blocks_and_whole(monkeypatch, "exp(x) * sigmoid(x) + x * x", {"x": x}, 16, threads=3)
    assert_the_same(in_blocks, whole)
    assert whole.warnings  # inf, nan, or the overflow of 1e308 * 1e308, counted over every row


def test_a_kink_in_a_late_block_is_counted_over_every_row(monkeypatch):
    x = np.linspace(1, 2, 300)
    x[[250, 260]] = 0.0
    in_blocks, whole = in_blocks_and_whole(monkeypatch, "relu(x) * x + abs(x)", {"x": x}, 16, threads=2)
    assert_the_same(in_blocks, whole)
    assert any("at 2 of 300 elements" in w.message for w in whole.warnings)


def test_an_error_on_a_thread_is_raised(monkeypatch):
    def broken(out, *inputs):
        raise RuntimeError("broken gate")

    real = blocks._into_functions
    monkeypatch.setattr(blocks, "_into_functions", lambda: {**real(), "mul": broken})
    monkeypatch.setattr(points_module, "BLOCK", 8)
    monkeypatch.setattr(blocks, "_threads", lambda count: 3)
    with pytest.raises(RuntimeError, match="broken gate"):
        bpcli.grad_points("x * x + 1", {"x": np.ones(100)})


# ---- reading and writing ------------------------------------------------------------------------


@pytest.mark.parametrize("size, limit, held", [(10, 1000, 100), (10, 50, 100), (100, 1000, 100), (100, 100, 100)])
def test_a_file_read_by_its_size_is_still_capped_and_read_whole_if_it_grew(size, limit, held):
    data = bytes(range(held))
    if held > limit:
        with pytest.raises(bpcli.BpcliError, match="more than"):
            _capped(io.BytesIO(data), limit, "the file", "", size)
    else:
        assert _capped(io.BytesIO(data), limit, "the file", "", size) == data


@given(count=st.integers(1, 50), width=st.integers(1, 7), rows=st.integers(1, 9))
@fixtures_reused
def test_the_npy_written_in_blocks_is_the_bytes_of_np_save(monkeypatch, count, width, rows):
    monkeypatch.setattr(points_out, "NPY_ROWS", rows)
    rng = np.random.default_rng(count * width)
    columns = [np.array(rng.choice(EDGES, count)) for _ in range(width)]
    written, expected = io.BytesIO(), io.BytesIO()
    points_out._write_npy([], columns, written)
    np.save(expected, np.column_stack(columns))
    assert written.getvalue() == expected.getvalue()
