"""softmax, log_softmax and logsumexp (issue 16): grouped gates, numerically stable forward, their
--expand decompositions giving the same values and gradients, against numpy's closed forms and
centred differences."""

from __future__ import annotations

import numpy as np
import pytest

import bpcli

RNG = np.random.default_rng(9)
X = RNG.normal(size=(3, 4)) * 3
W = RNG.normal(size=(3, 4))


def np_logsumexp(a, axis=None, keepdims=False):
    m = np.max(a, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis) if axis is not None else out.reshape(())


def np_softmax(a, axis=None):
    return np.exp(a - np_logsumexp(a, axis=axis, keepdims=True))


def np_log_softmax(a, axis=None):
    return a - np_logsumexp(a, axis=axis, keepdims=True)


# The harness's numpy has no softmax: the oracle names its own closed forms the same way.
ORACLE = {"logsumexp": np_logsumexp, "softmax": np_softmax, "log_softmax": np_log_softmax}

PROGRAMS = [
    "np.sum(logsumexp(x, axis=1) * np.arange(3))",
    "np.sum(logsumexp(x, axis=1, keepdims=True) * w)",
    "logsumexp(x) * 2",
    "np.sum(softmax(x, axis=1) * w)",
    "np.sum(softmax(x, axis=0) ** 2)",
    "np.sum(log_softmax(x, axis=1) * w)",
    "np.sum(log_softmax(x, axis=(0, 1)) * w)",
]


def numpy_run_with(text, values):
    namespace = {"np": np, **ORACLE, **{k: np.asarray(v) for k, v in values.items()}}
    return eval(text, namespace)  # noqa: S307 - the harness runs numpy on the test's own text


@pytest.mark.parametrize("text", PROGRAMS)
@pytest.mark.parametrize("expand", [False, True])
def test_values_and_gradients_against_closed_forms_and_centred_differences(text, expand):
    values = {"x": X, "w": W}
    used = {name: value for name, value in values.items() if name in text}
    result = bpcli.grad(text, expand=expand, **used)
    assert np.allclose(result.value, numpy_run_with(text, used), rtol=1e-12, atol=1e-12)
    for name in used:
        numeric = np.zeros_like(used[name])
        for index in np.ndindex(used[name].shape):
            moved = []
            for sign in (1, -1):
                point = used[name].copy()
                point[index] += sign * 1e-6
                moved.append(numpy_run_with(text, {**used, name: point}))
            numeric[index] = (moved[0] - moved[1]) / 2e-6
        assert np.allclose(result.gradients[name], numeric, rtol=1e-5, atol=1e-6), name


def test_the_forward_is_stable_where_exp_overflows():
    big = X * 1000
    result = bpcli.grad("np.sum(logsumexp(x, axis=1)) + np.sum(softmax(x, axis=1) * w)", x=big, w=W)
    assert np.isfinite(result.value) and np.all(np.isfinite(result.gradients["x"]))
    assert not result.warnings
    assert np.isclose(result.value, np.sum(np_logsumexp(big, axis=1)) + np.sum(np_softmax(big, axis=1) * W))


def test_the_expansion_shows_the_stable_parts():
    stages = [s.op for s in bpcli.grad("logsumexp(x, axis=0)", x=[1.0, 2.0], expand=True).stages]
    assert stages == ["amax", "broadcast", "sub", "exp", "sum", "log", "add"]
