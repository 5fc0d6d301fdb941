"""numpy subscripts as gates: ``x[0]``, ``x[1:3, ::2]``, ``x[..., None]``, ``x[np.arange(N), y]``.

A subscript is lowered to an ``index`` gate whose ``key`` parameter is the
subscript with its fixed items written in (integers, slices, ``...``, None)
and an ``ARRAY`` mark where an item is an array computed by the program or
bound to an input (an index array): those arrays are the gate's inputs after
the indexed value. The gradient of a gather is a scatter-add (``np.add.at``),
so repeated indices accumulate; the scatter's own gradient is the gather again.
"""

from __future__ import annotations

from typing import Any

Key = tuple[Any, ...]


class _ArrayMark:
    """Marks a subscript item whose value is an input of the gate (an index array or a mask)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ARRAY"


ARRAY = _ArrayMark()


class _MaskMark(_ArrayMark):
    """Marks a boolean mask, the one item of an assignment through it (dx[x <= 0] = 0)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MASK"


MASK = _MaskMark()


class IndexProblem(ValueError):
    """An index that is out of range or not a whole number, found while the values are computed."""


def first_not_whole(values: Any) -> int | None:
    """The flat position of the first element that is not a whole number (inf and nan are not), or None."""
    import numpy as np

    array = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        wrong = np.flatnonzero(~np.isfinite(array) | (array != np.round(array)))
    return int(wrong[0]) if wrong.size else None


def numpy_key(key: Key, arrays: tuple[Any, ...]) -> tuple[Any, ...]:
    """The subscript numpy takes: each ARRAY mark replaced by its array, as integers (or a mask)."""
    import numpy as np

    given = iter(arrays)
    items: list[Any] = []
    for item in key:
        if isinstance(item, _ArrayMark):
            value = np.asarray(next(given))
            if value.dtype != np.bool_:
                if first_not_whole(value) is not None:
                    raise IndexProblem("an index must be a whole number (numpy refuses a float index)")
                value = value.astype(np.intp)
            items.append(value)
        else:
            items.append(item)
    return tuple(items)


def gather(a: Any, key: Key, arrays: tuple[Any, ...]) -> Any:
    import numpy as np

    try:
        return np.asarray(a)[numpy_key(key, arrays)]
    except IndexError as error:
        raise IndexProblem(str(error)) from None


def scatter_add(like: Any, values: Any, key: Key, arrays: tuple[Any, ...]) -> Any:
    """Zeros shaped like ``like`` with ``values`` added at ``key``; a repeated index adds up (np.add.at)."""
    import numpy as np

    out = np.zeros(np.shape(like))
    np.add.at(out, numpy_key(key, arrays), values)
    return out


def result_shape(shape: tuple[int, ...], array_shapes: tuple[tuple[int, ...], ...], key: Key) -> tuple[int, ...]:
    """The shape of ``a[key]`` for an ``a`` of ``shape``, index arrays standing in as zeros of theirs.

    Raises ShapeError with numpy's words for a subscript that cannot apply
    (too many indices, an integer out of range, index arrays that do not broadcast).
    """
    import numpy as np

    from bpcli.engine.shapes import ShapeError

    stand_ins = iter(np.zeros(s, dtype=np.intp) for s in array_shapes)
    items = tuple(next(stand_ins) if isinstance(item, _ArrayMark) else item for item in key)
    try:
        return tuple(np.broadcast_to(np.zeros(()), shape)[items].shape)
    except IndexError as error:
        raise ShapeError(f"{error} (the value has shape {shape})") from None


def assign(a: Any, values: Any, key: Key, arrays: tuple[Any, ...]) -> Any:
    """A copy of ``a`` with ``values`` written at ``key`` (numpy's ``a[key] = values``, functionally)."""
    import numpy as np

    out = np.array(a, dtype=np.float64)
    subscript = numpy_key(key, arrays)
    try:
        if any(item is ARRAY for item in key):
            _check_written_once(out.shape, subscript)
        out[subscript] = values
    except (IndexError, ValueError) as error:
        raise IndexProblem(str(error)) from None
    return out


def _check_written_once(shape: tuple[int, ...], subscript: tuple[Any, ...]) -> None:
    """numpy keeps the last of several writes to one element; bpcli refuses them (which one's gradient?)."""
    import numpy as np

    hits = np.zeros(shape, dtype=np.intp)
    np.add.at(hits, subscript, 1)
    if hits.size and hits.max() > 1:
        raise IndexProblem("this assignment writes an element more than once (a repeated index): numpy keeps "
                           "the last write; write each element once")


def assigned_shape(shape: tuple[int, ...], value_shape: tuple[int, ...], array_shapes: tuple[tuple[int, ...], ...],
                   key: Key) -> tuple[int, ...]:
    """``a[key] = v`` keeps a's shape; v must broadcast to the elements written (a number, through a mask)."""
    from bpcli.engine.shapes import ShapeError, broadcast, show

    if MASK in key:
        if array_shapes[0] != shape:
            raise ShapeError(f"a mask of shape {show(array_shapes[0])} for a value of shape {show(shape)}")
        if value_shape not in ((), (1,)):
            raise ShapeError(f"assigning through a mask takes a number, not a {show(value_shape)} value")
        return shape
    written = result_shape(shape, array_shapes, key)
    try:
        if broadcast(written, value_shape) != written:
            raise ShapeError("")
    except ShapeError:
        raise ShapeError(f"a {show(value_shape)} value cannot be written into the {show(written)} elements "
                         "the subscript picks") from None
    return shape
