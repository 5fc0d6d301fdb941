"""Shapes: numpy's broadcasting and each structural gate's shape rule, checked before evaluation.

A shape is a tuple of ints; () is a scalar. Shape rules raise ShapeError with
both shapes in the message; ``infer_shapes`` adds the gate and the
subexpression, so a mismatch is reported before any number is computed.
"""

from __future__ import annotations

from typing import Any, Mapping

from bpcli.engine.errors import BpcliError

Shape = tuple[int, ...]

# The largest array a gate may compute (elements): an outer product or a
# broadcast of two vectors that are each fine can ask for terabytes. The
# command line sets it from --max-elements, which bounds the values given too.
MAX_ELEMENTS = 50_000_000


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


def infer_shapes(graph: Any, input_shapes: Mapping[str, Shape], values: Mapping[str, Any] | None = None) -> list[Shape]:
    """Every forward node's shape, or a BpcliError naming the gate, the subexpression and the shapes.

    ``values``: the inputs' values, of which the index inputs that are numbers fix shapes (np.arange(n)).
    """
    from bpcli.engine.formulas import gate_text
    from bpcli.engine.graph import CONST, INPUT

    from bpcli.engine.gates import REGISTRY

    shapes: list[Shape] = []
    # Numbers known before evaluation: the program's own, and those the shapes fix (x.shape[0]),
    # for the gates whose output shape depends on them (np.arange(N)).
    fixed: dict[int, Any] = {}
    for index, node in enumerate(graph.nodes):
        if node.op == INPUT:
            shapes.append(tuple(input_shapes[node.name]))
            if values is not None and node.name in graph.index_inputs and not shapes[-1]:
                fixed[index] = values[node.name]
        elif node.op == CONST:
            shapes.append(value_shape(node.value))
            if not shapes[-1]:
                fixed[index] = node.value
        else:
            try:
                gate = REGISTRY[node.op]
                if gate.value_shape is not None:
                    shapes.append(gate.value_shape([shapes[i] for i in node.inputs], [fixed.get(i) for i in node.inputs]))
                else:
                    shapes.append(gate_shape(node.op, [shapes[i] for i in node.inputs], node.attrs))
                _fix_number(graph, index, gate, shapes, fixed)
            except ShapeError as error:
                what = "index out of range" if node.op == "index" else "shape mismatch"
                raise BpcliError(
                    f"{what} in {gate_text(graph, index)}: {error}",
                    source=graph.source or None,
                    span=node.span,
                ) from None
            if size(shapes[-1]) > MAX_ELEMENTS:
                raise BpcliError(
                    f"{gate_text(graph, index)} would have {size(shapes[-1]):,} elements {show(shapes[-1])}; "
                    f"the limit is {MAX_ELEMENTS:,} (raise it with --max-elements)",
                    source=graph.source or None,
                    span=node.span,
                )
    return shapes


def _fix_number(graph: Any, index: int, gate: Any, shapes: list[Shape], fixed: dict[int, Any]) -> None:
    """Note the value of a number fixed by the shapes, or computed from such numbers only."""
    node = graph.nodes[index]
    if gate.from_shapes is not None:
        fixed[index] = gate.from_shapes(*(shapes[i] for i in node.inputs), **(node.attrs or {}))
    elif gate.elementwise and node.inputs and all(i in fixed for i in node.inputs):
        from bpcli.engine.backends import scalar

        fixed[index] = gate.forward(scalar, *(fixed[i] for i in node.inputs), **(node.attrs or {}))


def gate_shape(op: str, input_shapes: list[Shape], attrs: Mapping[str, Any] | None) -> Shape:
    from bpcli.engine.gates import REGISTRY

    return REGISTRY[op].shape(*input_shapes, **(attrs or {}))


def value_shape(value: Any) -> Shape:
    return tuple(getattr(value, "shape", ()))
