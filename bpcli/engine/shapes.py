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


def reduce(a: Shape, axis: Any = None, **_: Any) -> Shape:
    removed = axes(a, axis)
    return tuple(size for i, size in enumerate(a) if i not in removed)


def reduce_some(a: Shape, axis: Any = None, **_: Any) -> Shape:
    """A reduction with no value over no elements (max, argmax, mean, var): refused where a reduced axis is
    empty (a mask that picks nothing, an empty slice), where numpy raises or gives nan."""
    if any(a[i] == 0 for i in axes(a, axis)):
        raise ShapeError(f"it reduces a {show(a)} value over no elements (a mask that picks none, an empty "
                         "slice), and has no value there")
    return reduce(a, axis)


def kept(a: Shape, axis: Any = None) -> Shape:
    """The shape of a reduction of ``a`` with keepdims=True: the reduced axes of size 1."""
    removed = axes(a, axis)
    return tuple(1 if i in removed else n for i, n in enumerate(a))


def reshaped(a: Shape, sizes: tuple[int, ...]) -> Shape:
    """numpy's reshape of an ``a``-shaped value to ``sizes``, one of which may be -1."""
    unknown = [i for i, n in enumerate(sizes) if n == -1]
    known = size(tuple(n for n in sizes if n != -1))
    if len(unknown) > 1 or any(n < -1 for n in sizes):
        raise ShapeError(f"cannot reshape to {sizes}: at most one size is -1, the others 0 or more")
    if unknown and known and size(a) % known == 0:
        sizes = tuple(size(a) // known if n == -1 else n for n in sizes)
    if size(sizes) != size(a) or -1 in sizes:
        raise ShapeError(f"cannot reshape a {show(a)} value ({size(a)} elements) to {sizes}")
    return sizes


def expanded(a: Shape, axis: Any) -> Shape:
    """np.expand_dims: new axes of size 1 at axis (counted in the result)."""
    chosen = axis if isinstance(axis, tuple) else (axis,)
    rank = len(a) + len(chosen)
    new = axes(tuple([1] * rank), axis)
    rest = iter(a)
    return tuple(1 if i in new else next(rest) for i in range(rank))


def squeezed(a: Shape, axis: Any = None) -> Shape:
    """np.squeeze: the axes of size 1 (those along axis) removed; another size there is an error."""
    if axis is None:
        return tuple(n for n in a if n != 1)
    removed = axes(a, axis)
    if any(a[i] != 1 for i in removed):
        raise ShapeError(f"cannot squeeze an axis whose size is not 1 (axis {axis} of {show(a)})")
    return tuple(n for i, n in enumerate(a) if i not in removed)


def swapped(rank: int, pair: tuple[int, int]) -> tuple[int, ...]:
    """The permutation that exchanges two axes."""
    if rank == 0 or not all(-rank <= ax < rank for ax in pair):
        raise ShapeError(f"axes {pair} are out of range for {rank} dimensions")
    first, second = (ax % rank for ax in pair)
    order = list(range(rank))
    order[first], order[second] = order[second], order[first]
    return tuple(order)


def concatenated(shapes_: tuple[Shape, ...], axis: int = 0) -> Shape:
    """np.concatenate: the same shape but along axis, where the sizes add up."""
    first = shapes_[0]
    if not first or any(len(s) != len(first) for s in shapes_):
        raise ShapeError("concatenate joins arrays of one number of dimensions (at least 1): "
                         + ", ".join(show(s) for s in shapes_))
    where = axes(first, axis)[0]
    if any(s[:where] + s[where + 1:] != first[:where] + first[where + 1:] for s in shapes_):
        raise ShapeError("the shapes differ off the joined axis: " + ", ".join(show(s) for s in shapes_))
    return first[:where] + (sum(s[where] for s in shapes_),) + first[where + 1:]


def stacked(shapes_: tuple[Shape, ...], axis: int = 0) -> Shape:
    """np.stack: arrays of one shape along a new axis."""
    if any(s != shapes_[0] for s in shapes_):
        raise ShapeError("stack takes arrays of one shape: " + ", ".join(show(s) for s in shapes_))
    return _inserted(shapes_[0], axis, len(shapes_))


def _inserted(a: Shape, axis: int, count: int) -> Shape:
    where = axes(tuple([1] * (len(a) + 1)), axis)[0]
    return a[:where] + (count,) + a[where:]


def permuted(a: Shape, axes: tuple[int, ...]) -> Shape:
    """np.transpose(a, axes): axes is a permutation of a's axes."""
    if sorted(ax % len(a) if -len(a) <= ax < len(a) else ax for ax in axes) != list(range(len(a))):
        raise ShapeError(f"axes {tuple(axes)} are not a permutation of the {len(a)} axes of a {show(a)} value")
    return tuple(a[ax] for ax in axes)


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
