"""The abstract syntax tree: small immutable nodes that remember where they came from.

Spans are (start, end) character offsets into the source text; they feed the
caret in error messages and take no part in equality, so two parses of
differently spaced text compare equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Span = tuple[int, int]
NO_SPAN: Span = (0, 0)


@dataclass(frozen=True, slots=True)
class Number:
    value: float
    text: str
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True, slots=True)
class Name:
    id: str
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True, slots=True)
class Neg:
    operand: Expr
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # one of BINARY_OPERATORS
    left: Expr
    right: Expr
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True, slots=True)
class Transpose:
    operand: Expr
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True, slots=True)
class Call:
    func: str
    args: tuple[Expr, ...]
    span: Span = field(default=NO_SPAN, compare=False)
    func_span: Span = field(default=NO_SPAN, compare=False)
    keywords: tuple[tuple[str, Expr], ...] = ()  # axis=0


@dataclass(frozen=True, slots=True)
class Array:
    """A bracketed literal: ``[1, 2]``, ``[[1, 2], [3, 4]]``."""

    elements: tuple[Expr, ...]
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True, slots=True)
class Tuple:
    """A parenthesised list with a comma, as in ``axis=(0, 2)``."""

    elements: tuple[Expr, ...]
    span: Span = field(default=NO_SPAN, compare=False)


Expr = Number | Name | Neg | Binary | Transpose | Call | Array | Tuple


@dataclass(frozen=True, slots=True)
class Assign:
    target: str
    value: Expr
    span: Span = field(default=NO_SPAN, compare=False)
    target_span: Span = field(default=NO_SPAN, compare=False)
    accumulate: bool = False  # target += value (backward files only)


Statement = Assign | Expr


@dataclass(frozen=True, slots=True)
class Program:
    statements: tuple[Statement, ...]


BINARY_OPERATORS = ("+", "-", "*", "/", "**", "@")


def children(node: Expr) -> tuple[Expr, ...]:
    """The direct subexpressions of a node, left to right (keyword values last)."""
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, (Neg, Transpose)):
        return (node.operand,)
    if isinstance(node, Call):
        return node.args + tuple(value for _, value in node.keywords)
    if isinstance(node, (Array, Tuple)):
        return node.elements
    return ()
