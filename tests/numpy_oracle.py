"""numpy as the oracle for bpcli's numpy spellings: the harness (never bpcli) runs the same text with numpy."""

from __future__ import annotations

import numpy as np

import bpcli

# The assignment's softmax loss, as the notes write it (y is used only as an index).
SOFTMAX = """shifted = x - np.max(x, axis=1, keepdims=True)
Z = np.sum(np.exp(shifted), axis=1, keepdims=True)
log_probs = shifted - np.log(Z)
N = x.shape[0]
loss = -np.sum(log_probs[np.arange(N), y]) / N
"""


def numpy_run(text: str, values: dict) -> object:
    """What numpy computes for a program: each line executed in turn; the last one is the output."""
    namespace = {"np": np, **{name: np.array(value) for name, value in values.items()}}
    lines = [line.strip() for line in text.replace(";", "\n").splitlines() if line.strip()]
    for line in lines[:-1]:
        exec(line, namespace)  # noqa: S102 - the harness runs numpy on the test's own text
    last = lines[-1]
    if "=" in last.split("(")[0] and "==" not in last:
        exec(last, namespace)  # noqa: S102
        return namespace[last.split("=")[0].strip()]
    return eval(last, namespace)  # noqa: S307


def numpy_gradient(text: str, values: dict, name: str, h: float = 1e-6, side: int = 0) -> np.ndarray:
    """d(output)/d(name) by differences of numpy's own forward pass: centred (``side`` 0), or one-sided
    from the right (1) or the left (-1)."""
    base = np.array(values[name], dtype=float)
    gradient = np.zeros_like(base)
    steps = (1, -1) if side == 0 else (side, 0)
    for index in np.ndindex(base.shape):
        moved = {}
        for sign in steps:
            point = base.copy()
            point[index] += sign * h
            moved[sign] = float(numpy_run(text, {**values, name: point}))
        gradient[index] = (moved[steps[0]] - moved[steps[1]]) / ((steps[0] - steps[1]) * h)
    return gradient


def assert_like_numpy(text: str, values: dict) -> None:
    """bpcli's value is numpy's, and each gradient is centred differences of numpy's own forward pass."""
    result = bpcli.grad(text, **values)
    assert np.allclose(result.value, numpy_run(text, values), rtol=1e-12, atol=1e-12)
    for name in values:
        assert np.allclose(result.gradients[name], numpy_gradient(text, values, name), rtol=1e-5, atol=1e-6), name
