"""Graph nodes as readable expressions: a stage's gate, a local gradient's formula.

A node is turned back into an AST and printed with the one printer. Named
nodes (inputs and forward stages) appear by name; nodes the backward pass
created are written out in full, so a local gradient reads ``-1 / den**2``
rather than ``_g7``. ``a * (1 / b)`` is printed ``a / b``, undoing the
lowering of division.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from bpcli.engine.gates import REGISTRY
from bpcli.engine.graph import CONST, INPUT, Graph, Node
from bpcli.engine.indexing import ARRAY, BOUND
from bpcli.engine.syntax.ast import (
    Attribute, Binary, Call, EllipsisItem, Expr, Invert, Name, Neg, Number, Slice, Subscript, Transpose, Tuple,
)
from bpcli.engine.syntax.printer import format_number, to_text

OPERATORS = {
    "add": "+", "sub": "-", "mul": "*", "pow": "**", "matmul": "@", "floordiv": "//", "mod": "%",
    "lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!=", "logical_and": "&", "logical_or": "|",
}
# The scatter-add is written as a call of a helper with numpy's spelling of the subscript
# (np.s_[...] is the key numpy would use), which the staged code defines.
SCATTER_FUNCTION = "scatter_add"
KEY_NAME = "np.s_"

Expand = Callable[[int], bool]  # whether a node is written out (true) or appears by its name
CallName = Callable[[Node], str | None]  # a target's name for calling a gate; None: bpcli's spelling


def gate_text(graph: Graph, node: int) -> str:
    """The gate applied to its inputs' names: ``q * z``."""
    return to_text(to_ast(graph, node, expand=lambda n: n == node))


def formula_text(graph: Graph, node: int, names: dict[int, str] | None = None) -> str:
    """A gradient node written out in terms of the user's names: ``-1 / den**2``.

    ``names`` gives some gradient nodes a name of their own instead (the
    upstream gradient of a stage D appears as ``dD`` in ``dD @ X.T``).
    """
    names = names or {}
    return to_text(to_ast(graph, node, expand=_formula_expand(graph, names), names=names))


def _named(node: int) -> bool:
    """Writes out no node: every one appears by its name."""
    return False


def _formula_expand(graph: Graph, names: dict[int, str]) -> Expand:
    """A formula writes out the nodes the backward pass made, except those ``names`` names."""
    return lambda n: n not in names and graph.nodes[n].origin is not None


class Texts:
    """``gate_text`` and ``formula_text`` of one graph's nodes, the same texts printed from templates.

    Printing a small expression through its AST costs some 20 µs, and a graph
    of 100,000 gates has as many gates and twice as many local gradients to
    print, nearly all alike but for their names (``min(x0, x1)``,
    ``greater(x1, x0)``). An expression's shape (its gates, its constants, and
    which of its leaves are the same node) is printed once through the AST with
    placeholders for the names; every expression of that shape is the template
    with its own names filled in. An expression of more than ``SMALL`` nodes (as
    written out, a shared subexpression once per use), or with a gate that has
    parameters, is printed through its AST as before.
    """

    SMALL = 64

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self._templates: dict[Any, str] = {}  # a shape's format string: {0}, {1}, ... where its names go
        self._formulas: dict[int, str] = {}  # the formulas printed so far (a constant 1 is many gates' local)
        self._written = _formula_expand(graph, {})

    def gate(self, node: int) -> str:
        """``gate_text(graph, node)``: a gate's inputs are never written out, only named or, if constant, given."""
        n = self.graph.nodes[node]
        if n.op in (INPUT, CONST) or n.attrs:
            return gate_text(self.graph, node)
        leaves: dict[int, int] = {}
        shape = (n.op, *[self._leaf(used, _named, {}, leaves) for used in n.inputs])
        return self._filled(shape, node, lambda m: m == node, {}, leaves)

    def formula(self, node: int, names: dict[int, str] | None = None) -> str:
        """``formula_text(graph, node, names)``."""
        if names:
            return self._text(node, _formula_expand(self.graph, names), names)
        n = self.graph.nodes[node]
        if n.origin is None and n.op != CONST:  # a forward node (most local gradients): its name
            return n.name
        text = self._formulas.get(node)
        if text is None:
            text = self._formulas[node] = self._text(node, self._written, {})
        return text

    def _text(self, root: int, expand: Expand, names: dict[int, str]) -> str:
        leaves: dict[int, int] = {}  # a leaf's node → its place among the template's names
        shape: Any = self._leaf(root, expand, names, leaves)
        if shape is None:
            shape = self._shape(root, expand, names, leaves, [self.SMALL])
            if shape is None:
                return to_text(to_ast(self.graph, root, expand, names))
        return self._filled(shape, root, expand, names, leaves)

    def _filled(self, shape: Any, root: int, expand: Expand, names: dict[int, str], leaves: dict[int, int]) -> str:
        """The template of ``shape`` (printed from ``root`` the first time) filled with the leaves' names."""
        template = self._templates.get(shape)
        if template is None:
            template = self._templates[shape] = self._template(root, expand, leaves)
        nodes = self.graph.nodes
        return template.format(*[names[leaf] if leaf in names else nodes[leaf].name for leaf in leaves])

    def _shape(self, node: int, expand: Expand, names: dict[int, str], leaves: dict[int, int],
               budget: list[int]) -> tuple[Any, ...] | None:
        """What decides the text of the written-out ``node`` but for its names: its gate and its inputs'
        shapes; None for an expression of more than ``budget`` nodes or with a gate that has parameters."""
        n = self.graph.nodes[node]
        budget[0] -= len(n.inputs)
        if n.attrs or budget[0] < 0:
            return None
        shape: list[Any] = [n.op]
        for used in n.inputs:
            part: Any = self._leaf(used, expand, names, leaves)
            if part is None:
                part = self._shape(used, expand, names, leaves, budget)
                if part is None:
                    return None
            shape.append(part)
        return tuple(shape)

    def _leaf(self, node: int, expand: Expand, names: dict[int, str], leaves: dict[int, int]) -> int | str | None:
        """The shape of a node not written out: its place among the names (numbered in order of first
        appearance), or a constant's text (part of the template); None for a node written out."""
        n = self.graph.nodes[node]
        if node in names or n.op == INPUT or (n.op == CONST and hasattr(n.value, "shape")):
            return leaves.setdefault(node, len(leaves))
        if n.op == CONST:
            return repr(float(n.value))
        return None if expand(node) else leaves.setdefault(node, len(leaves))

    def _template(self, root: int, expand: Expand, leaves: dict[int, int]) -> str:
        """The expression printed through its AST with a placeholder for each name, as a format string."""
        placeholders = {leaf: f"\0{place}\1" for leaf, place in leaves.items()}  # no name holds \0 or \1
        text = to_text(to_ast(self.graph, root, expand, placeholders)).replace("{", "{{").replace("}", "}}")
        for leaf, place in leaves.items():
            text = text.replace(placeholders[leaf], f"{{{place}}}")
        return text


def to_ast(
    graph: Graph,
    root: int,
    expand: Expand,
    names: dict[int, str] | None = None,
    call: CallName | None = None,
) -> Expr:
    """The expression of ``root``; nodes for which ``expand(n)`` is false appear by name.

    ``call`` says how a gate that is written as a function is called (the
    staged Python code calls ``math.exp``); by default, or where it answers
    None, an operator is written as the operator and a function by its name in bpcli.
    Walks with an explicit stack and shares subtrees, so large gradient graphs
    convert in linear time.
    """
    built: dict[int, Expr] = {}
    work = [root]
    while work:
        node = work[-1]
        if node in built:
            work.pop()
            continue
        pending = [i for i in _shown_inputs(graph, node, expand) if i not in built]
        if pending:
            work.extend(pending)
            continue
        work.pop()
        built[node] = Name(names[node]) if names and node in names else _node_ast(graph, node, expand, built, call)
    return built[root]


def _shown_inputs(graph: Graph, node: int, expand: Expand) -> tuple[int, ...]:
    n = graph.nodes[node]
    if n.op in (INPUT, CONST) or not expand(node):
        return ()
    return n.inputs


def _node_ast(graph: Graph, node: int, expand: Expand, built: dict[int, Expr], call: CallName | None) -> Expr:
    n = graph.nodes[node]
    if n.op == CONST:
        # An array constant (a literal, an upstream gradient) goes by its name.
        return Name(n.name) if hasattr(n.value, "shape") else constant_ast(n.value)
    if n.op == INPUT or not expand(node):
        return Name(n.name)
    args = [built[i] for i in n.inputs]
    if call is None and REGISTRY[n.op].reads_as:  # a reader's text: mul0 as *, unzero(a, b) as a
        return read_as(REGISTRY[n.op].reads_as, args)
    if n.op == "mul" and _is_expanded_reciprocal(graph, n.inputs[1], expand):
        reciprocal = args[1]
        assert type(reciprocal) is Binary  # an expanded recip is built as 1 / x, below
        return Binary("/", args[0], reciprocal.right)
    if n.op in OPERATORS:
        name = call(n) if call else None  # a target may call an operator as a function instead
        return Binary(OPERATORS[n.op], args[0], args[1]) if name is None else Call(name, tuple(args))
    if n.op == "accumulate":
        return functools.reduce(lambda left, right: Binary("+", left, right), args)
    if n.op == "neg":
        return Neg(args[0])
    if n.op == "recip":
        return Binary("/", Number(1.0, "1"), args[0])
    if n.op == "transpose":
        return Transpose(args[0])
    if n.op == "logical_not":
        name = call(n) if call else None  # the staged code calls np.logical_not: Python's ~True is -2
        return Invert(args[0]) if name is None else Call(name, tuple(args))
    attrs: dict[str, Any] = n.attrs or {}  # the parameters of the gates below (they always have them)
    if n.op == "dim":
        return Subscript(Attribute(args[0], "shape"), (constant_ast(attrs["axis"], integer=True),))
    # numpy's np.zeros((N, D)), np.stack((a, b), axis=1)
    if n.op in ("zeros", "ones", "concatenate", "stack", "hstack", "vstack"):
        keywords = tuple((k, _parameter_ast(v)) for k, v in (n.attrs or {}).items() if v is not None)
        return Call((call(n) if call else None) or n.op, (Tuple(tuple(args)),), keywords=keywords)
    if n.op == "swapaxes":
        axes = tuple(constant_ast(a, integer=True) for a in attrs["axes"])
        return Call((call(n) if call else None) or "swapaxes", (args[0], *axes))
    if n.op == "reshape":  # numpy's np.reshape(x, (N, -1))
        return Call((call(n) if call else None) or "reshape", (args[0], Tuple(tuple(args[1:]))))
    if n.op == "permute":
        return Call((call(n) if call else None) or "transpose", (args[0], _parameter_ast(attrs["axes"])))
    if n.op in ("ndim", "size"):
        return Attribute(args[0], n.op)
    if n.op == "index":
        return Subscript(args[0], subscript_items(attrs["key"], args[1:]))
    if n.op == "at_set":  # a[key] = v as a value, written as the staged code computes it
        key = Subscript(Name(KEY_NAME), subscript_items(attrs["key"], args[2:]))
        return Call((call(n) if call else None) or "at_set", (args[0], key, args[1]))
    if n.op == "scatter":
        key = Subscript(Name(KEY_NAME), subscript_items(attrs["key"], args[2:]))
        return Call((call(n) if call else None) or SCATTER_FUNCTION, (args[0], key, args[1]))
    keywords = tuple((key, _parameter_ast(value)) for key, value in (n.attrs or {}).items() if value is not None)
    return Call((call(n) if call else None) or function_name(n), tuple(args), keywords=keywords)


def read_as(reading: str, args: list[Expr]) -> Expr:
    """A gate's ``reads_as``: its first input ("a"), or the operator of the gate it reads as ("mul": *)."""
    return args[0] if reading == "a" else Binary(OPERATORS[reading], args[0], args[1])


def subscript_items(key: tuple[Any, ...], arrays: list[Expr]) -> tuple[Any, ...]:
    """A subscript's items as AST: its fixed items written out, its index arrays as given."""
    given = iter(arrays)
    items: list[Any] = []  # expressions, Slices and EllipsisItems
    for item in key:
        if isinstance(item, type(ARRAY)):  # an index array or a mask
            items.append(next(given))
        elif item is Ellipsis:
            items.append(EllipsisItem())
        elif item is None:
            items.append(Name("None"))
        elif isinstance(item, slice):  # a bound the program computes (x[:N - 1]) is written as given
            start, stop, step = (None if b is None else next(given) if isinstance(b, type(BOUND))
                                 else constant_ast(b, integer=True) for b in (item.start, item.stop, item.step))
            items.append(Slice(start, stop, step))
        else:
            items.append(constant_ast(item, integer=True))
    return tuple(items)


def function_name(node: Node) -> str:
    """How bpcli writes a gate called as a function: ``exp``, ``max`` (also for the amax reduction)."""
    return REGISTRY[node.op].function or node.op


def _parameter_ast(value: int | tuple[int, ...]) -> Expr:
    if isinstance(value, tuple):
        return Tuple(tuple(constant_ast(float(v), integer=True) for v in value))
    return constant_ast(float(value), integer=True)


def _is_expanded_reciprocal(graph: Graph, node: int, expand: Expand) -> bool:
    return graph.nodes[node].op == "recip" and expand(node)


def constant_ast(value: float, integer: bool = False) -> Expr:
    value = float(value)
    if value < 0:
        return Neg(constant_ast(-value, integer))
    return Number(value, str(int(value)) if integer else format_number(value))
