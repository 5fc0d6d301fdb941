"""Reverse mode as a graph transformation (source-to-source backpropagation).

``backward`` walks the graph from the output back to the inputs and appends,
for every gate on the way, the nodes that compute what each input receives:
for an elementwise gate, downstream = local × upstream, summed over the axes
the input was broadcast along (the one ``unbroadcast`` step, applied here and
in no gate); for a structural gate, its vector-Jacobian product. Where a value
is used more than once (a fork) the contributions are added up, the notes'
``dx += ...``. Nothing is computed here; the evaluator computes the appended
nodes like any others. Because the appended nodes are ordinary gates,
applying ``backward`` to a gradient node differentiates the backward pass
itself: second and higher derivatives.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bpcli.gates import REGISTRY
from bpcli.graph import Builder, Graph

Use = tuple[int, int]  # (consumer gate, input position)


@dataclass
class Adjoints:
    """Where backward put each gradient, by node id."""

    output: int
    seed: int  # the gradient of the output with respect to itself
    total: dict[int, int] = field(default_factory=dict)  # node -> d(output)/d(node)
    local: dict[Use, int] = field(default_factory=dict)  # ∂consumer/∂input at that use
    downstream: dict[Use, int] = field(default_factory=dict)  # what the input receives at that use
    contributions: dict[int, list[Use]] = field(default_factory=dict)  # node -> uses whose gradient adds up into it

    def nodes(self) -> list[int]:
        """Every node that holds a gradient, a local gradient or a downstream value."""
        return [*self.total.values(), *self.local.values(), *self.downstream.values()]

    def gradient(self, node: int) -> int | None:
        """The node holding d(output)/d(node), or None where the gradient is identically zero."""
        return self.total.get(node)


def backward(graph: Graph, output: int | None = None, seed: int | None = None) -> Adjoints:
    """Append the gradient of ``output`` (default: the graph's output) with respect to every node.

    ``seed`` is the upstream gradient of the output; by default the constant 1.
    """
    output = graph.output if output is None else output
    g = Builder(graph)
    if seed is None:
        seed = g.const(1.0)
    adjoints = Adjoints(output=output, seed=seed)
    carries = _carries_gradient(graph, output)
    arriving: dict[int, list[int]] = {output: [seed]}
    for node in range(output, -1, -1):
        if node not in arriving:
            continue
        g.origin = node
        total = _sum(g, arriving.pop(node))
        adjoints.total[node] = total
        if not graph.is_gate(node):
            continue
        for position, received in _downstream(g, graph, node, total, carries, adjoints):
            used = graph.nodes[node].inputs[position]
            if graph.shapes is not None and graph.shapes[received] != graph.shapes[used]:
                received = g.unbroadcast(received, used)
            use = (node, position)
            adjoints.downstream[use] = received
            adjoints.contributions.setdefault(used, []).append(use)
            arriving.setdefault(used, []).append(received)
    return adjoints


def _downstream(g: Builder, graph: Graph, node: int, upstream: int, carries: list[bool], adjoints: Adjoints):
    """(input position, node of what that input receives) for the inputs that need a gradient."""
    n = graph.nodes[node]
    gate = REGISTRY[n.op]
    if gate.vjp is not None:
        received = gate.vjp(g, *n.inputs, node, upstream, **(n.attrs or {}))
        return [(i, r) for i, r in enumerate(received) if r is not None and carries[n.inputs[i]]]
    pairs = []
    for position, used in enumerate(n.inputs):
        partial = gate.partials[position]
        if not carries[used] or partial is None:
            continue
        local = partial(g, *n.inputs, node)
        adjoints.local[(node, position)] = local
        pairs.append((position, g.mul(local, upstream)))
    return pairs


def _carries_gradient(graph: Graph, output: int) -> list[bool]:
    """Nodes through which a variable's gradient can flow to ``output``."""
    depends = graph.depends_on_variables()
    feeds_output = graph.ancestors(output)
    return [depends[i] and feeds_output[i] for i in range(output + 1)]


def _sum(g: Builder, terms: list[int]) -> int:
    total = terms[0]
    for term in terms[1:]:
        total = g.add(total, term)
    return total
