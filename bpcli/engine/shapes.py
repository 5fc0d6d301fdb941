"""Shapes: numpy's broadcasting and each structural gate's shape rule, checked before evaluation.

A shape is a tuple of ints; () is a scalar. Shape rules raise ShapeError with
both shapes in the message; ``bpcli.engine.problem.infer_shapes`` adds the gate
and the subexpression, so a mismatch is reported before any number is computed.
Pure shape arithmetic: nothing here knows gates or graphs.
"""

from __future__ import annotations

from itertools import product
from typing import Any

Shape = tuple[int, ...]

class ShapeError(ValueError):
    """A shape rule's complaint, completed with the stage by ``infer_shapes``."""


def show(shape: Shape) -> str:
    return "scalar" if shape == () else str(tuple(shape))


def broadcast(*shapes: Shape) -> Shape:
    """numpy's broadcasting: align from the right; sizes must agree or be 1."""
    if all(not shape for shape in shapes):
        return ()
    ndim = max(len(shape) for shape in shapes)
    result = []
    for back in range(1, ndim + 1):
        sizes = {shape[-back] for shape in shapes if back <= len(shape)} - {1}
        if len(sizes) > 1:
            raise ShapeError(" and ".join(show(s) for s in shapes) + " do not broadcast")
        result.append(sizes.pop() if sizes else 1)
    return tuple(reversed(result))


def elementwise(*shapes: Shape, **_: Any) -> Shape:
    return broadcast(*shapes)


def matmul(a: Shape, b: Shape) -> Shape:
    """Vectors and matrices, as numpy's @: (n,m)@(m,p), (m,)@(m,p), (n,m)@(m,), (m,)@(m,)."""
    where = f"{show(a)} @ {show(b)}"
    if not a or not b:
        raise ShapeError(f"{where} — @ needs vectors or matrices; multiply by a scalar with *")
    if len(a) > 2 or len(b) > 2:
        raise ShapeError(f"{where} — @ takes vectors and matrices (1 or 2 dimensions)")
    inner_a, inner_b = a[-1], b[0]
    if inner_a != inner_b:
        raise ShapeError(f"{where} — inner dimensions {inner_a} and {inner_b} differ")
    return a[:-1] + b[1:]


def outer(a: Shape, b: Shape) -> Shape:
    if len(a) != 1 or len(b) != 1:
        raise ShapeError(f"outer takes two vectors, not {show(a)} and {show(b)}")
    return a + b


def transpose(a: Shape) -> Shape:
    return tuple(reversed(a))


def axes(shape: Shape, axis: Any) -> tuple[int, ...]:
    """The reduced axes, non-negative and sorted; all of them when axis is None."""
    if axis is None:
        return tuple(range(len(shape)))
    chosen = axis if isinstance(axis, tuple) else (axis,)
    normal = []
    for a in chosen:
        if not -len(shape) <= a < len(shape):
            raise ShapeError(f"axis {a} is out of range for a {show(shape)} value ({len(shape)} dimensions)")
        normal.append(a % len(shape))
    if len(set(normal)) != len(normal):
        raise ShapeError(f"axis {axis} names the same axis twice")
    return tuple(sorted(normal))


def reduce(a: Shape, axis: Any = None) -> Shape:
    removed = axes(a, axis)
    return tuple(size for i, size in enumerate(a) if i not in removed)


def first(a: Shape, b: Shape, **_: Any) -> Shape:
    """Gates whose output is shaped like their first input."""
    return a


def second(a: Shape, b: Shape, **_: Any) -> Shape:
    """Gates that reshape their first input like their second (broadcast, unbroadcast)."""
    return b


def size(shape: Shape) -> int:
    count = 1
    for n in shape:
        count *= n
    return count


def value_shape(value: Any) -> Shape:
    return tuple(getattr(value, "shape", ()))


def element_labels(name: str, shape: Shape) -> list[str]:
    """x for a number; W[0,0], W[0,1], ... for an array's elements, in row-major order."""
    if shape == ():
        return [name]
    return [f"{name}[{','.join(str(i) for i in index)}]" for index in product(*(range(n) for n in shape))]
