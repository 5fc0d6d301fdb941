"""``bpcli gates``: the reference card of every gate, read from the gate registry."""

from __future__ import annotations

import sys
from typing import Any, List, Optional

from bpcli.cli import common
from bpcli.cli.declare import Argument, Option, command
from bpcli.cli.encoding import respelling, tolerate_encoding
from bpcli.cli.shared import console_styles, output_width


@command(
    epilog="""\b
Examples:
  bpcli gates
  bpcli gates max relu sigmoid
  bpcli gates mul --json
""",
)
def gates(
    names: Optional[List[str]] = Argument(
        None, metavar="[GATE]...", help="Only these gates: by name (mul, amax) or as called (max, dot)."
    ),
    json_output: bool = Option(False, "--json", help="Print the bpcli.gates/1 JSON document."),
) -> None:
    """Every gate: how it is written, what it computes, its local gradient,
    how it passes the gradient back and its convention at a kink.

    Read from the gate registry the engine runs on, so it cannot go out of
    date. Elementwise gates declare local gradients (downstream = local ×
    upstream); the others (matrix multiply, reductions) declare their
    vector-Jacobian product. The last table lists the gates gradients are
    made of: the backward pass builds them, and bpcli parses them back.
    """
    from bpcli.analyses.gates import gate_reference  # only the command's own analysis (start-up)

    reference = gate_reference(names or None)
    if json_output:
        common.print_json(reference.to_json())
        return
    styles = console_styles(sys.stdout)
    card = None if styles is None else _card_text(reference, sys.stdout, styles)
    if card is None:
        common.console().print(reference)
    else:
        sys.stdout.write(card)


def _card_text(reference: Any, stream: Any, styled: bool) -> Optional[str]:
    """The card as the console would print it to ``stream``, laid out without rich (start-up: rich took longer
    to lay it out than everything else the command does); None where rich must lay it out."""
    from bpcli.views.gates_table import gates_text  # the view that needs no rich (start-up)

    tolerate_encoding(stream)
    ascii_box = not (getattr(stream, "encoding", None) or "utf-8").lower().startswith("utf")  # as rich decides
    return gates_text(reference, output_width(stream), ascii_box, respelling(stream), styled)
