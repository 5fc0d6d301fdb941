"""The gate registry: every gate's forward computation next to its local gradients.

Each entry says how the gate is written, how it computes its output (``forward``,
given a numeric backend ``xp`` and the input values) and how gradients pass
through it backward, in one of two ways:

- Elementwise gates declare their local gradients ∂out/∂input (``partials``,
  one per input). A partial is a small function that builds graph nodes with
  the builder ``g`` from the gate's input nodes and its output node, or returns
  None where no gradient flows. The backward transformation multiplies each
  partial by the upstream gradient and sums broadcast axes away, so
  local × upstream = downstream is the engine's job, not the gate's.
- Structural gates (matmul, reductions, transpose) declare their
  vector-Jacobian product directly (``vjp``): what each input receives, given
  the upstream gradient node, as in dW = dD @ X.T. No Jacobian is built.

Either way the gradient graph is made of the very gates listed here, so it can
be differentiated again. Adding a gate is adding one entry here and its tests.

A grouped gate (sigmoid, tanh) may also say how it is built from primitive
gates (``decompose``, with the same builder API as partials); ``--expand``
lowers it that way, as the lecture notes draw the long chain of the neuron.
"""

from __future__ import annotations

import functools
import operator
from typing import Any, Callable, NamedTuple

from bpcli.engine import shapes

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


class Gate(NamedTuple):
    op: str
    syntax: str  # how it is written, with inputs a and b
    forward: Callable[..., Any]  # forward(xp, *input values, **params) -> output value
    role: str  # a key of ROLES
    local: str  # the local gradients (or the vector-Jacobian product), for the reference card
    partials: tuple[Partial | None, ...] | None = None  # elementwise: partials[i](g, *inputs, out)
    vjp: Callable[..., tuple[Any, ...]] | None = None  # structural: vjp(g, *inputs, out, upstream, **params)
    arity_: int | None = None  # structural gates say how many inputs they take
    shape: Callable[..., shapes.Shape] = shapes.elementwise  # output shape from input shapes
    params: tuple[str, ...] = ()  # keyword parameters: ("axis",)
    function: str | None = None  # the name it is called by in expressions, if any
    kink: Callable[..., Any] | None = None  # kink(xp, *inputs, **params): where the derivative is a convention
    kink_note: str = ""
    # Which side of its kink each element is on (gradcheck compares x - h with x + h to see a kink crossed).
    kink_side: Callable[..., Any] | None = None
    nonfinite: Callable[..., str] | None = None  # why finite inputs gave inf/nan (scalar inputs)
    decompose: Callable[..., int] | None = None  # decompose(g, *inputs) -> output node, primitive gates only
    symbol_: str = ""  # its mark in a circuit diagram, if not its function name: "+", "1/x"
    title_: str = ""  # its name in a sentence ("the multiply gate"), if not its op
    formula_: str = ""  # what it computes, for the reference card, where its syntax does not say
    internal: bool = False  # made for gradients: the backward pass builds it, a person rarely writes it
    # Inputs whose local gradient selects: where it is 0 the input does not reach the output at all,
    # so the input receives exactly 0 whatever the upstream holds (inf or nan included), as
    # PyTorch and JAX route; the backward pass multiplies by such a partial with mul0.
    selects: tuple[int, ...] = ()

    @property
    def symbol(self) -> str:
        return self.symbol_ or self.function or self.op

    @property
    def title(self) -> str:
        return self.title_ or self.function or self.op

    @property
    def formula(self) -> str:
        return self.formula_ or self.syntax

    @property
    def arity(self) -> int:
        return len(self.partials) if self.partials is not None else self.arity_

    @property
    def elementwise(self) -> bool:
        return self.partials is not None


VARIADIC = 0  # the arity of a gate that takes any number of inputs
# The two kinds of gate, as the reference card and its JSON name them:
ELEMENTWISE = "elementwise"  # declares its local partial derivatives; the engine multiplies by upstream
VJP = "vjp"  # declares its vector-Jacobian product directly

REGISTRY: dict[str, Gate] = {}
FUNCTIONS: dict[str, dict[int, Gate]] = {}  # callable name -> number of arguments -> gate


def _register(gate: Gate) -> Gate:
    REGISTRY[gate.op] = gate
    if gate.function:
        FUNCTIONS.setdefault(gate.function, {})[gate.arity] = gate
    return gate


def _one(g, *_):
    return g.const(1.0)


def _sign_of_a(xp, a):
    return xp.sign(a)


def _sign_of_difference(xp, a, b):
    return xp.sign(a - b)


def _is_integer(b: float) -> bool:
    return b == b and abs(b) != float("inf") and b == int(b)


def _unzero_where_zero(g, a: int, out: int) -> int:
    """a, but 1 where the power ``out`` is 0 (a constant base other than 0 is kept: its log is finite)."""
    value = g.graph.nodes[a].value if a in g.graph.constants else None
    if isinstance(value, float) and value != 0 and abs(value) != float("inf"):
        return a
    return g.unzero(a, out)


def _power_nonfinite(a: float, b: float) -> str:
    if a < 0 and not _is_integer(b):
        return "a negative number to a non-integer power is nan"
    if a == 0 and b < 0:
        return "zero to a negative power is inf (a division by zero)"
    return "the power overflows float64"


# ---- arithmetic -------------------------------------------------------------

_register(Gate(
    "add", "a + b", symbol_="+",
    forward=lambda xp, a, b: a + b,
    partials=(_one, _one),
    role="distributes", local="∂/∂a = 1, ∂/∂b = 1",
))

_register(Gate(
    "sub", "a - b", symbol_="-", title_="subtract",
    forward=lambda xp, a, b: a - b,
    partials=(_one, lambda g, a, b, out: g.const(-1.0)),
    role="distributes", local="∂/∂a = 1, ∂/∂b = -1",
))

_register(Gate(
    "mul", "a * b", symbol_="*", title_="multiply",
    forward=lambda xp, a, b: a * b,
    partials=(lambda g, a, b, out: b, lambda g, a, b, out: a),
    role="swaps", local="∂/∂a = b, ∂/∂b = a",
))

_register(Gate(
    "neg", "-a", symbol_="*-1", title_="negate",
    forward=lambda xp, a: -a,
    partials=(lambda g, a, out: g.const(-1.0),),
    role="scales", local="∂/∂a = -1",
))

# Division a / b is lowered to a * (1 / b), as the lecture notes stage it
# (invden = 1.0 / den; f = num * invden), so the reciprocal is the gate.
_register(Gate(
    "recip", "1 / a", symbol_="1/x", title_="reciprocal",
    forward=lambda xp, a: xp.recip(a),
    partials=(lambda g, a, out: g.mul(g.const(-1.0), g.recip(g.pow(a, g.const(2.0)))),),
    role="scales", local="∂/∂a = -1 / a**2",
    nonfinite=lambda a: "division by zero",
))

# Where a**b is flat, its local gradient is 0 even though the formula meets
# 0 * inf: a**0 is 1 for every a (b * a**(b - 1) is 0 * inf at a = 0), and 0**b
# is 0 for every b > 0 (a**b * log(a) is 0 * -inf). PyTorch and JAX take 0
# there too; mul0 is the multiply in which a factor 0 wins. Where a**b is 0
# the log is taken of 1 instead (unzero, JAX's double-where): the value is the
# same 0, and the gradient's own derivatives meet no log(0) or 1/0 either, so
# the Hessian of x**y at x = 0, y = 2 is [[2, 0], [0, 0]], as JAX finds.
_register(Gate(
    "pow", "a ** b", symbol_="**", title_="power",
    forward=lambda xp, a, b: xp.power(a, b),
    partials=(
        lambda g, a, b, out: g.mul0(b, g.pow(a, g.sub(b, g.const(1.0)))),
        lambda g, a, b, out: g.mul0(out, g.log(_unzero_where_zero(g, a, out))),
    ),
    role="scales", local="∂/∂a = b * a**(b - 1), ∂/∂b = a**b * log(a) (0 where b, resp. a**b, is 0)",
    nonfinite=_power_nonfinite,
))

_register(Gate(
    "mul0", "mul0(a, b)", function="mul0", symbol_="*0", title_="zero-first multiply",
    forward=lambda xp, a, b: xp.mul0(a, b),
    # Where a is 0 the product is 0 whatever b is: b's gradient there is exactly 0.
    partials=(lambda g, a, b, out: b, lambda g, a, b, out: a), selects=(1,),
    role="swaps", local="∂/∂a = b, ∂/∂b = a (a * b, but 0 wherever a is 0, even if b is inf or nan)",
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
    formula_="the natural logarithm of a",
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
    kink=lambda xp, a: a == 0,
    kink_note="sqrt at 0: its local gradient 0.5 / sqrt(0) is inf", kink_side=_sign_of_a,
    nonfinite=lambda a: "the square root of a negative number is nan",
))

_register(Gate(
    "tanh", "tanh(a)", function="tanh",
    formula_="(exp(a) - exp(-a)) / (exp(a) + exp(-a))",
    forward=lambda xp, a: xp.tanh(a),
    partials=(lambda g, a, out: g.sub(g.const(1.0), g.pow(out, g.const(2.0))),),
    role="scales", local="∂/∂a = 1 - tanh(a)**2",
    # 1 - 2 / (exp(2a) + 1): unlike (e - 1) / (e + 1), no inf / inf for large a.
    decompose=lambda g, a: g.sub(
        g.const(1.0), g.mul(g.const(2.0), g.recip(g.add(g.exp(g.mul(g.const(2.0), a)), g.const(1.0))))
    ),
))

_register(Gate(
    "sigmoid", "sigmoid(a)", function="sigmoid",
    formula_="1 / (1 + exp(-a))",
    forward=lambda xp, a: xp.sigmoid(a),
    partials=(lambda g, a, out: g.mul(out, g.sub(g.const(1.0), out)),),
    role="scales", local="∂/∂a = s * (1 - s) where s = sigmoid(a)",
    # The notes' long chain: negate, exp, add 1, reciprocal.
    decompose=lambda g, a: g.recip(g.add(g.exp(g.neg(a)), g.const(1.0))),
))

_register(Gate(
    "relu", "relu(a)", function="relu",
    formula_="max(a, 0)",
    forward=lambda xp, a: xp.relu(a),
    partials=(lambda g, a, out: g.step(a),), selects=(0,),
    role="gates", local="∂/∂a = step(a): 1 where a > 0, else 0",
    kink=lambda xp, a: a == 0,
    kink_note="relu at 0: the gradient is taken as 0 (PyTorch's convention; JAX agrees)", kink_side=_sign_of_a,
))

_register(Gate(
    "abs", "abs(a)", function="abs",
    formula_="|a|",
    forward=lambda xp, a: xp.absolute(a),
    partials=(lambda g, a, out: g.sign(a),), selects=(0,),
    role="scales", local="∂/∂a = sign(a)",
    kink=lambda xp, a: a == 0,
    kink_note="abs at 0: the gradient is taken as 0 (PyTorch's convention; JAX takes 1)", kink_side=_sign_of_a,
))

_register(Gate(
    "max", "max(a, b)", function="max",
    formula_="the larger of a and b, element by element",
    forward=lambda xp, a, b: xp.maximum(a, b),
    partials=(lambda g, a, b, out: g.greater(a, b), lambda g, a, b, out: g.greater(b, a)), selects=(0, 1),
    role="routes", local="∂/∂a = greater(a, b), ∂/∂b = greater(b, a)",
    kink=lambda xp, a, b: a == b,
    kink_note="max tie: the gradient is split evenly between the inputs (PyTorch's convention)",
    kink_side=_sign_of_difference,
))

_register(Gate(
    "min", "min(a, b)", function="min",
    formula_="the smaller of a and b, element by element",
    forward=lambda xp, a, b: xp.minimum(a, b),
    partials=(lambda g, a, b, out: g.greater(b, a), lambda g, a, b, out: g.greater(a, b)), selects=(0, 1),
    role="routes", local="∂/∂a = greater(b, a), ∂/∂b = greater(a, b)",
    kink=lambda xp, a, b: a == b,
    kink_note="min tie: the gradient is split evenly between the inputs (PyTorch's convention)",
    kink_side=_sign_of_difference,
))

# ---- indicators: the local gradients of relu, abs, max and min --------------
# They are gates like any other so that a gradient graph can be printed,
# parsed back and differentiated again; their own gradient is zero.

_register(Gate(
    "step", "step(a)", function="step",
    formula_="1 where a > 0, else 0", internal=True,
    forward=lambda xp, a: xp.step(a),
    partials=(None,),
    role="blocks", local="∂/∂a = 0",
    kink=lambda xp, a: a == 0,
    kink_note="step jumps at 0: its gradient there is taken as 0", kink_side=_sign_of_a,
))

_register(Gate(
    "sign", "sign(a)", function="sign",
    formula_="-1 where a < 0, 0 where a == 0, 1 where a > 0", internal=True,
    forward=lambda xp, a: xp.sign(a),
    partials=(None,),
    role="blocks", local="∂/∂a = 0",
    kink=lambda xp, a: a == 0,
    kink_note="sign jumps at 0: its gradient there is taken as 0", kink_side=_sign_of_a,
))

_register(Gate(
    "nonzero", "nonzero(a)", function="nonzero",
    formula_="1 where a != 0, else 0", internal=True,
    forward=lambda xp, a: xp.nonzero(a),
    partials=(None,),
    role="blocks", local="∂/∂a = 0",
    kink=lambda xp, a: a == 0,
    kink_note="nonzero jumps at 0: its gradient there is taken as 0", kink_side=_sign_of_a,
))

_register(Gate(
    "greater", "greater(a, b)", function="greater",
    formula_="1 where a > b, 1/2 where a == b, else 0", internal=True,
    forward=lambda xp, a, b: xp.greater(a, b),
    partials=(None, None),
    role="blocks", local="∂/∂a = ∂/∂b = 0",
    kink=lambda xp, a, b: a == b,
    kink_note="greater jumps where a == b: its gradient there is taken as 0", kink_side=_sign_of_difference,
))

# The power gate's ∂/∂b takes the log of unzero(a, a**b): 1 where a**b is 0, so log gives 0 there.
_register(Gate(
    "unzero", "unzero(a, b)", function="unzero",
    formula_="a, but 1 where b is 0", internal=True,
    forward=lambda xp, a, b: xp.unzero(a, b),
    partials=(lambda g, a, b, out: g.nonzero(b), None), selects=(0,),
    role="gates", local="∂/∂a = nonzero(b): 1 where b != 0, else 0; ∂/∂b = 0",
    kink=lambda xp, a, b: b == 0,
    kink_note="unzero jumps where b is 0 (to 1): its gradient there is taken as 0",
    kink_side=lambda xp, a, b: xp.sign(b),
))

# ---- structural gates: they declare their vector-Jacobian product -----------


def _matmul_vjp(g, a, b, out, up):
    rank_a, rank_b = len(g.shape(a)), len(g.shape(b))
    if rank_a == 2 and rank_b == 2:
        return g.matmul(up, g.transpose(b)), g.matmul(g.transpose(a), up)
    if rank_a == 1 and rank_b == 2:
        return g.matmul(b, up), g.outer(a, up)
    if rank_a == 2 and rank_b == 1:
        return g.outer(up, b), g.matmul(g.transpose(a), up)
    return g.mul(up, b), g.mul(up, a)  # two vectors: a scalar product


_register(Gate(
    "matmul", "a @ b", symbol_="@", title_="matrix multiply",
    formula_="the matrix product of a and b (of two vectors: their dot product)",
    forward=lambda xp, a, b: xp.matmul(a, b),
    vjp=_matmul_vjp, arity_=2, shape=shapes.matmul,
    role="swaps", local="da = dout @ b.T, db = a.T @ dout (vectors: outer products)",
))

_register(Gate(
    "outer", "outer(a, b)", function="outer",
    formula_="the matrix of a[i] * b[j]",
    forward=lambda xp, a, b: xp.outer(a, b),
    vjp=lambda g, a, b, out, up: (g.matmul(up, b), g.matmul(g.transpose(up), a)),
    arity_=2, shape=shapes.outer,
    role="swaps", local="da = dout @ b, db = dout.T @ a",
))

_register(Gate(
    "transpose", "a.T", symbol_=".T",
    formula_="a with its axes reversed",
    forward=lambda xp, a: xp.transpose(a),
    vjp=lambda g, a, out, up: (g.transpose(up),),
    arity_=1, shape=shapes.transpose,
    role="distributes", local="da = dout.T",
))


def _mean_vjp(g, a, out, up, axis=None):
    count = shapes.size(g.shape(a)) // max(1, shapes.size(g.shape(out)))
    return (g.mul(g.broadcast(up, a, axis=axis), g.const(1.0 / count)),)


_register(Gate(
    "sum", "sum(a, axis=None)", function="sum",
    formula_="the sum of a's elements (along axis)",
    forward=lambda xp, a, axis=None: xp.sum(a, axis=axis),
    vjp=lambda g, a, out, up, axis=None: (g.broadcast(up, a, axis=axis),),
    arity_=1, shape=shapes.reduce, params=("axis",),
    role="distributes", local="da = dout copied along the summed axes",
))

_register(Gate(
    "mean", "mean(a, axis=None)", function="mean",
    formula_="the mean of a's elements (along axis)",
    forward=lambda xp, a, axis=None: xp.mean(a, axis=axis),
    vjp=_mean_vjp, arity_=1, shape=shapes.reduce, params=("axis",),
    role="distributes", local="da = dout copied along the averaged axes, divided by their size",
))


def _extreme(op: str, word: str) -> Gate:
    return Gate(
        op, f"{op[1:]}(a, axis=None)", function=op[1:],
        formula_=f"the {word} element of a (along axis)",
        forward=lambda xp, a, axis=None: getattr(xp, op)(a, axis=axis),
        # share selects: an element that is not the extreme receives exactly 0, whatever dout holds.
        vjp=lambda g, a, out, up, axis=None: (g.mul0(g.share(a, out, axis=axis), g.broadcast(up, a, axis=axis)),),
        arity_=1, shape=shapes.reduce, params=("axis",),
        role="routes", local=f"da = dout sent to the {word} element (ties split evenly)",
        kink=lambda xp, a, axis=None: xp.ties(a, getattr(xp, op)(a, axis=axis), axis),
        kink_note=f"{op[1:]} tie: the gradient is split evenly between the {word} elements",
        kink_side=lambda xp, a, axis=None: xp.share(a, getattr(xp, op)(a, axis=axis), axis),
    )


_register(_extreme("amax", "largest"))
_register(_extreme("amin", "smallest"))

# ---- the gates gradients are made of -----------------------------------------

_register(Gate(
    "broadcast", "broadcast(a, like, axis=None)", function="broadcast",
    formula_="a copied along axis (or broadcast) to like's shape", internal=True,
    forward=lambda xp, a, like, axis=None: xp.broadcast(a, like, axis),
    vjp=lambda g, a, like, out, up, axis=None: (
        g.unbroadcast(up, a) if axis is None else g.sum(up, axis=axis), None),
    arity_=2, shape=shapes.second, params=("axis",),
    role="distributes", local="da = dout summed back over the axes a was copied along",
))

_register(Gate(
    "unbroadcast", "unbroadcast(a, like)", function="unbroadcast",
    formula_="a summed over the axes it was broadcast along, to like's shape", internal=True,
    forward=lambda xp, a, like: xp.unbroadcast(a, like),
    vjp=lambda g, a, like, out, up: (g.broadcast(up, a), None),
    arity_=2, shape=shapes.second,
    role="distributes", local="da = dout copied back along the axes a was summed over",
))

_register(Gate(
    "share", "share(a, m, axis=None)", function="share",
    formula_="1/k where a equals its reduced extreme m (k ties), else 0", internal=True,
    forward=lambda xp, a, m, axis=None: xp.share(a, m, axis),
    vjp=lambda g, a, m, out, up, axis=None: (None, None),
    arity_=2, shape=shapes.first, params=("axis",),
    role="blocks", local="da = dm = 0 (it is flat)",
))

# Where a value is used in several places, the gradients flowing back to it add
# up: one gate for the whole sum (a chain of add gates would be one node per
# use, and a variable used 10,000 times would cost 10,000 nodes).
_register(Gate(
    "accumulate", "a + b + ...",
    formula_="the sum of the gradients flowing back to a value used more than once", internal=True,
    forward=lambda xp, *terms: functools.reduce(operator.add, terms),
    vjp=lambda g, *inputs_out_up: (inputs_out_up[-1],) * (len(inputs_out_up) - 2),
    arity_=VARIADIC,
    role="distributes", local="da = db = ... = dout",
))

# dot(a, b) is numpy's dot for vectors and matrices: the same gate as a @ b.
FUNCTIONS["dot"] = {2: REGISTRY["matmul"]}

DEFAULT_NONFINITE = "the result overflows float64"
