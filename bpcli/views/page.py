"""The step-through circuit page: one HTML file, forward gate by gate, then backward.

``bpcli graph EXPR BINDINGS --format html`` writes it. The circuit is drawn
as the lecture notes draw it (inputs on the left, gates as boxes, values above
the wires in green, gradients below them in red) as inline SVG laid out by
views/layout.py; a small inline script steps through it. Nothing is loaded
from anywhere: the page works from a USB stick and inside a course page.

Steps: 0 shows the inputs; step k (1..G) computes the k-th gate of the
forward pass; step G+1 seeds the output's gradient; the next G steps go back
through the gates in reverse order, showing each gate's local gradients, the
upstream gradient and what each input receives, and at a fork the ``+=`` of
its contributions. Every element that appears at a step carries
``data-from="STEP"``; the script only shows, hides and highlights, so all
text is written (and escaped) here, never built in the browser.

A circuit of more than MAX_DRAWN_NODES boxes (or whose wires would bend more
than MAX_BENDS times in all) is not drawn: the page holds the stage table and
says why, so no page hangs a browser.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bpcli.engine.record import NamedTuple
from bpcli.views.diagram import GRADIENT_COLOUR, VALUE_COLOUR, Box, Circuit, Wire, circuit, shortened
from bpcli.views.html import TableBlock, attributes, blocks, blocks_html, document, escape, notebook_html, table_html
from bpcli.views.layout import Layout, bends, layered
from bpcli.views.numbers import format_value, sum_text
from bpcli.views.table import DEFAULT_MAX_STAGES, backprop_table, grad_table, local_line

if TYPE_CHECKING:  # views read results, never import the analyses
    from bpcli.analyses.result import GradResult

MAX_DRAWN_NODES = 400  # boxes (inputs, gates, output); larger circuits get the table alone
MAX_BENDS = 20_000  # and wires crossing layers: each bend is a point of a path (and of the layout's work)
LABEL_CHARACTERS = 18  # a wire label longer than this is cut, the whole text in its tooltip
CAPTION_CHARACTERS = 32
TOTAL_CHARACTERS = 28  # a fork's sum under its box: "dx = 2.06 (sum of 3)"
CHARACTER_WIDTH = 7.2  # px per character at the drawing's font size, for box widths
# A wire's labels sit this far along its last stretch: past the middle, where wires leaving one
# fork have parted towards their gates.
LABEL_AT = 0.62
WIRE_SPREAD = 34.0  # px between wires entering one gate: room for a value above and a gradient below

PAGE_CSS = """
h1 { font-size: 1.3em; font-weight: 600; margin: 0.3em 0; }
.controls { margin: 0.6em 0; display: flex; gap: 0.4em; align-items: center; flex-wrap: wrap; }
.controls button { font-size: 15px; padding: 0.25em 0.8em; }
.where { margin-left: 0.6em; color: #656d76; }
.circuit-and-notes { display: flex; gap: 1.2em; align-items: flex-start; flex-wrap: wrap; }
.drawing { flex: 1 1 auto; min-width: 0; overflow: auto; border: 1px solid #d0d7de; border-radius: 6px;
  background: #fff; }
aside.notes { flex: 0 1 22em; min-width: 16em; }
.note { display: none; border-left: 4px solid #0969da; padding: 0.3em 0.8em; background: #f6f8fa; }
.note.shown { display: block; }
.note p { margin: 0.25em 0; }
.hidden { visibility: hidden; }
tr.current td { background: #ddf4ff; }
"""
# The drawing's own look, scoped to bpcli's elements: a notebook shows it among other outputs.
SVG_CSS = f"""
.bpcli svg .box {{ fill: #f6f8fa; stroke: #57606a; stroke-width: 1.2; }}
.bpcli svg .input .box {{ fill: #ffffff; stroke: #8c959f; stroke-dasharray: 3 2; }}
.bpcli svg .current .box {{ fill: #ddf4ff; stroke: #0969da; stroke-width: 2.5; }}
.bpcli svg .wire {{ fill: none; stroke: #57606a; stroke-width: 1.3; }}
.bpcli svg text {{ font-family: system-ui, Helvetica, Arial, sans-serif; font-size: 12px; }}
.bpcli svg .symbol {{ font-weight: 700; font-size: 15px; }}
.bpcli svg .caption {{ fill: #424a53; font-size: 11px; }}
.bpcli svg .value {{ fill: {VALUE_COLOUR}; }}
.bpcli svg .grad {{ fill: {GRADIENT_COLOUR}; }}
"""

# Shows what belongs to the current step; the data is in the page's elements.
SCRIPT = """
(function () {
  var last = Number(document.body.dataset.steps);
  var step = 0;
  function show(next) {
    step = Math.max(0, Math.min(last, next));
    document.body.dataset.step = String(step);
    document.querySelectorAll('[data-from]').forEach(function (el) {
      el.classList.toggle('hidden', Number(el.dataset.from) > step);
    });
    document.querySelectorAll('[data-forward]').forEach(function (el) {
      var here = Number(el.dataset.forward) === step || Number(el.dataset.backward) === step;
      el.classList.toggle('current', here);
    });
    document.querySelectorAll('.note').forEach(function (el) {
      el.classList.toggle('shown', Number(el.dataset.step) === step);
    });
    document.getElementById('where').textContent = 'step ' + step + ' of ' + last;
  }
  document.getElementById('first').onclick = function () { show(0); };
  document.getElementById('back').onclick = function () { show(step - 1); };
  document.getElementById('next').onclick = function () { show(step + 1); };
  document.getElementById('last').onclick = function () { show(last); };
  document.addEventListener('keydown', function (event) {
    var moves = {ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1};
    if (event.key in moves) { show(step + moves[event.key]); event.preventDefault(); }
    else if (event.key === 'Home') { show(0); event.preventDefault(); }
    else if (event.key === 'End') { show(last); event.preventDefault(); }
  });
  show(0);
})();
"""


@dataclass(frozen=True)
class Steps:
    """When each gate is computed (forward) and passed back through (backward)."""

    gates: int  # G: gates drawn
    forward: dict[str, int]  # box id -> the step its value appears (inputs: 0)
    backward: dict[str, int]  # gate box id -> the step the gradient goes back through it

    @property
    def seed(self) -> int:
        return self.gates + 1

    @property
    def last(self) -> int:
        return 2 * self.gates + 1


def _steps(c: Circuit) -> Steps:
    gates = [box.id for box in c.boxes if box.kind == "gate"]
    forward = {box.id: 0 for box in c.boxes if box.kind in ("input", "const")}
    forward.update({gate: number for number, gate in enumerate(gates, start=1)})
    forward["n_out"] = len(gates)
    backward = {gate: 2 * len(gates) + 2 - number for number, gate in enumerate(gates, start=1)}
    return Steps(len(gates), forward, backward)


# ---- the page ----------------------------------------------------------------------


def page(result: GradResult, precision: int = 4) -> str:
    """The step-through page of an evaluated GradResult (values bound)."""
    c = circuit(result)
    title = f"bpcli: {c.title}"
    heading = f"<h1>{escape(c.title)}</h1>"
    if not _drawable(c):
        message = (f"This circuit has {len(c.boxes):,} nodes; the page draws at most {MAX_DRAWN_NODES:,} "
                   f"(and wires that bend at most {MAX_BENDS:,} times in all), so here is its stage table "
                   "(bpcli grad shows the same).")
        table = blocks_html(blocks(backprop_table(result, lambda v: format_value(v, precision), DEFAULT_MAX_STAGES)))
        return document(title, f'{heading}\n<p class="warning">{escape(message)}</p>\n{table}')
    steps = _steps(c)
    body = "\n".join([
        heading,
        f'<p>Values flow forward in <span class="good">green</span> above the wires; gradients of '
        f'{escape(c.output)} flow back in <span class="bad">red</span> below them. '
        "Step with the buttons or the arrow keys (← →).</p>",
        '<div class="controls"><button id="first" type="button" title="Home">« start</button>'
        '<button id="back" type="button" title="←">◀ back</button>'
        '<button id="next" type="button" title="→">next ▶</button>'
        '<button id="last" type="button" title="End">end »</button>'
        '<span class="where" id="where"></span></div>',
        '<div class="circuit-and-notes">',
        _drawing_box(svg(c, precision, steps)),
        f'<aside class="notes">{_notes(result, c, steps, precision)}</aside>',
        "</div>",
        _stage_table(result, c, steps, precision),
        f"<script>{SCRIPT}</script>",
    ])
    return document(title, body, head=f"<style>{SVG_CSS}{PAGE_CSS}</style>\n",
                    body_attributes={"data-steps": str(steps.last), "data-step": "0"})


def _drawable(c: Circuit) -> bool:
    """Small enough to draw: a browser shows it at once (a long sum of terms bends its wires quadratically)."""
    if len(c.boxes) > MAX_DRAWN_NODES:
        return False
    return bends([box.id for box in c.boxes], [(wire.source, wire.target) for wire in c.wires]) <= MAX_BENDS


def grad_notebook_html(result: GradResult) -> str:
    """A GradResult in a notebook: its circuit with every number shown, then its tables."""
    return notebook_html(result, static_circuit(result))


def static_circuit(result: GradResult, precision: int = 4) -> str:
    """The circuit with every value and gradient shown, for a notebook ("" when it is too big or unbound)."""
    c = circuit(result)
    if not _drawable(c) or any(wire.value is None for wire in c.wires):
        return ""
    return f"<style>{SVG_CSS}</style>" + svg(c, precision, None).markup


# ---- the drawing ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Size:
    width: float
    height: float


def _size(box: Box, inputs: int, parallel: int) -> _Size:
    """A box wide enough for its text and tall enough for its wires to be a label pair apart.

    ``inputs``: wires arriving at it; ``parallel``: the most wires it sends to one gate (x * x: 2).
    """
    room = WIRE_SPREAD * (max(inputs, parallel) - 1)
    if box.kind == "gate":
        text = max(len(box.symbol), min(len(box.caption), CAPTION_CHARACTERS))
        return _Size(max(52.0, text * CHARACTER_WIDTH + 20), max(46.0, room + 28))
    return _Size(max(36.0, len(shortened(box.symbol, CAPTION_CHARACTERS)) * CHARACTER_WIDTH + 20), max(28.0, room + 20))


class Drawing(NamedTuple):
    markup: str
    width: float  # px, at full size


def _drawing_box(drawing: Drawing) -> str:
    """The drawing's frame: the notes stand beside it while it keeps 80% of its size, and go below it after."""
    return f'<div class="drawing" style="flex-basis: {0.8 * drawing.width:.0f}px">{drawing.markup}</div>'


def svg(c: Circuit, precision: int, steps: Steps | None) -> Drawing:
    """The circuit as inline SVG; with ``steps``, every label says from which step it is shown."""
    inputs = Counter(wire.target for wire in c.wires)
    pairs = Counter((wire.source, wire.target) for wire in c.wires)
    parallel: Counter[str] = Counter()
    for (source, _), count in pairs.items():
        parallel[source] = max(parallel[source], count)
    sizes = {box.id: _size(box, inputs[box.id], parallel[box.id]) for box in c.boxes}
    placed = layered([box.id for box in c.boxes], {k: s.width for k, s in sizes.items()},
                     [(wire.source, wire.target) for wire in c.wires])
    entries = _entries(c, placed, sizes)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{placed.width:.0f}" '
        f'height="{placed.height:.0f}" style="max-width: 100%; height: auto" '
        f'viewBox="0 0 {placed.width:.0f} {placed.height:.0f}">',
        f"<title>{escape(c.title)}</title>",
        '<defs><marker id="bpcli-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#57606a"/></marker></defs>',
    ]
    for number, wire in enumerate(c.wires):
        shown = None if steps is None else (steps.forward[wire.source], _gradient_step(wire, steps))
        # Wires between the same two boxes (x * x) run parallel, a label pair apart.
        exit_offset = entries[number] - placed.centres[wire.target][1] if pairs[wire.source, wire.target] > 1 else 0.0
        parts.append(_wire_svg(number, wire, placed, sizes, (exit_offset, entries[number]), precision, shown))
    for box in c.boxes:
        total_from = None if steps is None else _total_step(c, box, steps)
        parts.append(_box_svg(box, placed.centres[box.id], sizes[box.id], precision, steps, total_from))
    parts.append("</svg>")
    return Drawing("\n".join(parts), placed.width)


def _gradient_step(wire: Wire, steps: Steps) -> int:
    """A wire's gradient appears when backward goes through the gate it feeds (the output's: at the seed)."""
    return steps.seed if wire.target == "n_out" else steps.backward[wire.target]


def _total_step(c: Circuit, box: Box, steps: Steps) -> int:
    """A fork's sum is complete when the last of its uses has sent its gradient back."""
    return max((_gradient_step(wire, steps) for wire in c.wires if wire.source == box.id), default=steps.last)


def _entries(c: Circuit, placed: Layout, sizes: dict[str, _Size]) -> list[float]:
    """Where each wire meets its target: a gate's inputs spread down its left side (x * x has two)."""
    arriving: dict[str, list[int]] = {}
    for number, wire in enumerate(c.wires):
        arriving.setdefault(wire.target, []).append(number)
    entries = [0.0] * len(c.wires)
    for target, numbers in arriving.items():
        _, y = placed.centres[target]
        spread = WIRE_SPREAD if len(numbers) < 2 else min(WIRE_SPREAD, (sizes[target].height - 12) / (len(numbers) - 1))
        for position, number in enumerate(numbers):
            entries[number] = y + (position - (len(numbers) - 1) / 2) * spread
    return entries


def _wire_svg(number: int, wire: Wire, placed: Layout, sizes: dict[str, _Size], ends: tuple[float, float],
              precision: int, shown: tuple[int, int] | None) -> str:
    """A wire from its source's right side (``ends``: the offset it leaves at) to ``entry_y`` on its target's left."""
    exit_offset, entry_y = ends
    route = list(placed.routes[number])
    (sx, sy), (tx, _) = route[0], route[-1]
    route[0] = (sx + sizes[wire.source].width / 2, sy + exit_offset)
    route[-1] = (tx - sizes[wire.target].width / 2, entry_y)
    path = f"M {route[0][0]:.1f} {route[0][1]:.1f}"
    for (ax, ay), (bx, by) in zip(route, route[1:]):
        bend = (bx - ax) / 2
        path += f" C {ax + bend:.1f} {ay:.1f} {bx - bend:.1f} {by:.1f} {bx:.1f} {by:.1f}"
    x, y = _along(route[-2], route[-1], LABEL_AT)
    value_from, gradient_from = shown if shown else (None, None)
    parts = [f'<path class="wire" d="{path}" marker-end="url(#bpcli-arrow)"/>']
    if wire.value is not None:
        parts.append(_label("value", format_value(wire.value, precision), x, y - 6, value_from))
    if wire.gradient is not None:
        parts.append(_label("grad", format_value(wire.gradient, precision), x, y + 15, gradient_from))
    return "\n".join(parts)


def _along(start: tuple[float, float], end: tuple[float, float], t: float) -> tuple[float, float]:
    """The point at ``t`` (0..1) of the curve from ``start`` to ``end`` that the wire draws (level at both ends)."""
    (ax, ay), (bx, by) = start, end
    # The wire's cubic has its control points half-way across, at the heights of its two ends.
    across = 1.5 * t - 1.5 * t**2 + t**3
    near = (1 - t) ** 3 + 3 * (1 - t) ** 2 * t  # the weight of the start's height
    return ax + (bx - ax) * across, ay * near + by * (1 - near)


def _label(kind: str, text: str, x: float, y: float, shown_from: int | None, anchor: str = "middle",
           limit: int = LABEL_CHARACTERS) -> str:
    cut = shortened(text, limit)
    tip = f"<title>{escape(text)}</title>" if cut != text else ""
    step = {} if shown_from is None else {"data-from": str(shown_from)}
    return (f'<text class="{kind}"{attributes(step)} x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">'
            f"{tip}{escape(cut)}</text>")


def _box_svg(box: Box, centre: tuple[float, float], size: _Size, precision: int, steps: Steps | None,
             total_from: int | None) -> str:
    x, y = centre
    left, top = x - size.width / 2, y - size.height / 2
    marks: dict[str, str] = {}  # a notebook may show several circuits: ids only on the page, where they are unique
    if steps is not None:
        marks["id"] = box.id
        if box.kind == "gate":
            marks.update({"data-forward": str(steps.forward[box.id]), "data-backward": str(steps.backward[box.id])})
    parts = [f'<g class="node {box.kind}"{attributes(marks)}>',
             f'<rect class="box" x="{left:.1f}" y="{top:.1f}" width="{size.width:.1f}" height="{size.height:.1f}" '
             f'rx="{8 if box.kind == "gate" else 14}"/>']
    if box.kind == "gate":
        caption = shortened(box.caption, CAPTION_CHARACTERS)
        tip = f"<title>{escape(box.caption)}</title>" if caption != box.caption else ""
        parts.append(f'<text class="symbol" x="{x:.1f}" y="{y - 3:.1f}" text-anchor="middle">'
                     f"{escape(box.symbol)}</text>")
        parts.append(f'<text class="caption" x="{x:.1f}" y="{y + 14:.1f}" text-anchor="middle">{tip}'
                     f"{escape(caption)}</text>")
    else:
        weight = ' font-weight="700"' if box.kind != "const" else ""
        parts.append(f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle"{weight}>'
                     f"{escape(shortened(box.symbol, CAPTION_CHARACTERS))}</text>")
    if box.total is not None:
        name = box.caption.split(" = ", 1)[0] if box.kind == "gate" else box.symbol
        total = f"d{name} = {format_value(box.total, precision)} (sum of {box.uses})"
        # Under the box from its left edge: an input's box sits at the drawing's left margin.
        parts.append(_label("grad", total, left, top + size.height + 14, total_from, anchor="start",
                            limit=TOTAL_CHARACTERS))
    parts.append("</g>")
    return "\n".join(parts)


# ---- the notes beside the drawing ---------------------------------------------------------


def _notes(result: GradResult, c: Circuit, steps: Steps, precision: int) -> str:
    def show(value: Any) -> str:
        return format_value(value, precision)

    drawn = _drawn_stages(result, c)
    inputs = ", ".join(f"{name} = {show(value)}" for name, value in result.inputs.items())
    notes = [_note(0, "The inputs", [inputs or "(no inputs)", "Next: the forward pass, one gate at a time."])]
    for number, stage in enumerate(drawn, start=1):
        node = result.graph.nodes[stage.node]
        given = ", ".join(f"{result.graph.nodes[i].name} = {show(result.value_of(i))}" for i in node.inputs)
        notes.append(_note(number, f"Forward, gate {number} of {steps.gates}",
                           [f"{stage.name} = {stage.expr}", f"with {given}" if given else "",
                            ("good", f"{stage.name} = {show(stage.value)}")]))
    seed = result.value_of(result.adjoints.seed)
    notes.append(_note(steps.seed, "Backward pass",
                       [f"It starts at the output: d{c.output} = {show(seed)}",
                        "Next: back through the gates in reverse order (local gradient × upstream)."]))
    arrived = _fork_arrivals(result)
    for number, stage in enumerate(reversed(drawn)):
        lines = [f"{stage.name} = {stage.expr}  ({stage.op}: {stage.role})",
                 ("bad", f"upstream d{stage.name} = {show(stage.upstream)}")]
        for position, formula in enumerate(stage.formulas):
            if formula is None:
                continue
            lines.append(local_line(stage, position, show))
            lines.append(("bad", _received_line(stage, position, show)))
            lines.extend(arrived.get((stage.index, position), []))
        if number == len(drawn) - 1:
            gradients = ", ".join(f"d{name} = {show(value)}" for name, value in result.gradients.items())
            lines.append(("strong", f"Done: {gradients}"))
        notes.append(_note(steps.seed + 1 + number, f"Backward, gate {stage.index} ({number + 1} of {steps.gates})",
                           lines))
    return "\n".join(notes)


def _note(step: int, heading: str, lines: list[Any]) -> str:
    paragraphs = []
    for line in lines:
        css, text = line if isinstance(line, tuple) else ("", line)
        if text:
            paragraphs.append(f'<p{attributes({"class": css}) if css else ""}>{escape(text)}</p>')
    return (f'<div class="note" data-step="{step}"><p class="strong">{escape(heading)}</p>'
            + "".join(paragraphs) + "</div>")


def _received_line(stage: Any, position: int, show) -> str:
    received = f"{stage.inputs[position]} ← "
    if stage.structural or stage.local[position] is None:
        return received + show(stage.downstream[position])
    return received + (f"local × upstream = {show(stage.local[position])} × {show(stage.upstream)} = "
                       f"{show(stage.downstream[position])}")


def _fork_arrivals(result: Any) -> dict[tuple[int, int], list[tuple[str, str]]]:
    """At a fork, the ``+=`` lines each contribution adds, keyed by (stage index, input position).

    Backward goes through the stages in reverse order, so a fork's contributions
    arrive from its last consumer first; the running sum is shown, and the whole
    sum when the last one is in.
    """
    def show(value: Any) -> str:
        return format_value(value)

    lines: dict[tuple[int, int], list[tuple[str, str]]] = {}
    stages = {stage.index: stage for stage in result.stages}
    for fork in result.forks:
        order = sorted(fork.contributions, key=lambda contribution: -contribution.index)
        running = None
        used: dict[int, int] = {}
        for count, contribution in enumerate(order, start=1):
            running = contribution.value if running is None else running + contribution.value
            stage = stages[contribution.index]
            position = _position_of(stage, fork.name, used.get(stage.index, 0))
            used[stage.index] = position + 1
            here = [("bad", f"d{fork.name} += {show(contribution.value)}  (fork: {fork.name} is used "
                            f"{len(order)} times, contribution {count} of {len(order)})")]
            if count == len(order):
                here.append(("bad", f"d{fork.name} = {sum_text(fork, show)} = {show(fork.total)}"))
            else:
                here.append(("", f"d{fork.name} so far: {show(running)}"))
            lines.setdefault((stage.index, position), []).extend(here)
    return lines


def _position_of(stage: Any, name: str, start: int) -> int:
    """The first input position of ``stage`` from ``start`` on that reads ``name`` (x * x reads x twice)."""
    for position in range(start, len(stage.inputs)):
        if stage.inputs[position] == name:
            return position
    return stage.inputs.index(name)


def _drawn_stages(result: Any, c: Circuit) -> list[Any]:
    drawn = {box.id for box in c.boxes if box.kind == "gate"}
    return [stage for stage in result.stages if f"n{stage.node}" in drawn]


# ---- the stage table under the drawing ------------------------------------------------------

_FORWARD_COLUMNS = {"value"}
_BACKWARD_COLUMNS = {"local gradient", "upstream", "downstream"}


def _stage_table(result: Any, c: Circuit, steps: Steps, precision: int) -> str:
    """The terminal's stage table; each row lit at its gate's steps, its cells shown as they are computed."""
    stages, *after = blocks(_grad_blocks(result, precision))  # the stages, then gradients and forks
    ids = [f"n{stage.node}" for stage in result.stages]

    def row_marks(row: int, block: TableBlock) -> dict[str, str]:
        box = ids[row]
        if box not in steps.backward:
            return {}
        return {"data-forward": str(steps.forward[box]), "data-backward": str(steps.backward[box])}

    def cell_marks(row: int, column: int, block: TableBlock) -> dict[str, str]:
        box, header = ids[row], block.headers[column]
        if box not in steps.backward:
            return {}
        if header in _FORWARD_COLUMNS:
            return {"data-from": str(steps.forward[box])}
        if header in _BACKWARD_COLUMNS:
            return {"data-from": str(steps.backward[box])}
        return {}

    # No gates: a sentence saying so instead of a table.
    shown = table_html(stages, row_marks, cell_marks) if isinstance(stages, TableBlock) else blocks_html([stages])
    return shown + f'\n<div data-from="{steps.last}">{blocks_html(after)}</div>'


def _grad_blocks(result: Any, precision: int) -> Any:
    return grad_table(result, precision=precision, max_stages=0, warnings=False)

