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


def sigmoid(a):
    # exp of a non-positive number only, so large |a| never overflows.
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def relu(a):
    return np.where(a <= 0, 0.0, a)  # nan stays nan


def step(a):
    return np.where(np.isnan(a), np.nan, np.where(a > 0, 1.0, 0.0))


def greater(a, b):
    tie_or_above = np.where(a > b, 1.0, np.where(a == b, 0.5, 0.0))
    return np.where(np.isnan(a) | np.isnan(b), np.nan, tie_or_above)


def count(condition) -> int:
    return int(np.count_nonzero(condition))


def all_finite(a) -> bool:
    return bool(np.isfinite(a).all())


def is_nan(a) -> bool:
    return bool(np.isnan(a).any())
