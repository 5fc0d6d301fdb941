"""Symbolic derivatives: gradient nodes read back as simplified expressions.

The backward pass builds gradient nodes out of gates; ``simplify`` turns those
nodes into expressions in a canonical form and prints them with bpcli's own
printer, so every printed expression parses back with bpcli's grammar.

The canonical form (as in computer algebra systems such as SymPy) is

- a sum: a constant plus terms, each a numeric coefficient times a monomial;
- a product: a numeric coefficient times bases raised to numeric powers;
- atoms: variables, numbers and function calls (``sigmoid(x)``, ``x**y``).

Building that form is the simplification: constants fold (``2 * 3`` is 6,
``exp(0)`` is 1), ``x*1``, ``x+0``, ``x**1`` and ``--x`` vanish, ``0*x`` is 0,
repeated terms collect (``x + x`` is ``2 * x``, ``x*x`` is ``x**2``, ``x/x`` is
1), constant factors collect (``2 * (3 * x)`` is ``6 * x``), and a sum inside
a sum is flattened (``x - (x + y)`` is ``-y``). A product of sums is never
multiplied out, so sizes stay near those of the gradient graph.

Every rule keeps the value wherever the original expression has a finite
value; it may give one where the original is inf or nan (``x/x`` at 0 is 1).
Powers are only split over a product for a whole exponent, since
``(x**2)**0.5`` is ``abs(x)``, not ``x``.

Equal subexpressions are one object (they are interned), so a subexpression
used more than once is found for free; when it is worth a name it is printed
once as a stage, under the name of the forward stage it equals (``f``,
``xpy``) or a fresh one (``s1 = sigmoid(x)``), and referred to by that name.

This works on numbers: a structural gate on a number (``sum``, ``.T``,
``broadcast``) is the identity, which is not true of arrays.
"""

from __future__ import annotations

from types import ModuleType
from typing import Callable, Iterable, Iterator, Mapping, Sequence

from bpcli.engine.backends import scalar
from bpcli.engine.errors import BpcliError
from bpcli.engine.formulas import constant_ast, read_as
from bpcli.engine.gates import REGISTRY
from bpcli.engine.graph import CONST, INPUT, Graph
from bpcli.engine.record import NamedTuple
from bpcli.engine.syntax.ast import Binary, Call, Expr, Name, Neg, Number
from bpcli.engine.syntax.printer import to_text

CONSTANT, VARIABLE, FUNCTION, SUM, PRODUCT = "constant", "variable", "function", "sum", "product"

# Structural gates applied to a number give it back (the first input);
# ``share`` of a number (its share of a one-element maximum) is 1.
_IDENTITY_ON_NUMBERS = {"sum", "mean", "amax", "amin", "transpose", "broadcast", "unbroadcast"}
DEFAULT_MAX_SIZE = 1_000_000  # terms and factors, all expressions together (--max-nodes)
_NAME_WEIGHT = 4  # a shared subexpression gets a stage of its own from this size on (x*y + z), or if it is a call


# A sum's (monomial, coefficient) or a product's (base, exponent).
Part = tuple["Sym", float]


class Sym:
    """One interned expression in canonical form; equal expressions are the same object."""

    __slots__ = ("kind", "uid", "number", "name", "args", "parts")

    def __init__(
        self, kind: str, uid: int, number: float, name: str, args: tuple[Sym, ...], parts: tuple[Part, ...]
    ) -> None:
        self.kind = kind
        self.uid = uid  # creation order: children come before their parents
        self.number = number  # a constant's value, a sum's constant term, a product's coefficient
        self.name = name  # a variable's name, a function's gate
        self.args = args  # a function's arguments
        self.parts = parts  # a sum's (monomial, coefficient) or a product's (base, exponent), by uid

    def children(self) -> list[Sym]:
        return [*self.args, *(part for part, _ in self.parts)]


class Algebra:
    """Builds canonical expressions; every method returns an interned Sym."""

    def __init__(self, max_size: int = DEFAULT_MAX_SIZE) -> None:
        self._interned: dict[tuple[object, ...], Sym] = {}
        # Flat sums and products can grow with the square of the graph (the
        # gradient of a product of n factors is n products of n - 1): the
        # parts of every expression made so far, against the limit.
        self._size, self._max_size = 0, max_size

    def _intern(
        self, kind: str, number: float = 0.0, name: str = "", args: tuple[Sym, ...] = (), parts: tuple[Part, ...] = ()
    ) -> Sym:
        number = number + 0.0  # -0.0 is 0.0
        key = (kind, repr(number), name, tuple(a.uid for a in args), tuple((p.uid, repr(e)) for p, e in parts))
        sym = self._interned.get(key)
        if sym is None:
            self._size += 1 + len(args) + len(parts)
            if self._size > self._max_size:
                raise BpcliError(
                    f"the symbolic derivatives grow past {self._max_size:,} terms and factors "
                    "(raise the limit with --max-nodes); bpcli grad without --symbolic gives their values"
                )
            sym = self._interned[key] = Sym(kind, len(self._interned), number, name, args, parts)
        return sym

    def const(self, value: float) -> Sym:
        return self._intern(CONSTANT, float(value))

    def var(self, name: str) -> Sym:
        return self._intern(VARIABLE, name=name)

    def add(self, *operands: Sym) -> Sym:
        constant = 0.0
        terms: list[tuple[float, Sym]] = []
        for operand in operands:
            if operand.kind == CONSTANT:
                constant += operand.number
            elif operand.kind == SUM:
                constant += operand.number
                terms.extend((c, m) for m, c in operand.parts)
            else:
                terms.append(self._coefficient(operand))
        if len(terms) == 1 and constant == 0.0:
            return self.mul(self.const(terms[0][0]), terms[0][1])
        # Among other terms, a multiple of a sum is multiplied out so that its terms can
        # collect with theirs (x + 2*(x + y) is 3*x + 2*y); alone it stays 2*(x + y).
        coefficients: dict[Sym, float] = {}
        for c, monomial in terms:
            if monomial.kind == SUM:
                constant += c * monomial.number
                for inner, inner_c in monomial.parts:
                    coefficients[inner] = coefficients.get(inner, 0.0) + c * inner_c
            else:
                coefficients[monomial] = coefficients.get(monomial, 0.0) + c
        parts = _ordered((m, c) for m, c in coefficients.items() if c != 0.0)
        if not parts:
            return self.const(constant)
        if len(parts) == 1 and constant == 0.0:
            return self.mul(self.const(parts[0][1]), parts[0][0])
        return self._intern(SUM, constant, parts=parts)

    def mul(self, *operands: Sym) -> Sym:
        coefficient = 1.0
        exponents: dict[Sym, float] = {}
        for operand in operands:
            if operand.kind == CONSTANT:
                coefficient *= operand.number
            elif operand.kind == PRODUCT:
                coefficient *= operand.number
                for base, exponent in operand.parts:
                    exponents[base] = exponents.get(base, 0.0) + exponent
            else:
                exponents[operand] = exponents.get(operand, 0.0) + 1.0
        return self._product(coefficient, exponents)

    def _coefficient(self, sym: Sym) -> tuple[float, Sym]:
        """A product's numeric coefficient and the rest: 2*x*y is (2, x*y)."""
        if sym.kind != PRODUCT or sym.number == 1.0:
            return 1.0, sym
        return sym.number, self._product(1.0, dict(sym.parts))

    def _product(self, coefficient: float, exponents: Mapping[Sym, float]) -> Sym:
        parts = _ordered((base, e) for base, e in exponents.items() if e != 0.0)
        if coefficient == 0.0 or coefficient != coefficient or not parts:
            return self.const(coefficient)
        if coefficient == 1.0 and len(parts) == 1 and parts[0][1] == 1.0:
            return parts[0][0]
        return self._intern(PRODUCT, coefficient, parts=parts)

    def power(self, base: Sym, exponent: Sym) -> Sym:
        if exponent.kind != CONSTANT:
            return self.call("pow", (base, exponent))
        e = exponent.number
        if base.kind == CONSTANT:
            return self.const(_scalar().power(base.number, e))
        if e == 0.0:
            return self.const(1.0)  # x**0 is 1 for every x, inf and nan included
        if base.kind == PRODUCT:
            if not _is_whole(e):  # (x**2)**0.5 is abs(x): keep the power whole
                return self.call("pow", (base, exponent))
            return self._product(
                _scalar().power(base.number, e), {b: be * e for b, be in base.parts}
            )
        return self._product(1.0, {base: e})

    def call(self, op: str, args: tuple[Sym, ...]) -> Sym:
        if op in _IDENTITY_ON_NUMBERS:
            return args[0]
        if op == "share":
            return self.const(1.0)
        gate = REGISTRY[op]
        if gate.elementwise and all(a.kind == CONSTANT for a in args):
            return self.const(gate.forward(_scalar(), *(a.number for a in args)))
        return self._intern(FUNCTION, name=op, args=tuple(args))

    # ---- from the graph ----------------------------------------------------------

    def gate(self, op: str, inputs: list[Sym]) -> Sym:
        """The canonical form of a gate applied to canonical inputs."""
        if op == "add" or op == "accumulate":
            return self.add(*inputs)
        if op == "sub":
            return self.add(inputs[0], self.mul(self.const(-1.0), inputs[1]))
        if op == "mul":
            return self.mul(*inputs)
        if op == "neg":
            return self.mul(self.const(-1.0), inputs[0])
        if op == "recip":
            return self.power(inputs[0], self.const(-1.0))
        if op == "pow":
            return self.power(*inputs)
        return self.call(op, tuple(inputs))


def _ordered(parts: Iterable[Part]) -> tuple[Part, ...]:
    return tuple(sorted(parts, key=lambda part: part[0].uid))


def _is_whole(value: float) -> bool:
    return value == value and abs(value) != float("inf") and value == int(value)


def _scalar() -> ModuleType:
    return scalar


# ---- from the graph to canonical expressions, and back to text ------------------------


def canonical(graph: Graph, algebra: Algebra, nodes: list[int]) -> dict[int, Sym]:
    """The canonical expression of every node ``nodes`` are computed from."""
    live = graph.live(nodes)
    syms: dict[int, Sym] = {}
    for index, node in enumerate(graph.nodes):
        if not live[index]:
            continue
        if node.op == INPUT:
            syms[index] = algebra.var(node.name)
        elif node.op == CONST:
            syms[index] = algebra.const(node.value)
        else:
            syms[index] = algebra.gate(node.op, [syms[i] for i in node.inputs])
    return syms


class Rendering(NamedTuple):
    """Simplified expressions, their shared subexpressions printed once as stages."""

    stages: list[tuple[str, str]]  # (name, expression), each using only earlier names
    expressions: dict[str, str]  # label -> expression, which may use the stages' names
    programs: dict[str, str]  # label -> a program bpcli parses: the stages it uses, then the expression


def simplify(graph: Graph, roots: Mapping[str, int | None], max_size: int = DEFAULT_MAX_SIZE) -> Rendering:
    """The simplified expressions of the nodes ``roots`` (by label; None stands for zero).

    A shared subexpression equal to a forward stage is named after it
    (``f = sigmoid(x)``); others get fresh names (s1, s2, ...). ``max_size``
    bounds the terms and factors of all of them together.
    """
    simplified = _Simplified(graph, roots, max_size)
    together = simplified.printer(list(simplified.roots.values()), readable=True)
    return Rendering(
        stages=[(name, together.text(sym)) for sym, name in together.named.items()],
        expressions={label: together.reference(sym) for label, sym in simplified.roots.items()},
        programs=simplified.programs(),
    )


def programs(graph: Graph, roots: Mapping[str, int | None], max_size: int = DEFAULT_MAX_SIZE) -> dict[str, str]:
    """``simplify(graph, roots, max_size).programs`` alone, without printing the expressions together
    (``--order`` shows only the programs: the rest was a fifth of its time)."""
    return _Simplified(graph, roots, max_size).programs()


class _Simplified:
    """The canonical expressions of the roots, and the names of the forward stages they share."""

    def __init__(self, graph: Graph, roots: Mapping[str, int | None], max_size: int) -> None:
        algebra = Algebra(max_size)
        wanted = [node for node in roots.values() if node is not None]
        syms = canonical(graph, algebra, wanted)
        self.graph = graph
        self.stage_names: dict[Sym, str] = {}
        for node in graph.stages:
            if node in syms:  # a stage the roots are computed from
                self.stage_names.setdefault(syms[node], graph.nodes[node].name)
        self.roots = {label: algebra.const(0.0) if node is None else syms[node] for label, node in roots.items()}

    def printer(self, shown: list[Sym], readable: bool) -> _Printer:
        fresh = _fresh_names(self.graph.taken)
        return _Printer(shown, lambda sym: self.stage_names.get(sym) or next(fresh), readable)

    def programs(self) -> dict[str, str]:
        """label -> a program bpcli parses: the stages its own expression shares, then the expression."""
        programs = {}
        for label, sym in self.roots.items():
            # A program names only what its own expression shares, and keeps the exact gates to parse back.
            alone = self.printer([sym], readable=False)
            stages = [f"{name} = {alone.text(s)}" for s, name in alone.named.items()]
            programs[label] = "; ".join([*stages, alone.text(sym)])
        return programs


def _fresh_names(taken: set[str]) -> Iterator[str]:
    """s1, s2, ...: names that no variable and no stage of the expression has."""
    count = 0
    while True:
        count += 1
        if f"s{count}" not in taken:
            yield f"s{count}"


class _Printer:
    """Turns canonical expressions into bpcli syntax, naming the shared ones worth a name."""

    def __init__(self, roots: list[Sym], name_for: Callable[[Sym], str], readable: bool) -> None:
        self.readable = readable  # edge-case gates read as a person writes them (Gate.reads_as)
        self.order = _reachable(roots)  # children before parents
        uses = _uses(self.order, roots)
        self.named: dict[Sym, str] = {}
        weight: dict[Sym, int] = {}
        for sym in self.order:
            weight[sym] = 1 + sum(1 if child in self.named else weight[child] for child in sym.children())
            worth = sym.kind == FUNCTION or (sym.kind in (SUM, PRODUCT) and weight[sym] >= _NAME_WEIGHT)
            if uses[sym] > 1 and worth:
                self.named[sym] = name_for(sym)
        self._ast: dict[Sym, Expr] = {}
        for sym in self.order:
            self._ast[sym] = self._definition(sym)

    def text(self, sym: Sym) -> str:
        """The expression itself (for a stage: its definition)."""
        return to_text(self._ast[sym])

    def reference(self, sym: Sym) -> str:
        return to_text(self._ref(sym))

    def _ref(self, sym: Sym) -> Expr:
        return Name(self.named[sym]) if sym in self.named else self._ast[sym]

    def _definition(self, sym: Sym) -> Expr:
        if sym.kind == CONSTANT:
            return number_ast(sym.number)
        if sym.kind == VARIABLE:
            return Name(sym.name)
        if sym.kind == FUNCTION:
            args = [self._ref(a) for a in sym.args]
            if sym.name == "pow":
                return Binary("**", args[0], args[1])
            if self.readable and REGISTRY[sym.name].reads_as:
                return read_as(REGISTRY[sym.name].reads_as, args)
            return Call(REGISTRY[sym.name].function or sym.name, tuple(args))
        if sym.kind == PRODUCT:
            return self._product(sym.number, sym.parts)
        return self._sum(sym)

    def _product(self, coefficient: float, factors: Sequence[Part]) -> Expr:
        """coefficient * the factors, those with negative powers under a division: -2 * x / y**2."""
        factors = sorted(factors, key=_reading_order)
        top = [self._power(base, e) for base, e in factors if e > 0]
        bottom = [self._power(base, -e) for base, e in factors if e < 0]
        if abs(coefficient) != 1.0 or not top:
            top.insert(0, number_ast(abs(coefficient)))
        if coefficient < 0:
            top[0] = Neg(top[0])
        expression = _chain("*", top)
        return Binary("/", expression, _chain("*", bottom)) if bottom else expression

    def _power(self, base: Sym, exponent: float) -> Expr:
        ref = self._ref(base)
        return ref if exponent == 1.0 else Binary("**", ref, number_ast(exponent))

    def _term(self, coefficient: float, monomial: Sym) -> Expr:
        if monomial.kind == PRODUCT and monomial not in self.named:
            return self._product(coefficient, monomial.parts)
        return self._product(coefficient, ((monomial, 1.0),))

    def _sum(self, sym: Sym) -> Expr:
        terms: list[tuple[float, Sym | None]] = [(c, m) for m, c in sym.parts]
        if sym.number != 0.0:
            terms.append((sym.number, None))  # the constant goes last: x + 1
        if terms[0][0] < 0:  # lead with a positive term where there is one: 1 - s, not -s + 1
            first_positive = next((i for i, (c, _) in enumerate(terms) if not c < 0), None)
            if first_positive is not None:
                terms.insert(0, terms.pop(first_positive))
        expression = self._signed_term(*terms[0])
        for coefficient, monomial in terms[1:]:
            operator = "-" if coefficient < 0 else "+"
            expression = Binary(operator, expression, self._signed_term(abs(coefficient), monomial))
        return expression

    def _signed_term(self, coefficient: float, monomial: Sym | None) -> Expr:
        return number_ast(coefficient) if monomial is None else self._term(coefficient, monomial)


def _reading_order(factor: tuple[Sym, float]) -> tuple[int, int]:
    """Variables first, then calls, then sums: y * sigmoid(x) * (1 - sigmoid(x))."""
    base = factor[0]
    return ({VARIABLE: 0, FUNCTION: 1}.get(base.kind, 2), base.uid)


def _chain(operator: str, operands: list[Expr]) -> Expr:
    expression = operands[0]
    for operand in operands[1:]:
        expression = Binary(operator, expression, operand)
    return expression


def number_ast(value: float) -> Expr:
    """A number as bpcli syntax; inf and nan, which have no literal, as the divisions that give them."""
    if value != value:
        return Binary("/", Number(0.0, "0"), Number(0.0, "0"))
    if value in (float("inf"), float("-inf")):
        infinity = Binary("/", Number(1.0, "1"), Number(0.0, "0"))
        return infinity if value > 0 else Neg(infinity)
    return constant_ast(value)


def _reachable(roots: list[Sym]) -> list[Sym]:
    """Every subexpression of the roots, children before parents (by creation order)."""
    seen: dict[int, Sym] = {}
    work = list(roots)
    while work:
        sym = work.pop()
        if sym.uid not in seen:
            seen[sym.uid] = sym
            work.extend(sym.children())
    return [seen[uid] for uid in sorted(seen)]


def _uses(order: list[Sym], roots: list[Sym]) -> dict[Sym, int]:
    """How many parents (or roots) each subexpression has."""
    uses = {sym: 0 for sym in order}
    for root in roots:
        uses[root] += 1
    for sym in order:
        for child in set(sym.children()):
            uses[child] += 1
    return uses


# ---- bpcli grad --symbolic ----------------------------------------------------------------
