"""``bpcli graph``: the circuit diagram, as DOT, Mermaid, an SVG or PNG image, or a tree."""

from __future__ import annotations

from typing import Any, Optional


from bpcli.cli import common
from bpcli.cli.declare import Context, Option, Path, command
from bpcli.engine.errors import BpcliError
from bpcli.engine.paths import path_suffix


@command(
    context_settings=common.BINDINGS,
    epilog="""\b
Examples:
  bpcli graph "(x+y)*z" -x -2 -y 5 -z -4 --format dot
  bpcli graph "(x+y)*z" -x -2 -y 5 -z -4 --format html
  bpcli graph "sigmoid(w0*x0 + w1*x1 + w2)" --w0 2 --x0 -1 --w1 -3 --x1 -2 --w2 -3 --expand --format text
""",
)
def graph(
    ctx: Context,
    expression: common.Expression = None,
    file: common.File = None,
    image_format: Optional[str] = Option(
        None, "--format", metavar="dot|mermaid|svg|png|text|html",
        help="DOT text (Graphviz), a Mermaid flowchart (renders in GitHub Markdown), an SVG or PNG image "
        "(needs Graphviz's dot program), a tree in the terminal, or a self-contained HTML page that steps "
        "through the forward and backward pass (needs values, nothing else; over 400 nodes, the table alone). "
        "Without it, --out's suffix says (.svg, .png, .html, .mmd, .txt), else DOT.",
    ),
    out: Optional[Path] = Option(
        None, "--out", metavar="PATH",
        help="Write to this file instead of standard output (needed for png; - is standard output); "
        "-o PATH too, where the expression has no variable o.",
    ),
    upstream: common.Upstream = None,
    expand: common.Expand = False,
    precision: common.Precision = 4,
    seed: common.Seed = 0,
    max_elements: common.MaxElements = common.DEFAULT_MAX_ELEMENTS,
    max_total_elements: common.MaxTotalElements = common.DEFAULT_MAX_TOTAL_ELEMENTS,
    max_length: common.MaxLength = common.DEFAULT_MAX_LENGTH,
) -> None:
    """The circuit: one box per gate, every wire with its value and its gradient.

    As the lecture notes draw it: inputs on the left, the output on the right,
    the value that flowed forward above each wire (green) and the gradient
    that flowed back along it below (red). Without values, the circuit alone.

    {bindings}
    """
    text, arguments = common.read_expression(expression, file, ctx.args, max_length, command="graph")
    out, arguments = common.short_out_option(text, arguments, out)
    out = common.out_path(out)
    result = common.evaluated_text(text, arguments, upstream, expand, seed, max_elements, circuit_without_values=True,
                                   max_total_elements=max_total_elements)
    common.warn_values(result.warnings)
    show(result, image_format, out, precision)


# The format a file's suffix asks for when --format is not given: `graph ... -o circuit.svg` draws an SVG.
FORMAT_OF_SUFFIX = {".svg": "svg", ".png": "png", ".html": "html", ".htm": "html", ".mmd": "mermaid",
                    ".txt": "text"}


def show(result: Any, image_format: Optional[str], out: Optional[Path], precision: int) -> None:
    """The circuit in ``image_format`` (None: as ``out``'s suffix says, else DOT), to ``out`` or standard
    output (the %bpcli magic writes files with it)."""
    from bpcli.views import diagram  # a view only when shown (start-up)

    if image_format is None:
        image_format = FORMAT_OF_SUFFIX.get(path_suffix(out).lower(), "dot") if out is not None else "dot"

    if image_format == "text":
        common.print_renderable(diagram.tree(result, precision), out)
        return
    if image_format == "html":
        from bpcli.views.page import page  # a view only when asked for (start-up)

        if any(value is None for value in result.inputs.values()):
            raise BpcliError("the step-through page shows values: bind every input (-x 2 or x=2)")
        common.write_output(page(result, precision), out)
        return
    if image_format == "png" and out is None:
        raise BpcliError("a PNG image is binary: give a file to write it to with --out circuit.png")
    common.write_output(diagram.draw(result, image_format, precision), out)


graph.__doc__ = (graph.__doc__ or "").format(bindings=common.BINDINGS_HELP)
