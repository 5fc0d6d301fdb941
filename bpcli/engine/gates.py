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
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, NoReturn, Sequence

from bpcli.engine import indexing, shapes
from bpcli.engine.record import NamedTuple

if TYPE_CHECKING:
    # What partials, vjps and decompositions build with (graph imports this module at run time).
    from bpcli.engine.graph import Builder as GateBuilder

    Axis = int | tuple[int, ...] | None  # a reduction's axis parameter

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
    boolean: bool = False  # its output is a boolean (a comparison, a mask): no gradient flows through it
    # A number fixed by the inputs' shapes (x.shape[0]): from_shapes(*input shapes, **params) gives it
    # before anything is evaluated; like a boolean, it carries no gradient.
    from_shapes: Callable[..., Any] | None = None
    # An output whose shape depends on input values fixed by the shapes (np.arange(N), x.reshape(N, -1)):
    # value_shape(input shapes, input values), the values None where they are not fixed.
    value_shape: Callable[..., shapes.Shape] | None = None
    # Its output is fixed whatever its inputs' values (np.arange's whole numbers, np.zeros_like(x)):
    # no gradient flows through it.
    no_gradient: bool = False
    # Inputs whose local gradient selects: where it is 0 the input does not reach the output at all,
    # so the input receives exactly 0 whatever the upstream holds (inf or nan included), as
    # PyTorch and JAX route; the backward pass multiplies by such a partial with mul0.
    selects: tuple[int, ...] = ()
    # How a person reads it in a formula, where it differs from a plain gate only at an edge case:
    # "mul" (mul0 is a product whose 0 wins over inf and nan), "a" (unzero(a, b) is a but for b == 0).
    # Text that is run (the staged code, --symbolic's programs) keeps the gate itself.
    reads_as: str = ""

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
        if self.partials is not None:
            return len(self.partials)
        if self.arity_ is None:
            raise TypeError(f"the structural gate {self.op} does not say how many inputs it takes (arity_)")
        return self.arity_

    @property
    def elementwise(self) -> bool:
        return self.partials is not None

    @property
    def carries_no_gradient(self) -> bool:
        """Booleans, and whole numbers fixed by the shapes: nothing flows back through them."""
        return self.boolean or self.from_shapes is not None or self.no_gradient


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


def _one(g: GateBuilder, *_: int) -> int:
    return g.const(1.0)


def _sign_of_a(xp: ModuleType, a: Any) -> Any:
    return xp.sign(a)


def _sign_of_difference(xp: ModuleType, a: Any, b: Any) -> Any:
    return xp.sign(a - b)


def _whole(value: Any) -> bool:
    """A number known before evaluation that is a whole number (not None, inf or nan)."""
    return value is not None and _is_integer(float(value))


def _is_integer(b: float) -> bool:
    return b == b and abs(b) != float("inf") and b == int(b)


def _unzero_where_zero(g: GateBuilder, a: int, out: int) -> int:
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
    "mul0", "mul0(a, b)", function="mul0", symbol_="*0", title_="zero-first multiply", reads_as="mul",
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

_register(Gate(
    "log1p", "log1p(a)", function="log1p",
    formula_="log(1 + a), exact for small a (numpy's np.log1p)",
    forward=lambda xp, a: xp.log1p(a),
    partials=(lambda g, a, out: g.recip(g.add(g.const(1.0), a)),),
    role="scales", local="∂/∂a = 1 / (1 + a)",
    nonfinite=lambda a: "log1p(-1) is -inf" if a == -1 else "the log of a negative number is nan",
))

_register(Gate(
    "expm1", "expm1(a)", function="expm1",
    formula_="exp(a) - 1, exact for small a (numpy's np.expm1)",
    forward=lambda xp, a: xp.expm1(a),
    partials=(lambda g, a, out: g.add(out, g.const(1.0)),),
    role="scales", local="∂/∂a = exp(a) = expm1(a) + 1",
    nonfinite=lambda a: "exp overflows float64 above 709.78",
))

_register(Gate(
    "clip", "clip(a, lo, hi)", function="clip",
    formula_="a limited to [lo, hi]: min(max(a, lo), hi) (numpy's np.clip)",
    forward=lambda xp, a, lo, hi: xp.clip(a, lo, hi),
    partials=(
        lambda g, a, lo, hi, out: g.logical_and(g.ge(a, lo), g.le(a, hi)),
        lambda g, a, lo, hi, out: g.lt(a, lo),
        lambda g, a, lo, hi, out: g.gt(a, hi),
    ), selects=(0, 1, 2),
    role="routes", local="∂/∂a = (lo <= a <= hi), ∂/∂lo = (a < lo), ∂/∂hi = (a > hi) (PyTorch's clamp)",
))

# ---- indicators: the local gradients of relu, abs, max and min --------------
# They are gates like any other so that a gradient graph can be printed,
# parsed back and differentiated again; their own gradient is zero.


def _indicator(op: str, formula: str) -> Gate:
    """A function of a's sign (step, sign, nonzero): flat everywhere, with a jump at 0."""
    return Gate(
        op, f"{op}(a)", function=op, formula_=formula, internal=True,
        forward=lambda xp, a: getattr(xp, op)(a),
        partials=(None,),
        role="blocks", local="∂/∂a = 0",
        kink=lambda xp, a: a == 0,
        kink_note=f"{op} jumps at 0: its gradient there is taken as 0", kink_side=_sign_of_a,
    )


_register(_indicator("step", "1 where a > 0, else 0"))
_register(_indicator("sign", "-1 where a < 0, 0 where a == 0, 1 where a > 0"))
_register(_indicator("nonzero", "1 where a != 0, else 0"))

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
    "unzero", "unzero(a, b)", function="unzero", reads_as="a",
    formula_="a, but 1 where b is 0", internal=True,
    forward=lambda xp, a, b: xp.unzero(a, b),
    partials=(lambda g, a, b, out: g.nonzero(b), None), selects=(0,),
    role="gates", local="∂/∂a = nonzero(b): 1 where b != 0, else 0; ∂/∂b = 0",
    kink=lambda xp, a, b: b == 0,
    kink_note="unzero jumps where b is 0 (to 1): its gradient there is taken as 0",
    kink_side=lambda xp, a, b: xp.sign(b),
))

# ---- structural gates: they declare their vector-Jacobian product -----------


def _matmul_vjp(g: GateBuilder, a: int, b: int, out: int, up: int) -> tuple[int, int]:
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


def _mean_vjp(g: GateBuilder, a: int, out: int, up: int, axis: Axis = None) -> tuple[int]:
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
    vjp=_mean_vjp, arity_=1, shape=shapes.reduce_some, params=("axis",),
    role="distributes", local="da = dout copied along the averaged axes, divided by their size",
))


def _extreme(op: str, word: str) -> Gate:
    return Gate(
        op, f"{op[1:]}(a, axis=None)", function=op[1:],
        formula_=f"the {word} element of a (along axis)",
        forward=lambda xp, a, axis=None: getattr(xp, op)(a, axis=axis),
        # share selects: an element that is not the extreme receives exactly 0, whatever dout holds.
        vjp=lambda g, a, out, up, axis=None: (g.mul0(g.share(a, out, axis=axis), g.broadcast(up, a, axis=axis)),),
        arity_=1, shape=shapes.reduce_some, params=("axis",),
        role="routes", local=f"da = dout sent to the {word} element (ties split evenly)",
        kink=lambda xp, a, axis=None: xp.ties(a, getattr(xp, op)(a, axis=axis), axis),
        kink_note=f"{op[1:]} tie: the gradient is split evenly between the {word} elements",
        kink_side=lambda xp, a, axis=None: xp.share(a, getattr(xp, op)(a, axis=axis), axis),
    )


_register(_extreme("amax", "largest"))
_register(_extreme("amin", "smallest"))



def _count(g: GateBuilder, a: int, out: int) -> int:
    """How many elements of ``a`` each element of a reduction ``out`` of it summarises."""
    return shapes.size(g.shape(a)) // max(1, shapes.size(g.shape(out)))


def _var_vjp(g: GateBuilder, a: int, out: int, up: int, axis: Axis = None, ddof: float = 0) -> tuple[int]:
    # d var / da = 2 (a - mean) / (n - ddof): the mean's own share sums to zero, as the deviations do.
    # numpy and PyTorch divide by max(n - ddof, 0): with no degrees of freedom left the scale is inf.
    deviation = g.sub(a, g.broadcast(g.mean(a, axis=axis), a, axis=axis))
    freedom = _count(g, a, out) - ddof
    scale = g.const(2.0 / freedom if freedom > 0 else float("inf"))
    return (g.mul(g.mul(deviation, scale), g.broadcast(up, a, axis=axis)),)


_register(Gate(
    "var", "var(a, axis=None, ddof=0)", function="var",
    formula_="the variance of a's elements (along axis): mean((a - mean(a))**2) * n / (n - ddof)",
    forward=lambda xp, a, axis=None, ddof=0: xp.var(a, axis=axis, ddof=ddof),
    vjp=_var_vjp, arity_=1, shape=shapes.reduce_some, params=("axis", "ddof"),
    role="scales", local="da = dout * 2 (a - mean(a)) / (n - ddof), along the reduced axes",
))

def _prod_pairs_vjp(g: GateBuilder, a: int, up_in: int, out: int, up: int, axis: Axis = None) -> NoReturn:
    from bpcli.engine.errors import BpcliError  # only a third derivative of prod needs it

    raise BpcliError("the third derivative of prod is not supported (its first and second derivatives are)")


_register(Gate(
    "prod", "prod(a, axis=None)", function="prod",
    formula_="the product of a's elements (along axis)",
    forward=lambda xp, a, axis=None: xp.prod(a, axis),
    vjp=lambda g, a, out, up, axis=None: (g.mul(_spread(g, up, a, axis), g.prod_others(a, axis=axis)),),
    arity_=1, shape=shapes.reduce, params=("axis",),
    role="scales", local="da = dout * the product of the other elements (exact where some are 0)",
))

_register(Gate(
    "prod_others", "prod_others(a, axis=None)", function="prod_others", internal=True,
    formula_="for each element, the product of the others along axis (no division: exact at 0)",
    forward=lambda xp, a, axis=None: xp.prod_others(a, axis),
    vjp=lambda g, a, out, up, axis=None: (g.prod_pairs(a, up, axis=axis),),
    arity_=1, shape=lambda a, axis=None: _axes_shape(a, axis), params=("axis",),
    role="scales", local="da = prod_pairs(a, dout): for each element, the sum over the others of dout times "
                         "the product of the rest",
))

_register(Gate(
    "prod_pairs", "prod_pairs(a, u, axis=None)", function="prod_pairs", internal=True,
    formula_="for each element k, the sum over the others i of u[i] times the product of the elements "
             "other than i and k, along axis (prod_others' vector-Jacobian product; no division: exact at 0)",
    forward=lambda xp, a, up, axis=None: xp.prod_pairs(a, up, axis),
    # The weights u[i] meet a symmetric matrix (the product without i and k): du would be prod_pairs(a, dout),
    # but da is refused, and with it the whole vector-Jacobian product.
    vjp=_prod_pairs_vjp,
    arity_=2, shape=lambda a, u, axis=None: _axes_shape(a, axis), params=("axis",),
    role="scales", local="da: not built (third derivatives of prod are refused); du = prod_pairs(a, dout)",
))

# keepdims=True: the reduction's result with its reduced axes put back as size 1 (numpy's shape).
_register(Gate(
    "keepdims", "keepdims(a, like, axis=None)", function="keepdims",
    formula_="a reshaped to like's shape with the axes along axis (all, if None) of size 1",
    forward=lambda xp, a, like, axis=None: xp.keepdims(a, like, axis),
    vjp=lambda g, a, like, out, up, axis=None: (g.reshape_like(up, a), None),
    arity_=2, shape=lambda a, like, axis=None: shapes.kept(like, axis), params=("axis",), internal=True,
    role="distributes", local="da = dout reshaped back to a's shape",
))

_register(Gate(
    "reshape_like", "reshape_like(a, like)", function="reshape_like",
    formula_="a's elements, in order, in like's shape", internal=True,
    forward=lambda xp, a, like: xp.reshape_like(a, like),
    vjp=lambda g, a, like, out, up: (g.reshape_like(up, a), None),
    # Written by a person too (dout.reshape(x.shape)): the sizes must agree, as numpy requires.
    arity_=2, shape=lambda a, like: shapes.reshaped(a, like),
    role="distributes", local="da = dout reshaped back to a's shape",
))

# ---- grouped gates of the softmax loss (numerically stable; --expand shows their parts) ----


def _spread(g: GateBuilder, reduced: int, like: int, axis: Axis) -> int:
    """A reduction of ``like`` along axis, copied back along it to like's shape."""
    return g.broadcast(reduced, like, axis=axis)


def _logsumexp_parts(g: GateBuilder, a: int, axis: Axis = None) -> int:
    # max + log(sum(exp(a - max))): no exp overflows; the max's own gradient cancels (1 - 1).
    m = g.amax(a, axis=axis)
    return g.add(m, g.log(g.sum(g.exp(g.sub(a, _spread(g, m, a, axis))), axis=axis)))


def _softmax_parts(g: GateBuilder, a: int, axis: Axis = None) -> int:
    e = g.exp(g.sub(a, _spread(g, g.amax(a, axis=axis), a, axis)))
    return g.mul(e, g.recip(_spread(g, g.sum(e, axis=axis), a, axis)))


def _axes_shape(a: shapes.Shape, axis: Axis = None) -> shapes.Shape:
    shapes.axes(a, axis)  # the check: each axis in range, none twice
    return a


def _softmax_shape(a: shapes.Shape, axis: Axis = None) -> shapes.Shape:
    shapes.reduce_some(a, axis)  # the check: each axis in range, none twice, none empty (it subtracts the max)
    return a


_register(Gate(
    "logsumexp", "logsumexp(a, axis=None)", function="logsumexp",
    formula_="log(sum(exp(a))) along axis, computed as max + log(sum(exp(a - max))) so nothing overflows",
    forward=lambda xp, a, axis=None: xp.logsumexp(a, axis),
    vjp=lambda g, a, out, up, axis=None: (
        g.mul(_spread(g, up, a, axis), g.exp(g.sub(a, _spread(g, out, a, axis)))),),
    arity_=1, shape=shapes.reduce_some, params=("axis",), decompose=_logsumexp_parts,
    role="scales", local="da = dout * softmax(a) along axis",
))

_register(Gate(
    "softmax", "softmax(a, axis=None)", function="softmax",
    formula_="exp(a) / sum(exp(a)) along axis (as scipy.special.softmax), computed from a - max(a)",
    forward=lambda xp, a, axis=None: xp.softmax(a, axis),
    vjp=lambda g, a, out, up, axis=None: (
        g.mul(out, g.sub(up, _spread(g, g.sum(g.mul(up, out), axis=axis), a, axis))),),
    arity_=1, shape=_softmax_shape, params=("axis",), decompose=_softmax_parts,
    role="scales", local="da = s * (dout - sum(dout * s)) along axis, where s = softmax(a)",
))

_register(Gate(
    "log_softmax", "log_softmax(a, axis=None)", function="log_softmax",
    formula_="a - logsumexp(a) along axis",
    forward=lambda xp, a, axis=None: xp.log_softmax(a, axis),
    vjp=lambda g, a, out, up, axis=None: (
        g.sub(up, g.mul(g.exp(out), _spread(g, g.sum(up, axis=axis), a, axis))),),
    arity_=1, shape=_softmax_shape, params=("axis",),
    decompose=lambda g, a, axis=None: g.sub(a, _spread(g, _logsumexp_parts(g, a, axis), a, axis)),
    role="scales", local="da = dout - softmax(a) * sum(dout) along axis",
))

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

# ---- numpy's comparisons and booleans -----------------------------------------
# A comparison gives booleans, as in numpy (in arithmetic they are 0 and 1:
# dout * (x > 0)); booleans carry no gradient, so nothing flows back through them.


# The forwards that compute with numpy even on numbers: what they return is numpy's scalars (np.True_,
# np.float64), and the gates after them compute on those, so the evaluator quiets numpy's warnings there too.
NUMPY_FORWARDS: set[Callable[..., Any]] = set()


def _numpy_function(name: str) -> Callable[..., Any]:
    """numpy's own function, imported when it first runs: booleans are numpy's on numbers too
    (np.True_ + np.True_ is True, where Python's True + True is 2)."""
    def forward(xp: ModuleType, *values: Any) -> Any:
        import numpy

        with numpy.errstate(all="ignore"):  # on numbers too: inf and nan are reported, not warned about
            return getattr(numpy, name)(*values)

    NUMPY_FORWARDS.add(forward)
    return forward


def _boolean_gate(op: str, syntax: str, numpy_name: str, meaning: str, arity: int = 2) -> Gate:
    return Gate(
        op, syntax, formula_=meaning, forward=_numpy_function(numpy_name),
        partials=(None,) * arity, role="blocks", local="∂/∂a = 0: booleans carry no gradient", boolean=True,
        function=None if arity == 2 else op,
    )


for _op, _symbol, _numpy, _meaning in (
    ("lt", "<", "less", "True where a < b"), ("le", "<=", "less_equal", "True where a <= b"),
    ("gt", ">", "greater", "True where a > b"), ("ge", ">=", "greater_equal", "True where a >= b"),
    ("eq", "==", "equal", "True where a == b"), ("ne", "!=", "not_equal", "True where a != b"),
    ("logical_and", "&", "logical_and", "True where a and b are both True"),
    ("logical_or", "|", "logical_or", "True where a or b (or both) is True"),
):
    _register(_boolean_gate(_op, f"a {_symbol} b", _numpy, _meaning)._replace(symbol_=_symbol))
    if _op.startswith("logical"):
        FUNCTIONS.setdefault(_op, {})[2] = REGISTRY[_op]
_register(_boolean_gate("logical_not", "~a", "logical_not", "True where a is False", arity=1)._replace(symbol_="~"))

_register(Gate(
    "where", "where(c, a, b)", function="where",
    formula_="a where the boolean c is True, else b (numpy's np.where)",
    forward=_numpy_function("where"),
    # numpy reads a number as a condition by whether it is nonzero; a boolean c != 0 is c itself.
    partials=(None, lambda g, c, a, b, out: g.ne(c, g.const(0.0)), lambda g, c, a, b, out: g.eq(c, g.const(0.0))),
    selects=(1, 2),
    role="routes", local="∂/∂a = (c != 0), ∂/∂b = (c == 0): 1 where the condition picks that input, else 0",
))

# ---- integer arithmetic, and numbers fixed by the shapes --------------------


def _integer_division_nonfinite(a: float, b: float) -> str:
    """x // 0 is inf and x % 0 is nan, as numpy computes them: a division by zero, not an overflow."""
    return "a division by zero" if b == 0 else "the result overflows float64"


_register(Gate(
    "floordiv", "a // b", symbol_="//", title_="floor divide",
    formula_="the largest whole number not above a / b (numpy's floor_divide)",
    forward=_numpy_function("floor_divide"),
    partials=(None, None), role="blocks", local="∂/∂a = ∂/∂b = 0 (flat between its jumps)",
    nonfinite=_integer_division_nonfinite,
))

_register(Gate(
    "mod", "a % b", symbol_="%", title_="remainder",
    formula_="a - b * (a // b), with the sign of b (numpy's remainder)",
    forward=_numpy_function("remainder"),
    partials=(_one, lambda g, a, b, out: g.neg(g.floordiv(a, b))),
    role="scales", local="∂/∂a = 1, ∂/∂b = -(a // b)", nonfinite=_integer_division_nonfinite,
))


def _dim(shape: shapes.Shape, axis: int = 0, count: int | None = None) -> int:
    if count is not None and len(shape) != count:
        raise shapes.ShapeError(f"{count} names for the {len(shape)} axes of a {shapes.show(shape)} value")
    if not -len(shape) <= axis < len(shape):
        raise shapes.ShapeError(f"axis {axis} is out of range for a {shapes.show(shape)} value")
    return shape[axis]


def _number_shape(number: Callable[..., int], shape: shapes.Shape, **params: Any) -> shapes.Shape:
    number(shape, **params)  # the checks: an axis in range, as many names as axes
    return ()


def _from_shape(op: str, syntax: str, meaning: str, number: Callable[..., int], params: tuple[str, ...] = ()) -> Gate:
    return Gate(
        op, syntax, formula_=meaning, forward=lambda xp, a, **p: number(shapes.value_shape(a), **p),
        vjp=lambda g, a, out, up, **p: (None,), arity_=1, params=params,
        shape=lambda a, **p: _number_shape(number, a, **p), from_shapes=number,
        role="blocks", local="da = 0: a number fixed by the shape", internal=True,
    )


_register(_from_shape("dim", "a.shape[axis]", "the length of a along axis", _dim, params=("axis", "count")))
_register(_from_shape("ndim", "a.ndim", "how many axes a has", len))
_register(_from_shape("size", "a.size", "how many elements a has", shapes.size))


def _arange(xp: ModuleType, *bounds: float) -> Any:
    import numpy

    return numpy.arange(*(int(b) for b in bounds))


def _arange_shape(input_shapes: list[shapes.Shape], bounds: list[Any]) -> shapes.Shape:
    if not 1 <= len(bounds) <= 3 or not all(_whole(b) for b in bounds):
        raise shapes.ShapeError("np.arange takes one to three whole numbers, written in the program or "
                                "fixed by the shapes (x.shape[0])")
    start, stop, step = (0, int(bounds[0]), 1) if len(bounds) == 1 else (*(int(b) for b in bounds), 1)[:3]
    if step == 0:
        raise shapes.ShapeError("np.arange's step cannot be zero")
    # ceil((stop - start) / step) in Python's integers: len(range(...)) overflows past 2**63, and the
    # element limit, checked next, must see the true length to refuse it
    return (max(0, -((start - stop) // step)),)


_register(Gate(
    "arange", "arange(a)", formula_="the whole numbers 0, 1, ..., a - 1 (numpy's np.arange)",
    forward=_arange, vjp=lambda g, *rest: (None,) * (len(rest) - 2), arity_=VARIADIC,
    shape=lambda *bounds: (), value_shape=_arange_shape, no_gradient=True,
    role="blocks", local="da = 0: whole numbers carry no gradient",
))

# ---- numpy's shape operations ---------------------------------------------------


def _reshaped(input_shapes: list[shapes.Shape], values: list[Any]) -> shapes.Shape:
    """numpy's reshape: the new sizes fixed before evaluation, one of them -1 (whatever is left)."""
    shape, sizes = input_shapes[0], values[1:]
    if not all(_whole(size) for size in sizes):
        raise shapes.ShapeError("reshape takes whole numbers, written in the program or fixed by the shapes "
                                "(x.shape[0]), one of them may be -1")
    return shapes.reshaped(shape, tuple(int(size) for size in sizes))


_register(Gate(
    "reshape", "reshape(a, n, m, ...)", title_="reshape",
    formula_="a's elements, in order, in the shape (n, m, ...); one size may be -1",
    forward=lambda xp, a, *sizes: xp.reshape(a, tuple(int(size) for size in sizes)),
    vjp=lambda g, a, *rest: (g.reshape_like(rest[-1], a),) + (None,) * (len(rest) - 2),
    arity_=VARIADIC, shape=lambda a, *sizes: a, value_shape=_reshaped,
    role="distributes", local="da = dout reshaped back to a's shape",
))


def _inverse(axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(sorted(range(len(axes)), key=axes.__getitem__))


_register(Gate(
    "permute", "transpose(a, axes)", title_="transpose with axes",
    formula_="a with its axes in the order axes (numpy's np.transpose(a, axes))",
    forward=lambda xp, a, axes: xp.permute(a, axes),
    vjp=lambda g, a, out, up, axes: (g.permute(up, axes=_inverse(axes)),),
    arity_=1, params=("axes",), shape=lambda a, axes: shapes.permuted(a, axes),
    role="distributes", local="da = dout with the axes put back (the inverse permutation)",
))



def _no_vjp(g: GateBuilder, *inputs_out_up: int, **params: Any) -> tuple[None, ...]:
    return (None,) * (len(inputs_out_up) - 2)


def _constructor(op: str, syntax: str, meaning: str, forward: Callable[..., Any], **fields: Any) -> Gate:
    """An array made from shapes and numbers alone: no gradient flows through it."""
    return Gate(op, syntax, formula_=meaning, forward=forward, vjp=_no_vjp, arity_=fields.pop("arity_", VARIADIC),
                role="blocks", local="da = 0: a constant array", no_gradient=True, **fields)


def _sizes(input_shapes: list[shapes.Shape], values: list[Any]) -> shapes.Shape:
    if not all(_whole(v) and v >= 0 for v in values):
        raise shapes.ShapeError("the sizes are whole numbers, written in the program or fixed by the shapes")
    return tuple(int(v) for v in values)


_register(_constructor(
    "zeros_like", "zeros_like(a)", "zeros shaped like a", lambda xp, a: xp.filled(a, 0.0), arity_=1,
    shape=lambda a: a, function="zeros_like"))
_register(_constructor(
    "ones_like", "ones_like(a)", "ones shaped like a", lambda xp, a: xp.filled(a, 1.0), arity_=1,
    shape=lambda a: a, function="ones_like"))
_register(_constructor(
    "zeros", "zeros(a, b, ...)", "an array of zeros of shape (a, b, ...)",
    lambda xp, *sizes: xp.full(tuple(int(n) for n in sizes), 0.0), shape=lambda *s: (), value_shape=_sizes))
_register(_constructor(
    "ones", "ones(a, b, ...)", "an array of ones of shape (a, b, ...)",
    lambda xp, *sizes: xp.full(tuple(int(n) for n in sizes), 1.0), shape=lambda *s: (), value_shape=_sizes))
_register(_constructor(
    "eye", "eye(a)", "the a × a identity matrix",
    lambda xp, n: xp.eye(int(n)), arity_=1, shape=lambda n: (),
    value_shape=lambda input_shapes, values: _sizes(input_shapes, values * 2)))

_register(Gate(
    "astype", "a.astype(float)", title_="as float",
    formula_="a as float64 numbers (booleans become 0 and 1)",
    forward=lambda xp, a: xp.as_float(a),
    partials=(_one,), role="distributes", local="∂/∂a = 1",
))


def _reduced_vjp_none(g: GateBuilder, a: int, out: int, up: int, axis: Axis = None) -> tuple[None]:
    return (None,)


for _op, _word in (("argmax", "largest"), ("argmin", "smallest")):
    _register(Gate(
        _op, f"{_op}(a, axis=None)", function=_op,
        formula_=f"the index of the {_word} element of a (along axis; of the flattened a without one)",
        forward=lambda xp, a, axis=None, _name=_op: getattr(xp, _name)(a, axis),
        vjp=_reduced_vjp_none, arity_=1, shape=shapes.reduce_some, params=("axis",), no_gradient=True,
        role="blocks", local="da = 0: an index carries no gradient",
    ))

_register(Gate(
    "expand_dims", "expand_dims(a, axis)", function="expand_dims",
    formula_="a with a new axis of size 1 at axis",
    forward=lambda xp, a, axis: xp.expand_dims(a, axis),
    vjp=lambda g, a, out, up, axis: (g.reshape_like(up, a),),
    arity_=1, params=("axis",), shape=lambda a, axis: shapes.expanded(a, axis),
    role="distributes", local="da = dout reshaped back to a's shape",
))

_register(Gate(
    "squeeze", "squeeze(a, axis=None)", function="squeeze",
    formula_="a without its axes of size 1 (those along axis)",
    forward=lambda xp, a, axis=None: xp.squeeze(a, axis),
    vjp=lambda g, a, out, up, axis=None: (g.reshape_like(up, a),),
    arity_=1, params=("axis",), shape=lambda a, axis=None: shapes.squeezed(a, axis),
    role="distributes", local="da = dout reshaped back to a's shape",
))

_register(Gate(
    "swapaxes", "swapaxes(a, axis1, axis2)", title_="swap axes",
    formula_="a with the two axes exchanged",
    forward=lambda xp, a, axes: xp.permute(a, shapes.swapped(len(shapes.value_shape(a)), axes)),
    vjp=lambda g, a, out, up, axes: (g.swapaxes(up, axes=axes),),
    arity_=1, params=("axes",), shape=lambda a, axes: shapes.permuted(a, shapes.swapped(len(a), axes)),
    role="distributes", local="da = dout with the two axes exchanged back",
))


def _pieces(g: GateBuilder, joined: list[shapes.Shape], up: int, axis: int, stacked: bool) -> tuple[int, ...]:
    """What each input of a concatenation (or a stack) receives: its own part of the upstream gradient.

    ``joined``: each input's shape as it was joined (a 1-D array in np.vstack is a row).
    """
    rank = len(g.shape(up))
    where = axis % rank
    received, start = [], 0
    for shape in joined:
        if stacked:
            item: Any = start
            start += 1
        else:
            length = shape[where] if shape else 1
            item, start = slice(start, start + length), start + length
        received.append(g.index(up, key=(slice(None),) * where + (item,)))
    return tuple(received)


_register(Gate(
    "concatenate", "concatenate((a, b, ...), axis=0)", function="concatenate",
    formula_="the arrays joined along an existing axis",
    forward=lambda xp, *arrays, axis=0: xp.concatenate(arrays, axis),
    vjp=lambda g, *rest, axis=0: _pieces(g, [g.shape(a) for a in rest[:-2]], rest[-1], axis, stacked=False),
    arity_=VARIADIC, params=("axis",), shape=lambda *a, axis=0: shapes.concatenated(a, axis),
    role="distributes", local="da, db, ... = the parts of dout that each input filled",
))

_register(Gate(
    "stack", "stack((a, b, ...), axis=0)", function="stack",
    formula_="the arrays (of one shape) stacked along a new axis",
    forward=lambda xp, *arrays, axis=0: xp.stack(arrays, axis),
    vjp=lambda g, *rest, axis=0: _pieces(g, [g.shape(a) for a in rest[:-2]], rest[-1], axis, stacked=True),
    arity_=VARIADIC, params=("axis",), shape=lambda *a, axis=0: shapes.stacked(a, axis),
    role="distributes", local="da, db, ... = dout at each input's position along axis",
))

def _joined_axis(rank: int, op: str) -> int:
    """np.hstack joins 1-D arrays along axis 0 and others along axis 1; np.vstack joins along axis 0."""
    return 1 if op == "hstack" and rank > 1 else 0


def _stacked_vjp(op: str) -> Callable[..., tuple[int, ...]]:
    def vjp(g: GateBuilder, *rest: int) -> tuple[int, ...]:
        inputs, up = rest[:-2], rest[-1]
        joined = _joined_shapes(op, [g.shape(a) for a in inputs])
        pieces = _pieces(g, joined, up, _joined_axis(len(g.shape(up)), op), stacked=False)
        # np.vstack makes a 1-D array one row: its part goes back in its own shape
        return tuple(piece if g.shape(piece) == g.shape(a) else g.reshape_like(piece, a)
                     for piece, a in zip(pieces, inputs))

    return vjp


def _joined_shapes(op: str, shapes_: Sequence[shapes.Shape]) -> list[shapes.Shape]:
    """The inputs' shapes as np.hstack (a number is (1,)) or np.vstack (a vector is a row) joins them."""
    if op == "hstack":
        return [s if s else (1,) for s in shapes_]
    return [s if len(s) > 1 else (1,) + (s or (1,)) for s in shapes_]


def _stacked_shape(op: str) -> Callable[..., shapes.Shape]:
    def shape(*shapes_: shapes.Shape) -> shapes.Shape:
        rows = _joined_shapes(op, shapes_)
        return shapes.concatenated(tuple(rows), _joined_axis(len(rows[0]), op))

    return shape


for _op, _where in (("hstack", "side by side (along axis 1; 1-D arrays end to end)"),
                    ("vstack", "one above the other (along axis 0; a 1-D array is a row)")):
    _register(Gate(
        _op, f"{_op}((a, b, ...))", function=_op, formula_=f"the arrays joined {_where}",
        forward=lambda xp, *arrays, _name=_op: getattr(xp, _name)(arrays),
        vjp=_stacked_vjp(_op), arity_=VARIADIC, shape=_stacked_shape(_op),
        role="distributes", local="da, db, ... = the parts of dout that each input filled",
    ))

# ---- numpy subscripts: gather, and its gradient the scatter-add --------------


def _index_shape(a: shapes.Shape, *arrays: shapes.Shape, key: tuple[Any, ...]) -> shapes.Shape:
    return indexing.result_shape(a, arrays, key)


_register(Gate(
    "index", "a[key]", title_="subscript", symbol_="[]",
    formula_="the elements of a that the subscript picks (numpy's indexing)",
    forward=lambda xp, a, *arrays, key: indexing.gather(a, key, arrays),
    vjp=lambda g, a, *rest, key: (g.scatter(a, rest[-1], *rest[:-2], key=key),) + (None,) * (len(rest) - 2),
    arity_=VARIADIC, shape=_index_shape, params=("key",),
    role="routes", local="da = zeros like a with dout added at the picked places (np.add.at: repeats add up)",
))

_register(Gate(
    "scatter", "scatter(like, a, key)", title_="scatter-add", internal=True,
    formula_="zeros shaped like like with a added at the places the subscript picks (np.add.at)",
    forward=lambda xp, like, values, *arrays, key: indexing.scatter_add(like, values, key, arrays),
    vjp=lambda g, like, values, *rest, key: (None, g.index(rest[-1], *rest[:-2], key=key)) + (None,) * (len(rest) - 2),
    arity_=VARIADIC, shape=lambda like, values, *arrays, key: like, params=("key",),
    role="distributes", local="da = dout at the picked places (the gather)",
))



def _at_set_vjp(g: GateBuilder, a: int, value: int, *rest: int, key: tuple[Any, ...]) -> tuple[int | None, ...]:
    arrays, up = rest[:-2], rest[-1]
    overwritten = g.at_set(up, g.const(0.0), *arrays, key=key)  # a written-over element passes nothing back
    if indexing.MASK in key:  # the value went to every element the mask picks
        received = g.where(arrays[0], up, g.const(0.0))
    else:
        received = g.index(up, *arrays, key=key)
    return (overwritten, received) + (None,) * len(arrays)


_register(Gate(
    "at_set", "at_set(a, key, v)", title_="subscript assignment", symbol_="[]=",
    formula_="a copy of a with v written at the places the subscript picks (a[key] = v; JAX's a.at[key].set(v))",
    forward=lambda xp, a, value, *arrays, key: indexing.assign(a, value, key, arrays),
    vjp=_at_set_vjp, arity_=VARIADIC, params=("key",),
    shape=lambda a, value, *arrays, key: indexing.assigned_shape(a, value, arrays, key),
    role="routes",
    local="da = dout with zeros where v was written (no gradient through overwritten elements), dv = dout there",
))

# dot(a, b) is numpy's dot for vectors and matrices: the same gate as a @ b; np.power(a, b) is a ** b.
FUNCTIONS["dot"] = {2: REGISTRY["matmul"]}
FUNCTIONS["power"] = {2: REGISTRY["pow"]}

DEFAULT_NONFINITE = "the result overflows float64"
