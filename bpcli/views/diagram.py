"""Circuit diagrams: the lecture notes' picture of a forward and backward pass.

One box per gate (its symbol, and the stage it computes from its inputs'
names), inputs on the left, the output on the right, and on every wire the
value that flowed forward (green, above) and the gradient that flowed back
along it (red, below). A value used more than once sends a wire to each use,
each with its own gradient; the node shows their sum.

The same circuit is written as Graphviz DOT, as a Mermaid flowchart, or as a
tree for the terminal. Everything is read from the evaluated graph: values
from the evaluation, gradients from the Adjoints record.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

from bpcli.engine.errors import BpcliError
from bpcli.engine.gates import REGISTRY
from bpcli.engine.graph import CONST, INPUT
from bpcli.engine.printable import printable
from bpcli.views.numbers import format_value

VALUE_COLOUR = "#1a7f37"  # green, as the notes draw forward values
GRADIENT_COLOUR = "#cf222e"  # red, as the notes draw gradients
FORMATS = ("dot", "mermaid", "svg", "png", "text")
INSTALL_GRAPHVIZ = (
    "install Graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz; "
    "https://graphviz.org/download/), or print the circuit as DOT text with --format dot, which needs nothing"
)


@dataclass(frozen=True)
class Box:
    """A node of the circuit: an input, a constant, a gate or the output."""

    id: str
    kind: str  # "input", "const", "gate", "output"
    symbol: str  # a gate's mark ("+", "1/x"), or the name or number shown
    caption: str  # a gate's stage: "q = x + y"
    total: Any = None  # a value used more than once: the sum of the gradients flowing back to it
    uses: int = 1


@dataclass(frozen=True)
class Wire:
    source: str
    target: str
    value: Any  # None when no values were bound
    gradient: Any  # None where no gradient flows (a constant)


@dataclass(frozen=True)
class Circuit:
    title: str
    output: str
    boxes: tuple[Box, ...]
    wires: tuple[Wire, ...]


def circuit(result: Any) -> Circuit:
    """The boxes and wires of a GradResult's forward graph, with its values and gradients."""
    graph, adjoints, values = result.graph, result.adjoints, result.evaluation.values
    output = graph.output
    shown = graph.ancestors(output)  # what the output is computed from, nothing else
    stages = {stage.node: stage for stage in result.stages}
    forks = {fork.name: fork for fork in result.forks}
    boxes, wires = [], []
    for node, n in enumerate(graph.nodes[: output + 1]):
        if not shown[node]:
            continue
        fork = forks.get(n.name)
        total, uses = (fork.total, len(fork.contributions)) if fork else (None, 1)
        if n.op in (INPUT, CONST):
            boxes.append(Box(_id(node), "input" if n.op == INPUT else "const", n.name, "", total, uses))
            continue
        stage = stages[node]
        boxes.append(Box(_id(node), "gate", REGISTRY[n.op].symbol, f"{n.name} = {stage.expr}", total, uses))
        for position, used in enumerate(n.inputs):
            wires.append(Wire(_id(used), _id(node), values[used], stage.downstream[position]))
    boxes.append(Box("n_out", "output", graph.nodes[output].name, ""))
    wires.append(Wire(_id(output), "n_out", values[output], values[adjoints.seed]))
    return Circuit(_title(result), graph.nodes[output].name, tuple(boxes), tuple(wires))


def _id(node: int) -> str:
    return f"n{node}"


def _title(result: Any) -> str:
    """The expression on one line (comments left out) and the values it was evaluated at."""
    statements = [line.split("#", 1)[0].strip() for line in result.source.splitlines()]
    source = printable("; ".join(statement for statement in statements if statement), newlines=False)
    bound = [f"{name} = {format_value(value)}" for name, value in result.inputs.items() if value is not None]
    return f"{source} at {', '.join(bound)}" if bound else source


def draw(result: Any, image_format: str, precision: int = 4) -> str | bytes:
    """The circuit as DOT or Mermaid text, or as an SVG or PNG image (bytes) drawn by Graphviz.

    (``text``, the terminal's tree, is ``tree``: a rich renderable.)
    """
    if image_format == "dot":
        return dot(result, precision)
    if image_format == "mermaid":
        return mermaid(result, precision)
    if image_format in ("svg", "png"):
        return render(dot(result, precision), image_format)
    raise BpcliError(f"--format is one of {', '.join(FORMATS)}, not {image_format!r}")


# ---- Graphviz DOT -------------------------------------------------------------


def dot(result: Any, precision: int = 4) -> str:
    """The circuit as a Graphviz DOT digraph: inputs left, output right, values green, gradients red."""
    c = circuit(result)
    lines = [
        "digraph circuit {",
        "  rankdir=LR;",
        '  graph [fontname="Helvetica", labelloc=b, label=<'
        + _html(c.title) + "<br/>"
        + _coloured(VALUE_COLOUR, "green: value (forward)") + " · "
        + _coloured(GRADIENT_COLOUR, f"red: gradient of {_html(c.output)} (backward)") + ">];",
        '  node [fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=11, arrowsize=0.7];',
    ]
    for box in c.boxes:
        lines.append(f"  {box.id} [{_dot_node(box, precision)}];")
    for wire in c.wires:
        label = _dot_wire_label(wire, precision)
        lines.append(f"  {wire.source} -> {wire.target}" + (f" [label=<{label}>];" if label else ";"))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_node(box: Box, precision: int) -> str:
    total = _dot_total(box, precision)
    if box.kind == "gate":
        label = f"<b>{_html(box.symbol)}</b><br/><font point-size=\"10\">{_html(box.caption)}</font>{total}"
        return f'shape=box, style="rounded", label=<{label}>'
    if box.kind == "output":
        return f"shape=plaintext, label=<<b>{_html(box.symbol)}</b>>"
    style = "<b>{}</b>" if box.kind == "input" else "{}"
    return f"shape=plaintext, label=<{style.format(_html(box.symbol))}{total}>"


def _dot_total(box: Box, precision: int) -> str:
    if box.total is None:
        return ""
    text = f"gradient {format_value(box.total, precision)} (sum of {box.uses})"
    return "<br/>" + _coloured(GRADIENT_COLOUR, text, size=10)


def _dot_wire_label(wire: Wire, precision: int) -> str:
    parts = []
    if wire.value is not None:
        parts.append(_coloured(VALUE_COLOUR, format_value(wire.value, precision)))
    if wire.gradient is not None:
        parts.append(_coloured(GRADIENT_COLOUR, format_value(wire.gradient, precision)))
    return "<br/>".join(parts)


def _coloured(colour: str, text: str, size: int | None = None) -> str:
    sized = f' point-size="{size}"' if size else ""
    return f'<font color="{colour}"{sized}>{_html(text)}</font>'


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


# ---- Mermaid ------------------------------------------------------------------


def mermaid(result: Any, precision: int = 4) -> str:
    """The circuit as a Mermaid flowchart (GitHub renders it in Markdown)."""
    c = circuit(result)
    lines = [
        "---",
        "title: " + json.dumps(c.title, ensure_ascii=False),  # a YAML string, quoted as JSON quotes it
        "---",
        "flowchart LR",
        f"  %% every wire: the value that flowed forward, then the gradient of {c.output} that flowed back",
    ]
    for box in c.boxes:
        lines.append(f"  {box.id}{_mermaid_shape(box, precision)}")
    for wire in c.wires:
        label = _mermaid_wire_label(wire, precision)
        lines.append(f"  {wire.source} -->" + (f'|"{label}"|' if label else "") + f" {wire.target}")
    lines.append("  classDef gate fill:#f6f8fa,stroke:#57606a")
    gates = ",".join(box.id for box in c.boxes if box.kind == "gate")
    if gates:
        lines.append(f"  class {gates} gate")
    return "\n".join(lines) + "\n"


def _mermaid_shape(box: Box, precision: int) -> str:
    text = _mermaid_text(box.symbol)
    if box.kind == "gate":
        text += f"<br/>{_mermaid_text(box.caption)}"
    if box.total is not None:
        text += f"<br/>gradient {format_value(box.total, precision)} (sum of {box.uses})"
    opening, closing = {"gate": ("[", "]"), "output": ("((", "))"), "input": ("([", "])"), "const": ("[/", "/]")}[
        box.kind
    ]
    return f'{opening}"{text}"{closing}'


def _mermaid_wire_label(wire: Wire, precision: int) -> str:
    parts = []
    if wire.value is not None:
        parts.append(f"value {format_value(wire.value, precision)}")
    if wire.gradient is not None:
        parts.append(f"grad {format_value(wire.gradient, precision)}")
    return "<br/>".join(_mermaid_text(part) for part in parts)


def _mermaid_text(text: str) -> str:
    """Text inside a quoted Mermaid label, with Mermaid's entity codes for the characters that end one."""
    return text.replace("#", "#35;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


# ---- rendering with Graphviz ------------------------------------------------------


def render(dot_text: str, image_format: str) -> bytes:
    """An SVG or PNG image of DOT text, drawn by Graphviz's ``dot`` program."""
    program = shutil.which("dot")
    if program is None:
        raise BpcliError(f"--format {image_format} draws with Graphviz's dot program, which is not installed: "
                         + INSTALL_GRAPHVIZ)
    try:
        done = subprocess.run([program, f"-T{image_format}"], input=dot_text.encode(), capture_output=True,
                              timeout=120)
    except subprocess.TimeoutExpired:
        raise BpcliError("Graphviz took over two minutes to draw the circuit; use --format dot") from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip()
        raise BpcliError(f"Graphviz could not draw the circuit: {message}")
    return done.stdout


# ---- a tree in the terminal ----------------------------------------------------


def tree(result: Any, precision: int = 4) -> Any:
    """The circuit as a rich Tree from the output back to the inputs, each wire's value and gradient.

    A stage used more than once is drawn in full the first time, and named
    after that, so the tree grows with the circuit, not with its paths.
    """
    from rich.text import Text  # rich only to draw (start-up)
    from rich.tree import Tree  # rich only to draw (start-up)

    c = circuit(result)
    boxes = {box.id: box for box in c.boxes}
    feeding: dict[str, list[Wire]] = {}
    for wire in c.wires:
        feeding.setdefault(wire.target, []).append(wire)
    root = Tree(Text(c.title, style="bold"))
    drawn: set[str] = set()
    work = [(root, wire) for wire in reversed(feeding["n_out"])]
    while work:
        parent, wire = work.pop()
        box = boxes[wire.source]
        again = box.id in drawn
        branch = parent.add(_tree_line(box, wire, again, precision))
        drawn.add(box.id)
        if not again:
            work.extend((branch, inner) for inner in reversed(feeding.get(box.id, [])))
    return root


def _tree_line(box: Box, wire: Wire, again: bool, precision: int) -> Any:
    from rich.text import Text  # rich only to draw (start-up)

    line = Text()
    line.append(box.caption or box.symbol, style="bold" if box.kind == "input" else "")
    if box.kind == "gate":
        line.append(f"  [{box.symbol}]", style="dim")
    if wire.value is not None:
        line.append("  value ").append(format_value(wire.value, precision), style="green")
    if wire.gradient is not None:
        line.append("  gradient ").append(format_value(wire.gradient, precision), style="red")
    if again and box.kind == "gate":
        line.append("  (drawn above)", style="dim")
    elif box.total is not None:
        line.append(f"  (used {box.uses} times: gradients add up to ")
        line.append(format_value(box.total, precision), style="red").append(")")
    return line
