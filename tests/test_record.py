"""bpcli/engine/record.py: a Record behaves as the dataclass with the same fields does (dataclasses as the oracle)."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import types
import typing
from typing import Any

import pytest

from bpcli.engine import record as record_module
from bpcli.engine.record import FrozenRecordError, NamedTuple, Record, field, replace


class Frozen(Record, frozen=True):
    name: str
    value: Any = None
    tags: list[str] = field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class FrozenOracle:
    name: str
    value: Any = None
    tags: list[str] = dataclasses.field(default_factory=list)


class Mutable(Record):
    name: str
    value: Any = None
    tags: list[str] = field(default_factory=list)


@dataclasses.dataclass
class MutableOracle:
    name: str
    value: Any = None
    tags: list[str] = dataclasses.field(default_factory=list)


class Checked(Record, frozen=True):
    low: float = 0.0

    def __post_init__(self) -> None:
        if self.low < 0:
            raise ValueError("low must be 0 or more")


class Base(Record):
    first: int


class Derived(Base):
    second: int = 2


CALLS: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    (("x",), {}),
    (("x", 1.5), {}),
    (("x",), {"tags": ["a"]}),
    ((), {"name": "x", "value": [1, 2]}),
    (("x", None, ["a", "b"]), {}),
]


@pytest.mark.parametrize(("record", "oracle"), [(Frozen, FrozenOracle), (Mutable, MutableOracle)])
@pytest.mark.parametrize(("args", "kwargs"), CALLS)
def test_made_shown_and_compared_as_the_dataclass(record, oracle, args, kwargs):
    made, expected = record(*args, **kwargs), oracle(*args, **kwargs)
    assert repr(made) == repr(expected).replace(oracle.__qualname__, record.__qualname__)
    assert made == record(*args, **kwargs)
    assert made != record("another")
    assert made != expected  # another class, as two dataclasses of the same fields
    assert (made == expected.__dict__) is False
    assert [getattr(made, name) for name in ("name", "value", "tags")] == [
        getattr(expected, name) for name in ("name", "value", "tags")]


@pytest.mark.parametrize(("record", "oracle"), [(Frozen, FrozenOracle), (Mutable, MutableOracle)])
@pytest.mark.parametrize(("args", "kwargs"), [
    ((), {}),  # a field without a default is missing
    (("x", 1, [], 4), {}),  # one positional argument too many
    (("x",), {"name": "y"}),  # a field given twice
    (("x",), {"colour": "red"}),  # no such field
])
def test_wrong_arguments_are_refused_as_the_dataclass_refuses_them(record, oracle, args, kwargs):
    with pytest.raises(TypeError) as expected:
        oracle(*args, **kwargs)
    with pytest.raises(TypeError) as refused:
        record(*args, **kwargs)
    assert str(refused.value) == str(expected.value).replace(oracle.__qualname__, record.__qualname__)


def test_a_default_factory_makes_a_new_default_for_each_record_and_the_class_holds_none():
    first, second = Mutable("a"), Mutable("b")
    first.tags.append("t")
    assert second.tags == [] and Frozen("c").tags == []
    assert "tags" not in Mutable.__dict__ and "tags" not in MutableOracle.__dict__
    assert Mutable.value is None and MutableOracle.value is None  # a plain default stays on the class, as there


def test_a_frozen_record_refuses_assignment_and_hashes_by_its_fields():
    made = Frozen("x", 2)
    with pytest.raises(AttributeError):
        FrozenOracle("x", 2).value = 3
    with pytest.raises(FrozenRecordError):  # an AttributeError, as dataclasses' FrozenInstanceError
        made.value = 3
    with pytest.raises(AttributeError):
        del made.value
    assert made.value == 2
    assert hash(Frozen("x", 2, ())) == hash(FrozenOracle("x", 2, ()))  # both the hash of the fields' tuple
    assert len({Frozen("x", 2, ()), Frozen("x", 2, ()), Frozen("x", 1, ())}) == 2
    with pytest.raises(TypeError):
        hash(made)  # a list among the fields, as the dataclass's


def test_a_mutable_record_is_assigned_and_unhashable_as_the_dataclass():
    made = Mutable("x")
    made.value = 3
    assert made == Mutable("x", 3)
    for unhashable in (made, MutableOracle("x")):
        with pytest.raises(TypeError):
            hash(unhashable)


def test_replace_makes_a_new_record_and_runs_post_init_again():
    made = Frozen("x", 1, ["a"])
    changed = replace(made, value=2)
    assert changed == Frozen("x", 2, ["a"]) and made == Frozen("x", 1, ["a"])
    assert changed.tags is made.tags  # as dataclasses.replace: the fields are passed on, not copied
    assert type(changed) is Frozen
    with pytest.raises(TypeError):
        replace(made, colour="red")
    assert replace(Checked(1.0), low=2.0) == Checked(2.0)
    with pytest.raises(ValueError, match="low must be 0 or more"):
        replace(Checked(1.0), low=-1.0)
    with pytest.raises(ValueError, match="low must be 0 or more"):
        Checked(-1.0)


def test_fields_are_inherited_before_a_subclass_s_own():
    assert Derived(1) == Derived(1, 2) and Derived(1).second == 2
    assert repr(Derived(1, 3)) == "Derived(first=1, second=3)"
    assert Derived(1) != Base(1)


def test_a_field_written_again_in_a_subclass_takes_its_new_default_as_the_dataclass():
    class Again(Derived):
        second: int = 5
        tags: list[str] = field(default_factory=lambda: ["t"])

    @dataclasses.dataclass
    class Oracle:
        first: int
        second: int = 2

    @dataclasses.dataclass
    class AgainOracle(Oracle):
        second: int = 5
        tags: list[str] = dataclasses.field(default_factory=lambda: ["t"])

    assert repr(Again(1)) == repr(AgainOracle(1)).replace("AgainOracle", "Again")  # first=1, second=5, tags=['t']
    assert Derived(1).second == 2 and "tags" not in Again.__dict__


def test_a_subclass_made_after_its_parent_s_first_record_has_its_own_init():
    """A class's __init__ is compiled at its first record: a subclass made later must not take the parent's."""
    assert Base(1).first == 1

    class Later(Base):
        second: int = 2

    assert repr(Later(1)).endswith(".Later(first=1, second=2)")  # a local class: its qualified name
    # With the parent's __init__ (first only), the repr above would read the class's default 2 all the same.
    assert vars(Later(1)) == {"first": 1, "second": 2} and Later(1, 3).second == 3
    with pytest.raises(TypeError):
        Base(1, 2)


def test_a_field_without_a_default_after_one_with_a_default_is_refused_as_dataclasses_refuses_it():
    with pytest.raises(TypeError):
        class Wrong(Record):
            first: int = 1
            second: int


def test_records_are_copied_and_pickled():
    made = Frozen("x", 2, ["a"])
    assert copy.copy(made) == made and copy.deepcopy(made) == made
    assert pickle.loads(pickle.dumps(made)) == made
    mutable = Mutable("y")
    assert pickle.loads(pickle.dumps(mutable)) == mutable


@pytest.mark.parametrize(("record", "oracle"), [(Frozen, FrozenOracle), (Mutable, MutableOracle), (Derived, None)])
def test_a_record_is_matched_by_position_as_the_dataclass(record, oracle):
    """``match result: case CheckResult(problems, rule): ...`` reads the fields in order (__match_args__)."""
    made = record("n", 2) if record is not Derived else record(1, 2)
    matched: tuple[Any, Any] | None = None
    match made:
        case record(first, second):
            matched = (first, second)
    assert matched == (made._values()[0], made._values()[1])
    if oracle is not None:
        assert record.__match_args__ == oracle.__match_args__


# ---- record.NamedTuple: typing.NamedTuple's class statement, typing's as the oracle ----

class Pair(NamedTuple):
    """A docstring, kept."""

    left: float
    right: Any = None
    LIMIT = 3  # a class constant, not a field

    @property
    def total(self) -> float:
        return self.left + (self.right or 0)

    def scaled(self, by: float) -> Pair:
        return Pair(self.left * by, None if self.right is None else self.right * by)


class PairOracle(typing.NamedTuple):
    """A docstring, kept."""

    left: float
    right: Any = None
    LIMIT = 3

    @property
    def total(self) -> float:
        return self.left + (self.right or 0)

    def scaled(self, by: float) -> PairOracle:
        return PairOracle(self.left * by, None if self.right is None else self.right * by)


@pytest.mark.parametrize(("args", "kwargs"), [((1.0,), {}), ((1.0, 2.0), {}), ((), {"left": 3.0, "right": 4.0})])
def test_a_named_tuple_is_made_and_read_as_typing_s(args, kwargs):
    made, oracle = Pair(*args, **kwargs), PairOracle(*args, **kwargs)
    assert tuple(made) == tuple(oracle) and isinstance(made, tuple)
    assert repr(made) == repr(oracle).replace("PairOracle", "Pair")
    assert (made.total, tuple(made.scaled(2)), made.LIMIT) == (oracle.total, tuple(oracle.scaled(2)), oracle.LIMIT)
    assert (Pair._fields, Pair._field_defaults, Pair.__doc__) == (PairOracle._fields, PairOracle._field_defaults,
                                                                   PairOracle.__doc__)
    assert made._replace(left=5.0) == Pair(5.0, made.right) and made._asdict() == oracle._asdict()
    assert pickle.loads(pickle.dumps(made)) == made
    assert typing.get_type_hints(Pair) == typing.get_type_hints(PairOracle)


def test_a_named_tuple_refuses_what_typing_s_refuses():
    with pytest.raises(TypeError):
        class Unordered(NamedTuple):  # a field without a default after one with a default
            first: int = 0
            second: int
    for base in (NamedTuple, typing.NamedTuple):
        for reserved in ("_make", "_fields", "__new__"):
            body = {"__module__": __name__, "__annotations__": {"a": "int"}, reserved: None}
            with pytest.raises(AttributeError):  # one of the tuple's own
                types.new_class(f"Clash{reserved}", (base,), exec_body=lambda namespace: namespace.update(body))
    with pytest.raises(TypeError):
        Pair()  # the field without a default


def test_a_class_s_first_records_and_its_later_ones_are_made_alike():
    """A class's first records are made field by field, then its __init__ is compiled (engine/record.py):
    records, defaults, factories, __post_init__ and refusals are the same either side of that."""
    posted: list[str] = []

    class Many(Record, frozen=True):
        name: str
        value: Any = None
        tags: list[str] = field(default_factory=list)

        def __post_init__(self) -> None:
            posted.append(self.name)

    count = 2 * record_module._COMPILE_AFTER
    made = [Many(f"n{i}", value=i) if i % 2 else Many(name=f"n{i}", value=i, tags=["t"]) for i in range(count)]
    assert Many.__init__ is not record_module._first_init  # compiled by now
    assert made == [Many(f"n{i}", i, [] if i % 2 else ["t"]) for i in range(count)]
    assert made[1].tags is not made[3].tags and posted[:count] == [f"n{i}" for i in range(count)]
    assert [repr(one).rpartition(".")[2] for one in made[:2]] == ["Many(name='n0', value=0, tags=['t'])",
                                                                   "Many(name='n1', value=1, tags=[])"]

    class Fresh(Record):
        name: str
        value: Any = None

    plain = Fresh("a", value=1)
    assert Fresh.__init__ is record_module._first_init and vars(plain) == {"name": "a", "value": 1}
    for args, kwargs in [((), {}), (("a", 1, 2), {}), (("a",), {"name": "b"}), (("a",), {"other": 1})]:
        with pytest.raises(TypeError) as plainly:
            Fresh(*args, **kwargs)
        assert Fresh.__init__ is not record_module._first_init  # the first call that is not plain compiles it
        with pytest.raises(TypeError) as compiled:
            Fresh(*args, **kwargs)
        assert str(plainly.value) == str(compiled.value)

