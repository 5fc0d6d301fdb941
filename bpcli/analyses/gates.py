"""The reference card of every gate, read from the gate registry (``bpcli gates``).

Every line of the card comes from the gate's entry in ``bpcli.engine.gates``: how it
is written, what it computes, its local gradient (or vector-Jacobian product),
its role in the backward flow, its convention at a kink and, for a grouped
gate, the primitive gates ``--expand`` builds it from (built with the
registry's own ``decompose`` and printed). A new gate is on the card as soon as
it is registered, so the card cannot drift from the code.

    >>> import bpcli
    >>> card = bpcli.gate_reference(["mul"]).gates[0]
    >>> card.syntax, card.local, card.role
    ('a * b', '∂/∂a = b, ∂/∂b = a', 'swaps')
"""

from __future__ import annotations

from typing import Iterable

from bpcli.analyses.result import Result
from bpcli.engine.errors import BpcliError
from bpcli.engine.formulas import to_ast
from bpcli.engine.gates import (
    ELEMENTWISE,
    FUNCTIONS,
    REGISTRY,
    ROLES,
    VARIADIC,
    VJP,
    Gate,
)
from bpcli.engine.graph import INPUT, Builder, Graph
from bpcli.engine.record import NamedTuple, Record
from bpcli.engine.syntax.parser import suggest
from bpcli.engine.syntax.printer import to_text
from bpcli.engine.syntax.spellings import METHODS, REDUCING_METHODS, REDUCTIONS, SPELLINGS


class GateCard(NamedTuple):
    """One gate on the reference card."""

    op: str  # its name in the graph, the JSON documents' "op"
    title: str  # its name in a sentence: "multiply"
    syntax: str  # how it is written, with inputs a and b
    functions: tuple[str, ...]  # the names it is called by in an expression: ("max",), ("dot",)
    spellings: tuple[str, ...]  # pasted Python that means it: ("np.maximum",)
    forward: str  # what it computes
    local: str  # its local gradients, or its vector-Jacobian product
    role: str  # a key of ROLES: distributes, swaps, routes, gates, scales, blocks
    kind: str  # ELEMENTWISE or VJP
    arity: int | None  # how many inputs; None: any number
    params: tuple[str, ...]  # keyword parameters: ("axis",)
    kink: str | None  # where its derivative is a convention, and which
    decomposition: str | None  # the primitive gates a grouped gate expands to (--expand)
    internal: bool  # one of the gates gradients are made of


class GateReference(Result, Record):
    """The gates on the card, in registry order, and what each role means.

        >>> import bpcli
        >>> reference = bpcli.gate_reference()
        >>> [card.op for card in reference.gates][:4]
        ['add', 'sub', 'mul', 'neg']
        >>> reference.to_json().splitlines()[1]
        '  "schema": "bpcli.gates/1",'
    """

    gates: list[GateCard]
    roles: dict[str, str]


def gate_reference(names: Iterable[str] | None = None) -> GateReference:
    """The reference card of every registered gate, or of the gates ``names`` asks for.

    A name is a gate's op (``mul``, ``amax``) or a name it is called by in an
    expression (``max`` gives both max gates, ``dot`` the matrix multiply).

        >>> import bpcli
        >>> [(card.op, card.syntax) for card in bpcli.gate_reference(["max"]).gates]
        [('max', 'max(a, b)'), ('amax', 'max(a, axis=None)')]
        >>> bpcli.gate_reference(["sigmoid"]).gates[0].decomposition
        '1 / (exp(-a) + 1)'
    """
    gates = list(REGISTRY.values()) if names is None else _chosen(list(names))
    return GateReference([_card(gate) for gate in gates], dict(ROLES))


def _chosen(names: list[str]) -> list[Gate]:
    chosen: dict[str, Gate] = {}
    for name in names:
        found = [*([REGISTRY[name]] if name in REGISTRY else []), *FUNCTIONS.get(name, {}).values()]
        if not found:
            known = sorted({*REGISTRY, *FUNCTIONS})
            raise BpcliError(f"no gate is called {name!r}{suggest(name, known)}; the gates are: {', '.join(known)}")
        chosen.update((gate.op, gate) for gate in found)
    return [gate for gate in REGISTRY.values() if gate.op in chosen]  # in registry order


def _card(gate: Gate) -> GateCard:
    functions = tuple(name for name, by_arity in FUNCTIONS.items() if gate in by_arity.values())
    # A gate of any number of inputs (np.concatenate((a, b), axis=1)) is not called with them in a row.
    spellings = tuple(spelling for spelling, name in SPELLINGS.items() if name in functions
                      and _called(name, spelling) is gate and gate.arity != VARIADIC)
    # x.sum() reduces x; a.dot(b) takes another operand.
    others = ", ".join("bc"[: max(0, gate.arity - 1)])
    methods = tuple(f"a.{method}()" if method in REDUCING_METHODS else f"a.{method}({others})"
                    for method, name in METHODS.items() if name in functions
                    and (method not in REDUCING_METHODS or FUNCTIONS[name].get(1) is gate))
    return GateCard(
        op=gate.op,
        title=gate.title,
        syntax=gate.syntax,
        functions=functions,
        spellings=spellings + methods,
        forward=gate.formula,
        local=gate.local,
        role=gate.role,
        kind=ELEMENTWISE if gate.elementwise else VJP,
        arity=None if gate.arity == VARIADIC else gate.arity,
        params=gate.params,
        kink=gate.kink_note or None,
        decomposition=_decomposition(gate),
        internal=gate.internal,
    )


def _called(name: str, spelling: str) -> Gate:
    """The gate a pasted spelling means: numpy's reductions take one array, its other functions all operands."""
    by_arity = FUNCTIONS[name]
    return by_arity[1] if spelling in REDUCTIONS else by_arity[max(by_arity)]


def _decomposition(gate: Gate) -> str | None:
    """The grouped gate built from primitive gates, as ``--expand`` builds it, printed with inputs a, b."""
    if gate.decompose is None:
        return None
    graph = Graph()
    inputs = [graph.add(INPUT, (), name) for name in "ab"[: gate.arity]]
    output = gate.decompose(Builder(graph, fold=False), *inputs)
    return to_text(to_ast(graph, output, expand=lambda node: True))
