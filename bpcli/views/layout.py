"""A layered left-to-right layout for circuits, in pure Python (no Graphviz).

The method is Sugiyama's, in its simplest honest form: every node goes in the
layer one past the deepest node feeding it (longest-path layering, so inputs
sit on the left and the output on the right, as the lecture notes draw them);
a wire that skips layers is cut into a chain of invisible bends, one per layer
it crosses; then each layer is ordered by the barycentre (mean position) of
its neighbours in the previous layer, sweeping left to right and back a few
times, which removes most crossings of circuit-shaped graphs. Coordinates
follow: layers are as wide as their widest node plus room for the wire labels,
and each layer is centred vertically.

Everything is linear in the size of the graph per sweep; the page bounds the
size before it lays anything out (views/page.py).
"""

from __future__ import annotations

from dataclasses import dataclass

SWEEPS = 4  # left-to-right and back; more rarely changes a circuit's order
ROW_GAP = 96.0  # vertical distance between the centres of neighbouring nodes (room for two labels)
LABEL_ROOM = 120.0  # horizontal room between layers for a wire's value and gradient


@dataclass(frozen=True)
class Layout:
    """Centres of nodes, each wire's points from source to target, and the drawing's size."""

    centres: dict[str, tuple[float, float]]
    routes: list[list[tuple[float, float]]]  # aligned with the edges given
    width: float
    height: float


def layered(
    nodes: list[str], widths: dict[str, float], edges: list[tuple[str, str]], margin: float = 24.0
) -> Layout:
    """Lay out ``nodes`` (in a topological order: every edge goes from an earlier to a later node).

    ``widths`` are the nodes' drawn widths; ``edges`` are (source, target) pairs.
    """
    layer = _longest_path_layers(nodes, edges)
    layers, chains = _with_bends(nodes, edges, layer)
    neighbours = _neighbours(chains)
    _order_by_barycentre(layers, neighbours)
    layer_x = _layer_positions(layers, widths, margin)
    y = _heights(layers, neighbours)
    top = min(y.values())
    centres = {member: (layer_x[index], margin + ROW_GAP / 2 + y[member] - top)
               for index, members in enumerate(layers) for member in members}
    routes = [[centres[point] for point in chain] for chain in chains]
    last = len(layers) - 1
    width = layer_x[last] + max(widths.get(m, 0.0) for m in layers[last]) / 2 + margin
    return Layout(centres={n: centres[n] for n in nodes}, routes=routes, width=width,
                  height=2 * margin + ROW_GAP + max(y.values()) - top)


def bends(nodes: list[str], edges: list[tuple[str, str]]) -> int:
    """How many bends the layout would add (a wire crossing k layers has k): its size beyond the nodes."""
    layer = _longest_path_layers(nodes, edges)
    return sum(layer[target] - layer[source] - 1 for source, target in edges)


def _longest_path_layers(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    layer = dict.fromkeys(nodes, 0)
    feeding: dict[str, list[str]] = {}
    for source, target in edges:
        feeding.setdefault(target, []).append(source)
    for node in nodes:  # topological order: every source's layer is final before its targets'
        if node in feeding:
            layer[node] = 1 + max(layer[source] for source in feeding[node])
    return layer


def _with_bends(
    nodes: list[str], edges: list[tuple[str, str]], layer: dict[str, int]
) -> tuple[list[list[str]], list[list[str]]]:
    """The layers' members (bends included) and each edge as the chain of points it passes."""
    layers: list[list[str]] = [[] for _ in range(max(layer.values()) + 1)]
    for node in nodes:
        layers[layer[node]].append(node)
    chains = []
    for number, (source, target) in enumerate(edges):
        chain = [source]
        for between in range(layer[source] + 1, layer[target]):
            bend = f"\0bend{number}.{between}"  # a name no node of the circuit can have
            layers[between].append(bend)
            chain.append(bend)
        chain.append(target)
        chains.append(chain)
    return layers, chains


def _neighbours(chains: list[list[str]]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Each point's neighbours in the layer before it and in the layer after it."""
    before: dict[str, list[str]] = {}
    after: dict[str, list[str]] = {}
    for chain in chains:
        for left, right in zip(chain, chain[1:]):
            after.setdefault(left, []).append(right)
            before.setdefault(right, []).append(left)
    return before, after


def _order_by_barycentre(layers: list[list[str]], neighbours: tuple[dict, dict]) -> None:
    before, after = neighbours
    for sweep in range(SWEEPS):
        forward = sweep % 2 == 0
        indices = range(1, len(layers)) if forward else range(len(layers) - 2, -1, -1)
        for index in indices:
            fixed = layers[index - 1] if forward else layers[index + 1]
            position = {member: p for p, member in enumerate(fixed)}
            linked = before if forward else after
            layers[index] = _sorted_by_barycentre(layers[index], linked, position)


def _sorted_by_barycentre(members: list[str], linked: dict[str, list[str]], position: dict[str, int]) -> list[str]:
    def key(item: tuple[int, str]) -> float:
        current, member = item
        near = [position[n] for n in linked.get(member, ()) if n in position]
        # A point with no neighbour there keeps its place, scaled to the other layer's span.
        return sum(near) / len(near) if near else current * max(len(position), 1) / max(len(members), 1)

    return [member for _, member in sorted(enumerate(members), key=key)]


def _heights(layers: list[list[str]], neighbours: tuple[dict, dict]) -> dict[str, float]:
    """Each point's height: level with the mean of what feeds it, in its layer's order, ROW_GAP apart.

    The first layer is stacked; each next one is placed from the one before it,
    so a chain of gates runs straight; then the first layer (the inputs) moves
    level with what it feeds.
    """
    before, after = neighbours
    y = {member: position * ROW_GAP for position, member in enumerate(layers[0])}
    for members in layers[1:]:
        _place(members, before, y)
    _place(layers[0], after, y)
    return y


def _place(members: list[str], linked: dict[str, list[str]], y: dict[str, float]) -> None:
    """Put ``members`` (in order) at the mean height of their placed neighbours, at least ROW_GAP apart."""
    wanted = []
    for member in members:
        near = [y[n] for n in linked.get(member, ()) if n in y]
        wanted.append(sum(near) / len(near) if near else y.get(member))
    placed: list[float] = []
    for want in wanted:
        floor = placed[-1] + ROW_GAP if placed else None
        if want is None:
            want = floor if floor is not None else 0.0
        placed.append(want if floor is None else max(want, floor))
    # Pushing down to keep the gaps moves the layer; centre it back on what it wanted.
    known = [(p, w) for p, w in zip(placed, wanted) if w is not None]
    shift = sum(p - w for p, w in known) / len(known) if known else 0.0
    for member, position in zip(members, placed):
        y[member] = position - shift


def _layer_positions(layers: list[list[str]], widths: dict[str, float], margin: float) -> list[float]:
    """The x of each layer's centre line: wide enough for its widest node and the labels between."""
    positions = []
    x = margin
    for members in layers:
        half = max((widths.get(m, 0.0) for m in members), default=0.0) / 2
        x += half
        positions.append(x)
        x += half + LABEL_ROOM
    return positions
