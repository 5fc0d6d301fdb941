"""A seeded generator of large random expressions over bpcli's scalar gates.

The trees are balanced (depth about log2 of the gate count) so that Python's
own compiler, used by the PyTorch baseline, accepts them too, and they are
printed by bpcli's printer: parentheses only where precedence needs them, as
a person (or Python's own repr of an expression) writes them.
"""

from __future__ import annotations

import random

from bpcli.engine.syntax.ast import Binary, Call, Expr, Name, Neg
from bpcli.engine.syntax.printer import to_text

VARIABLES = [f"x{i}" for i in range(10)]
BINARY = ["+", "-", "*", "max", "min"]
UNARY = ["sigmoid", "tanh", "relu", "neg", "exp-abs"]


def random_expression(gates: int, seed: int = 0, variables: list[str] = VARIABLES) -> str:
    """An expression of about ``gates`` gates over ``variables``."""
    return to_text(_build(random.Random(seed), gates, variables))


def _build(rng: random.Random, gates: int, variables: list[str]) -> Expr:
    if gates <= 0:
        return Name(rng.choice(variables))
    if gates >= 3 and rng.random() < 0.2:
        kind = rng.choice(UNARY)
        if kind == "neg":
            return Neg(_build(rng, gates - 1, variables))
        if kind == "exp-abs":  # exp of a non-positive number: no overflow
            return Call("exp", (Neg(Call("abs", (_build(rng, gates - 3, variables),))),))
        return Call(kind, (_build(rng, gates - 1, variables),))
    left = (gates - 1) // 2
    operator = rng.choice(BINARY)
    operands = (_build(rng, left, variables), _build(rng, gates - 1 - left, variables))
    return Binary(operator, *operands) if operator in "+-*" else Call(operator, operands)


def point(seed: int = 1, names: list[str] = VARIABLES) -> dict[str, float]:
    rng = random.Random(seed)
    return {name: round(rng.uniform(-2, 2), 3) for name in names}
