"""Backpropagation in words: one plain sentence per stage, in backward order.

Each sentence comes from the template of the gate's role in backward flow
(distributes, swaps, routes, gates, scales, blocks; gates.ROLES) filled in
with the stage's own names and numbers, read from the GradResult. A value
used in more than one place gets a sentence of its own once all of its
gradients have arrived: their sum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from bpcli.engine.gates import REGISTRY
from bpcli.views.numbers import format_value, sum_text

if TYPE_CHECKING:  # views read results, never import the analyses
    from bpcli.analyses.result import GradResult


@dataclass(frozen=True)
class Sentence:
    kind: str  # "stage" or "fork"
    name: str  # the stage, or the value used more than once
    index: int | None  # the stage number (None: no gates); for a fork, the stage after which its sum is complete
    text: str


def explain(result: GradResult, precision: int = 4) -> list[Sentence]:
    """Sentences for every stage from the output back to the inputs, with the forks' sums."""
    def show(value: Any) -> str:
        return format_value(value, precision)

    reaches_output = result.graph.live([result.graph.output])
    complete_after: dict[int, list[Any]] = {}  # a fork's sum is complete after its last (lowest) stage
    for fork in result.forks:
        complete_after.setdefault(min(c.index for c in fork.contributions), []).append(fork)
    if not result.stages:
        seed = result.evaluation.values[result.adjoints.seed]
        return [Sentence("stage", result.output, None,
                         f"there are no gates: the output {result.output} just receives the gradient {show(seed)}")]
    sentences = []
    for stage in reversed(result.stages):
        text = _stage_sentence(result, stage, show, reaches_output[stage.node])
        sentences.append(Sentence("stage", stage.name, stage.index, text))
        for fork in complete_after.get(stage.index, []):
            text = (
                f"{fork.name} is used in {len(fork.contributions)} places; its gradient is the sum "
                f"{sum_text(fork, show)} = {show(fork.total)}"
            )
            sentences.append(Sentence("fork", fork.name, stage.index, text))
    return sentences


def _stage_sentence(result: GradResult, stage: Any, show, reaches_output: bool) -> str:
    gate = f"the {REGISTRY[stage.op].title} gate {stage.name} = {stage.expr}"
    if stage.upstream is None:
        if not reaches_output:
            why = f"its value does not reach the output {result.output}"
        elif REGISTRY[stage.op].boolean:
            why = "its value is a boolean, which carries no gradient"
        elif REGISTRY[stage.op].carries_no_gradient:  # a shape's number, np.arange, np.zeros_like
            why = "its value is fixed by the shapes, whatever the inputs hold, so it carries no gradient"
        else:
            why = "it depends on no input"
        return f"no gradient flows through {gate}: {why}"
    carried = [i for i, formula in enumerate(stage.formulas) if formula is not None]
    values = [result.evaluation.values[i] for i in result.graph.nodes[stage.node].inputs]
    return _TEMPLATES[stage.role](_Facts(stage, gate, carried, values, show))


def explanation_lines(sentences: list[Sentence]) -> list[str]:
    """The sentences as lines: ``(2) the multiply gate ...``, a fork's sum indented under its stage."""
    def line(s: Sentence) -> str:
        if s.index is None:
            return s.text
        return f"({s.index}) {s.text}" if s.kind == "stage" else f"{' ' * (len(str(s.index)) + 3)}{s.text}"

    return [line(s) for s in sentences]


@dataclass(frozen=True)
class _Facts:
    stage: Any
    gate: str  # "the add gate q = x + y"
    carried: list[int]  # positions of the inputs that need a gradient
    values: list[Any]  # the inputs' values
    show: Callable[[Any], str]

    @property
    def upstream(self) -> str:
        return self.show(self.stage.upstream)

    def gets(self, position: int) -> str:
        """``z gets q·(1) = 3``: local gradient times upstream, or the vector-Jacobian product."""
        stage = self.stage
        name, formula = stage.inputs[position], stage.formulas[position]
        received = self.show(stage.downstream[position])
        summed = " summed over the broadcast axes" if stage.summed[position] else ""
        if stage.structural:
            return f"{name} gets {formula}{summed} = {received}"
        return f"{name} gets {_factor(formula)}·({self.upstream}){summed} = {received}"

    def each(self) -> str:
        return ", ".join(self.gets(i) for i in self.carried)

    def names(self) -> str:
        names = [self.stage.inputs[i] for i in self.carried]
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]

    def all_local(self, value: float) -> bool:
        return not self.stage.structural and all(_everywhere(self.stage.local[i], value) for i in self.carried)


def _distributes(f: _Facts) -> str:
    if not f.all_local(1.0):
        return f"{f.gate} received {f.upstream} and distributes it: {f.each()}"
    summed = [i for i in f.carried if f.stage.summed[i]]
    if not summed:
        return f"{f.gate} received {f.upstream} and distributes it unchanged to {f.names()}"
    # A broadcast input's share is the upstream summed over the axes it was broadcast along: not unchanged.
    shares = [f"{f.stage.inputs[i]} gets it unchanged" for i in f.carried if i not in summed] + [
        f"{f.stage.inputs[i]} gets it summed over the broadcast axes = {f.show(f.stage.downstream[i])}" for i in summed
    ]
    return f"{f.gate} received {f.upstream} and distributes it: {', '.join(shares)}"


def _swaps(f: _Facts) -> str:
    return f"{f.gate} swaps its inputs: {f.each()}"


def _routes(f: _Facts) -> str:
    stage = f.stage
    if stage.op == "index":
        return f"{f.gate} sends the {f.upstream} it received back to the elements it picked: {f.each()}"
    if stage.op == "at_set":
        return (f"{f.gate} passes the {f.upstream} it received back to the elements it kept (an overwritten one "
                f"passes nothing back), and the written part to the value written: {f.each()}")
    if stage.structural:
        return f"{f.gate} routes the {f.upstream} it received to the winning elements: {f.each()}"
    if stage.shape != () or len(f.carried) < 2:
        return f"{f.gate} routes the {f.upstream} it received to the winning input, element by element: {f.each()}"
    inputs = ", ".join(f"{name} = {f.show(value)}" for name, value in zip(stage.inputs, f.values))
    winners = [i for i in f.carried if _everywhere(stage.local[i], 1.0)]
    if not winners:  # a tie: the gradient is split
        return f"{f.gate} splits the {f.upstream} it received evenly between its equal inputs ({inputs}): {f.each()}"
    losers = [stage.inputs[i] for i in f.carried if i not in winners]
    rest = f"; {' and '.join(losers)} {'gets' if len(losers) == 1 else 'get'} 0" if losers else ""
    winner = stage.inputs[winners[0]]
    return f"{f.gate} routes the {f.upstream} it received to {winner}, the input that won ({inputs}){rest}"


def _gates(f: _Facts) -> str:
    stage = f.stage
    if stage.shape != ():
        return (f"{f.gate} lets the upstream gradient {f.upstream} through where {f.names()} is positive "
                f"and blocks it elsewhere: {f.each()}")
    value = f.show(f.values[f.carried[0]])
    if f.all_local(1.0):
        return (f"{f.gate} lets the {f.upstream} it received through, since {f.names()} = {value} is positive: "
                f"{f.each()}")
    return f"{f.gate} blocks the {f.upstream} it received, since {f.names()} = {value} is not positive: {f.each()}"


def _scales(f: _Facts) -> str:
    stage = f.stage
    if len(f.carried) == 1 and not stage.structural:
        i = f.carried[0]
        local = stage.formulas[i]
        value = f.show(stage.local[i])
        by = local if local == value else f"{local} = {value}"
        summed = " summed over the broadcast axes" if stage.summed[i] else ""
        return (f"{f.gate} received {f.upstream} and scales it by its local gradient {by}: "
                f"{stage.inputs[i]} gets {f.show(stage.downstream[i])}{summed}")
    return f"{f.gate} received {f.upstream} and scales it by its local gradients: {f.each()}"


def _blocks(f: _Facts) -> str:
    return f"{f.gate} is flat, so no gradient flows back through it: {f.names()} gets 0 from it"


_TEMPLATES: dict[str, Callable[[_Facts], str]] = {
    "distributes": _distributes,
    "swaps": _swaps,
    "routes": _routes,
    "gates": _gates,
    "scales": _scales,
    "blocks": _blocks,
}


def _factor(formula: str) -> str:
    """A formula as a factor of a product: in parentheses if an operator binds it at the top level."""
    depth = 0
    for position, character in enumerate(formula):
        if character in "([":
            depth += 1
        elif character in ")]":
            depth -= 1
        elif depth == 0 and (character == " " or formula.startswith("**", position)):
            return f"({formula})"
    return formula


def _everywhere(value: Any, number: float) -> bool:
    if hasattr(value, "shape"):
        return bool((value == number).all())
    return value == number
