"""Numeric backends with one vocabulary, so each gate's forward is written once.

``scalar`` works on Python floats and needs no numpy (a scalar run starts fast);
``array`` works on numpy float64 arrays. Both follow numpy's IEEE semantics:
overflow gives inf and a domain error gives nan, never an exception or a
complex number.
"""

from __future__ import annotations

import contextlib
import sys
from types import ModuleType
from typing import Any, ContextManager

from bpcli.engine.backends import scalar


def backend_for(*values: Any) -> ModuleType:
    """numpy's backend if any value is an array, else the scalar one (which needs no numpy)."""
    if any(hasattr(value, "shape") for value in values):
        from bpcli.engine.backends import array  # the backend the values need

        return array

    return scalar


def quiet_float_errors() -> ContextManager[Any]:
    """Arithmetic on values outside the evaluator (which has its own): inf and nan are
    results that bpcli reports, not numpy RuntimeWarnings. Numbers raise none; numpy is
    only there if arrays are."""
    numpy = sys.modules.get("numpy")
    return contextlib.nullcontext() if numpy is None else numpy.errstate(all="ignore")
