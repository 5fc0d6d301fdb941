"""bpcli: a command-line expression differentiator that shows every stage of backpropagation.

The library behind the command line:

    >>> import bpcli
    >>> r = bpcli.grad("(x+y)*z", x=-2, y=5, z=-4)
    >>> r.value, r.gradients
    (-12.0, {'x': -4.0, 'y': -4.0, 'z': 3.0})

Names are imported on first use, so ``import bpcli`` stays cheap.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = [
    "BpcliError", "CheckResult", "GradResult", "GradcheckResult", "__version__", "build", "check", "check_answers",
    "derivative", "gate_reference", "GateReference", "grad", "gradcheck", "hessian", "json_schema", "parse",
    "schema_names", "symbolic",
]

_PUBLIC = {
    "grad": "bpcli.api",
    "parse": "bpcli.api",
    "build": "bpcli.api",
    # Modules are not named after these functions: importing a submodule binds its
    # name on the package, which would hide a function of the same name.
    "hessian": "bpcli.second_order",
    "derivative": "bpcli.higher",
    "symbolic": "bpcli.simplify",
    "GradResult": "bpcli.result",
    "BpcliError": "bpcli.errors",
    "check": "bpcli.checking",
    "CheckResult": "bpcli.checking",
    "check_answers": "bpcli.answers",
    "gradcheck": "bpcli.finite_differences",
    "GradcheckResult": "bpcli.finite_differences",
    "gate_reference": "bpcli.reference",
    "GateReference": "bpcli.reference",
    "json_schema": "bpcli.json_schemas",
    "schema_names": "bpcli.json_schemas",
}


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        import importlib

        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'bpcli' has no attribute {name!r}")
