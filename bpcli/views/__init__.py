"""Views read a result and show it; they never recompute anything.

Each kind of view (a rich table, a JSON document, plain text, a written file)
is a table from the result's type to the function that shows it, named by
module so that a view's module (and rich) is imported only when the
view is asked for. Results reach their views only through the functions here
(``bpcli.analyses.result.Result``), and no view imports an analysis: a view is
typed against its result under TYPE_CHECKING.

A new view of a result is one function in a module of this package and one
line in one of these tables (docs/architecture.md has the recipe).
"""

from __future__ import annotations

from typing import Any, Callable

# The functions are named table_of, document_of, ...: importing a module of this package (views.table)
# binds its name here, which would hide a function of the same name.

# result type -> (module, function) -------------------------------------------------------------
TABLES = {
    "GradResult": ("bpcli.views.table", "grad_table"),
    "JacobianResult": ("bpcli.views.jacobian_table", "jacobian_table"),
    "HessianResult": ("bpcli.views.hessian_table", "hessian_table"),
    "DerivativeResult": ("bpcli.views.derivative_table", "derivative_table"),
    "SymbolicResult": ("bpcli.views.symbolic_text", "symbolic_table"),
    "CheckResult": ("bpcli.views.check_table", "check_table"),
    "GradeResult": ("bpcli.views.grade_table", "grade_table"),
    "GradcheckResult": ("bpcli.views.gradcheck_table", "gradcheck_table"),
    "GateReference": ("bpcli.views.gates_table", "gates_table"),
    "ExerciseSet": ("bpcli.views.exercise_sheet", "exercise_table"),
}
DOCUMENTS = {
    "GradResult": ("bpcli.views.json_doc", "grad_document"),
    "JacobianResult": ("bpcli.views.json_doc", "jacobian_document"),
    "HessianResult": ("bpcli.views.json_doc", "hessian_document"),
    "DerivativeResult": ("bpcli.views.json_doc", "derivative_document"),
    "SymbolicResult": ("bpcli.views.json_doc", "symbolic_document"),
    "CheckResult": ("bpcli.views.json_doc", "check_document"),
    "GradeResult": ("bpcli.views.json_doc", "grade_document"),
    "GradcheckResult": ("bpcli.views.json_doc", "gradcheck_document"),
    "GateReference": ("bpcli.views.json_doc", "gates_document"),
    "ExerciseSet": ("bpcli.views.json_doc", "exercise_document"),
}
TEXTS = {
    "SymbolicResult": ("bpcli.views.symbolic_text", "symbolic_text"),
    "ExerciseSet": ("bpcli.views.exercise_sheet", "exercise_text"),
}
# Notebooks (Jupyter's display protocol): the tables above read back and written as HTML or
# Markdown, so the columns and numbers are the terminal's; found by the nearest base type.
HTMLS = {
    "Result": ("bpcli.views.html", "notebook_html"),
    "GradResult": ("bpcli.views.page", "grad_notebook_html"),  # with its circuit drawn
    "PointsResult": ("bpcli.views.html", "points_html"),
}
MARKDOWNS = {
    "Result": ("bpcli.views.html", "notebook_markdown"),
    "ExerciseSet": ("bpcli.views.exercise_sheet", "exercise_text"),  # the sheets are Markdown already
    "PointsResult": ("bpcli.views.html", "points_markdown"),
}
PLAIN_TEXTS = {
    "Result": ("bpcli.views.html", "notebook_text"),
    "PointsResult": ("bpcli.views.html", "points_text"),
}
WRITERS = {  # views that write to a stream, in a format the caller names
    "PointsResult": ("bpcli.views.points_out", "write_points"),
    "GradeResult": ("bpcli.views.grade_files", "write_grades"),  # fmt: "csv" (a gradebook) or "gradescope"
}


def table_of(result: Any, **options: Any) -> Any:
    """The rich renderable of ``result`` (its command's table)."""
    return _view(TABLES, result)(result, **options)


def document_of(result: Any, **options: Any) -> dict[str, Any]:
    """The ``--json`` document of ``result``, as a dict."""
    found: dict[str, Any] = _view(DOCUMENTS, result)(result, **options)
    return found


def to_json(result: Any, indent: int | None = 2) -> str:
    """The ``--json`` text of ``result``."""
    from bpcli.views.json_doc import dumps  # the JSON writer only for a document (start-up: a table needs none)

    return dumps(document_of(result), indent=indent)


def text_of(result: Any, **options: Any) -> str:
    """The plain text of ``result`` (for results that are text, such as symbolic derivatives)."""
    shown: str = _view(TEXTS, result)(result, **options)
    return shown


def html_of(result: Any, **options: Any) -> str:
    """The HTML a notebook shows for ``result``."""
    shown: str = _view(HTMLS, result)(result, **options)
    return shown


def markdown_of(result: Any, **options: Any) -> str:
    """The Markdown a notebook shows for ``result`` where it shows no HTML."""
    shown: str = _view(MARKDOWNS, result)(result, **options)
    return shown


def plain_text_of(result: Any, **options: Any) -> str:
    """The plain text IPython shows for ``result`` (the terminal's tables without colour)."""
    shown: str = _view(PLAIN_TEXTS, result)(result, **options)
    return shown


def write(result: Any, stream: Any, fmt: str, **options: Any) -> None:
    """Write ``result`` to ``stream`` in the format ``fmt``."""
    _view(WRITERS, result)(result, stream, fmt, **options)


def _view(views: dict[str, tuple[str, str]], result: Any) -> Callable[..., Any]:
    """The function that shows ``result`` in ``views``, found by its type (or the nearest base type)."""
    import importlib  # modules named in a table, on first use

    for kind in type(result).__mro__:
        if kind.__name__ in views:
            module, function = views[kind.__name__]
            found: Callable[..., Any] = getattr(importlib.import_module(module), function)
            return found
    raise TypeError(f"bpcli has no such view of a {type(result).__name__}")
