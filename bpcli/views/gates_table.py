"""The gate reference card for people: the gates one writes, then the gates gradients are made of."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from bpcli.engine.gates import ELEMENTWISE, VJP
from bpcli.views.terminal import Fitted, fitted

if TYPE_CHECKING:  # views read results, never import the analyses
    from bpcli.analyses.gates import GateReference

def gates_table(reference: GateReference) -> Group:
    parts: list[Any] = []
    written = [card for card in reference.gates if not card.internal]
    internal = [card for card in reference.gates if card.internal]
    if written:
        parts.append(_table("Gates", written))
    if internal:
        parts.append(_table("The gates gradients are made of (the backward pass builds them)", internal))
    used = {card.role for card in reference.gates}
    parts.append(Text("\n".join(f"{role}: {meaning}" for role, meaning in reference.roles.items() if role in used)))
    kinds = {card.kind for card in reference.gates}
    if ELEMENTWISE in kinds:
        parts.append(Text("∂/∂a: an elementwise gate's local gradient; downstream = local × upstream."))
    if VJP in kinds:
        parts.append(
            Text("da = ...: what input a receives from the upstream gradient dout (a vector-Jacobian product).")
        )
    return Group(*parts)


def _table(title: str, cards: list[Any]) -> Fitted:
    table = Table(title=Text(title), title_justify="left")
    for column in ("gate", "written", "computes", "local gradient", "role", "at a kink"):
        table.add_column(column)
    for card in cards:
        computes = [] if card.forward == card.syntax else [card.forward]
        if card.decomposition:
            computes.append(f"--expand: {card.decomposition}")
        table.add_row(*map(Text, (
            card.op,
            "\n".join([card.syntax, *_other_forms(card)]),
            "\n".join(computes),
            card.local,
            card.role,
            card.kink or "",
        )))
    return fitted(table)


def _other_forms(card: Any) -> list[str]:
    """Names it is also called by (dot for a @ b), then the Python spellings that mean it."""
    called = [name for name in card.functions if not card.syntax.startswith(name + "(")]
    forms = [f"{name}({', '.join(_arguments(card))})" for name in called]
    return forms + ([", ".join(card.spellings)] if card.spellings else [])


def _arguments(card: Any) -> list[str]:
    return [*"ab"[: card.arity], *(f"{param}=None" for param in card.params)]
