"""Python floats with numpy's semantics: inf and nan instead of exceptions.

Python's float operations raise where numpy returns a value (``10.0**400``
raises OverflowError, ``math.log(0)`` ValueError, ``0.0**-1``
ZeroDivisionError) or leave the reals (``(-8.0)**(1/3)`` is complex). Every
function here returns what numpy's float64 would.
"""

from __future__ import annotations

import math

INF = math.inf
NAN = math.nan


def recip(a: float) -> float:
    if a == 0.0:
        return math.copysign(INF, a)
    return 1.0 / a


def _is_odd_integer(b: float) -> bool:
    return math.isfinite(b) and b == int(b) and int(b) % 2 == 1


def power(a: float, b: float) -> float:
    if b == 0.5:
        return sqrt(a)  # numpy computes x**0.5 as sqrt(x): (-inf)**0.5 is nan, (-0.0)**0.5 is -0.0
    try:
        return math.pow(a, b)
    except OverflowError:
        return -INF if a < 0 and _is_odd_integer(b) else INF
    except ValueError:
        if a == 0.0:  # zero to a negative power
            return math.copysign(INF, a) if _is_odd_integer(b) else INF
        return NAN  # a negative number to a non-integer power


def mul0(a: float, b: float) -> float:
    # 0 * inf and 0 * nan are 0 here; a product of finite numbers is IEEE's (-0.0 * 1 is -0.0)
    return a * 0.0 if a == 0 and not math.isfinite(b) else a * b


def exp(a: float) -> float:
    try:
        return math.exp(a)
    except OverflowError:
        return INF


def log(a: float) -> float:
    if a > 0:
        return math.log(a)
    if a == 0:
        return -INF
    return NAN  # negative, or nan


def log1p(a: float) -> float:
    if a > -1:
        return math.log1p(a)
    if a == -1:
        return -INF
    return NAN  # below -1, or nan


def expm1(a: float) -> float:
    try:
        return math.expm1(a)
    except OverflowError:
        return INF


def clip(a: float, lo: float, hi: float) -> float:
    return minimum(maximum(a, lo), hi)  # numpy's: nan anywhere is nan


def sqrt(a: float) -> float:
    return math.sqrt(a) if a >= 0 else NAN  # math.sqrt(-0.0) is -0.0, as in numpy


def tanh(a: float) -> float:
    return math.tanh(a)


def sigmoid(a: float) -> float:
    # As numpy's: exp(-a) is inf for a < -709 and 1 / (1 + inf) is exactly 0.
    return 1.0 / (1.0 + exp(-a))


def relu(a: float) -> float:
    return 0.0 if a <= 0 else a  # nan stays nan


def absolute(a: float) -> float:
    return math.fabs(a)


def maximum(a: float, b: float) -> float:
    if a != a or b != b:
        return NAN
    return a if a >= b else b


def minimum(a: float, b: float) -> float:
    if a != a or b != b:
        return NAN
    return a if a <= b else b


def step(a: float) -> float:
    if a != a:
        return NAN
    return 1.0 if a > 0 else 0.0


def sign(a: float) -> float:
    if a != a:
        return NAN
    return 1.0 if a > 0 else (-1.0 if a < 0 else 0.0)


def nonzero(a: float) -> float:
    if a != a:
        return NAN
    return 0.0 if a == 0 else 1.0


def unzero(a: float, w: float) -> float:
    return 1.0 if w == 0 else a


def greater(a: float, b: float) -> float:
    if a != a or b != b:
        return NAN
    return 1.0 if a > b else (0.5 if a == b else 0.0)


def count(condition: bool) -> int:
    """How many elements satisfy a condition (here: one value, so 0 or 1)."""
    return int(bool(condition))


all_finite = math.isfinite  # every value here is a float


def is_nan(a: float) -> bool:
    return a != a


# ---- structural gates on a single number ----------------------------------------
# Shape checking lets only these reach a scalar: reducing or transposing one
# number gives it back, and its gradient is itself.


def transpose(a: float) -> float:
    return a


def sum(a: float, axis: None = None) -> float:  # noqa: A001 - the gates' vocabulary
    return a * 1  # a boolean sums to a number, as np.sum(True) is 1 (and -0.0 stays -0.0)


def amax(a: float, axis: None = None) -> float:
    return a


mean = sum
amin = amax


def var(a: float, axis: None = None, ddof: float = 0) -> float:
    return 0.0 if ddof < 1 else NAN  # numpy: one number varies by 0 / (1 - ddof); with no freedom left, 0 / 0


def keepdims(a: float, like: float, axis: None = None) -> float:
    return a


def reshape_like(a: float, like: float) -> float:
    return a


def logsumexp(a: float, axis: None = None) -> float:
    return a  # log(exp(a)), exactly (inf and nan stay)


def softmax(a: float, axis: None = None) -> float:
    return NAN if a != a or abs(a) == INF else 1.0  # numpy: exp(inf - inf) is nan


def log_softmax(a: float, axis: None = None) -> float:
    return NAN if a != a or abs(a) == INF else 0.0


def prod(a: float, axis: None = None) -> float:
    return a


def prod_others(a: float, axis: None = None) -> float:
    return 1.0  # the empty product


def prod_pairs(a: float, up: float, axis: None = None) -> float:
    return 0.0  # a number has no other element: prod_others is the constant 1


def filled(like: float, value: float) -> float:
    return value


def as_float(a: float) -> float:
    return float(a)


def argmax(a: float, axis: None = None) -> int:
    return 0


argmin = argmax


def squeeze(a: float, axis: None = None) -> float:
    return a


def reshape(a: float, shape: tuple[int, ...]) -> float:
    return a  # a number stays a number only when reshaped to ()


def permute(a: float, axes: tuple[int, ...]) -> float:
    return a


def broadcast(a: float, like: float, axis: None = None) -> float:
    return a


def unbroadcast(a: float, like: float) -> float:
    return a


def share(a: float, m: float, axis: None = None) -> float:
    if a != a or m != m:
        return NAN
    return 1.0


def ties(a: float, m: float, axis: None = None) -> bool:
    return False
