"""A seeded generator of large random expressions over bpcli's scalar gates.

The trees are balanced (depth about log2 of the gate count) so that Python's
own compiler, used by the PyTorch baseline, accepts them too.
"""

from __future__ import annotations

import random

VARIABLES = [f"x{i}" for i in range(10)]
BINARY = ["{} + {}", "{} - {}", "{} * {}", "max({}, {})", "min({}, {})"]
UNARY = ["sigmoid({})", "tanh({})", "relu({})", "-({})", "exp(-abs({}))"]


def random_expression(gates: int, seed: int = 0) -> str:
    """An expression of about ``gates`` gates."""
    rng = random.Random(seed)
    return _build(rng, gates)


def _build(rng: random.Random, gates: int) -> str:
    # Iterative over levels would be faster, but depth is only ~log2(gates).
    if gates <= 0:
        return rng.choice(VARIABLES)
    if gates >= 3 and rng.random() < 0.2:
        template = rng.choice(UNARY)
        inner = _build(rng, gates - template.count("(") - (1 if template.startswith("-") else 0))
        return template.format(inner)
    left = (gates - 1) // 2
    return "(" + rng.choice(BINARY).format(_build(rng, left), _build(rng, gates - 1 - left)) + ")"


def point(seed: int = 1) -> dict[str, float]:
    rng = random.Random(seed)
    return {name: round(rng.uniform(-2, 2), 3) for name in VARIABLES}
