"""The abstract syntax tree: small immutable nodes that remember where they came from.

Spans are (start, end) character offsets into the source text; they feed the
caret in error messages and take no part in equality, so two parses of
differently spaced text compare equal.
"""

from __future__ import annotations

from typing import Any

Span = tuple[int, int]
NO_SPAN: Span = (0, 0)


class _Node:
    """Fields named in ``_fields`` make up a node's identity; ``span`` is only where it came from.

    Plain classes with __slots__ rather than dataclasses: there are only a few,
    and defining them this way keeps bpcli's start-up a few milliseconds shorter.
    Nodes are never changed after they are built.
    """

    __slots__ = ("span",)
    _fields: tuple[str, ...] = ()

    def __eq__(self, other: Any) -> bool:
        return type(self) is type(other) and all(getattr(self, f) == getattr(other, f) for f in self._fields)

    def __hash__(self) -> int:
        return hash((type(self).__name__, *(getattr(self, f) for f in self._fields)))

    def __repr__(self) -> str:
        fields = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields)
        return f"{type(self).__name__}({fields})"


class Number(_Node):
    __slots__ = ("value", "text")
    _fields = ("value", "text")

    def __init__(self, value: float, text: str, span: Span = NO_SPAN) -> None:
        self.value, self.text, self.span = value, text, span


class Name(_Node):
    __slots__ = ("id",)
    _fields = ("id",)

    def __init__(self, id: str, span: Span = NO_SPAN) -> None:  # noqa: A002 - as Python's ast.Name
        self.id, self.span = id, span


class Neg(_Node):
    __slots__ = ("operand",)
    _fields = ("operand",)

    def __init__(self, operand: Expr, span: Span = NO_SPAN) -> None:
        self.operand, self.span = operand, span


class Binary(_Node):
    __slots__ = ("op", "left", "right")
    _fields = ("op", "left", "right")

    def __init__(self, op: str, left: Expr, right: Expr, span: Span = NO_SPAN) -> None:
        self.op, self.left, self.right, self.span = op, left, right, span  # op: one of BINARY_OPERATORS


class Transpose(_Node):
    __slots__ = ("operand",)
    _fields = ("operand",)

    def __init__(self, operand: Expr, span: Span = NO_SPAN) -> None:
        self.operand, self.span = operand, span


class Call(_Node):
    __slots__ = ("func", "args", "func_span", "keywords")
    _fields = ("func", "args", "keywords")

    def __init__(
        self,
        func: str,
        args: tuple[Expr, ...],
        span: Span = NO_SPAN,
        func_span: Span = NO_SPAN,
        keywords: tuple[tuple[str, Expr], ...] = (),  # axis=0
    ) -> None:
        self.func, self.args, self.span, self.func_span, self.keywords = func, args, span, func_span, keywords


class Array(_Node):
    """A bracketed literal: ``[1, 2]``, ``[[1, 2], [3, 4]]``."""

    __slots__ = ("elements",)
    _fields = ("elements",)

    def __init__(self, elements: tuple[Expr, ...], span: Span = NO_SPAN) -> None:
        self.elements, self.span = elements, span


class Tuple(_Node):
    """A parenthesised list with a comma, as in ``axis=(0, 2)``."""

    __slots__ = ("elements",)
    _fields = ("elements",)

    def __init__(self, elements: tuple[Expr, ...], span: Span = NO_SPAN) -> None:
        self.elements, self.span = elements, span


class Invert(_Node):
    """``~a``: numpy's logical not of a boolean array."""

    __slots__ = ("operand",)
    _fields = ("operand",)

    def __init__(self, operand: Expr, span: Span = NO_SPAN) -> None:
        self.operand, self.span = operand, span


class Slice(_Node):
    """``start:stop:step`` inside a subscript; an absent bound is None."""

    __slots__ = ("start", "stop", "step")
    _fields = ("start", "stop", "step")

    def __init__(self, start: Expr | None, stop: Expr | None, step: Expr | None, span: Span = NO_SPAN) -> None:
        self.start, self.stop, self.step, self.span = start, stop, step, span


class EllipsisItem(_Node):
    """``...`` inside a subscript: as many full slices as the other items leave."""

    __slots__ = ()

    def __init__(self, span: Span = NO_SPAN) -> None:
        self.span = span


class Subscript(_Node):
    """``a[items]``: each item an expression (an integer, an index array, a mask, None), a Slice or ``...``."""

    __slots__ = ("value", "items")
    _fields = ("value", "items")

    def __init__(self, value: Expr, items: tuple[Any, ...], span: Span = NO_SPAN) -> None:
        self.value, self.items, self.span = value, items, span


class Attribute(_Node):
    """``x.shape``, ``x.ndim``, ``x.size``: numbers fixed by the shapes of the bound values."""

    __slots__ = ("value", "attr")
    _fields = ("value", "attr")

    def __init__(self, value: Expr, attr: str, span: Span = NO_SPAN) -> None:
        self.value, self.attr, self.span = value, attr, span


class AtSet(_Node):
    """``a[items] = value`` as a value: a copy of ``a`` with ``value`` written at ``items`` (JAX's a.at[...].set)."""

    __slots__ = ("array", "items", "value")
    _fields = ("array", "items", "value")

    def __init__(self, array: Expr, items: tuple[Any, ...], value: Expr, span: Span = NO_SPAN) -> None:
        self.array, self.items, self.value, self.span = array, items, value, span


Expr = Number | Name | Neg | Binary | Transpose | Call | Array | Tuple | Invert | Subscript | Attribute | AtSet


class Assign(_Node):
    __slots__ = ("target", "value", "target_span", "accumulate")
    _fields = ("target", "value", "accumulate")

    def __init__(
        self, target: str, value: Expr, span: Span = NO_SPAN, target_span: Span = NO_SPAN, accumulate: bool = False
    ) -> None:
        self.target, self.value, self.span, self.target_span = target, value, span, target_span
        self.accumulate = accumulate  # target += value (backward files only)


class Unpack(_Node):
    """``N, D = x.shape``: one name per axis of a shape."""

    __slots__ = ("targets", "value", "target_spans")
    _fields = ("targets", "value")

    def __init__(self, targets: tuple[str, ...], value: Expr, span: Span = NO_SPAN,
                 target_spans: tuple[Span, ...] = ()) -> None:
        self.targets, self.value, self.span, self.target_spans = targets, value, span, target_spans


Statement = Assign | Unpack | Expr


class Program(_Node):
    __slots__ = ("statements",)
    _fields = ("statements",)

    def __init__(self, statements: tuple[Statement, ...]) -> None:
        self.statements, self.span = statements, NO_SPAN


BINARY_OPERATORS = ("+", "-", "*", "/", "**", "@", "//", "%", "<", "<=", ">", ">=", "==", "!=", "&", "|")
COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")


def children(node: Expr) -> tuple[Expr, ...]:
    """The direct subexpressions of a node, left to right (keyword values last)."""
    # type(node) is, not isinstance: as fast as comparing a cached type, and type checkers narrow it.
    if type(node) is Binary:
        return (node.left, node.right)
    if type(node) is Neg or type(node) is Transpose or type(node) is Invert:
        return (node.operand,)
    if type(node) is Attribute:
        return (node.value,)
    if type(node) is Subscript:
        return (node.value, *subscript_expressions(node))
    if type(node) is AtSet:
        return (node.array, *subscript_expressions(node), node.value)
    if type(node) is Call:
        return node.args + tuple(value for _, value in node.keywords) if node.keywords else node.args
    if type(node) is Array or type(node) is Tuple:
        return node.elements
    return ()


def subscript_expressions(node: Subscript | AtSet) -> tuple[Expr, ...]:
    """The expressions inside a subscript, slice bounds included, left to right."""
    found: list[Expr] = []
    for item in node.items:
        if type(item) is Slice:
            found += [bound for bound in (item.start, item.stop, item.step) if bound is not None]
        elif type(item) is not EllipsisItem:
            found.append(item)
    return tuple(found)
