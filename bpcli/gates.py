"""The gate registry: every gate's forward computation next to its local gradients.

Each entry says how the gate is written, how it computes its output (``forward``,
given a numeric backend ``xp`` and the input values) and how its local
gradients ∂out/∂input are built (``partials``, one per input). A partial is a
small function that builds graph nodes with the builder ``g`` from the gate's
input nodes and its output node; it returns None where no gradient flows. The
backward transformation multiplies each partial by the upstream gradient, so
local × upstream = downstream is the engine's job, not the gate's, and the
gradient graph is made of the very gates listed here (so it can be
differentiated again).

Adding a gate is adding one entry here and its tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

# How a gate passes the gradient backward, in the lecture notes' words.
ROLES = {
    "distributes": "passes the upstream gradient on unchanged to every input (negated for a subtracted one)",
    "swaps": "gives each input the other input's value times the upstream gradient",
    "routes": "sends the whole upstream gradient to the larger (or smaller) input",
    "gates": "lets the upstream gradient through where the input was positive and blocks it elsewhere",
    "scales": "multiplies the upstream gradient by its local gradient",
    "blocks": "is flat almost everywhere, so no gradient flows through it",
}

Partial = Callable[..., Any]


@dataclass(frozen=True)
class Gate:
    op: str
    syntax: str  # how it is written, with inputs a and b
    forward: Callable[..., Any]  # forward(xp, *input values) -> output value
    partials: tuple[Partial | None, ...]  # partials[i](g, *input nodes, out) -> node of ∂out/∂input_i
    role: str  # a key of ROLES
    local: str  # the local gradients, for the reference card
    function: str | None = None  # the name it is called by in expressions, if any
    kink: Callable[..., Any] | None = None  # elementwise: is the derivative here only a convention?
    kink_note: str = ""
    nonfinite: Callable[..., str] | None = None  # why finite inputs gave inf/nan (scalar inputs)

    @property
    def arity(self) -> int:
        return len(self.partials)


REGISTRY: dict[str, Gate] = {}
FUNCTIONS: dict[str, Gate] = {}  # callable name -> gate


def _register(gate: Gate) -> Gate:
    REGISTRY[gate.op] = gate
    if gate.function:
        FUNCTIONS[gate.function] = gate
    return gate


def _one(g, *_):
    return g.const(1.0)


def _is_integer(b: float) -> bool:
    return b == b and abs(b) != float("inf") and b == int(b)


def _power_nonfinite(a: float, b: float) -> str:
    if a < 0 and not _is_integer(b):
        return "a negative number to a non-integer power is nan"
    if a == 0 and b < 0:
        return "zero to a negative power is inf (a division by zero)"
    return "the power overflows float64"


# ---- arithmetic -------------------------------------------------------------

_register(Gate(
    "add", "a + b",
    forward=lambda xp, a, b: a + b,
    partials=(_one, _one),
    role="distributes", local="∂/∂a = 1, ∂/∂b = 1",
))

_register(Gate(
    "sub", "a - b",
    forward=lambda xp, a, b: a - b,
    partials=(_one, lambda g, a, b, out: g.const(-1.0)),
    role="distributes", local="∂/∂a = 1, ∂/∂b = -1",
))

_register(Gate(
    "mul", "a * b",
    forward=lambda xp, a, b: a * b,
    partials=(lambda g, a, b, out: b, lambda g, a, b, out: a),
    role="swaps", local="∂/∂a = b, ∂/∂b = a",
))

_register(Gate(
    "neg", "-a",
    forward=lambda xp, a: -a,
    partials=(lambda g, a, out: g.const(-1.0),),
    role="scales", local="∂/∂a = -1",
))

# Division a / b is lowered to a * (1 / b), as the lecture notes stage it
# (invden = 1.0 / den; f = num * invden), so the reciprocal is the gate.
_register(Gate(
    "recip", "1 / a",
    forward=lambda xp, a: xp.recip(a),
    partials=(lambda g, a, out: g.mul(g.const(-1.0), g.recip(g.pow(a, g.const(2.0)))),),
    role="scales", local="∂/∂a = -1 / a**2",
    nonfinite=lambda a: "division by zero",
))

_register(Gate(
    "pow", "a ** b",
    forward=lambda xp, a, b: xp.power(a, b),
    partials=(
        lambda g, a, b, out: g.mul(b, g.pow(a, g.sub(b, g.const(1.0)))),
        lambda g, a, b, out: g.mul(out, g.log(a)),
    ),
    role="scales", local="∂/∂a = b * a**(b - 1), ∂/∂b = a**b * log(a)",
    nonfinite=_power_nonfinite,
))

# ---- functions --------------------------------------------------------------

_register(Gate(
    "exp", "exp(a)", function="exp",
    forward=lambda xp, a: xp.exp(a),
    partials=(lambda g, a, out: out,),
    role="scales", local="∂/∂a = exp(a)",
    nonfinite=lambda a: "exp overflows float64 above 709.78",
))

_register(Gate(
    "log", "log(a)", function="log",
    forward=lambda xp, a: xp.log(a),
    partials=(lambda g, a, out: g.recip(a),),
    role="scales", local="∂/∂a = 1 / a",
    nonfinite=lambda a: "log(0) is -inf" if a == 0 else "the log of a negative number is nan",
))

_register(Gate(
    "sqrt", "sqrt(a)", function="sqrt",
    forward=lambda xp, a: xp.sqrt(a),
    partials=(lambda g, a, out: g.mul(g.const(0.5), g.recip(out)),),
    role="scales", local="∂/∂a = 0.5 / sqrt(a)",
    kink=lambda a: a == 0,
    kink_note="sqrt at 0: its local gradient 0.5 / sqrt(0) is inf",
    nonfinite=lambda a: "the square root of a negative number is nan",
))

_register(Gate(
    "tanh", "tanh(a)", function="tanh",
    forward=lambda xp, a: xp.tanh(a),
    partials=(lambda g, a, out: g.sub(g.const(1.0), g.pow(out, g.const(2.0))),),
    role="scales", local="∂/∂a = 1 - tanh(a)**2",
))

_register(Gate(
    "sigmoid", "sigmoid(a)", function="sigmoid",
    forward=lambda xp, a: xp.sigmoid(a),
    partials=(lambda g, a, out: g.mul(out, g.sub(g.const(1.0), out)),),
    role="scales", local="∂/∂a = s * (1 - s) where s = sigmoid(a)",
))

_register(Gate(
    "relu", "relu(a)", function="relu",
    forward=lambda xp, a: xp.relu(a),
    partials=(lambda g, a, out: g.step(a),),
    role="gates", local="∂/∂a = step(a): 1 where a > 0, else 0",
    kink=lambda a: a == 0,
    kink_note="relu at 0: the gradient is taken as 0 (PyTorch's convention; JAX agrees)",
))

_register(Gate(
    "abs", "abs(a)", function="abs",
    forward=lambda xp, a: xp.absolute(a),
    partials=(lambda g, a, out: g.sign(a),),
    role="scales", local="∂/∂a = sign(a)",
    kink=lambda a: a == 0,
    kink_note="abs at 0: the gradient is taken as 0 (PyTorch's convention; JAX takes 1)",
))

_register(Gate(
    "max", "max(a, b)", function="max",
    forward=lambda xp, a, b: xp.maximum(a, b),
    partials=(lambda g, a, b, out: g.greater(a, b), lambda g, a, b, out: g.greater(b, a)),
    role="routes", local="∂/∂a = greater(a, b), ∂/∂b = greater(b, a)",
    kink=lambda a, b: a == b,
    kink_note="max tie: the gradient is split evenly between the inputs (PyTorch's convention)",
))

_register(Gate(
    "min", "min(a, b)", function="min",
    forward=lambda xp, a, b: xp.minimum(a, b),
    partials=(lambda g, a, b, out: g.greater(b, a), lambda g, a, b, out: g.greater(a, b)),
    role="routes", local="∂/∂a = greater(b, a), ∂/∂b = greater(a, b)",
    kink=lambda a, b: a == b,
    kink_note="min tie: the gradient is split evenly between the inputs (PyTorch's convention)",
))

# ---- indicators: the local gradients of relu, abs, max and min --------------
# They are gates like any other so that a gradient graph can be printed,
# parsed back and differentiated again; their own gradient is zero.

_register(Gate(
    "step", "step(a)", function="step",
    forward=lambda xp, a: xp.step(a),
    partials=(None,),
    role="blocks", local="∂/∂a = 0 (1 where a > 0, else 0)",
    kink=lambda a: a == 0,
    kink_note="step jumps at 0: its gradient there is taken as 0",
))

_register(Gate(
    "sign", "sign(a)", function="sign",
    forward=lambda xp, a: xp.sign(a),
    partials=(None,),
    role="blocks", local="∂/∂a = 0 (-1, 0 or 1)",
    kink=lambda a: a == 0,
    kink_note="sign jumps at 0: its gradient there is taken as 0",
))

_register(Gate(
    "greater", "greater(a, b)", function="greater",
    forward=lambda xp, a, b: xp.greater(a, b),
    partials=(None, None),
    role="blocks", local="∂/∂a = ∂/∂b = 0 (1 where a > b, 1/2 where a == b, else 0)",
    kink=lambda a, b: a == b,
    kink_note="greater jumps where a == b: its gradient there is taken as 0",
))

DEFAULT_NONFINITE = "the result overflows float64"
