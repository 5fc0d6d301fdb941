"""One-sided derivatives at a kink: what ``check`` accepts besides bpcli's convention there.

At a kink the derivative does not exist, and bpcli takes one documented answer
(docs/conventions.md): relu and abs at 0 give 0, a tie of max or min is split
evenly. A student's backward pass that takes the derivative of one side
instead (ReLU's ``dout * (x > 0)`` or ``(x >= 0)``, a max that routes the whole
gradient to one of its tied inputs, abs's -1 or 1) is right too: its number is
a one-sided derivative. So where a relu, abs, max or min is exactly at its kink,
each such gate is given one side (all its tied elements the same side, as a
mask does), and the backward pass is evaluated again with those local
gradients: a student's gradient equal to one of these is accepted, with a note.

A side is the sign of the gate's kink quantity as it leaves the kink: its input
for relu and abs (+: relu passes, abs gives 1), a - b for max(a, b) and
min(a, b) (+: max routes to a, min to b). The local gradients (step, sign,
greater) are computed with the gate's first input moved by one float64 step
to that side at the tied elements, which is exactly their value on that side.
"""

from __future__ import annotations

import itertools
from functools import cached_property
from typing import TYPE_CHECKING, Any, Mapping

from bpcli.analyses.expected import Expected, Rule, agrees, computed
from bpcli.engine.backends import backend_for
from bpcli.engine.backward import backward
from bpcli.engine.evaluate import evaluate
from bpcli.engine.gates import REGISTRY
from bpcli.engine.graph import CONST, INPUT, Node
from bpcli.engine.record import replace

if TYPE_CHECKING:
    from bpcli.analyses.backward_file import BackwardCheck
    from bpcli.analyses.diagnosis import Truth

SIDED = ("relu", "abs", "max", "min")  # the gates whose one-sided derivatives are accepted at a kink
MAX_COMBINED = 4  # tied gates whose sides are combined every way (16 passes); beyond that, all take one side
NOTE = "at the kink; accepted as a one-sided derivative of {gates}"


class OneSided:
    """The gradients of a problem with a side taken at every tied relu, abs, max and min, each way."""

    def __init__(self, truth: Truth) -> None:
        self.truth = truth

    @cached_property
    def tied(self) -> list[int]:
        """The forward stages of those gates that are exactly at their kink (in some element)."""
        truth, graph = self.truth, self.truth.graph
        found = []
        for node in graph.stages:
            gate = REGISTRY[graph.nodes[node].op]
            if gate.op in SIDED and gate.kink is not None and truth.gradient(node) is not None:
                inputs = [truth.value(i) for i in graph.nodes[node].inputs]
                xp = backend_for(*inputs)
                if xp.count(gate.kink(xp, *inputs)):
                    found.append(node)
        return found

    @cached_property
    def gradients(self) -> list[dict[int, Any]]:
        """Every forward node's gradient, once for each way of taking the tied gates' sides."""
        if not self.tied:
            return []
        truth = self.truth
        graph = truth.forward_copy()
        seed = graph.add(CONST, (), "seed", value=truth.seed)
        adjoints = backward(graph, output=graph.output, seed=seed)
        # Each tied gate's local gradients become inputs, bound to their one-sided values.
        locals_of = {node: [(use, local) for use, local in adjoints.local.items()
                            if use[0] == node and graph.nodes[local].op != CONST] for node in self.tied}
        before = {local: graph.nodes[local] for uses in locals_of.values() for _, local in uses}
        for local in before:
            graph.nodes[local] = Node(INPUT, (), f"side of {local}")
        ways = (itertools.product((-1.0, 1.0), repeat=len(self.tied)) if len(self.tied) <= MAX_COMBINED
                else [(-1.0,) * len(self.tied), (1.0,) * len(self.tied)])
        roots = list(adjoints.total.values())
        found = []
        for sides in ways:
            bound = dict(truth.result.inputs)
            for node, side in zip(self.tied, sides):
                for _, local in locals_of[node]:
                    bound[f"side of {local}"] = self._one_sided(node, before[local], side)
            values = evaluate(graph, bound, roots=roots).values
            found.append({node: values[total] for node, total in adjoints.total.items()})
        return found

    def _one_sided(self, node: int, local: Node, side: float) -> Any:
        """The local gradient ``local`` (a step, sign or greater of the gate's inputs) of the tied gate
        ``node`` on one side of its kink."""
        truth = self.truth
        gate_node = truth.graph.nodes[node]
        inputs = [truth.value(i) for i in gate_node.inputs]
        xp = backend_for(*inputs)
        kink = REGISTRY[gate_node.op].kink
        assert kink is not None  # the gate is tied: it has a kink
        at_kink = kink(xp, *inputs)
        first = gate_node.inputs[0]
        if hasattr(at_kink, "shape") or hasattr(inputs[0], "shape"):
            import numpy as np  # numpy only where arrays are (start-up)

            whole = np.broadcast_to(inputs[0], np.shape(at_kink))
            moved: Any = np.where(at_kink, np.nextafter(whole, side * np.inf), whole)
        else:
            import math

            moved = math.nextafter(inputs[0], side * math.inf) if at_kink else inputs[0]
        operands = [moved if i == first else truth.value(i) for i in local.inputs]
        return REGISTRY[local.op].forward(xp, *operands)

    def accepts(self, node: int, expected: Expected, rule: Rule) -> bool:
        """Whether ``expected`` is the gradient at ``node`` with some side taken at every tied gate."""
        return any(node in way and agrees(way[node], expected, rule) for way in self.gradients)

    def explains(self, answers: Mapping[int, Expected], rule: Rule) -> bool:
        """Whether one way of taking the sides gives every one of ``answers`` (node -> gradient) at once: a
        tie's gradient routed wholly to one input or wholly to the other, not to both (dx = dy = 1 for
        max(x, y) at x = y is each a side alone, and together the classic mistake)."""
        # A node no way reaches has no side to take: its answer is judged by bpcli's number alone.
        return any(all(node not in way or agrees(way[node], expected, rule) for node, expected in answers.items())
                   for way in self.gradients)

    @property
    def note(self) -> str:
        return NOTE.format(gates=", ".join(self.truth.gate_label(node) for node in self.tied))


def accepted_lines(check: BackwardCheck, truth: Truth, rule: Rule) -> BackwardCheck:
    """A backward file's lines that leave a one-sided gradient (wrong against bpcli's convention) marked
    right, with the note; the final gradients' diagnoses of those dropped."""
    sided = truth.one_sided
    if not sided.tied or not sided.explains({node: computed(mine) for node, (mine, _) in check.final.items()}, rule):
        return check

    def accepted(node: int | None, value: Any) -> bool:
        return node is not None and sided.accepts(node, computed(value), rule)

    lines = [replace(line, status="right", note=sided.note, diagnosis=None)
             if line.status in ("wrong", "follows") and accepted(line.node, line.value) else line
             for line in check.lines]
    diagnoses = {node: found for node, found in check.diagnoses.items()
                 if not accepted(node, check.final[node][0])}
    return replace(check, lines=lines, diagnoses=diagnoses)
