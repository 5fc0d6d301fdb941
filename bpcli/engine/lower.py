"""AST to gate graph: one node per gate, named after the user's assignments.

Lowering walks each statement with an explicit stack (no recursion, so deep
expressions lower like flat ones) and emits gates in evaluation order: left
operand, right operand, then the gate. Subexpressions the user did not name get
generated names (t1, t2, ...; the output of a bare expression is f) that never
collide with a name the user wrote. With ``expand``, a grouped gate (sigmoid,
tanh) is lowered to the primitive gates its registry entry decomposes it into.
"""

from __future__ import annotations

import math
from typing import Any

from bpcli.engine.errors import BpcliError
from bpcli.engine.gates import FUNCTIONS, REGISTRY
from bpcli.engine.graph import CONST, INPUT, Builder, Graph
from bpcli.engine.syntax.ast import (
    Array, Assign, Binary, Call, Expr, Name, Neg, Number, Program, Statement, Transpose, Tuple, children,
)
from bpcli.engine.syntax.parser import suggest
from bpcli.engine.syntax.printer import to_text

_OPERATOR_GATES = {"+": "add", "-": "sub", "*": "mul", "**": "pow", "@": "matmul"}
OUTPUT_NAME = "f"  # the lecture notes' name for a circuit's output


def lower(program: Program, source: str = "", expand: bool = False) -> Graph:
    """Build the gate graph of a parsed program; its last statement is the output.

    ``expand`` decomposes grouped gates into primitive ones (sigmoid into
    negate, exp, add 1 and reciprocal), each a stage of its own.
    """
    if not program.statements:
        raise BpcliError("nothing to differentiate: the expression is empty")
    graph = Graph(source=source)
    graph.taken = _all_names(program)
    lowering = _Lowering(graph, program, source, expand)
    for position, statement in enumerate(program.statements):
        lowering.statement(statement, is_last=position == len(program.statements) - 1)
    return graph


def _all_names(program: Program) -> set[str]:
    names: set[str] = set()
    for statement in program.statements:
        if isinstance(statement, Assign):
            names.add(statement.target)
            statement = statement.value
        stack: list[Expr] = [statement]
        while stack:
            node = stack.pop()
            if type(node) is Name:
                names.add(node.id)
            else:
                stack.extend(children(node))
    return names


class _Lowering:
    def __init__(self, graph: Graph, program: Program, source: str, expand: bool) -> None:
        self.graph = graph
        self.source = source
        self.primitives = Builder(graph, prefix="t", fold=False) if expand else None
        self.bound: dict[str, int] = {}  # names assigned so far, and variables seen
        self.assigned_at: dict[str, Assign] = {}
        self.assigned_later = {s.target: s for s in program.statements if isinstance(s, Assign)}

    def statement(self, statement: Statement, is_last: bool) -> None:
        before = len(self.graph.nodes)
        if isinstance(statement, Assign):
            self._check_assignable(statement)
            example = self._literal_value(statement.value)
            if example is not None:
                # x = 3, as the notes' forward code begins: an input whose value is
                # given as an example (a binding replaces it), not a constant, so
                # that its gradient is computed like any input's.
                node = self._input(statement.target, statement.target_span)
                self.graph.example_values[statement.target] = example
            else:
                node = self.expression(statement.value)
            self.assigned_at[statement.target] = statement
            if node >= before and self.graph.nodes[node].op != INPUT:  # a new gate or constant takes the name
                self.graph.nodes[node].name = statement.target
            elif self.graph.nodes[node].name != statement.target:  # a = x only renames: a is x's node
                self.graph.aliases[statement.target] = node
            self.bound[statement.target] = node
        else:
            if not is_last:
                raise BpcliError(
                    "only the last statement may be a bare expression; name this one (name = ...)",
                    source=self.source,
                    span=statement.span,
                )
            node = self.expression(statement)
            if node >= before and self.graph.is_gate(node):
                self.graph.nodes[node].name = self.graph.claim(OUTPUT_NAME)
        if is_last:
            self.graph.output = node

    def _check_assignable(self, statement: Assign) -> None:
        if statement.accumulate:
            raise BpcliError(
                f"{statement.target} += ... adds to a gradient in a backward file (bpcli check --backward); "
                "a forward program gives every stage its own name with =",
                source=self.source,
                span=statement.target_span,
            )
        first = self.assigned_at.get(statement.target)
        if first is not None:
            line = self.source.count("\n", 0, first.span[0]) + 1
            raise BpcliError(
                f"{statement.target} is assigned twice (first on line {line}); "
                "every stage needs its own name",
                source=self.source,
                span=statement.target_span,
            )
        if statement.target in self.bound:  # used as an input before this assignment
            raise BpcliError(
                f"{statement.target} is used before it is assigned",
                source=self.source,
                span=statement.target_span,
            )

    def expression(self, root: Expr) -> int:
        """Lower one expression, children before parents; returns its node."""
        results: list[int] = []
        # An AST node before its operands are lowered; (node, operand count) once they are.
        work: list[Any] = [root]
        pop, push, lowered = work.pop, work.append, results.append
        while work:
            item = pop()
            if type(item) is tuple:
                node, arity = item
                inputs = results[-arity:]
                del results[-arity:]
                lowered(self._node(node, inputs))
                continue
            kind = type(item)
            if kind is Name:
                lowered(self._name(item))
                continue
            if kind is Neg and type(item.operand) is Number:
                # A negative literal is a constant, not a negation gate.
                lowered(self._constant(-item.operand.value, "-" + item.operand.text, item.span))
                continue
            if kind is Array:
                lowered(self._constant(self._array_value(item), to_text(item), item.span))
                continue
            if kind is Tuple:
                raise BpcliError(
                    "a parenthesised list is only an axis: sum(x, axis=(0, 1)); use [...] for an array",
                    source=self.source, span=item.span,
                )
            operands = _operands(item)
            if operands:
                push((item, len(operands)))
                work.extend(reversed(operands))
            else:
                lowered(self._node(item, []))
        return results[0]

    def _node(self, node: Expr, operands: list[int]) -> int:
        kind = type(node)
        if kind is Binary:
            if node.op == "/":
                return self._division(node, operands)
            return self._gate(_OPERATOR_GATES[node.op], operands, node)
        if kind is Call:
            return self._call(node, operands)
        if kind is Number:
            return self._constant(node.value, node.text, node.span)
        if kind is Neg:
            return self._gate("neg", operands, node)
        if kind is Transpose:
            return self._gate("transpose", operands, node)
        raise TypeError(f"cannot lower {node!r}")

    def _constant(self, value: Any, text: str, span: tuple[int, int]) -> int:
        return self.graph.add(CONST, (), text, value=value, span=span)

    def _array_value(self, literal: Array) -> Any:
        """The numpy array of a literal made of numbers (built without recursion)."""
        import numpy as np  # numpy only where arrays are (start-up)

        def number(element: Expr) -> float | None:
            if isinstance(element, Number):
                return element.value
            if isinstance(element, Neg) and isinstance(element.operand, Number):
                return -element.operand.value
            return None

        root: list[Any] = []
        work: list[tuple[Array, list[Any]]] = [(literal, root)]
        while work:
            array, into = work.pop()
            for element in array.elements:
                if isinstance(element, Array):
                    inner: list[Any] = []
                    into.append(inner)
                    work.append((element, inner))
                elif number(element) is not None:
                    into.append(number(element))
                else:
                    raise BpcliError(
                        "an array literal holds numbers only; bind an array to a variable instead "
                        "(-w '[1, 2]')",
                        source=self.source, span=element.span,
                    )
        try:
            value = np.array(root, dtype=np.float64)
        except ValueError as error:
            raise BpcliError(
                f"this array literal is not rectangular or too deep ({error})",
                source=self.source, span=literal.span,
            ) from None
        if value.size == 0:
            raise BpcliError("an array literal needs at least one number", source=self.source, span=literal.span)
        return value

    def _name(self, node: Name) -> int:
        bound = self.bound.get(node.id)
        if bound is not None:
            return bound
        later = self.assigned_later.get(node.id)
        if later is not None:
            line = self.source.count("\n", 0, later.span[0]) + 1
            raise BpcliError(
                f"{node.id} is used before it is assigned (on line {line})",
                source=self.source,
                span=node.span,
            )
        return self._input(node.id, node.span)

    def _input(self, name: str, span: tuple[int, int]) -> int:
        variable = self.graph.add(INPUT, (), name, span=span)
        self.graph.variables.append(variable)
        self.bound[name] = variable
        return variable

    def _literal_value(self, value: Expr) -> Any:
        """The number or array a literal stands for (3, -4, [1, 2]); None for anything else."""
        if type(value) is Number:
            return value.value
        if type(value) is Neg and type(value.operand) is Number:
            return -value.operand.value
        if type(value) is Array:
            return self._array_value(value)
        return None

    def _division(self, node: Binary, operands: list[int]) -> int:
        if len(operands) == 1:  # 1 / den: the reciprocal gate itself
            return self._gate("recip", operands, node)
        numerator, denominator = operands
        reciprocal = self.graph.add("recip", (denominator,), self.graph.fresh_name("t"), span=node.right.span)
        return self._gate("mul", [numerator, reciprocal], node)

    def _call(self, node: Call, operands: list[int]) -> int:
        by_arity = FUNCTIONS.get(node.func)
        if by_arity is None:
            known = ", ".join(sorted(FUNCTIONS))
            raise BpcliError(
                f"unknown function {node.func!r}{suggest(node.func, sorted(FUNCTIONS))}; "
                f"known functions: {known}",
                source=self.source,
                span=node.func_span,
            )
        gate = by_arity.get(len(operands))
        if gate is None:
            counts = " or ".join(str(n) for n in sorted(by_arity))
            plural = "" if counts == "1" else "s"
            forms = ", ".join(g.syntax for g in by_arity.values())
            raise BpcliError(
                f"{node.func} takes {counts} argument{plural}, got {len(operands)}: {forms}",
                source=self.source,
                span=node.span,
            )
        attrs = {name: self._parameter(node, gate, name, value) for name, value in node.keywords} if node.keywords else None
        return self._gate(gate.op, operands, node, attrs)

    def _parameter(self, call: Call, gate: Any, name: str, value: Expr) -> Any:
        if name not in gate.params:
            takes = f"it takes {', '.join(gate.params)}" if gate.params else "it takes none"
            raise BpcliError(
                f"{call.func} has no keyword argument {name!r} ({takes})", source=self.source, span=value.span
            )
        items = value.elements if isinstance(value, Tuple) else (value,)
        axes = tuple(_integer(item) for item in items)
        if any(a is None for a in axes):
            raise BpcliError(
                f"{name} is a whole number or a tuple of them: axis=0, axis=(0, 2)",
                source=self.source, span=value.span,
            )
        return axes if isinstance(value, Tuple) else axes[0]

    def _gate(self, op: str, operands: list[int], node: Expr, attrs: dict[str, Any] | None = None) -> int:
        if self.primitives is not None and REGISTRY[op].decompose is not None:
            self.primitives.span = node.span
            return REGISTRY[op].decompose(self.primitives, *operands)
        return self.graph.add_gate(op, tuple(operands), self.graph.fresh_name("t"), None, node.span, attrs)


def _integer(node: Expr) -> int | None:
    if isinstance(node, Neg):
        inner = _integer(node.operand)
        return None if inner is None else -inner
    if isinstance(node, Number) and node.text.isdigit() and math.isfinite(node.value):  # 400 digits are inf
        return int(node.value)
    return None


def _operands(node: Expr) -> tuple[Expr, ...]:
    """The subexpressions that become the gate's inputs (keyword arguments are parameters, not inputs).

    Division a / b is lowered as a * (1 / b), as the lecture notes stage it
    (invden = 1.0 / den; f = num * invden); a literal 1 over b is just the
    reciprocal gate, with no multiply by one.
    """
    kind = type(node)
    if kind is Binary:
        if node.op == "/" and type(node.left) is Number and node.left.value == 1.0:
            return (node.right,)
        return (node.left, node.right)
    if kind is Call:
        return node.args
    return children(node)

