"""The staged Python code of a backward pass, in the lecture notes' style.

A forward block, one assignment per stage numbered ``#(1)`` ... ``#(n)``, then
the backward block in reverse stage order: for every stage, what each of its
inputs receives, written as local gradient times upstream gradient
(``dden = (-1 / den**2) * dinvden``), with ``+=`` where a value used more than
once collects its gradients. Nothing is derived here: each line is read from
the graph and the Adjoints record the backward transformation made (``local``,
``downstream``, ``total``, ``contributions``), and formulas.py writes the nodes
out. Run at the bound inputs, the code gives bpcli's numbers exactly.

Numbers use the math module; arrays and structural gates (``@``, ``sum``) use
numpy. A gate neither module has (sigmoid, relu, ...) is defined at the top of
the code by the backend's own source, so it computes what bpcli computes.
"""

from __future__ import annotations

import builtins
import importlib
import keyword
import types
from typing import TYPE_CHECKING, Any

from bpcli.engine.errors import BpcliError
from bpcli.engine.formulas import OPERATORS, function_name, to_ast
from bpcli.engine.gates import REGISTRY, ROLES
from bpcli.engine.graph import CONST, Graph, Node
from bpcli.engine.printable import printable
from bpcli.engine.record import NamedTuple
from bpcli.engine.shapes import show
from bpcli.engine.syntax.ast import Binary, Name, Neg, Number
from bpcli.engine.syntax.parser import parse
from bpcli.engine.syntax.printer import to_text

if TYPE_CHECKING:  # views read results, never import the analyses
    from bpcli.analyses.result import GradResult

FUNCTION = "backprop"
_SIZED = {"arange", "zeros", "ones", "eye", "reshape"}  # gates whose constant inputs are whole numbers
TAG_COLUMN = 52  # where the #(k) stage numbers line up, as in the notes


class _Target(NamedTuple):  # not a dataclass: dataclasses' import (inspect, ast, dis) is start-up time
    imports: str
    calls: dict[str, str]  # gate op -> how the code calls it; other function gates are helpers
    backend: str  # the bpcli backend module whose functions are the helpers


_MATH = _Target(
    "import math",
    {"exp": "math.exp", "log": "math.log", "sqrt": "math.sqrt", "tanh": "math.tanh",
     "abs": "abs", "max": "max", "min": "min", "astype": "as_float"},
    "bpcli.engine.backends.scalar",
)
_NUMPY = _Target(
    "import numpy as np",
    {"exp": "np.exp", "log": "np.log", "sqrt": "np.sqrt", "tanh": "np.tanh", "abs": "np.absolute",
     "max": "np.maximum", "min": "np.minimum", "sign": "np.sign", "sum": "np.sum", "mean": "np.mean",
     "amax": "np.max", "amin": "np.min", "outer": "np.outer", "where": "np.where", "scatter": "scatter_add",
     "logical_not": "np.logical_not", "arange": "np.arange", "var": "np.var", "at_set": "at_set",
     "reshape": "np.reshape", "permute": "np.transpose", "log1p": "np.log1p", "expm1": "np.expm1", "clip": "np.clip",
     "zeros": "np.zeros", "ones": "np.ones", "zeros_like": "np.zeros_like", "ones_like": "np.ones_like",
     "eye": "np.eye", "astype": "as_float", "argmax": "np.argmax", "argmin": "np.argmin",
     "expand_dims": "np.expand_dims", "squeeze": "np.squeeze", "swapaxes": "np.swapaxes",
     "concatenate": "np.concatenate", "stack": "np.stack", "prod": "np.prod",
     "hstack": "np.hstack", "vstack": "np.vstack", "pow": "np.power"},
    "bpcli.engine.backends.array",
)


def python_code(result: GradResult, numpy: bool = False) -> str:
    """The staged forward and backward code of a GradResult, as a Python program.

    numpy is used when asked for, and whenever a value is an array or a gate
    is structural (math cannot write those).
    """
    return _Program(result, _NUMPY if numpy or _needs_numpy(result.graph) else _MATH).text()


def _needs_numpy(graph: Graph) -> bool:
    arrays = any(graph.shape(i) != () for i in range(len(graph.nodes)))
    # Booleans are numpy's (Python's ~True is -2), as is np.where.
    gates = [REGISTRY[graph.nodes[i].op] for i in graph.stages]
    return arrays or any(not gate.elementwise or gate.boolean or gate.op == "where" for gate in gates)


class _Program:
    def __init__(self, result: Any, target: _Target) -> None:
        self.result = result
        self.graph: Graph = result.graph
        self.adjoints = result.adjoints
        self.target = target
        self.backend = importlib.import_module(target.backend)
        self.called: set[str] = set()  # the helpers the printed lines call
        reserved = self._helper_names() | set(dir(builtins)) | {"math", "np", "sys", FUNCTION}
        self.names = _python_names(self.graph, reserved)
        self.gradient_names = _gradient_names(self.names, reserved | set(self.names.values()))
        self.renamed = self._renamed()
        self.output = self.graph.output
        self.seed = self.gradient_names.get(self.output, "df")  # df for a constant output
        # An array seed (--upstream) is a parameter. A number is a line of the
        # backward pass: the builder folded it into the gradient nodes.
        self.seed_value = self.graph.nodes[self.adjoints.seed].value
        self.seed_is_parameter = hasattr(self.seed_value, "shape")

    # ---- the program ----------------------------------------------------------

    def text(self) -> str:
        function = self._function()  # printed first: it finds the helpers it calls
        # The user's text in comments: escaped, so that it neither acts on a terminal nor ends the comment.
        lines = [printable(line.rstrip(), newlines=False) for line in self.result.source.strip().splitlines()
                 if line.strip()]
        source = f" {lines[0]}" if len(lines) == 1 else "".join(f"\n#   {line}" for line in lines)
        header = (
            f"# Backpropagation through{source}\n"
            "# Staged by bpcli: running it gives bpcli's values and gradients.\n" + self.target.imports
        )
        return "\n\n\n".join([header, *self._helpers(), function, self._main()]) + "\n"

    def _function(self) -> str:
        parameters = [self.names[v] for v in self.graph.variables]
        if self.seed_is_parameter:
            parameters.append(self.seed)
        stages = list(enumerate(self.graph.stages, start=1))
        lines = [f"def {FUNCTION}({', '.join(parameters)}):", "    # forward pass" + ("" if stages else ": no gates")]
        lines += _tagged([(f"    {self.names[node]} = {self._gate_text(node)}", index) for index, node in stages])
        lines += ["", *self._backward_preamble()]
        for index, node in reversed(stages):
            lines += self._backward_lines(node, index)
        lines += self._zero_gradients()
        gradients = ", ".join(f'"{self.graph.nodes[v].name}": {self.gradient_names[v]}' for v in self.graph.variables)
        lines.append(f"    return {self._output_text()}, {{{gradients}}}")
        return "\n".join(lines)

    def _main(self) -> str:
        lines = ['if __name__ == "__main__":']
        values = self.result.evaluation.values
        if all(values[v] is not None for v in self.graph.variables):
            arguments = [f"{self.names[v]}={self._literal(values[v])}" for v in self.graph.variables]
            if self.seed_is_parameter:
                arguments.append(f"{self.seed}={self._literal(self.seed_value)}")
            lines.append(f"    value, gradients = {FUNCTION}({', '.join(arguments)})")
        elif all(self.graph.shape(v) == () for v in self.graph.variables):
            # no values were given: the script reads them from its command line
            order = ", ".join(self.names[v] for v in self.graph.variables)
            lines += [
                "    import sys",
                "",
                f"    # python3 {FUNCTION}.py followed by the values of {order}, in this order",
                f"    value, gradients = {FUNCTION}(*map(float, sys.argv[1:]))",
            ]
        else:  # shapes without values (-W shape:5,10): arrays are read as JSON from the command line
            shaped = [f"{self.names[v]} {show(self.graph.shape(v))}" for v in self.graph.variables]
            if self.seed_is_parameter:  # --upstream: the gradient flowing into the output is read too
                shaped.append(f"{self.seed} {show(self.seed_value.shape)}")
            order = ", ".join(shaped)
            lines += [
                "    import json",
                "    import sys",
                "",
                f"    # python3 {FUNCTION}.py followed by the values of {order}, in this order,",
                "    # arrays written as JSON: '[[1, 2], [3, 4]]'",
                f"    value, gradients = {FUNCTION}("
                "*(np.array(json.loads(text), dtype=float) for text in sys.argv[1:]))",
            ]
        lines += [
            f'    print("{self.graph.nodes[self.output].name} =", value)',
            "    for name, gradient in gradients.items():",
            '        print(f"d{name} =", gradient)',
        ]
        return "\n".join(lines)

    # ---- backward ---------------------------------------------------------------

    def _backward_preamble(self) -> list[str]:
        roles = sorted({REGISTRY[self.graph.nodes[node].op].role for node, _ in self.adjoints.downstream})
        lines = [
            f"    # backward pass, in reverse order: dv is the gradient of {self._output_text()} with respect to v;",
            "    # a value used in several places collects the gradients flowing back to it with +=.",
            *(f"    # A gate that {role} {ROLES[role]}." for role in roles),
        ]
        if not self.seed_is_parameter:
            lines.append(f"    {self.seed} = {self._literal(self.seed_value)}")
        return lines

    def _backward_lines(self, node: int, index: int) -> list[str]:
        n = self.graph.nodes[node]
        uses = [(node, position) for position in range(len(n.inputs)) if (node, position) in self.adjoints.downstream]
        if not uses:
            return []
        gate = REGISTRY[n.op]
        header = f"    # backprop {self.names[node]} = {self._gate_text(node)}: the {gate.title} gate {gate.role}"
        return [header, *_tagged([(f"    {self._target_of(use)} {self._received(use)}", index) for use in uses])]

    def _target_of(self, use: tuple[int, int]) -> str:
        """``dx =`` for the first gradient flowing back to x, ``dx +=`` for the others (a fork)."""
        used = self.graph.nodes[use[0]].inputs[use[1]]
        first = self.adjoints.contributions[used][0] == use
        return f"{self.gradient_names[used]} {'=' if first else '+='}"

    def _received(self, use: tuple[int, int]) -> str:
        """What the input receives: local gradient times upstream, or the gate's vector-Jacobian product."""
        node, position = use
        received = self.adjoints.downstream[use]
        upstream = self.gradient_names[node]
        if use not in self.adjoints.local:  # a structural gate
            return self._formula(received, {**self.renamed, self.adjoints.total[node]: upstream})
        local = to_ast(self.graph, self.adjoints.local[use], self._expand_gradients, self.renamed, self._call)
        broadcast = self.graph.nodes[received].op == "unbroadcast"
        product = self.graph.nodes[received].inputs[0] if broadcast else received
        if self.graph.nodes[product].op == "mul0":  # a selecting gate: its 0 wins over an inf or nan upstream
            text = f"{self._call(self.graph.nodes[product])}({to_text(local)}, {upstream})"
        else:
            text = f"{to_text(local) if isinstance(local, Name) else f'({to_text(local)})'} * {upstream}"
        if broadcast:  # the input was broadcast: sum its share back
            text = _summed(text, self.graph.shape(product), self.graph.shape(self.graph.nodes[node].inputs[position]))
        return text

    def _zero_gradients(self) -> list[str]:
        """Inputs no gradient flows back to (through a flat gate only): zero, as bpcli reports."""
        lines = []
        for v in self.graph.variables:
            if v not in self.adjoints.total:
                shape = self.graph.shape(v)
                zero = f"np.zeros({shape})" if shape else "0.0"
                lines.append(f"    {self.gradient_names[v]} = {zero}  # no gradient flows back to {self.names[v]}")
        return lines

    # ---- writing nodes ------------------------------------------------------------

    def _gate_text(self, node: int) -> str:
        """The gate applied to its inputs' names (the node itself written out, not by its name)."""
        own = self.renamed.pop(node, None)
        names = self.renamed
        inputs = self.graph.nodes[node].inputs
        # (np.arange, np.zeros, ... take their whole numbers as written: sizes and indices are integers.)
        if inputs and all(self.graph.nodes[i].op == CONST for i in inputs) and self.graph.nodes[node].op not in _SIZED:
            # Constants only: as ints Python would differ from bpcli (3 - 3 is 0,
            # and -0 stays 0 where bpcli's -0.0 keeps its sign), so floats.
            literals = {i: self._literal(self.graph.nodes[i].value) for i in inputs}
            names = {**names, **{i: f"({t})" if t.startswith("-") else t for i, t in literals.items()}}
        text = to_text(to_ast(self.graph, node, lambda n: n == node, names, self._call))
        if own is not None:
            self.renamed[node] = own
        return text

    def _formula(self, node: int, names: dict[int, str]) -> str:
        return to_text(to_ast(self.graph, node, self._expand_gradients, names, self._call))

    def _expand_gradients(self, node: int) -> bool:
        return self.graph.nodes[node].origin is not None

    def _renamed(self) -> dict[int, str]:
        """Nodes not written by their own name: renamed inputs and stages, array constants, and
        constants Python has no literal for (1e999 is inf: float("inf"), never a bare inf)."""
        names = {node: name for node, name in self.names.items() if name != self.graph.nodes[node].name}
        for i, n in enumerate(self.graph.nodes):
            if n.op == CONST and (hasattr(n.value, "shape") or n.value != n.value or abs(n.value) == float("inf")):
                names[i] = self._literal(n.value)
        return names

    def _call(self, node: Node) -> str | None:
        if node.op in OPERATORS:
            if node.op != "pow" or self._whole_exponent(node):
                return None  # written as the operator
            # bpcli's own: x**0.5 is sqrt(x) (-0.0 stays -0.0), and nan, never complex (numpy's np.power)
            name = self.target.calls.get("pow", "power")
        else:
            name = self.target.calls.get(node.op) or function_name(node)
        if "." not in name and not hasattr(builtins, name):
            self.called.add(name)
        return name

    def _whole_exponent(self, node: Node) -> bool:
        exponent = self.graph.nodes[node.inputs[1]]
        return exponent.op == CONST and not hasattr(exponent.value, "shape") and float(exponent.value).is_integer()

    def _output_text(self) -> str:
        if self.output in self.names:
            return self.names[self.output]
        return self._formula(self.output, self.renamed)  # a constant

    def _literal(self, value: Any) -> str:
        if hasattr(value, "shape"):
            return f"np.array({_nested(value.tolist())})"
        return _number(float(value))

    # ---- helpers: bpcli's backend functions, printed from their source -----------

    def _helper_names(self) -> set[str]:
        """Every name a helper might take (the code must not give it to a stage)."""
        return {name for name, value in vars(self.backend).items()
                if isinstance(value, types.FunctionType) or name.isupper()}

    def _helpers(self) -> list[str]:
        """The source of every backend function the code calls, and of what those use."""
        sources: dict[str, str] = {}
        wanted = sorted(self.called)
        while wanted:
            name = wanted.pop()
            if name in sources:
                continue
            value = getattr(self.backend, name, None)
            if isinstance(value, float):
                sources[name] = f"{name} = {_number(value)}"
            elif isinstance(value, types.FunctionType):
                import inspect  # only to print a helper's source (start-up)

                sources[name] = inspect.getsource(value).rstrip()
                wanted.extend(self._globals_of(value))
            else:
                sources[name] = _from_formula(name, self.target.backend)
        return [sources[name] for name in sorted(sources, key=lambda name: (not name.isupper(), name))]

    def _globals_of(self, function: Any) -> list[str]:
        """The backend's own names a function uses (not the modules math and numpy, not builtins)."""
        import dis  # only to print a helper's source (start-up)

        used = {i.argval for i in dis.get_instructions(function) if i.opname == "LOAD_GLOBAL"}
        return [name for name in used
                if name in vars(self.backend) and not isinstance(vars(self.backend)[name], types.ModuleType)]


def _from_formula(name: str, backend: str) -> str:
    """A gate the backend has no function for, written from its formula when that is plain arithmetic.

    So a new gate needs only its entry in the registry (docs/architecture.md):
    ``formula_="a * a * a"`` is printed as ``def cube(a): return a * a * a``.
    """
    gates = [gate for gate in REGISTRY.values() if gate.function == name]
    try:
        inputs = _arithmetic_names(parse(gates[0].formula).statements[0]) if gates else None
    except (BpcliError, IndexError):
        inputs = None
    if inputs is None:
        raise ValueError(f"bpcli code cannot write {name} in Python: {backend} has no {name}")
    return f"def {name}({', '.join(sorted(inputs))}):\n    return {gates[0].formula}"


def _arithmetic_names(tree: Any) -> set[str] | None:
    """The names an expression of + - * / ** and numbers reads; None if it is anything else."""
    if isinstance(tree, Name):
        return {tree.id}
    if isinstance(tree, Number):
        return set()
    if isinstance(tree, Neg):
        return _arithmetic_names(tree.operand)
    if isinstance(tree, Binary) and tree.op != "@":
        left, right = _arithmetic_names(tree.left), _arithmetic_names(tree.right)
        return None if left is None or right is None else left | right
    return None


def _tagged(lines: list[tuple[str, int]]) -> list[str]:
    """Code lines with their stage number #(k) lined up in one column."""
    return [f"{code.ljust(TAG_COLUMN - 2)}  #({index})" for code, index in lines]


def _summed(text: str, source: tuple[int, ...], target: tuple[int, ...]) -> str:
    """``np.sum`` over the axes an input was broadcast along, as bpcli's unbroadcast step sums them."""
    extra = len(source) - len(target)
    axes = tuple(range(extra)) + tuple(extra + i for i, n in enumerate(target) if n == 1 and source[extra + i] != 1)
    summed = f"np.sum({text}, axis={axes[0] if len(axes) == 1 else axes})"
    kept = tuple(n for i, n in enumerate(source) if i not in axes)
    return summed if kept == target else f"{summed}.reshape({target})"


def _number(value: float) -> str:
    if value != value:
        return 'float("nan")'
    if value in (float("inf"), float("-inf")):
        return f'{"-" if value < 0 else ""}float("inf")'
    return repr(value)


def _nested(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_nested(item) for item in value) + "]"
    return _number(value)


# ---- names ----------------------------------------------------------------------


def _python_names(graph: Graph, reserved: set[str]) -> dict[int, str]:
    """Every input and stage by a name Python accepts and nothing in the code shadows.

    A name that is a keyword (lambda), a builtin (sum, input) or a helper of
    the code gets a trailing underscore.
    """
    taken = set(reserved)
    names: dict[int, str] = {}
    for node in [*graph.variables, *graph.stages]:
        name = graph.nodes[node].name.replace("#", "_")  # a version, c#1, is c_1 in Python
        while keyword.iskeyword(name) or name in taken:
            name += "_"
        taken.add(name)
        names[node] = name
    return names


def _gradient_names(names: dict[int, str], taken: set[str]) -> dict[int, str]:
    """``dx`` for x, the notes' notation; ``dx_`` if the expression already has a dx."""
    taken = set(taken)
    gradient_names = {}
    for node, name in names.items():
        candidate = "d" + name
        while candidate in taken:
            candidate += "_"
        taken.add(candidate)
        gradient_names[node] = candidate
    return gradient_names
