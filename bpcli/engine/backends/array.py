"""numpy float64 arrays: the same vocabulary as ``scalar``, elementwise and broadcasting.

The evaluator runs these inside ``numpy.errstate(all="ignore")``: inf and nan are
results to report as bpcli warnings, not numpy RuntimeWarnings.
"""

from __future__ import annotations

import numpy as np

exp = np.exp
log = np.log
sqrt = np.sqrt
tanh = np.tanh
absolute = np.absolute
maximum = np.maximum
minimum = np.minimum
sign = np.sign
power = np.power


def recip(a):
    return np.reciprocal(np.asarray(a, dtype=np.float64))


def mul0(a, b):
    return np.where(np.equal(a, 0), 0.0, np.multiply(a, b))  # 0 * inf and 0 * nan are 0 here


def sigmoid(a):
    # exp(-a) overflows to inf for a < -709, and 1 / (1 + inf) is exactly 0:
    # IEEE arithmetic makes the plain formula right everywhere (the evaluator
    # keeps numpy's overflow warning to itself).
    t = np.negative(a, out=np.empty(np.shape(a)))  # one buffer, worked in place
    np.exp(t, out=t)
    t += 1.0
    np.reciprocal(t, out=t)
    return t if t.ndim else t[()]


def relu(a):
    return np.where(a <= 0, 0.0, a)  # nan stays nan


def step(a):
    return np.where(np.isnan(a), np.nan, np.where(a > 0, 1.0, 0.0))


def nonzero(a):
    return np.where(np.isnan(a), np.nan, np.where(a == 0, 0.0, 1.0))


def unzero(a, w):
    return np.where(w == 0, 1.0, a)


def greater(a, b):
    tie_or_above = np.where(a > b, 1.0, np.where(a == b, 0.5, 0.0))
    return np.where(np.isnan(a) | np.isnan(b), np.nan, tie_or_above)


def count(condition) -> int:
    return int(np.count_nonzero(condition))


def all_finite(a) -> bool:
    # One pass and no temporary: a sum of squares is finite only if every
    # element is (one that overflows on finite elements falls back to the
    # exact test). As a dot product (BLAS) it is a third of np.sum's time,
    # and it runs on every value a gate computes (under the evaluator's
    # np.errstate, so an overflow here warns nobody).
    a = np.asarray(a)
    if a.flags.c_contiguous and a.dtype == np.float64:
        flat = a.reshape(-1)
        total = flat @ flat
    else:
        total = np.sum(a)
    return bool(np.isfinite(total)) or bool(np.isfinite(a).all())


def is_nan(a) -> bool:
    return bool(np.isnan(a).any())


# ---- structural gates ---------------------------------------------------------

matmul = np.matmul
outer = np.outer


def transpose(a):
    return np.transpose(a)


def sum(a, axis=None):  # noqa: A001 - the backend's vocabulary is the gates' names
    return np.sum(a, axis=axis)


def mean(a, axis=None):
    return np.mean(a, axis=axis)


def amax(a, axis=None):
    return np.max(a, axis=axis)


def amin(a, axis=None):
    return np.min(a, axis=axis)


def _expanded(m, like, axis):
    """A reduced value with its reduced axes put back as size 1, ready to broadcast against ``like``."""
    if axis is None:
        return m
    return np.expand_dims(m, tuple(a % np.ndim(like) for a in (axis if isinstance(axis, tuple) else (axis,))))


def broadcast(a, like, axis=None):
    return np.array(np.broadcast_to(_expanded(a, like, axis), np.shape(like)))


def unbroadcast(a, like):
    """Sum ``a`` over the axes it was broadcast along, down to ``like``'s shape (or broadcast it up)."""
    target = np.shape(like)
    a = np.asarray(a)
    if a.shape == target:
        return a
    extra = a.ndim - len(target)
    if extra < 0:
        return np.array(np.broadcast_to(a, target))
    summed = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(target) if n == 1 and a.shape[extra + i] != 1
    )
    return np.sum(a, axis=summed).reshape(target)


def share(a, m, axis=None):
    hits = (a == _expanded(m, a, axis)).astype(np.float64)
    return hits / np.sum(hits, axis=axis, keepdims=True)


def ties(a, m, axis=None):
    """Which reductions found their extreme more than once."""
    return np.sum(a == _expanded(m, a, axis), axis=axis) > 1
