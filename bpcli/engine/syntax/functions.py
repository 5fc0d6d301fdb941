"""A function picked by name from a Python file, as students hand in the assignment's ``layers.py``.

    def affine_forward(x, w, b):
        \"\"\"Computes the forward pass for an affine layer.\"\"\"
        out = None
        N = x.shape[0]
        out = x.reshape(N, -1).dot(w) + b
        cache = (x, w, b)
        return out, cache

Python's ``ast`` module finds the function and the lines of its statements;
the file is never imported or run. The body becomes a bpcli program at the
file's own line numbers (every other line blank, every statement at its own
column), so that bpcli's grammar reads it and its messages and line-by-line
tables point at the student's lines. What the assignment's template writes
around the computation is read here, not handed to the grammar: the
docstring, ``pass``, ``out = None`` and ``dx, dw, db = None, None, None``
(declarations), ``cache = (x, w, b)`` (what the forward keeps for the
backward), ``x, w, b = cache`` and ``dx, x = None, cache`` (what the backward
takes from it) and the final ``return``. Anything else that is not a
statement of bpcli's numpy subset is refused with one message naming the line:
loops, ``if``, ``with``, ``try``, imports, nested functions, calls to the
file's other functions, names the function neither receives nor assigns.
"""

from __future__ import annotations

import ast
import re

from bpcli.engine.errors import BpcliError
from bpcli.engine.printable import printable
from bpcli.engine.record import Record

# Python's line breaks (ast's line numbers count these, not str.splitlines's form feeds and others).
_LINE_BREAK = re.compile(r"\r\n|\r|\n")

# The parameter a backward function receives the forward's cache in, and the name a forward keeps it in.
CACHE = "cache"

# Modules a body may read attributes of (np.sum, math.exp): bpcli's grammar knows their spellings.
MODULES = frozenset({"np", "numpy", "math"})
# The module each of those names must hold where the file binds it: bpcli reads np.sum as numpy's.
_MODULE_OF = {"np": "numpy", "numpy": "numpy", "math": "math"}

# Statements outside the subset, named as a student knows them.
_REFUSED = {
    ast.For: "a for loop", ast.AsyncFor: "a for loop", ast.While: "a while loop", ast.If: "an if statement",
    ast.With: "a with statement", ast.AsyncWith: "a with statement", ast.Try: "a try statement",
    ast.Import: "an import", ast.ImportFrom: "an import", ast.FunctionDef: "a nested function",
    ast.AsyncFunctionDef: "a nested function", ast.ClassDef: "a class", ast.Raise: "raise",
    ast.Assert: "assert", ast.Global: "global", ast.Nonlocal: "nonlocal", ast.Delete: "del",
    ast.AnnAssign: "an annotated assignment", ast.Match: "a match statement",
}
_REFUSED_EXPRESSIONS = {
    ast.Lambda: "a lambda", ast.ListComp: "a list comprehension", ast.SetComp: "a set comprehension",
    ast.DictComp: "a dict comprehension", ast.GeneratorExp: "a generator expression", ast.IfExp: "an if expression",
    ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield", ast.NamedExpr: "an assignment expression",
}


class Function(Record, frozen=True):
    """One function of a student's file, read without running it."""

    label: str  # FILE.py:NAME, for messages and reports
    name: str
    parameters: tuple[str, ...]
    source: str  # the whole file's text
    statements: tuple[ast.stmt, ...]  # the statements of its computation (the template's own lines left out)
    targets: tuple[str | None, ...]  # the name each of them assigns
    returns: tuple[str, ...]  # the names it returns, in order
    returns_line: int
    kept: tuple[str, ...] | None  # forward: the names its cache holds (None: it keeps none)
    unpacked: tuple[str, ...] | None  # backward: the names it takes from its cache (x, w, b = cache; x = cache)
    whole: bool  # backward: the cache is taken as one value (x = cache), not unpacked from a tuple

    @property
    def program(self) -> str:
        """Its computation as a bpcli program, at the file's own line numbers."""
        return self.text()

    @property
    def last_target(self) -> str | None:
        """The name its last statement assigns (a forward's output must be computed last)."""
        return self.targets[-1] if self.targets else None

    def text(self, start: int = 0, stop: int | None = None) -> str:
        """Its statements ``[start:stop]`` as a program, each at its own line and column, all else blank."""
        lines = [""] * (self.statements[-1].end_lineno or 0) if self.statements else []
        source_lines = _LINE_BREAK.split(self.source)  # once: each statement's text is cut from these
        for statement in self.statements[start:stop]:
            for offset, text in enumerate(_padded(source_lines, statement)):
                row = statement.lineno - 1 + offset
                before = lines[row]
                if before.strip() and offset == 0:  # a; b on one line: the second after the first, with its ;
                    text = before + ";" + text[len(before) + 1:]
                lines[row] = text
        return "\n".join(lines)


def _padded(lines: list[str], statement: ast.stmt) -> list[str]:
    """The statement's lines, the first with spaces where the text before it was (ast's columns count
    UTF-8 bytes; the spaces count characters)."""
    first, last = statement.lineno - 1, (statement.end_lineno or statement.lineno) - 1
    start, end = statement.col_offset, statement.end_col_offset
    head = lines[first].encode("utf-8")
    if first == last:
        return [" " * len(head[:start].decode("utf-8")) + head[start:end].decode("utf-8")]
    tail = lines[last].encode("utf-8")[:end].decode("utf-8")
    return [" " * len(head[:start].decode("utf-8")) + head[start:].decode("utf-8"), *lines[first + 1:last], tail]


def read_function(source: str, name: str, path: str) -> Function:
    """The function ``name`` of the Python text ``source`` read from ``path`` (a BpcliError if it is
    missing or outside the subset)."""
    module = _parsed(source, path)
    functions = {node.name: node for node in module.body if isinstance(node, ast.FunctionDef)}
    if name not in functions:
        known = ", ".join(functions) or "none"
        raise BpcliError(f"{path} has no function {name} (its functions: {printable(known)})")
    _refuse_rebound(module, functions[name], path)
    return _Reader(source, functions[name], set(functions) - {name}, f"{path}:{name}").read()


def _refuse_rebound(module: ast.Module, function: ast.FunctionDef, path: str) -> None:
    """Python calls what a name holds when the file has run: a def bound again below it (``relu_backward =
    wrong``), or np bound to anything but numpy (``np = None``, ``import math as np``), would make the
    def bpcli reads, with np read as numpy, another computation than the student's file."""
    last: dict[str, ast.stmt] = {}
    for statement in module.body:
        for bound in _bound_names(statement):
            last[bound] = statement
    rebound = last[function.name]
    if rebound is not function:
        line = rebound.lineno
        raise BpcliError(f"{path}, line {line}: {function.name} is bound again after its def (line "
                         f"{function.lineno}): Python would call that; bpcli grades a def only")
    for name, module_name in _MODULE_OF.items():
        binding = last.get(name)
        if binding is not None and not _imports(binding, name, module_name):
            raise BpcliError(f"{path}, line {binding.lineno}: {name} is bound to something other than "
                             f"{module_name}: bpcli reads {name}. as {module_name}'s (import {module_name}"
                             f"{'' if name == module_name else f' as {name}'})")


def _bound_names(statement: ast.stmt) -> list[str]:
    """The names a statement of a module binds at the module's level."""
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [statement.name]
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return [alias.asname or alias.name.split(".")[0] for alias in statement.names]
    return [node.id for node in ast.walk(statement) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)]


def _imports(statement: ast.stmt, name: str, module_name: str) -> bool:
    """Whether ``statement`` binds ``name`` to the module ``module_name`` (import numpy as np)."""
    return isinstance(statement, ast.Import) and any(
        (alias.asname or alias.name.split(".")[0]) == name and alias.name.split(".")[0] == module_name
        and (alias.asname is None or alias.name == module_name) for alias in statement.names)


def _parsed(source: str, label: str) -> ast.Module:
    try:
        return ast.parse(source)
    except SyntaxError as error:
        if error.lineno is None:  # Python 3.12 and later: a null byte is a SyntaxError with no line
            raise BpcliError(f"{label}: not a Python file bpcli can read ({error.msg})") from None
        raise BpcliError(f"{label}: line {error.lineno}: not valid Python: {error.msg}") from None
    except (RecursionError, MemoryError):
        raise BpcliError(f"{label}: nested more deeply than Python's parser reads") from None
    except ValueError:  # a null byte
        raise BpcliError(f"{label}: not a Python file bpcli can read (it holds a null byte)") from None


class _Reader:
    def __init__(self, source: str, function: ast.FunctionDef, others: set[str], label: str) -> None:
        self.source, self.function, self.others = source, function, others
        self.label = label
        self.statements: list[ast.stmt] = []
        self.targets: list[str | None] = []
        self.known: set[str] = set(MODULES)  # the names a statement may read: parameters, then what is assigned
        self.kept: tuple[str, ...] | None = None
        self.unpacked: tuple[str, ...] | None = None
        self.whole = False

    def error(self, node: ast.AST, message: str) -> BpcliError:
        return BpcliError(f"{self.label}, line {getattr(node, 'lineno', self.function.lineno)}: {message}")

    def read(self) -> Function:
        parameters = self._parameters()
        for shadowing in sorted(MODULES.intersection(parameters)):
            raise self.error(self.function, f"a parameter named {shadowing} hides the module: bpcli reads "
                             f"{shadowing}. as {_MODULE_OF[shadowing]}'s")
        self.known |= set(parameters)
        body = self.function.body
        if _is_docstring(body[0]):
            body = body[1:]
        returned = body[-1] if body else None
        if not isinstance(returned, ast.Return) or returned.value is None:
            raise self.error(self.function, f"{self.function.name} must end with a return statement "
                             "(return out, cache or return dx, dw, db)")
        statements = body[:-1]
        for statement in statements:
            self._statement(statement, parameters)
        returns = self._returns(returned)
        return Function(self.label, self.function.name, parameters, self.source, tuple(self.statements),
                        tuple(self.targets), returns, returned.lineno, self.kept, self.unpacked, self.whole)

    def _parameters(self) -> tuple[str, ...]:
        arguments = self.function.args
        if arguments.vararg or arguments.kwarg or arguments.kwonlyargs or arguments.posonlyargs:
            raise self.error(self.function, "only plain parameters are supported (no *args, **kwargs, / or *)")
        if self.function.decorator_list:
            raise self.error(self.function.decorator_list[0], "a decorated function is not supported")
        return tuple(argument.arg for argument in arguments.args)

    # ---- statements -------------------------------------------------------------------

    def _statement(self, statement: ast.stmt, parameters: tuple[str, ...]) -> None:
        refused = _REFUSED.get(type(statement))
        if refused is not None:
            raise self.error(statement, f"{refused} is outside bpcli's numpy subset (docs/numpy.md): "
                             "bpcli checks straight-line numpy code")
        if isinstance(statement, ast.Pass):
            return
        for node in ast.walk(statement):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id in MODULES:
                raise self.error(statement, f"{node.id} is assigned here: bpcli reads {node.id}. as "
                                 f"{_MODULE_OF[node.id]}'s, and this line would make it something else")
        if isinstance(statement, ast.Return):
            raise self.error(statement, "return comes before the end of the function")
        if isinstance(statement, ast.Expr):
            raise self.error(statement, "a bare expression does nothing here; assign it (name = ...)")
        if isinstance(statement, ast.Assign) and self._template(statement, parameters):
            return
        assert isinstance(statement, (ast.Assign, ast.AugAssign))
        self._expression_checked(statement)
        self.statements.append(statement)

    def _template(self, statement: ast.Assign, parameters: tuple[str, ...]) -> bool:
        """The template's own lines, read here: declarations, the cache kept and the cache unpacked."""
        if len(statement.targets) != 1:
            raise self.error(statement, "assign one value per line (a = b = ... is not supported)")
        target, value = statement.targets[0], statement.value
        if _is_none(value) and isinstance(target, ast.Name):
            self.known.add(target.id)  # out = None: declared (returned unassigned, it is reported as missing)
            return True
        if isinstance(target, ast.Name) and target.id == CACHE:
            self.kept = self._cached(value)
            self.known.add(CACHE)
            return True
        if isinstance(target, ast.Name) and _is_cache(value, parameters):
            self._unpack(statement, (target.id,), whole=True)  # x = cache
            return True
        if not isinstance(target, ast.Tuple) or not all(isinstance(e, ast.Name) for e in target.elts):
            return False
        names = [element.id for element in target.elts if isinstance(element, ast.Name)]
        if _is_cache(value, parameters):
            self._unpack(statement, tuple(names))  # x, w, b = cache
            return True
        if isinstance(value, ast.Tuple) and len(value.elts) == len(names):
            for name, element in zip(names, value.elts):  # dx, dw, db = None, None, None; dx, x = None, cache
                if _is_cache(element, parameters):
                    self._unpack(statement, (name,), whole=True)
                elif _is_none(element):
                    self.known.add(name)
                else:
                    raise self.error(statement, "assign one name per line (a, b = 1, 2 is not supported)")
            return True
        return False

    def _cached(self, value: ast.expr) -> tuple[str, ...]:
        elements = value.elts if isinstance(value, (ast.Tuple, ast.List)) else [value]
        names = []
        for element in elements:
            if not isinstance(element, ast.Name) or element.id not in self.known:
                raise self.error(value, "the cache holds values the function has by name: cache = (x, w, b)")
            names.append(element.id)
        return tuple(names)

    def _unpack(self, statement: ast.stmt, names: tuple[str, ...], whole: bool = False) -> None:
        if self.unpacked is not None:
            raise self.error(statement, f"the {CACHE} is unpacked twice; unpack it once")
        self.unpacked, self.whole = names, whole
        self.known |= set(names)

    def _returns(self, returned: ast.Return) -> tuple[str, ...]:
        value = returned.value
        assert value is not None  # read() refuses a bare return
        elements = value.elts if isinstance(value, ast.Tuple) else [value]
        names: list[str] = []
        for element in elements:
            if isinstance(element, (ast.Tuple, ast.List)) and len(names) == 1:  # return out, (x, w, b)
                self.kept = self._cached(element)
                names.append("cache")
                continue
            if not isinstance(element, ast.Name):
                raise self.error(returned, "return values by name (dx = ...; return dx): bpcli compares "
                                 "what each name holds")
            if element.id not in self.known:
                raise self.error(returned, f"{element.id} is returned but never assigned")
            names.append(element.id)
        return tuple(names)

    # ---- what a kept statement may contain --------------------------------------------

    def _expression_checked(self, statement: ast.Assign | ast.AugAssign) -> None:
        """Refuse what the subset lacks and names the function does not have; note what it assigns."""
        calls: set[int] = set()  # a call's function name is not read: np.sum, relu
        reads: list[str] = []
        stores: list[str] = []
        for node in ast.walk(statement):  # one walk, parents before children (a call before its function)
            refused = _REFUSED_EXPRESSIONS.get(type(node))
            if refused is not None:
                raise self.error(node, f"{refused} is outside bpcli's numpy subset (docs/numpy.md)")
            if isinstance(node, ast.Call):
                calls.add(id(node.func))
                if isinstance(node.func, ast.Name) and node.func.id in self.others:
                    raise self.error(node, f"{self.function.name} calls {node.func.id}, another function of the "
                                     "file: bpcli checks one function at a time and does not follow calls "
                                     "(write the computation out)")
            elif isinstance(node, ast.Name) and id(node) not in calls:
                (stores if isinstance(node.ctx, ast.Store) else reads).append(node.id)
        if isinstance(statement, ast.AugAssign) and isinstance(statement.target, ast.Name):
            reads.append(statement.target.id)  # x += ... reads x (dx[idx] -= ... reads dx: a load already)
        for name in reads:
            if name == CACHE:
                raise self.error(statement, f"unpack the {CACHE} first (x, w, b = {CACHE}) and read the names")
            if name not in self.known:
                raise self.error(statement, f"{name} is neither a parameter of {self.function.name} nor "
                                 "assigned before this line")
        self.known.update(stores)
        root = statement.targets[-1] if isinstance(statement, ast.Assign) else statement.target
        while isinstance(root, ast.Subscript):
            root = root.value
        self.targets.append(root.id if isinstance(root, ast.Name) else None)


def _is_docstring(statement: ast.stmt) -> bool:
    return (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, str))


def _is_cache(node: ast.expr, parameters: tuple[str, ...]) -> bool:
    return isinstance(node, ast.Name) and node.id == CACHE and CACHE in parameters


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None
