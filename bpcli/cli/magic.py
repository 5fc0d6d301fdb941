"""``%bpcli`` and ``%%bpcli`` in Jupyter: the command line's words, results displayed richly.

``%load_ext bpcli`` registers one magic. A line is read exactly as the
command line reads its arguments (the same typer options, the same bindings),
and the command's result object is returned, so the notebook shows it with
its HTML view:

    %bpcli grad "(x+y)*z" -x -2 -y 5 -z -4
    %%bpcli check --forward fwd -x 3 -y -4
    dsigy = ...            <- the cell: a backward pass, checked line by line

Values may come from the notebook: ``-x $x`` reads the variable x, and a
variable of the expression bound nowhere on the line is read from the
notebook variable of the same name. Only names are looked up, in the user
namespace; nothing is evaluated. ``--forward NAME`` takes the forward
expression from a notebook string (or is the expression itself);
``--forward FILE.py:NAME`` (with ``--backward FILE.py:NAME``, or a backward
pass in the cell) picks a student's functions from a file, parsed and never
run, as on the command line.
"""

from __future__ import annotations

import numbers
import shlex
import sys
from typing import Any, Callable, Mapping

import typer
import typer.main

from bpcli.analyses.check import check
from bpcli.analyses.derivative import derivative
from bpcli.analyses.grad import build, grad
from bpcli.analyses.gradcheck import gradcheck
from bpcli.analyses.hessian import hessian
from bpcli.analyses.jacobian import jacobian
from bpcli.analyses.result import GradResult
from bpcli.analyses.student_code import read_code
from bpcli.analyses.symbolic import symbolic
from bpcli.cli import app, common  # app: the typer application, every command registered
from bpcli.cli import graph as graph_command
from bpcli.cli.bindings import is_identifier, split_bindings
from bpcli.cli.check import picks_a_function, refuse_backward_function
from bpcli.cli.grad import GRADIENTS_ONLY_WITHOUT_JSON
from bpcli.cli.hessian import vector_value
from bpcli.engine.errors import BpcliError
from bpcli.engine.limits import Limits
from bpcli.engine.paths import path_text
from bpcli.engine.syntax.function_spec import is_spec
from bpcli.views.json_doc import dumps, grad_document

COMMANDS = ("grad", "check", "gradcheck", "hessian", "jacobian", "graph")
USAGE = "%bpcli COMMAND EXPR [BINDINGS] [OPTIONS], COMMAND one of " + ", ".join(COMMANDS)
_NOT_IN_NOTEBOOK = {  # options of the command line a notebook has its own way for
    "points": "--points writes a file of rows; in a notebook call bpcli.grad_points(EXPR, POINTS)",
    "explain": "--explain is for the terminal: run !bpcli grad ... --explain",
    "answers": "--answers checks the problems of a file: in a notebook call bpcli.check_answers(PATH)",
}


def register(ipython: Any) -> None:
    """Register %bpcli (line) and %%bpcli (cell) with an IPython shell."""
    from IPython.core.magic import no_var_expand  # IPython is imported only by the notebook that loads bpcli

    @no_var_expand  # $x is read here, from the namespace, never expanded into the line as text
    def bpcli(line: str, cell: str | None = None) -> Any:
        return run(line, cell, ipython.user_ns)

    ipython.register_magic_function(bpcli, "line_cell", "bpcli")


def run(line: str, cell: str | None, namespace: Mapping[str, Any]) -> Any:
    """The result of one magic line (and cell); bad input is one message on standard error, no traceback."""
    try:
        return _run(line, cell, namespace)
    except BpcliError as error:
        print(f"error: {error}", file=sys.stderr)
    except typer.Exit:  # --help: it has been printed
        pass
    except Exception as error:
        if not hasattr(error, "format_message"):  # click's usage errors (typer's own click, or click)
            raise
        print(f"error: {error.format_message()}", file=sys.stderr)
    return None


def _run(line: str, cell: str | None, namespace: Mapping[str, Any]) -> Any:
    try:
        words = shlex.split(line)
    except ValueError as error:
        raise BpcliError(f"cannot split the line into words ({error}): {USAGE}") from None
    if not words or words[0] not in COMMANDS:
        raise BpcliError(USAGE)
    name, arguments = words[0], words[1:]
    forward, arguments = _take_option(arguments, "--forward")
    if cell is not None and name != "check":
        raise BpcliError("the cell of %%bpcli is a backward pass to check: %%bpcli check EXPR BINDINGS")
    picked = forward is not None and is_spec(forward)
    if picked and name != "check":
        raise BpcliError(f"--forward {forward} picks a function from a file for check: %bpcli check --forward "
                         f"{forward} ...")
    if forward is not None and not picked:
        arguments = [_text(forward, namespace, bare_name=True), *arguments]
    params, extra = _parse(name, arguments)
    for option, message in _NOT_IN_NOTEBOOK.items():
        if params.get(option):
            raise BpcliError(message)
    if forward is not None and picked:
        return _shown(_check_functions(forward, params, extra, namespace, cell), params)
    text = _expression(params, namespace)
    if name == "graph":  # -o PATH is --out PATH where the expression has no variable o, as on the command line
        given = params.get("out")  # --out's text: the context typer makes converts no paths
        out, extra = common.short_out_option(text, extra, None if given is None else path_text(given))
        params["out"] = common.out_path(out)
    read = _Values(params, namespace)
    # --symbolic needs no values: a notebook variable that happens to share a name is not bound to it
    values = read.bindings(text, extra, by_name=not params.get("symbolic"))
    return _shown(_COMMANDS[name](text, values, params, read, cell), params)


def _shown(result: Any, params: dict[str, Any]) -> Any:
    """The result, for the notebook to display; with --json, its document printed instead (with
    --gradients-only, a first-order result's without its stages and forks, as the command prints it).
    check --html PATH also writes the report there, as the command does."""
    if params.get("html") is not None:
        from bpcli.views.html import check_report  # a view only when asked for

        common.write_output(check_report(result), common.out_path(path_text(params["html"])))
    if params.get("gradients_only"):
        if not isinstance(result, GradResult):
            raise BpcliError("--gradients-only leaves the first-order stages out of grad's --json document; it does "
                             "not go with --order or --symbolic")
        if not params.get("json_output"):
            raise BpcliError(GRADIENTS_ONLY_WITHOUT_JSON)
    if params.get("json_output"):
        if params.get("gradients_only"):
            print(dumps(grad_document(result, gradients_only=True)))
        else:
            print(result.to_json())
        return None
    return result


def _take_option(arguments: list[str], option: str) -> tuple[str | None, list[str]]:
    """The value of an option the notebook reads its own way (--forward: an expression, not a file's
    function as on the command line), and the other arguments."""
    if option not in arguments:
        return None, arguments
    position = arguments.index(option)
    if position + 1 == len(arguments):
        raise BpcliError(f"{option} needs the forward expression or the name of a notebook string holding it")
    return arguments[position + 1], arguments[:position] + arguments[position + 2:]


def _parse(name: str, arguments: list[str]) -> tuple[dict[str, Any], list[str]]:
    """The command's options as typer reads them, and the rest (the bindings)."""
    command = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    context = command.make_context(f"%bpcli {name}", list(arguments))
    return dict(context.params), list(context.args)


def _expression(params: dict[str, Any], namespace: Mapping[str, Any]) -> str:
    if params.get("file") is not None:
        return common.read_text(params["file"], params.get("max_length", common.DEFAULT_MAX_LENGTH))
    if params.get("expression") is None:
        raise BpcliError(f"give an expression: {USAGE}")
    return _text(params["expression"], namespace)


def _text(word: str, namespace: Mapping[str, Any], bare_name: bool = False) -> str:
    """An expression as written, or the notebook string that ``$name`` (or, for --forward, a bare name) holds."""
    name = word[1:] if word.startswith("$") else word
    named = word.startswith("$") or bare_name
    if named and is_identifier(name) and isinstance(namespace.get(name), str):
        return namespace[name]
    if word.startswith("$"):
        raise BpcliError(f"{word}: the notebook has no string named {name}")
    return word


class _Values:
    """Reads value texts as the command line does, and $names and bare names from the notebook."""

    def __init__(self, params: dict[str, Any], namespace: Mapping[str, Any]) -> None:
        self.namespace = namespace
        limit = params.get("max_elements", common.DEFAULT_MAX_ELEMENTS)
        self.reader = common.value_reader(params.get("seed", 0), limit)
        # What the command passes its analysis.
        self.limits = Limits(limit, params.get("max_total_elements", common.DEFAULT_MAX_TOTAL_ELEMENTS))

    def bindings(self, text: str, arguments: list[str], by_name: bool = True) -> dict[str, Any]:
        if not by_name:
            return self.given(arguments)
        graph = build(text)
        return self.given(arguments, [graph.nodes[variable].name for variable in graph.variables])

    def given(self, arguments: list[str], variables: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
        """The line's bindings, and each of ``variables`` the line does not bind from the notebook's variable."""
        values = {name: self.read(name, value) for name, value in split_bindings(arguments).items()}
        for name in variables:
            if name not in values and _is_value(self.namespace.get(name)):
                values[name] = self.namespace[name]
        return values

    def read(self, name: str, text: str | None) -> Any:
        if text is None or text == "ones":
            return text
        if not text.startswith("$"):
            return self.reader.read(name, text)
        variable = text[1:]
        if not is_identifier(variable) or variable not in self.namespace:
            raise BpcliError(f"{name} = {text}: the notebook has no variable named {variable}")
        value = self.namespace[variable]
        if not _is_value(value):
            raise BpcliError(f"{name} = {text}: {variable} is a {type(value).__name__}, not a number or an array")
        return value


def _is_value(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (numbers.Real, list, tuple)):
        return True
    return type(value).__module__ == "numpy" and hasattr(value, "shape")


# ---- one function per command: the library call the command makes -----------------------------


def _grad(text: str, values: dict, params: dict, read: _Values, cell: str | None) -> Any:
    if params.get("symbolic"):
        return symbolic(text, values, wrt=params["wrt"], order=params["order"] or 1,
                        max_nodes=params["max_nodes"], max_order=params["max_order"], limits=read.limits)
    if params.get("order") is not None or params.get("wrt") is not None:
        return derivative(text, values, wrt=params["wrt"], order=params["order"] or 1,
                          max_nodes=params["max_nodes"], max_order=params["max_order"], limits=read.limits)
    return _first_order(text, values, params, read)


def _first_order(text: str, values: dict, params: dict, read: _Values) -> Any:
    upstream = read.read("--upstream", params.get("upstream"))
    return grad(text, values, upstream=upstream, expand=params.get("expand", False), limits=read.limits)


def _check(text: str, values: dict, params: dict, read: _Values, cell: str | None) -> Any:
    expectations = common.expectations(params.get("expect") or [], read.reader)
    if params.get("backward") is not None:
        refuse_backward_function(params["backward"])
    backward, label = _backward(params, cell)
    return check(text, values, expect=expectations, backward=backward, backward_label=label,
                 rtol=params.get("rtol"), atol=params.get("atol"),
                 upstream=read.read("--upstream", params.get("upstream")), limits=read.limits)


def _backward(params: dict, cell: str | None) -> tuple[str | None, str]:
    """A backward pass in the notes' style, from the cell or --backward PATH, and its label."""
    if params.get("backward") is None:
        return cell, "the cell"
    if cell is not None:
        raise BpcliError("the backward pass is the cell or --backward PATH, not both")
    return common.read_text(params["backward"], params.get("max_length", common.DEFAULT_MAX_LENGTH)), \
        str(params["backward"])


def _check_functions(forward: str, params: dict, extra: list[str], namespace: Mapping[str, Any],
                     cell: str | None) -> Any:
    """check --forward FILE.py:NAME [--backward FILE.py:NAME]: a student's functions, read as the command line
    reads them (paths are the user's own; parsed, never run), values in the same order from the same seed."""
    if params.get("file") is not None:
        raise BpcliError("--forward picks the forward pass from a Python file; give no --file with it")
    max_length = params.get("max_length", common.DEFAULT_MAX_LENGTH)
    backward = params.get("backward")
    function = backward is not None and picks_a_function(backward)
    if function and cell is not None:
        raise BpcliError("the backward pass is the cell or --backward FILE.py:NAME, not both")
    code = read_code(forward, str(backward) if function else None,
                     lambda path: common.read_text(path, max_length))
    read = _Values(params, namespace)
    # typer reads the first binding word as the expression, as on the command line
    words = [params["expression"], *extra] if params.get("expression") is not None else extra
    values = read.given(words, code.forward.parameters)
    expectations = common.expectations(params.get("expect") or [], read.reader)
    text, label = (None, "") if function else _backward(params, cell)
    return check(forward, values, expect=expectations, backward=text, backward_label=label,
                 rtol=params.get("rtol"), atol=params.get("atol"),
                 upstream=read.read("--upstream", params.get("upstream")), limits=read.limits, code=code,
                 seed=params.get("seed", 0), fills=read.reader)


def _gradcheck(text: str, values: dict, params: dict, read: _Values, cell: str | None) -> Any:
    return gradcheck(text, values, h=params["h"], max_error=params["max_error"], max_checks=params["max_checks"],
                     upstream=read.read("--upstream", params.get("upstream")), seed=params["seed"],
                     limits=read.limits)


def _hessian(text: str, values: dict, params: dict, read: _Values, cell: str | None) -> Any:
    vector = vector_value(params.get("vector"), read.reader)
    return hessian(text, values, wrt=common.names(params.get("wrt")), vector=vector,
                   max_entries=params["max_entries"], limits=read.limits)


def _jacobian(text: str, values: dict, params: dict, read: _Values, cell: str | None) -> Any:
    return jacobian(text, values, layout=params["layout"], max_entries=params["max_entries"], limits=read.limits)


def _graph(text: str, values: dict, params: dict, read: _Values, cell: str | None) -> Any:
    """The circuit, drawn inline with the stage table; with --out also written as the command writes it."""
    result = _first_order(text, values, params, read)
    if params.get("out") is not None:
        graph_command.show(result, params["image_format"], params["out"], params["precision"])
    return result


_COMMANDS: dict[str, Callable[..., Any]] = {
    "grad": _grad, "check": _check, "gradcheck": _gradcheck, "hessian": _hessian, "jacobian": _jacobian,
    "graph": _graph,
}
