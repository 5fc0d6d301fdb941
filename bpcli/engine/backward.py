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

from itertools import chain
from typing import Iterator

from bpcli.engine.gates import REGISTRY
from bpcli.engine.graph import CONST, INPUT, Builder, Graph

Use = tuple[int, int]  # (consumer gate, input position)


class Adjoints:
    """Where backward put each gradient, by node id."""

    def __init__(self, output: int, seed: int) -> None:
        self.output = output
        self.seed = seed  # the gradient of the output with respect to itself
        self.total: dict[int, int] = {}  # node -> d(output)/d(node)
        self.local: dict[Use, int] = {}  # ∂consumer/∂input at that use
        self.downstream: dict[Use, int] = {}  # what the input receives at that use
        self.contributions: dict[int, list[Use]] = {}  # node -> uses whose gradient adds up into it

    def nodes(self) -> Iterator[int]:
        """Every node that holds a gradient, a local gradient or a downstream value."""
        return chain(self.total.values(), self.local.values(), self.downstream.values())

    def gradient(self, node: int) -> int | None:
        """The node holding d(output)/d(node), or None where the gradient is identically zero."""
        return self.total.get(node)


class GraphTooLarge(Exception):
    """The backward pass stopped as the graph reached its node limit (``backward``'s ``max_nodes``)."""


def backward(graph: Graph, output: int | None = None, seed: int | None = None,
             max_nodes: int | None = None) -> Adjoints:
    """Append the gradient of ``output`` (default: the graph's output) with respect to every node.

    ``seed`` is the upstream gradient of the output; by default the constant 1. With
    ``max_nodes``, the pass stops with GraphTooLarge as soon as the graph has more nodes
    than that (a few gates past it at most), rather than after building all of them.
    """
    output = graph.output if output is None else output
    g = Builder(graph)
    one: int | None = None  # the constant 1: made first, as the seed, or never
    if seed is None:
        seed = one = g.const(1.0)
    adjoints = Adjoints(output=output, seed=seed)
    carries = _carries_gradient(graph, output)
    nodes, shapes = graph.nodes, graph.shapes
    local_at, downstream_at, contributions = adjoints.local, adjoints.downstream, adjoints.contributions
    arriving: dict[int, list[int]] = {output: [seed]}
    multiply, select = g.mul, g.mul0
    for node in range(output, -1, -1):
        terms = arriving.pop(node, None)
        if terms is None:
            continue
        if max_nodes is not None and len(nodes) > max_nodes:
            raise GraphTooLarge(len(nodes))
        g.origin = node
        # Where a value is used more than once, the gradients arriving from each use add up.
        upstream = adjoints.total[node] = terms[0] if len(terms) == 1 else g.accumulate(*terms)
        n = nodes[node]
        if n.op == INPUT or n.op == CONST:
            continue
        gate = REGISTRY[n.op]
        inputs = n.inputs
        if gate.vjp is not None:
            received = [((node, position), share)
                        for position, share in enumerate(gate.vjp(g, *inputs, node, upstream, **(n.attrs or {})))]
        else:
            received = []
            # 1 × upstream is upstream (what the multiply would fold to), decided
            # here for the commonest local gradient without making the multiply.
            passes_on = nodes[upstream].op != CONST
            assert gate.partials is not None  # a gate declares its partials or its vjp
            for position, partial in enumerate(gate.partials):
                if partial is not None and carries[inputs[position]]:
                    use = (node, position)
                    local = local_at[use] = partial(g, *inputs, node)
                    if local == one and passes_on:
                        received.append((use, upstream))
                    else:
                        # A selecting partial's 0 wins over an inf or nan upstream (relu, max, min, abs).
                        times = select if position in gate.selects else multiply
                        received.append((use, times(local, upstream)))
        for use, share in received:
            used = inputs[use[1]]
            if share is None or not carries[used]:
                continue
            if shapes is not None and shapes[share] != shapes[used]:
                share = g.unbroadcast(share, used)  # summed over the axes the input was broadcast along
            downstream_at[use] = share
            if used in arriving:
                arriving[used].append(share)
                contributions[used].append(use)
            else:
                arriving[used] = [share]
                contributions[used] = [use]
    return adjoints


def _carries_gradient(graph: Graph, output: int) -> list[bool]:
    """Nodes through which a variable's gradient can flow to ``output``."""
    depends = graph.depends_on_variables()
    feeds_output = graph.ancestors(output)
    return [depends[i] and feeds_output[i] for i in range(output + 1)]
