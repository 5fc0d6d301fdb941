"""Python's spellings of bpcli's functions, so code pasted from a notebook parses.

``math.exp(x)`` and ``np.exp(x)`` are ``exp(x)``; ``np.maximum(a, b)`` is
``max(a, b)``; ``W.dot(X)`` is ``dot(W, X)``, as the notes write it. Only the
spellings listed here are accepted, each meaning exactly what bpcli's function
means, so a pasted line gives Python's numbers or an error, never others.
"""

from __future__ import annotations

# numpy.exp is np.exp.
MODULE_ALIASES = {"math": "math", "np": "np", "numpy": "np", "np.linalg": "np.linalg", "numpy.linalg": "np.linalg"}

SPELLINGS: dict[str, str] = {
    "math.exp": "exp", "math.log": "log", "math.sqrt": "sqrt", "math.tanh": "tanh", "math.fabs": "abs",
    "np.exp": "exp", "np.log": "log", "np.sqrt": "sqrt", "np.tanh": "tanh",
    "np.abs": "abs", "np.absolute": "abs", "np.sign": "sign",
    "np.maximum": "max", "np.minimum": "min",
    "np.dot": "dot", "np.matmul": "dot", "np.outer": "outer",
    "np.where": "where", "np.logical_and": "logical_and", "np.logical_or": "logical_or",
    "np.logical_not": "logical_not", "np.arange": "arange",
    "np.square": "square", "np.power": "power", "np.log1p": "log1p", "np.expm1": "expm1", "np.clip": "clip",
    "np.reshape": "reshape", "np.ravel": "ravel", "np.transpose": "transpose",
    "np.zeros": "zeros", "np.ones": "ones", "np.zeros_like": "zeros_like", "np.ones_like": "ones_like",
    "np.eye": "eye", "np.argmax": "argmax", "np.argmin": "argmin", "np.expand_dims": "expand_dims",
    "np.squeeze": "squeeze", "np.swapaxes": "swapaxes", "np.concatenate": "concatenate", "np.stack": "stack",
    "np.hstack": "hstack", "np.vstack": "vstack", "np.full": "full", "np.full_like": "full_like",
    "np.sum": "sum", "np.mean": "mean", "np.max": "max", "np.min": "min", "np.amax": "max", "np.amin": "min",
    "np.var": "var", "np.std": "std", "np.prod": "prod", "np.linalg.norm": "norm",
}

# numpy reads a second positional argument of these as an axis, bpcli's max(a, b)
# as a second operand: only the one-argument form (and axis=...) is accepted.
REDUCTIONS = {"np.sum", "np.mean", "np.max", "np.min", "np.amax", "np.amin", "np.var", "np.std", "np.prod"}
# Other functions whose argument after the array (or the tuple of arrays) is an axis.
AXIS_SECOND = {"np.argmax", "np.argmin", "np.expand_dims", "np.squeeze", "np.concatenate", "np.stack"}

# Methods of a value: a.dot(b) is dot(a, b); x.sum(axis=1) is sum(x, axis=1).
METHODS = {"dot": "dot", "copy": "copy", "reshape": "reshape", "flatten": "ravel", "ravel": "ravel",
           "transpose": "transpose", "clip": "clip", "astype": "astype", "squeeze": "squeeze",
           "swapaxes": "swapaxes", "argmax": "argmax", "argmin": "argmin", "sum": "sum", "mean": "mean", "max": "max",
           "min": "min", "var": "var", "std": "std", "prod": "prod"}
# The methods that reduce: like numpy's reductions, their first argument is an axis.
REDUCING_METHODS = {"sum", "mean", "max", "min", "var", "std", "prod", "argmax", "argmin", "squeeze"}


def module_function(module: str, name: str) -> str | None:
    """bpcli's name for ``module.name`` (``np.maximum`` -> ``max``), or None if it is not listed."""
    return SPELLINGS.get(f"{MODULE_ALIASES[module]}.{name}")


def listed() -> str:
    """The accepted spellings, for an error message."""
    return ", ".join(SPELLINGS) + ", and a.dot(b)"


def unsupported(spelt: str) -> str:
    """Why a function of math or numpy that bpcli does not know is refused, and where to look."""
    if spelt.endswith(".random.*"):
        return (f"{spelt} is random, and bpcli computes from given values only: "
                "bind the random values as an input: `-mask rand:...`")
    if spelt in ("np.empty", "np.empty_like"):
        return (f"{spelt} leaves its values unset (whatever the memory held), so nothing about them can be "
                "checked: write np.zeros_like(x) (or np.zeros(shape)), or np.full_like(x, v)")
    return f"{spelt} is not a function bpcli knows (`bpcli gates` lists the gates it knows)"
