"""numpy float64 arrays: the same vocabulary as ``scalar``, elementwise and broadcasting.

The evaluator runs these inside ``numpy.errstate(all="ignore")``: inf and nan are
results to report as bpcli warnings, not numpy RuntimeWarnings.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bpcli.engine import shapes

exp = np.exp
log = np.log
sqrt = np.sqrt
tanh = np.tanh
absolute = np.absolute
maximum = np.maximum
minimum = np.minimum
sign = np.sign
power = np.power
log1p = np.log1p
expm1 = np.expm1
clip = np.clip


def recip(a):
    return np.reciprocal(np.asarray(a, dtype=np.float64))


def mul0(a, b):
    # 0 * inf and 0 * nan are 0 here; a product of finite numbers is IEEE's (-0.0 * 1 is -0.0)
    product = np.multiply(a, b)
    return np.where(np.equal(a, 0) & ~np.isfinite(b), np.multiply(a, 0.0), product)


def sigmoid(a: Any, out: Any = None) -> Any:
    # exp(-a) overflows to inf for a < -709, and 1 / (1 + inf) is exactly 0:
    # IEEE arithmetic makes the plain formula right everywhere (the evaluator
    # keeps numpy's overflow warning to itself). ``out``: the buffer to work in
    # (evaluation in blocks reuses its buffers), else a new one.
    t = np.negative(a, out=np.empty(np.shape(a)) if out is None else out)  # one buffer, worked in place
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
    # One elementwise pass on this thread. Not a sum of squares as a BLAS dot
    # (flat @ flat): faster alone, but threaded BLAS on a busy machine took
    # 5-12 ms a call instead of 0.1 ms, and this runs on every value a gate
    # computes (issue 21).
    return bool(np.isfinite(a).all())


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


def var(a, axis=None, ddof=0):
    if ddof < _count(a, axis):
        return np.var(a, axis=axis, ddof=ddof)
    # numpy divides the squared deviations' sum by max(count - ddof, 0) = 0, after a RuntimeWarning
    # ("Degrees of freedom <= 0") that errstate does not quiet: the same inf or nan, unwarned.
    deviations = a - np.mean(a, axis=axis, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sum(deviations * deviations, axis=axis) / 0.0


def _count(a, axis):
    """How many elements var averages over: all of them, or those along ``axis`` (an int or a tuple)."""
    shape = np.shape(a)
    return shapes.size(tuple(shape[i] for i in shapes.axes(shape, axis)))


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


def scatter_add(like, key, values):
    """Zeros shaped like ``like`` with ``values`` added at the subscript ``key``: repeated indices add up."""
    out = np.zeros(np.shape(like))
    np.add.at(out, key, values)
    return out


def keepdims(a, like, axis=None):
    """A reduction of ``like`` with the reduced axes put back as size 1 (numpy's keepdims=True)."""
    shape = np.shape(_expanded(a, like, axis)) if axis is not None else (1,) * np.ndim(like)
    return np.reshape(a, shape)


def reshape_like(a, like):
    return np.reshape(a, np.shape(like))


def at_set(a, key, values):
    """A copy of ``a`` with ``values`` written at the subscript ``key`` (numpy's a[key] = values)."""
    out = np.array(a, dtype=np.float64)
    out[key] = values
    return out


def permute(a, axes):
    return np.transpose(a, axes)


def reshape(a, shape):
    return np.reshape(a, shape)


def logsumexp(a, axis=None):
    """log(sum(exp(a))) along axis, from a - max(a): no exp overflows."""
    m = np.max(a, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return out.reshape(np.shape(np.sum(a, axis=axis)))


def softmax(a, axis=None):
    e = np.exp(a - np.max(a, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(a, axis=None):
    shifted = a - np.max(a, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def filled(like, value):
    return np.full(np.shape(like), value)


def full(shape, value):
    return np.full(shape, value)


def eye(n):
    return np.eye(n)


def as_float(a):
    return np.asarray(a, dtype=np.float64)


def argmax(a, axis=None):
    return np.argmax(a, axis=axis)


def argmin(a, axis=None):
    return np.argmin(a, axis=axis)


expand_dims = np.expand_dims


def squeeze(a, axis=None):
    return np.squeeze(a, axis=axis)


def concatenate(arrays, axis=0):
    return np.concatenate(arrays, axis=axis)


def stack(arrays, axis=0):
    return np.stack(arrays, axis=axis)


def prod(a, axis=None):
    return np.prod(a, axis=axis)


def _groups(a, axis):
    """a with the axes reduced over moved to the end as one axis (a row per group), and how to undo it."""
    a = np.asarray(a, dtype=np.float64)
    reduced = tuple(range(a.ndim)) if axis is None else tuple(
        ax % a.ndim for ax in (axis if isinstance(axis, tuple) else (axis,)))
    ends = tuple(range(a.ndim - len(reduced), a.ndim))
    moved = np.moveaxis(a, reduced, ends)
    return moved.reshape(moved.shape[:a.ndim - len(reduced)] + (-1,)), (moved.shape, ends, reduced)


def _ungrouped(rows, undo):
    shape, ends, reduced = undo
    return np.moveaxis(rows.reshape(shape), ends, reduced)


def prod_others(a, axis=None):
    """Each element's product of the other elements along axis: exclusive products from both sides
    (no division, so an element 0 elsewhere gives the exact answer)."""
    flat, undo = _groups(a, axis)
    ones = np.ones(flat.shape[:-1] + (1,))
    before = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    after = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    return _ungrouped((before * after)[..., :flat.shape[-1]], undo)  # no elements: none (not the one 1)


def prod_pairs(a, up, axis=None):
    """For each element k, the sum over the other elements i (along axis) of up[i] times the product of
    the elements other than i and k: the vector-Jacobian product of prod_others, without division.

    Scanned from both sides: before[k] is the product of the elements before k, with_up[k] the sum over
    i < k of up[i] times the product of the elements before k other than i (after, with_up_after alike)."""
    flat, undo = _groups(a, axis)
    ups = _groups(up, axis)[0]
    sides = []
    for order in (slice(None), slice(None, None, -1)):
        elements, weights = flat[..., order], ups[..., order]
        product, weighted = np.ones(flat.shape[:-1]), np.zeros(flat.shape[:-1])
        products, weighteds = np.empty_like(flat), np.empty_like(flat)
        for m in range(flat.shape[-1]):
            products[..., m], weighteds[..., m] = product, weighted
            weighted = weighted * elements[..., m] + weights[..., m] * product
            product = product * elements[..., m]
        sides.append((products[..., order], weighteds[..., order]))
    (before, with_up), (after, with_up_after) = sides
    return _ungrouped(with_up * after + before * with_up_after, undo)


def hstack(arrays):
    return np.hstack(arrays)


def vstack(arrays):
    return np.vstack(arrays)
