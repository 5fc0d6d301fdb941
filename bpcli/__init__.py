"""bpcli: a command-line expression differentiator that shows every stage of backpropagation.

The library behind the command line; every command is a thin layer over one
of these functions, and every result prints the document ``--json`` prints
(``to_json()``) and shows the command's table in rich (``rich.print(r)``):

    >>> import bpcli
    >>> r = bpcli.grad("(x+y)*z", x=-2, y=5, z=-4)
    >>> r.value, r.gradients
    (-12.0, {'x': -4.0, 'y': -4.0, 'z': 3.0})

==================  =====================  ==============================
function            result                 command
==================  =====================  ==============================
grad                GradResult             bpcli grad
grad_points         PointsResult           bpcli grad --points FILE
jacobian            JacobianResult         bpcli jacobian
hessian             HessianResult          bpcli hessian
derivative          DerivativeResult       bpcli grad --order N
symbolic            SymbolicResult         bpcli grad --symbolic
check               CheckResult            bpcli check
check_answers       CheckResult            bpcli check --answers FILE
gradcheck           GradcheckResult        bpcli gradcheck
gate_reference      GateReference          bpcli gates
json_schema         dict                   bpcli schema NAME
parse, build        the AST, the graph     (what every command starts with)
==================  =====================  ==============================

Bad input raises BpcliError, whose message is what the command line prints.
Names are imported on first use, so ``import bpcli`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_PUBLIC = {
    "grad": "bpcli.api",
    "parse": "bpcli.api",
    "build": "bpcli.api",
    "grad_points": "bpcli.points",
    # Modules are not named after these functions: importing a submodule binds its
    # name on the package, which would hide a function of the same name.
    "jacobian": "bpcli.jacobian_matrix",
    "hessian": "bpcli.second_order",
    "derivative": "bpcli.higher",
    "symbolic": "bpcli.simplify",
    "check": "bpcli.checking",
    "check_answers": "bpcli.answers",
    "gradcheck": "bpcli.finite_differences",
    "gate_reference": "bpcli.reference",
    "json_schema": "bpcli.json_schemas",
    "schema_names": "bpcli.json_schemas",
    "GradResult": "bpcli.result",
    "JacobianResult": "bpcli.jacobian_matrix",
    "HessianResult": "bpcli.second_order",
    "DerivativeResult": "bpcli.higher",
    "SymbolicResult": "bpcli.simplify",
    "CheckResult": "bpcli.checking",
    "GradcheckResult": "bpcli.finite_differences",
    "GateReference": "bpcli.reference",
    "BpcliError": "bpcli.errors",
}

__all__ = ["__version__", *_PUBLIC]

if TYPE_CHECKING:  # what type checkers and editors see; at run time, __getattr__ imports on first use
    from bpcli.answers import check_answers
    from bpcli.api import build, grad, parse
    from bpcli.checking import CheckResult, check
    from bpcli.errors import BpcliError
    from bpcli.finite_differences import GradcheckResult, gradcheck
    from bpcli.higher import DerivativeResult, derivative
    from bpcli.jacobian_matrix import JacobianResult, jacobian
    from bpcli.json_schemas import json_schema, schema_names
    from bpcli.points import grad_points
    from bpcli.reference import GateReference, gate_reference
    from bpcli.result import GradResult
    from bpcli.second_order import HessianResult, hessian
    from bpcli.simplify import SymbolicResult, symbolic


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        import importlib

        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'bpcli' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
