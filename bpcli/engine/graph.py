"""The gate graph: a topologically ordered list of nodes, SSA style.

Every node is an input variable, a constant or a gate applied to earlier nodes.
A node used by several gates is a fork; its gradient is the sum of what flows
back along each use. The backward transformation appends nodes to the same
graph, so one evaluator computes values and gradients alike.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Mapping

from bpcli.engine import shapes
from bpcli.engine.backends import scalar
from bpcli.engine.gates import REGISTRY
from bpcli.engine.record import NamedTuple
from bpcli.engine.syntax.printer import format_number

INPUT = "input"
CONST = "const"
NO_GRADIENT_OPS = frozenset(op for op, gate in REGISTRY.items() if gate.carries_no_gradient)
_COMMUTATIVE = {"add", "mul"}  # a + b and b + a are the same float, bit for bit (IEEE 754)


def gate_shape(op: str, input_shapes: list[shapes.Shape], attrs: Mapping[str, Any] | None) -> shapes.Shape:
    """The shape of a gate's output, by the gate's own shape rule (a ShapeError if the inputs do not fit)."""
    return REGISTRY[op].shape(*input_shapes, **(attrs or {}))


def _hashable(value: Any) -> Any:
    """A parameter as a dictionary key: a subscript's slices are not hashable before Python 3.12."""
    if isinstance(value, tuple):
        return tuple(_hashable(item) for item in value)
    if isinstance(value, slice):
        return (slice, value.start, value.stop, value.step)
    return value


class Node:
    __slots__ = ("op", "inputs", "name", "value", "origin", "span", "attrs")

    def __init__(
        self,
        op: str,  # INPUT, CONST, or the name of a gate in the registry
        inputs: tuple[int, ...],
        name: str,
        value: Any = None,  # constants only: a float or a numpy array
        origin: int | None = None,  # backward nodes: the forward node whose gradient they serve
        span: tuple[int, int] | None = None,  # forward nodes: where they are in the source
        attrs: dict[str, Any] | None = None,  # a gate's keyword parameters: {"axis": 0}
    ) -> None:
        self.op, self.inputs, self.name, self.value = op, inputs, name, value
        self.origin, self.span, self.attrs = origin, span, attrs

    def __repr__(self) -> str:
        return f"Node({self.op!r}, {self.inputs!r}, {self.name!r})"


class Checkpoint(NamedTuple):
    """A graph's state at one moment (``Graph.checkpoint``): its length and the names taken by then."""

    nodes: int
    taken: set[str]
    generated: set[str]
    counters: dict[str, int]


class Graph:
    def __init__(self, source: str = "") -> None:
        self.nodes: list[Node] = []
        self.output = -1
        self.variables: list[int] = []  # input nodes, in order of first use
        self.example_values: dict[str, Any] = {}  # inputs the program gives a value (x = 3), by name
        self.source = source
        self.taken: set[str] = set()  # names that generated names must avoid
        self.generated: set[str] = set()  # names bpcli made up (t1, t2, ...), not the user's
        self.aliases: dict[str, int] = {}  # names of stages that only rename a value (a = x): that value's node
        self.shapes: list[tuple[int, ...]] | None = None  # once known (infer_shapes), kept up to date by add
        self.index_inputs: set[str] = set()  # input variables used only as index arrays
        self.constant_inputs: set[str] = set()  # inputs that take no gradient: index inputs and --const ones
        self.constants: set[int] = set()  # the CONST nodes (all made by add), for the backward builder's folding
        # With share_gradients(): every gradient node the builders make, by what it computes, so that
        # a node asked for twice is made once (hash-consing; see share_gradients).
        self.shared: dict[tuple[Any, ...], int] | None = None
        self.shared_constants: dict[float | str, int] = {}
        self._counters: dict[str, int] = {}
        # evaluate's, on numbers: how many nodes were looked at for a gate that computes with numpy (a
        # comparison, where, //, %), and whether one was found (nodes are appended, so once per node)
        self.numpy_scan: tuple[int, bool] = (0, False)

    def add(
        self,
        op: str,
        inputs: tuple[int, ...] = (),
        name: str = "",
        shape: tuple[int, ...] | None = None,
        value: Any = None,
        origin: int | None = None,
        span: tuple[int, int] | None = None,
        attrs: dict[str, Any] | None = None,
    ) -> int:
        """Append a node; once shapes are known, its shape is worked out (an input's must be given)."""
        node = Node(op, inputs, name, value, origin, span, attrs)
        self.nodes.append(node)
        if op == CONST:
            self.constants.add(len(self.nodes) - 1)
        known = self.shapes
        if known is not None:
            known.append(self._new_shape(node, known) if shape is None else shape)
        return len(self.nodes) - 1

    def add_gate(
        self, op: str, inputs: tuple[int, ...], name: str, origin: int | None,
        span: tuple[int, int] | None, attrs: dict[str, Any] | None,
    ) -> int:
        """``add`` for a gate, its arguments by position: lowering and the backward pass make
        hundreds of thousands of gates, most of them while no shapes are kept."""
        if self.shapes is not None:
            return self.add(op, inputs, name, origin=origin, span=span, attrs=attrs)
        self.nodes.append(Node(op, inputs, name, None, origin, span, attrs))
        return len(self.nodes) - 1

    def share_gradients(self) -> None:
        """From now on, a gradient node that computes what an earlier one computes is that node.

        Backward applied to its own result (``--order N``) asks for the same
        products and sums again and again: without sharing, the graph grows by
        a constant factor per order; with it, by what is new. Forward stages
        are never merged: each is a stage a person wrote.
        """
        if self.shared is None:
            self.shared = {}

    def checkpoint(self) -> Checkpoint:
        """The graph's state now, for ``restore``."""
        return Checkpoint(len(self.nodes), set(self.taken), set(self.generated), dict(self._counters))

    def restore(self, checkpoint: Checkpoint) -> None:
        """The graph as it was at ``checkpoint``: the nodes appended since, and the names they took, forgotten.

        Nodes made afterwards are numbered, named and shared exactly as if the
        forgotten ones had never been made (a trial pass leaves no trace).
        """
        length = checkpoint.nodes
        del self.nodes[length:]
        if self.shapes is not None:
            del self.shapes[length:]
        # In place: builders hold these very containers.
        self.constants.difference_update([c for c in self.constants if c >= length])
        _forget_from(self.shared or {}, length)
        _forget_from(self.shared_constants, length)
        self.taken, self.generated = set(checkpoint.taken), set(checkpoint.generated)
        self._counters = dict(checkpoint.counters)
        seen, found = self.numpy_scan
        self.numpy_scan = (min(seen, length), found)  # the nodes made anew are looked at (found: true of the past)

    def shape(self, node: int) -> tuple[int, ...]:
        """A node's shape; every node is a scalar until shapes are known."""
        return () if self.shapes is None else self.shapes[node]

    def _new_shape(self, node: Node, known: list[tuple[int, ...]]) -> tuple[int, ...]:
        if node.op == CONST:
            return shapes.value_shape(node.value)
        return gate_shape(node.op, [known[i] for i in node.inputs], node.attrs)

    def fresh_name(self, prefix: str) -> str:
        """A name of the form prefix1, prefix2, ... that no user name and no earlier one takes."""
        count = self._counters.get(prefix, 0) + 1
        candidate = f"{prefix}{count}"
        while candidate in self.taken:
            count += 1
            candidate = f"{prefix}{count}"
        self._counters[prefix] = count
        self.taken.add(candidate)
        self.generated.add(candidate)
        return candidate

    def claim(self, name: str) -> str:
        """``name`` itself if it is free, else a fresh variant of it."""
        if name not in self.taken:
            self.taken.add(name)
            return name
        return self.fresh_name(name + "_")

    def differentiable_variables(self) -> list[int]:
        """The input variables that take a gradient: all but index inputs and --const ones."""
        return [v for v in self.variables if self.nodes[v].name not in self.constant_inputs]

    def is_gate(self, node: int) -> bool:
        return self.nodes[node].op not in (INPUT, CONST)

    @property
    def stages(self) -> list[int]:
        """The forward gates, in forward order: the rows of the stage table."""
        return [i for i, node in enumerate(self.nodes) if node.origin is None and node.op not in (INPUT, CONST)]

    def stage_numbers(self) -> dict[int, int]:
        """Each forward gate's number in the stage table, from 1."""
        return {node: index for index, node in enumerate(self.stages, start=1)}

    def forward_node(self, node: int) -> int:
        """The forward node a gradient node serves (following its origins); a forward node itself."""
        origin = self.nodes[node].origin
        while origin is not None:
            node, origin = origin, self.nodes[origin].origin
        return node

    def elementwise(self) -> bool:
        """Whether every gate works element by element (no reductions, no @)."""
        return all(REGISTRY[op].elementwise for op in {node.op for node in self.nodes} - {INPUT, CONST})

    def consumers(self, upto: int | None = None) -> list[list[tuple[int, int]]]:
        """For every node, the (consumer, input position) pairs that use it."""
        limit = len(self.nodes) if upto is None else upto + 1
        uses: list[list[tuple[int, int]]] = [[] for _ in range(limit)]
        for consumer in range(limit):
            for position, used in enumerate(self.nodes[consumer].inputs):
                uses[used].append((consumer, position))
        return uses

    def depends_on_variables(self) -> list[bool]:
        """Whether each node's value changes with some input variable."""
        depends = [False] * len(self.nodes)
        constant_inputs, flat = self.constant_inputs, NO_GRADIENT_OPS
        for i, node in enumerate(self.nodes):
            if node.op == INPUT:
                depends[i] = node.name not in constant_inputs
                continue
            if node.op in flat:  # booleans and shape numbers carry no gradient
                continue
            for j in node.inputs:  # a loop, not any(): this runs once per node of a 100,000-gate graph
                if depends[j]:
                    depends[i] = True
                    break
        return depends

    def ancestors(self, node: int) -> list[bool]:
        """Which nodes ``node``'s value is computed from (itself included)."""
        return self.live((node,))[: node + 1]

    def live(self, roots: Iterable[int]) -> list[bool]:
        """Which nodes the values of ``roots`` are computed from (the roots included)."""
        needed = [False] * len(self.nodes)
        for root in roots:
            needed[root] = True
        for i in range(len(self.nodes) - 1, -1, -1):
            if needed[i]:
                for j in self.nodes[i].inputs:
                    needed[j] = True
        return needed


def _forget_from(table: dict[Any, int], length: int) -> None:
    """Drop the entries of a table of nodes that name a node at ``length`` or after."""
    for key in [key for key, node in table.items() if node >= length]:
        del table[key]


class Builder:
    """Appends gates to a graph, folding what needs no gate.

    Used by the backward transformation: gradient graphs are built from the
    same gates as forward graphs, but constants are folded and the identities
    x*1, x*0, x+0, x-0, --x and x**1 are applied as the nodes are made, so a
    gradient reads like one written by hand (``2 * xpy``, not ``2 * xpy**(2-1)``).
    Gates are applied by name: ``g.mul(a, b)``, ``g.sigmoid(a)``.

    Lowering uses it too, to expand a grouped gate into the primitive gates of
    its ``decompose`` (``--expand``): then the nodes are forward stages named
    like the others (``prefix="t"``), carry the call's ``span``, and nothing is
    folded, so every primitive gate of the notes' circuit is a stage. Without a
    prefix, nodes go unnamed (the gradient graph's nodes).
    """

    def __init__(self, graph: Graph, prefix: str | None = None, fold: bool = True) -> None:
        self.graph = graph
        self.prefix = prefix
        self.fold = fold
        self.origin: int | None = None
        self.span: tuple[int, int] | None = None
        self._constants: dict[float | str, int] = graph.shared_constants if graph.shared is not None else {}

    def const(self, value: float) -> int:
        value = float(value)
        # 0.0 and -0.0 are equal keys and nan equals nothing, so those are kept apart by their text.
        key: float | str = value if value and value == value else repr(value)
        if key not in self._constants:
            self._constants[key] = self.graph.add(CONST, (), format_number(value), value=value)
        return self._constants[key]

    def __getattr__(self, op: str) -> Callable[..., int]:
        if op not in REGISTRY:
            raise AttributeError(op)

        make = self._make
        gate: Callable[..., int]
        if REGISTRY[op].params:
            def with_params(*inputs: int, **attrs: Any) -> int:
                return make(op, inputs, attrs)
            gate = with_params
        else:
            def plain(*inputs: int) -> int:  # no keyword dictionary to make for every node
                return make(op, inputs, None)
            gate = plain

        setattr(self, op, gate)  # found directly from now on: backward applies gates by the hundred thousand
        return gate

    def shape(self, node: int) -> tuple[int, ...]:
        return self.graph.shape(node)

    def apply(self, op: str, *inputs: int, **attrs: Any) -> int:
        return self._make(op, inputs, attrs)

    def _make(self, op: str, inputs: tuple[int, ...], attrs: dict[str, Any] | None) -> int:
        graph = self.graph
        # Only a constant input or a negation can fold: most gradient nodes are
        # decided here, without the call.
        if self.fold and not attrs and (op == "neg" or not graph.constants.isdisjoint(inputs)):
            folded = self._fold(op, inputs)
            if folded is not None:
                return folded
        shared = graph.shared if self.prefix is None else None
        if shared is not None:
            key = (op, tuple(sorted(inputs)) if op in _COMMUTATIVE else inputs,
                   tuple(sorted((name, _hashable(value)) for name, value in attrs.items())) if attrs else None)
            if key in shared:
                return shared[key]
        # Gradient nodes go unnamed: they are shown written out (formulas.py),
        # never by name, and there are hundreds of thousands of them.
        name = "" if self.prefix is None else graph.fresh_name(self.prefix)
        node = graph.add_gate(op, inputs, name, self.origin, self.span, attrs or None)
        if shared is not None:
            shared[key] = node
        return node

    def _boolean(self, node: int) -> bool:
        """Whether ``node`` is a gate that gives booleans (a comparison, where's mask)."""
        op = self.graph.nodes[node].op
        return op in REGISTRY and REGISTRY[op].boolean

    def _fold(self, op: str, inputs: tuple[int, ...]) -> int | None:
        """The node that ``op(*inputs)`` simplifies to, if any (``_make`` asks only when it might)."""
        nodes = self.graph.nodes
        if op == "neg" and nodes[inputs[0]].op == "neg":
            return nodes[inputs[0]].inputs[0]
        # A constant scalar's value, else None (arrays are not folded).
        values = [n.value if n.op == CONST and isinstance(n.value, float) else None
                  for n in map(nodes.__getitem__, inputs)]
        if op == "accumulate":
            kept = tuple(i for i, v in zip(inputs, values) if v != 0.0)  # x + 0 is x
            if len(kept) < len(inputs):
                return kept[0] if len(kept) == 1 else self.const(0.0) if not kept else self.apply(op, *kept)
            return None
        if all(v is not None for v in values) and REGISTRY[op].elementwise:
            return self.const(REGISTRY[op].forward(scalar, *values))
        if op == "mul":
            for mine, other in ((values[0], inputs[1]), (values[1], inputs[0])):
                if mine == 1.0 and not self._boolean(other):  # 1 × a mask is numbers, as numpy's True * 1.0
                    return other
                if mine == 0.0:
                    return self.const(0.0)
        if op == "add":
            for mine, other in ((values[0], inputs[1]), (values[1], inputs[0])):
                if mine == 0.0:
                    return other
        if op == "sub":
            if values[1] == 0.0:
                return inputs[0]
            if values[0] == 0.0:
                return self.apply("neg", inputs[1])
        if op == "pow" and values[1] == 1.0:
            return inputs[0]
        if op == "mul0" and (values[0] is not None or (values[1] is not None and math.isfinite(values[1]))):
            return self.apply("mul", *inputs)  # a constant first factor, or a finite second: a plain multiply
        return None
