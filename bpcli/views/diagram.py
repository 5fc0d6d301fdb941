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

import signal
from typing import TYPE_CHECKING, Any, Callable

from bpcli.engine.errors import BpcliError
from bpcli.engine.gates import REGISTRY
from bpcli.engine.graph import CONST, INPUT
from bpcli.engine.printable import printable
from bpcli.engine.record import NamedTuple
from bpcli.views.numbers import format_value

if TYPE_CHECKING:  # views read results, never import the analyses
    import subprocess  # (imported where an image is drawn: start-up)

    from bpcli.analyses.result import GradResult

VALUE_COLOUR = "#1a7f37"  # green, as the notes draw forward values
GRADIENT_COLOUR = "#cf222e"  # red, as the notes draw gradients
FORMATS = ("dot", "mermaid", "svg", "png", "text", "html")  # text: tree(), html: views/page.py
INSTALL_GRAPHVIZ = (
    "install Graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz; "
    "https://graphviz.org/download/), or print the circuit as DOT text with --format dot, which needs nothing"
)


class Box(NamedTuple):  # records, not dataclasses: dataclasses' import (inspect, ast, dis) is start-up time
    """A node of the circuit: an input, a constant, a gate or the output."""

    id: str
    kind: str  # "input", "const", "gate", "output"
    symbol: str  # a gate's mark ("+", "1/x"), or the name or number shown
    caption: str  # a gate's stage: "q = x + y"
    total: Any = None  # a value used more than once: the sum of the gradients flowing back to it
    uses: int = 1


class Wire(NamedTuple):
    source: str
    target: str
    value: Any  # None when no values were bound
    gradient: Any  # None where no gradient flows (a constant)


class Circuit(NamedTuple):
    title: str
    output: str
    boxes: tuple[Box, ...]
    wires: tuple[Wire, ...]


def circuit(result: GradResult) -> Circuit:
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


def _title(result: GradResult) -> str:
    """The expression on one line (comments left out) and the values it was evaluated at."""
    statements = [line.split("#", 1)[0].strip() for line in result.source.splitlines()]
    source = printable("; ".join(statement for statement in statements if statement), newlines=False)
    bound = [f"{name} = {format_value(value)}" for name, value in result.inputs.items() if value is not None]
    return f"{source} at {', '.join(bound)}" if bound else source


def draw(result: GradResult, image_format: str, precision: int = 4) -> str | bytes:
    """The circuit as DOT or Mermaid text, or as an SVG or PNG image (bytes) drawn by Graphviz.

    (``text``, the terminal's tree, is ``tree``: a rich renderable.)
    """
    if image_format == "dot":
        return dot(result, precision)
    if image_format == "mermaid":
        return mermaid(result, precision)
    if image_format in ("svg", "png"):
        drawn = circuit(result)
        size = len(drawn.boxes) + len(drawn.wires)
        if size > MAX_DRAWN:
            raise BpcliError(
                f"the circuit has {len(drawn.boxes):,} boxes and {len(drawn.wires):,} wires, more than the {MAX_DRAWN} "
                "in all that bpcli asks Graphviz to draw (its layout takes minutes and gigabytes beyond that); "
                "print it with --format text, or as --format dot or mermaid text")
        return render(_dot(drawn, precision), image_format)
    raise BpcliError(f"--format is one of {', '.join(FORMATS)}, not {image_format!r}")


# ---- Graphviz DOT -------------------------------------------------------------


def dot(result: GradResult, precision: int = 4) -> str:
    """The circuit as a Graphviz DOT digraph: inputs left, output right, values green, gradients red."""
    return _dot(circuit(result), precision)


def _dot(c: Circuit, precision: int) -> str:
    lines = [
        "digraph circuit {",
        "  rankdir=LR;",
        '  graph [fontname="Helvetica", labelloc=b, label=<'
        + _html(shortened(c.title)) + "<br/>"
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
        caption = _html(shortened(box.caption))
        label = f"<b>{_html(shortened(box.symbol))}</b><br/><font point-size=\"10\">{caption}</font>{total}"
        return f'shape=box, style="rounded", label=<{label}>'
    if box.kind == "output":
        return f"shape=plaintext, label=<<b>{_html(shortened(box.symbol))}</b>>"
    style = "<b>{}</b>" if box.kind == "input" else "{}"
    return f"shape=plaintext, label=<{style.format(_html(shortened(box.symbol)))}{total}>"


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


# The longest text in a DOT label: Graphviz refuses a label over 16 KB, and a long title is
# unreadable in a picture anyway (the whole expression is in the DOT file's source text).
MAX_LABEL = 300


def shortened(text: str, limit: int = MAX_LABEL) -> str:
    """``text``, cut to ``limit`` characters with "…" if it is longer (labels of the drawn circuit)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


# ---- Mermaid ------------------------------------------------------------------


def mermaid(result: GradResult, precision: int = 4) -> str:
    """The circuit as a Mermaid flowchart (GitHub renders it in Markdown)."""
    import json  # only Mermaid's title is quoted as JSON quotes it (start-up: the other formats need no json)

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


# The most boxes and wires, together, sent to Graphviz. Its layout grows much faster than
# the circuit where wires cross (a sum of 40 sigmoid(x*k) terms, 360 in all, takes 2 s; of 60
# terms, 540, 21 s; of 99, over two minutes), and a picture of more cannot be read anyway.
MAX_DRAWN = 400
DOT_TIMEOUT = 120  # seconds


def render(dot_text: str, image_format: str) -> bytes:
    """An SVG or PNG image of DOT text, drawn by Graphviz's ``dot`` program."""
    import shutil  # only to draw an image (start-up)

    program = shutil.which("dot")
    if program is None:
        raise BpcliError(f"--format {image_format} draws with Graphviz's dot program, which is not installed: "
                         + INSTALL_GRAPHVIZ)
    stdout, stderr, returncode = _run_killed_with_us([program, f"-T{image_format}"], dot_text.encode())
    if returncode != 0:
        message = stderr.decode(errors="replace").strip()
        raise BpcliError(f"Graphviz could not draw the circuit: {message}")
    return stdout


def _run_killed_with_us(command: list[str], data: bytes) -> tuple[bytes, bytes, int]:
    """Run ``command`` on ``data``; the child is killed if it overruns DOT_TIMEOUT or if bpcli is
    interrupted (SIGINT) or terminated (SIGTERM), so that no ``dot`` outlives the run.

    The handlers only note the signal and kill the child if it exists yet: raising from them
    could land inside ``Popen`` after the child has started but before we hold it, and leave
    it running.
    """
    import subprocess  # only to draw an image (start-up)

    process: subprocess.Popen | None = None
    received: list[int] = []

    def note(signum: int, frame: Any) -> None:
        received.append(signum)
        if process is not None:
            _stop(process)

    previous = _set_handlers(note)
    try:
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if received:  # the signal came while the child was starting
            _stop(process)
        stdout, stderr = process.communicate(data, timeout=DOT_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise BpcliError("Graphviz took over two minutes to draw the circuit; use --format dot") from None
    finally:
        if process is not None:
            _stop(process)
        _restore_handlers(previous)
    if received:  # dot is gone: now end as the signal would have ended bpcli
        signal.raise_signal(received[0])
        raise SystemExit(128 + received[0])  # a handler of the caller's own chose to carry on
    return stdout, stderr, process.returncode


_STOPPING_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _set_handlers(handler: Callable[[int, Any], None]) -> dict[int, Any]:
    """Install ``handler`` for SIGTERM and SIGINT; the previous handlers, to put back."""
    previous: dict[int, Any] = {}
    try:
        for signum in _STOPPING_SIGNALS:
            previous[signum] = signal.signal(signum, handler)
    except ValueError:  # not the main thread (bpcli used as a library): no handler to set
        pass
    return previous


def _restore_handlers(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        # (None: a handler set outside Python, which signal cannot put back; the default then)
        signal.signal(signum, handler if handler is not None else signal.SIG_DFL)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()


# ---- a tree in the terminal ----------------------------------------------------


# Levels of nesting drawn in one tree. A deeper branch is cut there and drawn again as a
# tree of its own below, so the output grows with the circuit, not with its depth times
# its size (each level indents every line under it), and stays readable in 120 columns.
MAX_TREE_DEPTH = 12


def tree(result: GradResult, precision: int = 4) -> Any:
    """The circuit as rich Trees from the output back to the inputs, each wire's value and gradient.

    A stage used more than once is drawn in full the first time, and named
    after that, so the tree grows with the circuit, not with its paths. A
    branch deeper than MAX_TREE_DEPTH continues in a tree of its own below.
    """
    from rich.console import Group  # rich only to draw (start-up)
    from rich.text import Text  # rich only to draw (start-up)
    from rich.tree import Tree  # rich only to draw (start-up)

    c = circuit(result)
    boxes = {box.id: box for box in c.boxes}
    feeding: dict[str, list[Wire]] = {}
    for wire in c.wires:
        feeding.setdefault(wire.target, []).append(wire)
    trees = [Tree(Text(c.title, style="bold"))]
    drawn: set[str] = set()
    cut: list[str] = []  # boxes whose inputs continue in a tree of their own
    work = [(trees[0], wire, 1) for wire in reversed(feeding["n_out"])]
    while work or cut:
        if not work:
            box = boxes[cut.pop(0)]
            trees.append(Tree(Text(f"{box.caption}  (continued)", style="bold")))
            work = [(trees[-1], inner, 1) for inner in reversed(feeding.get(box.id, []))]
            continue
        parent, wire, depth = work.pop()
        box = boxes[wire.source]
        again = box.id in drawn
        deeper = feeding.get(box.id, []) if not again else []
        too_deep = bool(deeper) and depth >= MAX_TREE_DEPTH
        branch = parent.add(_tree_line(box, wire, again, precision, continued=too_deep))
        drawn.add(box.id)
        if too_deep:
            cut.append(box.id)
        else:
            work.extend((branch, inner, depth + 1) for inner in reversed(deeper))
    return trees[0] if len(trees) == 1 else Group(*trees)


def _tree_line(box: Box, wire: Wire, again: bool, precision: int, continued: bool = False) -> Any:
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
    elif continued:
        line.append("  (continued below)", style="dim")
    elif box.total is not None:
        line.append(f"  (used {box.uses} times: gradients add up to ")
        line.append(format_value(box.total, precision), style="red").append(")")
    return line
