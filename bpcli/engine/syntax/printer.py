"""AST to text, with the fewest parentheses that keep Python's precedence.

Printing and parsing back gives the same AST. The printer walks the tree with an
explicit stack, so deep trees print without recursion and in linear time.
"""

from __future__ import annotations

from bpcli.engine.syntax.ast import (
    COMPARISONS, Array, AtSet, Attribute, Binary, Call, EllipsisItem, Expr, Invert, Name, Neg, Number, Slice, Subscript,
    Transpose, Tuple,
)

_COMPARE, _OR, _AND, _SUM, _PRODUCT, _UNARY, _POWER, _ATOM = -2, -1, 0, 1, 2, 3, 4, 5
_BINARY_PRECEDENCE = {
    "+": _SUM, "-": _SUM, "*": _PRODUCT, "/": _PRODUCT, "@": _PRODUCT, "//": _PRODUCT, "%": _PRODUCT, "**": _POWER,
    "&": _AND, "|": _OR,
    **{op: _COMPARE for op in COMPARISONS},
}
_SPACED = {op: f" {op} " for op in _BINARY_PRECEDENCE} | {"**": "**"}


def precedence(node: Expr) -> int:
    if isinstance(node, Binary):
        return _BINARY_PRECEDENCE[node.op]
    if isinstance(node, (Neg, Invert)):
        return _UNARY
    return _ATOM


def to_text(node: Expr) -> str:
    """The expression as bpcli (and, for the shared subset, Python) would read it."""
    out: list[str] = []
    work: list[Expr | str] = [node]
    while work:
        item = work.pop()
        if isinstance(item, str):
            out.append(item)
        else:
            work.extend(reversed(_parts(item)))
    return "".join(out)


def _parts(node: Expr) -> list[Expr | str]:
    if isinstance(node, Number):
        return [node.text]
    if isinstance(node, Name):
        return [node.id]
    if isinstance(node, Neg):
        return ["-", *_wrapped(node.operand, precedence(node.operand) < _UNARY)]
    if isinstance(node, Binary):
        mine = _BINARY_PRECEDENCE[node.op]
        if mine == _COMPARE:  # comparisons do not chain: a comparison inside one is parenthesised
            left_parens = precedence(node.left) <= mine
            right_parens = precedence(node.right) <= mine
        elif node.op == "**":
            # Right-associative, and its left operand binds tighter than unary minus.
            left_parens = precedence(node.left) <= _POWER
            right_parens = precedence(node.right) < _UNARY
        else:
            left_parens = precedence(node.left) < mine
            right_parens = precedence(node.right) <= mine
        return [
            *_wrapped(node.left, left_parens),
            _SPACED[node.op],
            *_wrapped(node.right, right_parens),
        ]
    if isinstance(node, Attribute):
        wrapped = _wrapped(node.value, precedence(node.value) < _ATOM or isinstance(node.value, Number))
        return [*wrapped, "." + node.attr]
    if isinstance(node, AtSet):  # JAX's spelling of a functional update
        wrapped = _wrapped(node.array, precedence(node.array) < _ATOM or isinstance(node.array, Number))
        return [*wrapped, ".at", *_listed([_item_parts(item) for item in node.items], "[", "]"), ".set(",
                node.value, ")"]
    if isinstance(node, Invert):
        return ["~", *_wrapped(node.operand, precedence(node.operand) < _UNARY)]
    if isinstance(node, Subscript):
        wrapped = _wrapped(node.value, precedence(node.value) < _ATOM or isinstance(node.value, Number))
        return [*wrapped, *_listed([_item_parts(item) for item in node.items], "[", "]")]
    if isinstance(node, Transpose):
        # A number needs its parentheses too: 2.T would read as the number 2. and the name T.
        return [*_wrapped(node.operand, precedence(node.operand) < _ATOM or isinstance(node.operand, Number)), ".T"]
    if isinstance(node, Call):
        arguments: list[list[Expr | str]] = [[arg] for arg in node.args]
        arguments += [[f"{name}=", value] for name, value in node.keywords]
        return [node.func, *_listed(arguments, "(", ")")]
    if isinstance(node, Array):
        return _listed([[element] for element in node.elements], "[", "]")
    if isinstance(node, Tuple):
        items = _listed([[element] for element in node.elements], "(", ")")
        return items[:-1] + [",", ")"] if len(node.elements) == 1 else items
    raise TypeError(f"not an expression node: {node!r}")


def _item_parts(item: Expr | Slice | EllipsisItem) -> list[Expr | str]:
    if isinstance(item, EllipsisItem):
        return ["..."]
    if isinstance(item, Slice):
        parts: list[Expr | str] = [] if item.start is None else [item.start]
        parts.append(":")
        parts += [] if item.stop is None else [item.stop]
        return parts + ([] if item.step is None else [":", item.step])
    return [item]


def _listed(items: list[list[Expr | str]], opening: str, closing: str) -> list[Expr | str]:
    parts: list[Expr | str] = [opening]
    for position, item in enumerate(items):
        if position:
            parts.append(", ")
        parts.extend(item)
    parts.append(closing)
    return parts


def _wrapped(node: Expr, parens: bool) -> list[Expr | str]:
    return ["(", node, ")"] if parens else [node]


def format_number(value: float) -> str:
    """A constant as source text: integers without a decimal point, others shortest round-trip."""
    if value != value:
        return "nan"
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    if value == int(value) and abs(value) < 1e16:
        return str(int(value))
    return repr(value)
