"""numpy subscripts as gates: ``x[0]``, ``x[1:3, ::2]``, ``x[..., None]``, ``x[np.arange(N), y]``.

A subscript is lowered to an ``index`` gate whose ``key`` parameter is the
subscript with its fixed items written in (integers, slices, ``...``, None)
and an ``ARRAY`` mark where an item is an array computed by the program or
bound to an input (an index array): those arrays are the gate's inputs after
the indexed value. The gradient of a gather is a scatter-add (``np.add.at``),
so repeated indices accumulate; the scatter's own gradient is the gather again.
"""

from __future__ import annotations

from typing import Any, Callable

from bpcli.engine.shapes import ShapeError

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


class _Learned:
    """A mark that learns one number from the values the graph is bound to; ``value``: it, once known."""

    __slots__ = ("value",)
    label = ""

    def __init__(self, value: int | None = None) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, type(self)) and other.value == self.value

    def __hash__(self) -> int:
        return hash((self.label, self.value))

    def __repr__(self) -> str:
        return self.label if self.value is None else f"{self.label}({self.value})"


class _Selection(_Learned, _ArrayMark):
    """Marks a boolean mask read through (x[x > 0]); ``value``: how many elements it picks, once known."""

    __slots__ = ()
    label = "SELECTION"


SELECTION = _Selection()


class _Bound(_Learned):
    """Marks a slice bound computed by the program (x[:N - 1]); ``value``: that whole number, once known."""

    __slots__ = ()
    label = "BOUND"


BOUND = _Bound()


def _rewritten(key: Key, bound: Callable[[Any], Any], mark: Callable[[Any], Any]) -> Key:
    """The key with each computed slice bound replaced by ``bound(it)`` and each array mark by ``mark(it)``,
    called in the order of the gate's inputs (left to right; a slice's start, stop and step in turn)."""

    def one(item: Any) -> Any:
        return bound(item) if isinstance(item, _Bound) else item

    items: list[Any] = []
    for item in key:
        if isinstance(item, slice):
            items.append(slice(one(item.start), one(item.stop), one(item.step)))
        else:
            items.append(mark(item) if isinstance(item, _ArrayMark) else item)
    return tuple(items)


def marks(key: Key) -> list[Any]:
    """The key's marks in the order of the gate's inputs after the indexed value (slice bounds included)."""
    found: list[Any] = []
    _rewritten(key, found.append, found.append)
    return found


def with_selections(key: Key, is_mask: list[bool]) -> Key:
    """The key with each index array that ``is_mask`` flags (by its input position) read as a mask."""
    flags = iter(is_mask)

    def bound(item: Any) -> Any:
        next(flags)  # a slice bound's input is a number, never a mask
        return item

    def mark(item: Any) -> Any:
        return SELECTION if next(flags) and item is ARRAY else item

    return _rewritten(key, bound, mark)


def assignment_key(key: Key, value_shape: tuple[int, ...]) -> Key:
    """``a[mask] = v`` with v an array (dx[m] = dout[m]) writes one element of v per True: the mask is
    read through, and the number of its True elements must be known; with a number it needs no values."""
    return (SELECTION,) if key == (MASK,) and value_shape not in ((), (1,)) else key


def needs_values(key: Key) -> bool:
    """Whether the key has a computed slice bound or a mask read through (shapes need their values)."""
    return any(isinstance(mark, (_Bound, _Selection)) for mark in marks(key))


def resolved(key: Key, values: list[Any]) -> Key:
    """The key with what its computed bounds and masks read through hold written in.

    ``values``: the value of each of the gate's inputs after the indexed value (None where it is not
    known before evaluation). Raises ValuesNeeded where a value is needed and not known.
    """
    import numpy as np

    given = iter(values)

    def bound(item: Any) -> Any:
        value = next(given)
        if value is None or np.ndim(value) != 0 or first_not_whole(value) is not None:
            raise ValuesNeeded("a slice bound is a whole number, written in the program or fixed by the "
                               "shapes (x.shape[0] - 1)")
        return _Bound(int(value))

    def mark(item: Any) -> Any:
        mask = next(given)
        if not isinstance(item, _Selection):
            return item
        if mask is None:
            raise ValuesNeeded("it reads through a boolean mask, so it has as many elements as the mask "
                               "holds True: its shape needs the values bound to the inputs (a shape alone "
                               "does not say); without values, write np.where(mask, x, 0)")
        return _Selection(int(np.count_nonzero(mask)))

    return _rewritten(key, bound, mark)


class ValuesNeeded(ShapeError):
    """A subscript whose shape needs values that are not known before evaluation (or not given at all)."""


class IndexProblem(ValueError):
    """An index that is out of range or not a whole number, found while the values are computed."""


class MaskChanged(IndexProblem):
    """A mask read through picks another number of elements than at the bound values (moved values)."""


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

    def bound(item: Any) -> int:
        value = next(given)
        if first_not_whole(value) is not None:
            raise IndexProblem("a slice bound must be a whole number")
        return int(value)

    def mark(item: Any) -> Any:
        value = np.asarray(next(given))
        if isinstance(item, _Selection):
            picked = np.count_nonzero(value)
            if item.value is not None and picked != item.value:
                raise MaskChanged(f"the mask picks {picked} elements here and {item.value} at the bound values: "
                                  "reading through a mask, the shape changes with the values")
            return value.astype(np.bool_)
        if value.dtype == np.bool_:
            return value
        if first_not_whole(value) is not None:
            raise IndexProblem("an index must be a whole number (numpy refuses a float index)")
        return value.astype(np.intp)

    return _rewritten(key, bound, mark)


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

    from bpcli.engine.shapes import size

    shapes_ = iter(array_shapes)

    def bound(item: Any) -> Any:
        next(shapes_)
        return item.value

    def stand_in(item: Any) -> Any:
        shape_ = next(shapes_)
        if isinstance(item, _Selection):  # a mask of its shape with as many True as it holds
            picks = np.zeros(size(shape_), dtype=np.bool_)
            picks[: item.value] = True
            return picks.reshape(shape_)
        return np.zeros(shape_, dtype=np.intp)

    items = _rewritten(key, bound, stand_in)
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
    """``a[key] = v`` keeps a's shape; v must broadcast to the elements written (a number through a MASK,
    which ``assignment_key`` made a SELECTION for an array v)."""
    from bpcli.engine.shapes import broadcast, show

    if MASK in key:
        if array_shapes[0] != shape:
            raise ShapeError(f"a mask of shape {show(array_shapes[0])} for a value of shape {show(shape)}")
        return shape
    written = result_shape(shape, array_shapes, key)
    try:
        if broadcast(written, value_shape) != written:
            raise ShapeError("")
    except ShapeError:
        raise ShapeError(f"a {show(value_shape)} value cannot be written into the {show(written)} elements "
                         "the subscript picks") from None
    return shape
