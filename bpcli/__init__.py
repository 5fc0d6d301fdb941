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
Limits              bounds of a run        --max-elements (limits=Limits(...))
==================  =====================  ==============================

Bad input raises BpcliError, whose message is what the command line prints.
Names are imported on first use, so ``import bpcli`` stays cheap.

In Jupyter every result shows itself as HTML, and ``%load_ext bpcli`` adds
the ``%bpcli`` magic (docs/notebook.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_PUBLIC = {
    "grad": "bpcli.analyses.grad",
    "parse": "bpcli.engine.problem",
    "build": "bpcli.engine.problem",
    "Limits": "bpcli.engine.limits",
    "Constant": "bpcli.engine.values",
    "grad_points": "bpcli.analyses.points",
    "jacobian": "bpcli.analyses.jacobian",
    "hessian": "bpcli.analyses.hessian",
    "derivative": "bpcli.analyses.derivative",
    "symbolic": "bpcli.analyses.symbolic",
    "check": "bpcli.analyses.check",
    "check_answers": "bpcli.analyses.answers",
    "read_code": "bpcli.analyses.student_code",
    "grade": "bpcli.analyses.grade",
    "gradcheck": "bpcli.analyses.gradcheck",
    "gate_reference": "bpcli.analyses.gates",
    "exercise": "bpcli.analyses.exercise",
    "json_schema": "bpcli.views.json_schemas",
    "schema_names": "bpcli.views.json_schemas",
    "GradResult": "bpcli.analyses.result",
    "JacobianResult": "bpcli.analyses.jacobian",
    "HessianResult": "bpcli.analyses.hessian",
    "DerivativeResult": "bpcli.analyses.derivative",
    "SymbolicResult": "bpcli.analyses.symbolic",
    "CheckResult": "bpcli.analyses.check",
    "GradeResult": "bpcli.analyses.grade",
    "GradcheckResult": "bpcli.analyses.gradcheck",
    "GateReference": "bpcli.analyses.gates",
    "ExerciseSet": "bpcli.analyses.exercise",
    "BpcliError": "bpcli.engine.errors",
}

__all__ = ["__version__", *_PUBLIC]

if TYPE_CHECKING:  # what type checkers and editors see; at run time, __getattr__ imports on first use
    from bpcli.analyses.answers import check_answers
    from bpcli.analyses.student_code import read_code
    from bpcli.analyses.grade import GradeResult, grade
    from bpcli.analyses.grad import grad
    from bpcli.engine.limits import Limits
    from bpcli.engine.values import Constant
    from bpcli.engine.problem import build, parse
    from bpcli.analyses.check import CheckResult, check
    from bpcli.engine.errors import BpcliError
    from bpcli.analyses.gradcheck import GradcheckResult, gradcheck
    from bpcli.analyses.derivative import DerivativeResult, derivative
    from bpcli.analyses.jacobian import JacobianResult, jacobian
    from bpcli.views.json_schemas import json_schema, schema_names
    from bpcli.analyses.points import grad_points
    from bpcli.analyses.gates import GateReference, gate_reference
    from bpcli.analyses.exercise import ExerciseSet, exercise
    from bpcli.analyses.result import GradResult
    from bpcli.analyses.hessian import HessianResult, hessian
    from bpcli.analyses.symbolic import SymbolicResult, symbolic


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        import importlib  # modules named in a table, on first use

        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'bpcli' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext bpcli``: the %bpcli and %%bpcli magics (imported only now, so ``import bpcli`` stays cheap).

    Imported by name, as the public names are: the magic speaks the command line's words, and the
    command line imports this package.
    """
    import importlib  # the magic by name, on %load_ext only (start-up)

    importlib.import_module("bpcli.cli.magic").register(ipython)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
