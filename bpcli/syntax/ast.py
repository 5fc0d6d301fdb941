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
class Call:
    func: str
    args: tuple[Expr, ...]
    span: Span = field(default=NO_SPAN, compare=False)
    func_span: Span = field(default=NO_SPAN, compare=False)


Expr = Number | Name | Neg | Binary | Call


@dataclass(frozen=True, slots=True)
class Assign:
    target: str
    value: Expr
    span: Span = field(default=NO_SPAN, compare=False)
    target_span: Span = field(default=NO_SPAN, compare=False)


Statement = Assign | Expr


@dataclass(frozen=True, slots=True)
class Program:
    statements: tuple[Statement, ...]


BINARY_OPERATORS = ("+", "-", "*", "/", "**")


def children(node: Expr) -> tuple[Expr, ...]:
    """The direct subexpressions of a node, left to right."""
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, Neg):
        return (node.operand,)
    if isinstance(node, Call):
        return node.args
    return ()
