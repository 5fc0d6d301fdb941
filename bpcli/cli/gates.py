"""``bpcli gates``: the reference card of every gate, read from the gate registry."""

from __future__ import annotations

from typing import List, Optional


from bpcli.cli import common
from bpcli.cli.declare import Argument, Option, command


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
    else:
        common.console().print(reference)
