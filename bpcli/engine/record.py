"""Records: classes that behave as dataclasses do, without dataclasses' start-up time.

``import dataclasses`` brings ``inspect``, ``ast``, ``dis`` and ``tokenize``
(about half of ``python -c pass``), and every ``@dataclass`` compiles its
methods with ``exec`` when its module is imported (check's path had a dozen).
A Record subclass reads its annotations once, when it is made; its first
records are made field by field, and its ``__init__`` is compiled only once it
has made many (a run makes records of many classes, a few of most); the other
methods are shared:

    >>> class Point(Record, frozen=True):
    ...     x: float
    ...     y: float = 0.0
    ...     tags: list[str] = field(default_factory=list)
    >>> Point(1.0), Point(1.0) == Point(1.0, 0.0, []), replace(Point(1.0), y=2.0).y
    (Point(x=1.0, y=0.0, tags=[]), True, 2.0)

as ``@dataclass(frozen=True)`` would: the same ``__init__`` (positional or by
keyword, defaults, ``field(default_factory=...)``, ``__post_init__``), the same
``__repr__``, ``__match_args__``, ``==`` between records of the same class field by field, a hash
of the fields when frozen (and none otherwise), and ``replace``. mypy reads a
Record as a dataclass (``dataclass_transform``). No ``ClassVar``, ``InitVar``
or field options other than ``default_factory``.
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING, Any, Callable, ClassVar, TypeVar, dataclass_transform

T = TypeVar("T")


class FrozenRecordError(AttributeError):
    """A field of a frozen record was assigned (dataclasses' FrozenInstanceError is an AttributeError too)."""


class _Factory:
    """A field's default made anew for each record: ``field(default_factory=list)``."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


def field(*, default_factory: Callable[[], T]) -> T:
    """A default made by ``default_factory`` for each record, as ``dataclasses.field(default_factory=...)``."""
    return _Factory(default_factory)  # type: ignore[return-value]  # read by Record, never seen as a T


@dataclass_transform(field_specifiers=(field,))
class Record:
    """The base of a record class: its annotated fields, in order, are its ``__init__``'s arguments."""

    _fields: ClassVar[tuple[str, ...]] = ()
    __match_args__: ClassVar[tuple[str, ...]] = ()
    _defaults: ClassVar[dict[str, Any]] = {}  # a field's default, or a _Factory

    def __init_subclass__(cls, frozen: bool = False, **options: Any) -> None:
        super().__init_subclass__(**options)
        annotated = list(cls.__dict__.get("__annotations__", {}))
        cls._fields = (*cls._fields, *(name for name in annotated if name not in cls._fields))
        if "__match_args__" not in cls.__dict__:
            # as a dataclass's: `case CheckResult(problems):` by position (mypy reads __match_args__ as fixed)
            cls.__match_args__ = cls._fields  # type: ignore[misc]
        # A parent's field written again with a default takes the new default, in its old place (as dataclasses).
        cls._defaults = {**cls._defaults, **{name: cls.__dict__[name] for name in annotated if name in cls.__dict__}}
        for name in annotated:
            if isinstance(cls.__dict__.get(name), _Factory):
                delattr(cls, name)  # as a dataclass: the class holds no shared default
        _require_defaults_last(cls.__name__, [name in cls._defaults for name in cls._fields])
        if "__init__" not in cls.__dict__:
            cls.__init__ = _first_init  # type: ignore[method-assign,assignment]  # its own, not a parent's compiled one
        if frozen:
            cls.__setattr__ = _frozen_setattr  # type: ignore[method-assign,assignment]
            cls.__delattr__ = _frozen_delattr  # type: ignore[method-assign,assignment]
            cls.__hash__ = Record._hash  # type: ignore[method-assign,assignment]
        elif "__hash__" not in cls.__dict__:
            cls.__hash__ = None  # type: ignore[assignment]  # as a dataclass with eq and not frozen: unhashable

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__qualname__}({shown})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Record)
        return self._values() == other._values()

    def _hash(self) -> int:
        return hash(self._values())


def _require_defaults_last(name: str, defaulted: list[bool]) -> None:
    """Fields are arguments in order: once one has a default, every later one must (as dataclasses)."""
    if True in defaulted and not all(defaulted[defaulted.index(True):]):
        raise TypeError(f"{name}: a field without a default follows one with a default")


# A class's first records are made field by field (_made_plainly); its __init__ is compiled once it has made
# this many, or at the first call that is not plain. Compiling costs some 0.1 ms a class, and a command makes
# records of twenty classes, most of them a few each (2 ms of grade's start-up); a plain record costs a
# microsecond more than a compiled one.
_COMPILE_AFTER = 64
_MADE_PLAINLY: dict[type, int] = {}
_NO_DEFAULT = object()  # a field without a default; in a compiled __init__, a factory's field not given


def _first_init(record: Record, *args: Any, **kwargs: Any) -> None:
    """A class's ``__init__`` until it is compiled (``_COMPILE_AFTER``), then made the class's."""
    cls = type(record)
    made = _MADE_PLAINLY.get(cls, 0)
    if made < _COMPILE_AFTER and _made_plainly(record, cls, args, kwargs):
        _MADE_PLAINLY[cls] = made + 1
        return
    init = _compiled_init(cls)
    cls.__init__ = init  # type: ignore[method-assign]
    init(record, *args, **kwargs)


def _made_plainly(record: Record, cls: type[Record], args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """The compiled ``__init__``'s work for a call that gives each field at most once, by position or by name,
    and every field without a default: the fields set in order (past a frozen record's __setattr__), then
    ``__post_init__``. False, with nothing done, for any other call: the compiled ``__init__`` then raises the
    TypeError a dataclass's would."""
    fields = cls._fields
    if len(args) > len(fields):
        return False
    given = dict(zip(fields, args))
    for name, value in kwargs.items():
        if name in given or name not in fields:
            return False
        given[name] = value
    values = {}
    for name in fields:
        if name in given:
            values[name] = given[name]
            continue
        default = cls._defaults.get(name, _NO_DEFAULT)
        if default is _NO_DEFAULT:
            return False
        values[name] = default.make() if isinstance(default, _Factory) else default
    record.__dict__.update(values)
    if getattr(cls, "__post_init__", None) is not None:
        record.__post_init__()  # type: ignore[attr-defined]
    return True


def _compiled_init(cls: type[Record]) -> Callable[..., None]:
    """``__init__`` for the class's fields, as dataclasses writes it: one assignment per field.

    Compiled from the field names of bpcli's own classes (identifiers, checked), never from input.
    """
    fields = cls._fields
    assert all(name.isidentifier() and not name.startswith("__") for name in fields), fields
    parameters, lines = [], []
    for name in fields:
        default = cls._defaults.get(name, _NO_DEFAULT)
        if default is _NO_DEFAULT:
            parameters.append(name)
        elif isinstance(default, _Factory):
            parameters.append(f"{name}=__no_default")
            lines.append(f"  if {name} is __no_default: {name} = __defaults[{name!r}].make()")
        else:
            parameters.append(f"{name}=__defaults[{name!r}]")
        lines.append(f"  __self.__dict__[{name!r}] = {name}")  # past a frozen record's __setattr__
    if getattr(cls, "__post_init__", None) is not None:
        lines.append("  __self.__post_init__()")
    source = f"def __init__(__self, {', '.join(parameters)}):\n" + "\n".join(lines or ["  pass"]) + "\n"
    namespace: dict[str, Any] = {"__defaults": cls._defaults, "__no_default": _NO_DEFAULT}
    exec(source, namespace)  # not compile(): see NamedTuple below
    init: Callable[..., None] = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__code__ = init.__code__.replace(co_filename=f"<record {cls.__qualname__}>")  # named in a traceback
    return init


def _frozen_setattr(record: Record, name: str, value: Any) -> None:
    raise FrozenRecordError(f"cannot assign to field '{name}'")


def _frozen_delattr(record: Record, name: str) -> None:
    raise FrozenRecordError(f"cannot delete field '{name}'")


R = TypeVar("R", bound=Record)  # the class itself, not its name: a name would be compiled (see NamedTuple)


def replace(record: R, /, **changes: Any) -> R:
    """A new record of the same class, with ``changes`` to its fields (``dataclasses.replace``)."""
    unknown = set(changes) - set(record._fields)
    if unknown:
        raise TypeError(f"{type(record).__name__} has no field {sorted(unknown)[0]!r}")
    return type(record)(**{**{name: getattr(record, name) for name in record._fields}, **changes})


# typing.NamedTuple checks each field's annotation, and with ``from __future__ import annotations`` each
# is a text made into a typing.ForwardRef, which compiles it: over a hundred compile() calls as a command
# starts, the first of which sets up Python's AST types (1.5 ms, an eighth of ``python -c pass``; exec and
# eval of a text do not). bpcli's classes read their annotations with mypy only, so at run time a class
# written ``class Stage(NamedTuple):`` is made by collections.namedtuple directly, with its annotations
# kept as written (typing.get_type_hints still reads them).
if TYPE_CHECKING:
    from typing import NamedTuple as NamedTuple
else:
    class _NamedTupleMaker(type):
        def __new__(cls, typename, bases, namespace):
            if bases == ():
                return super().__new__(cls, typename, bases, namespace)  # NamedTuple itself
            annotations = namespace.get("__annotations__", {})
            _require_defaults_last(typename, [name in namespace for name in annotations])
            defaults = [namespace[name] for name in annotations if name in namespace]
            made = collections.namedtuple(typename, annotations, defaults=defaults, module=namespace["__module__"])
            for name, value in namespace.items():
                if name in _TUPLES_OWN:
                    raise AttributeError(f"cannot overwrite NamedTuple attribute {name}")
                if name not in annotations and name != "__module__":
                    setattr(made, name, value)  # docstring, methods, properties, constants, annotations as written
            return made

    class NamedTuple(metaclass=_NamedTupleMaker):
        """``class Name(NamedTuple):`` with annotated fields, as typing's (fields with defaults last)."""

    _TUPLES_OWN = frozenset({"__new__", "__init__", "__slots__", "__getnewargs__", "_fields", "_field_defaults",
                             "_make", "_replace", "_asdict", "_source"})
