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
from collections import Counter
from typing import Any

from bpcli.engine import shapes
from bpcli.engine.errors import BpcliError
from bpcli.engine.gates import FUNCTIONS, REGISTRY, VARIADIC, Gate
from bpcli.engine.graph import CONST, INPUT, Builder, Graph
from bpcli.engine.indexing import ARRAY, BOUND, MASK, with_selections
from bpcli.engine.syntax.ast import (
    Array, Assign, AtSet, Attribute, Binary, Call, EllipsisItem, Expr, Invert, Name, Neg, Number, Program, Slice,
    Statement, Subscript, Transpose, Tuple, Unpack, children,
)
from bpcli.engine.syntax.parser import suggest
from bpcli.engine.syntax.printer import to_text

_OPERATOR_GATES = {
    "+": "add", "-": "sub", "*": "mul", "**": "pow", "@": "matmul",
    "//": "floordiv", "%": "mod", "<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne",
    "&": "logical_and", "|": "logical_or",
}
_BOOLEAN_OPERATORS = {"&", "|"}  # numpy's & and | on booleans; on floats numpy refuses them
_SHAPE_OPERATIONS = {"reshape", "ravel", "transpose", "zeros", "ones", "full"}  # sizes or axes may come as one tuple
_FLOATS = {"np.float64", "np.float32", "float64"}
# Where a call's sizes or axes are written: numpy takes them only as integers (np.zeros((2.0, 3)) and
# x.reshape(6.0) are TypeErrors there), though the literal 6.0 lowers to the same constant as 6.
_SIZES = {
    **dict.fromkeys(("reshape", "transpose", "swapaxes", "expand_dims"), slice(1, None)),  # after the array
    **dict.fromkeys(("zeros", "ones", "eye"), slice(None)),
    "full": slice(0, -1),  # before the fill value
}
_LIKE = {"zeros_like": 1, "ones_like": 1, "full_like": 2}  # how many arguments each takes
# The gates whose output numpy keeps boolean when the inputs it takes its elements from are: what
# moves, picks or joins booleans ((x > 0).T is still a mask, and -(x > 0).T is refused as -(x > 0)
# is), and True + True, True * True and np.where(c, True, False), which are booleans in numpy too.
_FIRST, _ALL, _BRANCHES = slice(0, 1), slice(None), slice(1, None)
_KEEPS_BOOLEANS = {
    **dict.fromkeys(("transpose", "reshape", "reshape_like", "permute", "expand_dims", "squeeze", "swapaxes",
                     "index"), _FIRST),
    **dict.fromkeys(("concatenate", "stack", "hstack", "vstack", "add", "mul"), _ALL),
    "where": _BRANCHES,
}
# The gates that take booleans as numpy's operators do (True + True is True); into any other
# a boolean goes as 0 or 1, through astype.
_TAKES_BOOLEANS = {
    "add", "mul", "sub", "lt", "le", "gt", "ge", "eq", "ne", "logical_and", "logical_or", "logical_not",
    "where", "index", "at_set", "astype", "sum", "mean", *_KEEPS_BOOLEANS,
}
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
    graph.index_inputs = _index_inputs(graph)
    graph.constant_inputs |= graph.index_inputs
    return graph


def _index_inputs(graph: Graph) -> set[str]:
    """The input variables used only as whole numbers: index arrays in subscripts, np.arange's bounds.

    They take no gradient, and their values must be whole numbers.
    """
    first_index = {"index": 1, "at_set": 2, "arange": 0}  # where a gate's index inputs begin
    uses: dict[int, list[bool]] = {v: [] for v in graph.variables}
    for node in graph.nodes:
        for position, used in enumerate(node.inputs):
            if used in uses:
                uses[used].append(position >= first_index.get(node.op, len(node.inputs)))
    return {graph.nodes[v].name for v, as_index in uses.items() if as_index and all(as_index)}


def _all_names(program: Program) -> set[str]:
    names: set[str] = set()
    for statement in program.statements:
        if isinstance(statement, Unpack):
            names.update(statement.targets)
            statement = statement.value
        elif isinstance(statement, Assign):
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
        self.moved_booleans: set[int] = set()  # gates of _KEEPS_BOOLEANS that hold booleans
        self.bound: dict[str, int] = {}  # names assigned so far, and variables seen
        self.assigned_at: dict[str, Assign] = {}
        self.assigned_later: dict[str, Assign | Unpack] = {
            s.target: s for s in program.statements[::-1] if isinstance(s, Assign)
        }
        targets = [t for s in program.statements for t in (s.targets if isinstance(s, Unpack) else
                                                            (s.target,) if isinstance(s, Assign) else ())]
        self.assignments = Counter(targets)  # how many versions each name has
        self.versions: Counter[str] = Counter()
        self.assigned_later.update(
            {target: s for s in program.statements if isinstance(s, Unpack) for target in s.targets}
        )

    def statement(self, statement: Statement, is_last: bool) -> None:
        before = len(self.graph.nodes)
        if isinstance(statement, Unpack):
            node = self._unpack(statement)
        elif isinstance(statement, Assign):
            self._check_assignable(statement)
            if statement.accumulate:  # c += v is c = c + v: a new version of c
                target = Name(statement.target, statement.target_span)
                statement = Assign(statement.target, Binary("+", target, statement.value, statement.span),
                                   statement.span, statement.target_span)
            example = self._literal_value(statement.value) if self.assignments[statement.target] == 1 else None
            if example is not None:
                # x = 3, as the notes' forward code begins: an input whose value is
                # given as an example (a binding replaces it), not a constant, so
                # that its gradient is computed like any input's.
                node = self._input(statement.target, statement.target_span)
                self.graph.example_values[statement.target] = example
            else:
                node = self.expression(statement.value)
            self.assigned_at[statement.target] = statement
            name = self._version_name(statement.target)
            if node >= before and self.graph.nodes[node].op != INPUT:  # a new gate or constant takes the name
                self.graph.nodes[node].name = name
            elif self.graph.nodes[node].name != name:  # a = x only renames: a is x's node
                self.graph.aliases[name] = node
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

    def _unpack(self, statement: Unpack) -> int:
        """``N, D = x.shape``: each name the length of one axis (as many names as axes)."""
        value = statement.value
        if type(value) is not Attribute or value.attr != "shape":
            raise BpcliError("only a shape unpacks into several names: N, D = x.shape",
                             source=self.source, span=value.span)
        operand = self.expression(value.value)
        count = len(statement.targets)
        node = operand
        for axis, (target, span) in enumerate(zip(statement.targets, statement.target_spans)):
            self._check_assignable(Assign(target, value, statement.span, span))
            name = self._version_name(target)
            node = self.graph.add_gate("dim", (operand,), name, None, value.span, {"axis": axis, "count": count})
            self.assigned_at[target] = Assign(target, value, statement.span, span)
            self.bound[target] = node
        return node

    def _check_assignable(self, statement: Assign) -> None:
        if statement.target in self.bound and statement.target not in self.assigned_at:
            raise BpcliError(
                f"{statement.target} is used before it is assigned (an input cannot be assigned to; "
                "give the new value a name of its own)",
                source=self.source,
                span=statement.target_span,
            )

    def _version_name(self, target: str) -> str:
        """A name assigned k times: its versions are name#1 ... name#(k-1), and the last is the plain name."""
        self.versions[target] += 1
        version = self.versions[target]
        if version == self.assignments[target]:
            return target
        name = f"{target}#{version}"
        self.graph.taken.add(name)
        return name

    def expression(self, root: Expr) -> int:
        """Lower one expression, children before parents; returns its node."""
        results: list[int] = []
        # An AST node before its operands are lowered; (node, operand count) once they are.
        work: list[Expr | tuple[Expr, int]] = [root]
        pop, push, lowered = work.pop, work.append, results.append
        # Dispatch on type(item) is, not isinstance: as fast as comparing a cached type, and
        # type checkers narrow it (nodes are never subclassed).
        while work:
            item = pop()
            if isinstance(item, tuple):
                node, arity = item
                inputs = results[-arity:]
                del results[-arity:]
                lowered(self._node(node, inputs))
                continue
            if type(item) is Name:
                lowered(self._name(item))
                continue
            if type(item) is Neg and type(item.operand) is Number:
                # A negative literal is a constant, not a negation gate.
                lowered(self._constant(-item.operand.value, "-" + item.operand.text, item.span))
                continue
            if type(item) is Array:
                lowered(self._constant(self._array_value(item), to_text(item), item.span))
                continue
            if type(item) is Tuple:
                raise BpcliError(
                    "a parenthesised list is only an axis: sum(x, axis=(0, 1)); use [...] for an array",
                    source=self.source, span=item.span,
                )
            operands = _operands(item, self.source)
            if operands:
                push((item, len(operands)))
                work.extend(reversed(operands))
            else:
                lowered(self._node(item, []))
        return results[0]

    def _node(self, node: Expr, operands: list[int]) -> int:
        if type(node) is Binary:
            if node.op == "/":
                return self._division(node, operands)
            if node.op in _BOOLEAN_OPERATORS:
                self._check_boolean(operands, node, node.op)
            elif node.op == "-":
                self._check_arithmetic(operands, node)
            return self._gate(_OPERATOR_GATES[node.op], operands, node)
        if type(node) is Call:
            return self._call(node, operands)
        if type(node) is Number:
            return self._constant(node.value, node.text, node.span)
        if type(node) is Neg:
            self._check_arithmetic(operands, node)
            return self._gate("neg", operands, node)
        if type(node) is Transpose:
            return self._gate("transpose", operands, node)
        if type(node) is Invert:
            self._check_boolean(operands, node, "~")
            return self._gate("logical_not", operands, node)
        if type(node) is Subscript:
            return self._subscript(node, operands)
        if type(node) is AtSet:
            return self._at_set(node, operands)
        if type(node) is Attribute:
            if node.attr == "shape":
                raise BpcliError("x.shape is a tuple of numbers: use one of them, x.shape[0], or unpack it, "
                                 "N, D = x.shape", source=self.source, span=node.span)
            return self._gate(node.attr, operands, node)
        raise TypeError(f"cannot lower {node!r}")

    def _is_boolean(self, node: int) -> bool:
        return self.graph.is_gate(node) and (REGISTRY[self.graph.nodes[node].op].boolean or node in self.moved_booleans)

    def _check_boolean(self, operands: list[int], node: Expr, symbol: str) -> None:
        """numpy's &, | and ~ combine booleans (on floats numpy raises a TypeError)."""
        if not all(self._is_boolean(operand) for operand in operands):
            raise BpcliError(
                f"{symbol} combines booleans (comparisons such as x > 0) here; on numbers numpy refuses it",
                source=self.source, span=node.span,
            )

    def _check_arithmetic(self, operands: list[int], node: Expr) -> None:
        """numpy refuses to negate a boolean or subtract one from another; elsewhere they are 0 and 1."""
        if all(self._is_boolean(operand) for operand in operands):
            raise BpcliError(
                "numpy refuses this arithmetic on booleans: turn the comparison into numbers first, "
                "as (x > 0) * 1.0",
                source=self.source, span=node.span,
            )

    def _at_set(self, node: AtSet, operands: list[int]) -> int:
        """``a[key] = v``: a copy of a with v written at key (through a mask: v is a number, or one value
        per element the mask picks)."""
        array, *arrays, value = operands
        key, _ = _subscript_key(node, self.source)
        masks = [self._is_boolean(operand) for operand in arrays]
        if masks == [True] and len(node.items) == 1:
            key = (MASK,)  # dx[x <= 0] = 0: its shape needs no values, so it is shaped without them too
        else:  # a mask among other items (dx[0, m] = 0) picks as many elements as it holds True
            key = with_selections(key, masks)
        return self._gate("at_set", [array, value, *arrays], node, {"key": key})

    def _subscript(self, node: Subscript, operands: list[int]) -> int:
        if _is_shape_item(node):
            return self._gate("dim", operands, node, {"axis": _shape_axis(node, self.source)})
        key, _ = _subscript_key(node, self.source)
        # A boolean array is a mask read through (x[x > 0]): numpy picks the elements where it is True.
        key = with_selections(key, [self._is_boolean(operand) for operand in operands[1:]])
        return self._gate("index", operands, node, {"key": key})

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
        self._refuse_float_sizes(node)
        if node.func == "arange":
            return self._arange(node, operands)
        made = self._constructed(node, operands)
        if made is not None:
            return made
        shaping = self._shape_operation(node, operands)
        if shaping is not None:
            return shaping
        if node.func == "norm":
            return self._norm(node, operands)
        if node.func == "square" and len(operands) == 1 and not node.keywords:  # np.square(a) is a ** 2
            return self._gate("pow", [operands[0], self._constant(2.0, "2", node.span)], node)
        if node.func == "copy" and len(operands) == 1 and not node.keywords:
            return operands[0]  # x.copy(): values are never changed in place, so the copy is x itself
        if node.func == "len" and len(operands) == 1 and not node.keywords:
            return self._gate("dim", operands, node, {"axis": 0})  # len(x) is x.shape[0]
        keywords = dict(node.keywords)
        keepdims = self._flag(node, "keepdims", keywords.pop("keepdims", None))
        func = "var" if node.func == "std" else node.func  # np.std is the square root of np.var
        by_arity = FUNCTIONS.get(func)
        if by_arity is None:
            known = ", ".join(sorted(FUNCTIONS))
            raise BpcliError(
                f"unknown function {node.func!r}{suggest(node.func, sorted(FUNCTIONS))}; "
                f"known functions: {known}",
                source=self.source,
                span=node.func_span,
            )
        gate = by_arity.get(len(operands)) or by_arity.get(VARIADIC)
        if gate is None:
            counts = " or ".join(str(n) for n in sorted(by_arity))
            plural = "" if counts == "1" else "s"
            forms = ", ".join(g.syntax for g in by_arity.values())
            raise BpcliError(
                f"{node.func} takes {counts} argument{plural}, got {len(operands)}: {forms}",
                source=self.source,
                span=node.span,
            )
        attrs = {name: self._parameter(node, gate, name, value) for name, value in keywords.items()} or None
        if keepdims and gate.shape not in (shapes.reduce, shapes.reduce_some):
            raise BpcliError(f"{node.func} has no keyword argument 'keepdims' (reductions have)",
                             source=self.source, span=node.span)
        out = self._gate(gate.op, operands, node, attrs)
        if node.func == "std":
            out = self._gate("sqrt", [out], node)
        if keepdims:  # the reduced axes kept, as size 1
            out = self._gate("keepdims", [out, operands[0]], node, {"axis": (attrs or {}).get("axis")})
        return out

    def _norm(self, node: Call, operands: list[int]) -> int:
        """np.linalg.norm(x, axis=..., keepdims=...): the 2-norm of vectors, Frobenius of matrices, as
        sqrt(sum(x * x)) (composite gates: their rules give the gradient x / norm)."""
        keywords = dict(node.keywords)
        keepdims = self._flag(node, "keepdims", keywords.pop("keepdims", None))
        if len(operands) != 1 or set(keywords) - {"axis"}:
            raise BpcliError("np.linalg.norm takes an array, axis and keepdims here (the 2-norm, Frobenius for "
                             "a matrix; ord is not supported)", source=self.source, span=node.span)
        attrs = {"axis": self._parameter(node, REGISTRY["sum"], "axis", keywords["axis"])} if keywords else None
        squares = self._gate("mul", [operands[0], operands[0]], node)
        out = self._gate("sqrt", [self._gate("sum", [squares], node, attrs)], node)
        if keepdims:
            out = self._gate("keepdims", [out, operands[0]], node, {"axis": (attrs or {}).get("axis")})
        return out

    def _refuse_float_sizes(self, node: Call) -> None:
        """A size or axis written as a float (2.0, -1., 6e0, 12 / 2, 2 * 3.0), which numpy refuses."""
        where = _SIZES.get(node.func)
        if where is None or _is_shape_of(node) or _is_reshape_to_shape_of(node):
            return
        for argument in node.args[where]:
            self._refuse_floats(node, argument.elements if type(argument) is Tuple else (argument,))

    def _refuse_floats(self, node: Call, items: tuple[Expr, ...]) -> None:
        """The first of ``items`` numpy would compute as a float, refused by name (with the integer to write
        where it is a whole float literal); nothing for integers."""
        for item in items:
            if _float_valued(item):
                value = _float_literal(item)
                whole = f" (write {int(value)})" if value is not None and value.is_integer() else ""
                raise BpcliError(f"{node.func} takes its sizes and axes as integers, as numpy does: "
                                 f"{to_text(item)} is a float{whole}", source=self.source, span=item.span)

    def _constructed(self, node: Call, operands: list[int]) -> int | None:
        """np.zeros((N, D)), np.zeros(x.shape), np.ones(...), np.eye(n), x.astype(float), x.swapaxes(0, 1),
        np.expand_dims(x, 0): None for any other call."""
        func = node.func
        if func in _LIKE:
            return self._like(node, operands)
        if func in ("zeros", "ones") and _is_shape_of(node):
            return self._gate(f"{func}_like", operands, node)  # np.zeros(x.shape) is np.zeros_like(x)
        if func in ("zeros", "ones", "eye") and not node.keywords:
            return self._gate(func, operands, node)
        if func == "full" and not node.keywords and len(operands) >= 2:  # np.full(shape, v) is zeros + v
            return self._gate("add", [self._gate("zeros", operands[:-1], node), operands[-1]], node)
        if func == "astype":
            kind = node.args[1] if len(node.args) == 2 else None
            floats = kind is not None and (type(kind) is Name and kind.id == "float" or to_text(kind) in _FLOATS)
            if node.keywords or not floats:
                raise BpcliError("x.astype takes float (bpcli computes in float64)", source=self.source,
                                 span=node.span)
            return self._gate("astype", operands[:1], node)
        if func in ("swapaxes", "expand_dims") and not node.keywords and len(operands) > 1:
            axes = self._whole_numbers(node, operands[1:])
            if func == "swapaxes":
                if len(axes) != 2:
                    raise BpcliError("swapaxes takes two axes: x.swapaxes(0, 1)", source=self.source, span=node.span)
                return self._gate("swapaxes", operands[:1], node, {"axes": tuple(axes)})
            return self._gate("expand_dims", operands[:1], node, {"axis": axes[0] if len(axes) == 1 else tuple(axes)})
        return None

    def _like(self, node: Call, operands: list[int]) -> int:
        """np.zeros_like(x), np.ones_like(x), np.full_like(x, v), each with dtype=float at most (bpcli's
        numbers are float64); np.full_like(x, v) is zeros shaped like x plus v, as np.full is."""
        func = node.func
        keywords = dict(node.keywords)
        kind = keywords.pop("dtype", None)
        if kind is not None and not (type(kind) is Name and kind.id == "float" or to_text(kind) in _FLOATS):
            raise BpcliError(f"np.{func} takes dtype=float here (bpcli computes in float64)",
                             source=self.source, span=kind.span)
        if keywords or len(operands) != _LIKE[func]:
            form = "np.full_like(x, v)" if func == "full_like" else f"np.{func}(x)"
            raise BpcliError(f"np.{func} is written {form} (dtype=float may follow)", source=self.source,
                             span=node.span)
        if func == "full_like":
            return self._gate("add", [self._gate("zeros_like", operands[:1], node), operands[1]], node)
        return self._gate(func, operands, node)

    def _whole_numbers(self, node: Call, operands: list[int]) -> list[int]:
        """Axes written in the program as whole numbers."""
        values = [self.graph.nodes[o].value if self.graph.nodes[o].op == CONST else None for o in operands]
        whole = [int(v) for v in values if isinstance(v, float) and v.is_integer()]
        if len(whole) < len(values):
            raise BpcliError(f"{node.func} takes its axes as whole numbers written in the program",
                             source=self.source, span=node.span)
        return whole

    def _shape_operation(self, node: Call, operands: list[int]) -> int | None:
        """x.reshape(N, -1), x.flatten(), x.ravel(), x.transpose(1, 0): None for any other call."""
        if node.func not in _SHAPE_OPERATIONS:
            return None
        if node.keywords or not operands:
            raise BpcliError(f"{node.func} takes an array and sizes or axes, by position: x.{node.func}(...)",
                             source=self.source, span=node.span)
        array, *sizes = operands
        if node.func == "ravel":
            if sizes:
                raise BpcliError("ravel and flatten take no arguments here", source=self.source, span=node.span)
            return self._gate("reshape", [array, self._constant(-1.0, "-1", node.span)], node)
        if node.func == "reshape":
            if _is_reshape_to_shape_of(node):
                return self._gate("reshape_like", operands, node)
            if not sizes:
                raise BpcliError("reshape takes the new sizes: x.reshape(N, -1)", source=self.source, span=node.span)
            return self._gate("reshape", operands, node)
        if not sizes:
            return self._gate("transpose", [array], node)
        axes = [self.graph.nodes[o].value if self.graph.nodes[o].op == CONST else None for o in sizes]
        whole = tuple(int(a) for a in axes if isinstance(a, float) and a.is_integer())
        if len(whole) < len(axes):
            raise BpcliError("transpose takes its axes as whole numbers written in the program: x.transpose(1, 0)",
                             source=self.source, span=node.span)
        return self._gate("permute", [array], node, {"axes": whole})

    def _flag(self, call: Call, name: str, value: Expr | None) -> bool:
        """A keyword argument that is True or False, written so: keepdims=True."""
        if value is None:
            return False
        if type(value) is Name and value.id in ("True", "False"):
            return value.id == "True"
        raise BpcliError(f"{name} is True or False", source=self.source, span=value.span)

    def _arange(self, node: Call, operands: list[int]) -> int:
        """np.arange(n), np.arange(start, stop[, step]): whole numbers, fixed by the program or the shapes."""
        if not 1 <= len(operands) <= 3 or node.keywords:
            raise BpcliError("np.arange takes one to three whole numbers: np.arange(N), np.arange(1, 7, 2)",
                             source=self.source, span=node.span)
        return self._gate("arange", operands, node)

    def _parameter(self, call: Call, gate: Gate, name: str, value: Expr) -> float | tuple[int, ...] | None:
        if name not in gate.params:
            takes = f"it takes {', '.join(gate.params)}" if gate.params else "it takes none"
            raise BpcliError(
                f"{call.func} has no keyword argument {name!r} ({takes})", source=self.source, span=value.span
            )
        if name == "axis" and type(value) is Name and value.id == "None":
            return None  # numpy's default, written out: every axis
        if name == "ddof":
            return self._ddof(value)
        items = value.elements if isinstance(value, Tuple) else (value,)
        axes = tuple(axis for axis in map(_integer, items) if axis is not None)
        if len(axes) < len(items):  # one is not a whole number
            self._refuse_floats(call, items)
            computed = any(not _is_number(item) for item in items)  # axis=x.ndim - 1
            raise BpcliError(
                f"{name} is a whole number written in the program, or a tuple of them: {name}=0, {name}=(0, 2)"
                + (f"; one computed from the shapes is not supported (for the last axis, write {name}=-1)"
                   if computed else ""),
                source=self.source, span=value.span,
            )
        return axes if isinstance(value, Tuple) else axes[0]

    def _ddof(self, value: Expr) -> float:
        """np.var's ddof: any number written in the program, as numpy takes it (ddof=1, ddof=1.5)."""
        number = _integer(value)
        written = float(number) if number is not None else _float_literal(value)
        if written is None or not math.isfinite(written):
            raise BpcliError("ddof is a number written in the program: ddof=1", source=self.source, span=value.span)
        return written

    def _gate(self, op: str, operands: list[int], node: Expr, attrs: dict[str, Any] | None = None) -> int:
        if op not in _TAKES_BOOLEANS and any(self._is_boolean(operand) for operand in operands):
            # numpy computes exp(True) as exp(1.0): a boolean enters any other gate as a number
            operands = [self._gate("astype", [o], node) if self._is_boolean(o) else o for o in operands]
        primitives = self.primitives
        if primitives is not None:
            decompose = REGISTRY[op].decompose
            if decompose is not None:
                primitives.span = node.span
                return decompose(primitives, *operands, **(attrs or {}))
        made = self.graph.add_gate(op, tuple(operands), self.graph.fresh_name("t"), None, node.span, attrs)
        if op in _KEEPS_BOOLEANS and all(map(self._is_boolean, operands[_KEEPS_BOOLEANS[op]])):
            self.moved_booleans.add(made)
        return made


def _float_literal(node: Expr) -> float | None:
    """The value of a number literal written with a point or an exponent (2.0, -1., 6e0)."""
    sign = 1.0
    while type(node) is Neg:
        node, sign = node.operand, -sign
    return sign * node.value if type(node) is Number and not node.text.isdigit() else None


def _float_valued(node: Expr) -> bool:
    """Whether numpy's Python would compute ``node`` as a float: a float literal anywhere in its
    arithmetic, or a true division (12 / 2 is 6.0; 12 // 2 is 6)."""
    if type(node) is Neg:
        return _float_valued(node.operand)
    if type(node) is Binary:
        return node.op == "/" or _float_valued(node.left) or _float_valued(node.right)
    return _float_literal(node) is not None


def _integer(node: Expr) -> int | None:
    if isinstance(node, Neg):
        inner = _integer(node.operand)
        return None if inner is None else -inner
    if isinstance(node, Number) and node.text.isdigit() and math.isfinite(node.value):  # 400 digits are inf
        return int(node.value)
    return None


def _operands(node: Expr, source: str) -> tuple[Expr, ...]:
    """The subexpressions that become the gate's inputs (keyword arguments are parameters, not inputs).

    Division a / b is lowered as a * (1 / b), as the lecture notes stage it
    (invden = 1.0 / den; f = num * invden); a literal 1 over b is just the
    reciprocal gate, with no multiply by one.
    """
    if type(node) is Binary:
        if node.op == "/" and type(node.left) is Number and node.left.value == 1.0:
            return (node.right,)
        return (node.left, node.right)
    if type(node) is Call:
        if node.func in ("zeros", "ones") and _is_shape_of(node):
            shape_of = node.args[0]
            assert type(shape_of) is Attribute  # as _is_shape_of found
            return (shape_of.value,)
        if node.func == "astype":
            return node.args[:1]
        if _is_reshape_to_shape_of(node):
            shape_of = node.args[1]
            assert type(shape_of) is Attribute  # as _is_reshape_to_shape_of found
            return (node.args[0], shape_of.value)  # dout.reshape(x.shape): reshaped like x
        if node.func in ("concatenate", "stack", "hstack", "vstack"):
            arrays = node.args[0] if node.args else None
            if not isinstance(arrays, (Tuple, Array)):
                raise BpcliError(f"{node.func} takes a tuple or list of arrays: np.{node.func}((a, b), axis=0)",
                                 source=source, span=node.span)
            return (*arrays.elements, *node.args[1:])  # np.concatenate((a, b)): the arrays are the inputs
        if node.func in _SHAPE_OPERATIONS and any(type(a) is Tuple for a in node.args):
            # x.reshape((N, -1)) is x.reshape(N, -1); np.transpose(x, (1, 0)) is x.transpose(1, 0)
            return tuple(e for a in node.args for e in (a.elements if type(a) is Tuple else (a,)))
        return node.args
    if type(node) is AtSet:
        return (node.array, *_subscript_key(node, source)[1], node.value)
    if type(node) is Subscript:
        if _is_shape_item(node):
            shape = node.value
            assert type(shape) is Attribute  # as _is_shape_item found
            return (shape.value,)  # x.shape[0]: a number from x's shape
        return (node.value, *_subscript_key(node, source)[1])
    return children(node)


def _is_shape_of(node: Call) -> bool:
    """np.zeros(x.shape): a shape given as the shape of a value."""
    return len(node.args) == 1 and type(node.args[0]) is Attribute and node.args[0].attr == "shape"


def _is_reshape_to_shape_of(node: Call) -> bool:
    """a.reshape(x.shape), np.reshape(a, x.shape): a's elements in x's shape."""
    return (node.func == "reshape" and len(node.args) == 2 and type(node.args[1]) is Attribute
            and node.args[1].attr == "shape")


def _is_shape_item(node: Subscript) -> bool:
    return type(node.value) is Attribute and node.value.attr == "shape"


def _shape_axis(node: Subscript, source: str) -> int:
    """The axis of ``x.shape[k]``: one whole number."""
    axis = _integer(node.items[0]) if len(node.items) == 1 else None
    if axis is None:
        raise BpcliError("x.shape takes one whole-number index here: x.shape[0], x.shape[-1]",
                         source=source, span=node.span)
    return axis


def _subscript_key(node: Subscript | AtSet, source: str) -> tuple[tuple[Any, ...], list[Expr]]:
    """A subscript's key with its fixed items written in, and the expressions of its index arrays.

    Integers, slices with whole-number bounds, ``...`` and None (np.newaxis)
    are fixed; any other item is an index array or a mask, an input of the gate.
    """
    key: list[Any] = []
    arrays: list[Expr] = []
    for item in node.items:
        if type(item) is EllipsisItem:
            key.append(Ellipsis)
        elif type(item) is Slice:
            bounds = (item.start, item.stop, item.step)
            # A bound the program computes (x[:N - 1]) is an input of the gate, fixed by the shapes.
            computed = [b for b in bounds if b is not None and _integer(b) is None and not _is_number(b)]
            key.append(slice(*(BOUND if any(b is c for c in computed) else _index_number(b, source)
                               for b in bounds)))
            arrays += computed
            if key[-1].step == 0:
                raise BpcliError("a slice's step cannot be zero", source=source,
                                 span=item.step.span if item.step is not None else item.span)
        elif type(item) is Name and item.id == "None":
            key.append(None)
        elif type(item) is Number or (type(item) is Neg and type(item.operand) is Number):
            key.append(_index_number(item, source))
        else:
            if type(item) is Array:
                _check_index_literal(item, source)
            key.append(ARRAY)
            arrays.append(item)
    return tuple(key), arrays


def _is_number(node: Expr) -> bool:
    """A number written in the program (x[1.5] is refused as written, not computed)."""
    return type(node) is Number or (type(node) is Neg and type(node.operand) is Number)


def _index_number(node: Expr | None, source: str) -> int | None:
    if node is None:
        return None
    number = _integer(node)
    if number is None:
        raise BpcliError(
            "an index or a slice bound is a whole number written in the program (numpy refuses a float index)",
            source=source, span=node.span,
        )
    return number


def _check_index_literal(literal: Array, source: str) -> None:
    """An index array written out holds whole numbers: x[[0, 2]] (numpy refuses x[[0.5]])."""
    work = [literal]
    while work:
        for element in work.pop().elements:
            if type(element) is Array:
                work.append(element)
            elif type(element) is Name and element.id in ("True", "False"):
                raise BpcliError("a mask written out as True and False is not supported: compute it (x > 0), "
                                 "or index with the positions of its True elements ([0, 2])",
                                 source=source, span=element.span)
            else:
                _index_number(element, source)

