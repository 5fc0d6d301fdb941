"""The gate reference card for people: the gates one writes, then the gates gradients are made of.

Two views of the same card: ``gates_table``, rich's renderable (``rich.print``, notebooks, a terminal
that takes styles), and ``gates_text``, the same bytes as plain text for the command line where the
output takes no styles. So this module imports rich only inside ``gates_table`` (start-up: the card
laid out by rich took longer than everything else ``bpcli gates`` does).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional

from bpcli.engine.gates import ELEMENTWISE, VJP
from bpcli.views.plain_layout import PlainTable, fitted_table, one_cell_wide, paragraph

if TYPE_CHECKING:  # views read results, never import the analyses
    from rich.console import Group

    from bpcli.analyses.gates import GateReference

_COLUMNS = ("gate", "written", "computes", "local gradient", "role", "at a kink")


def gates_table(reference: GateReference) -> Group:
    from rich.console import Group  # rich only to draw (start-up: see the module's description)
    from rich.table import Table
    from rich.text import Text

    from bpcli.views.terminal import fitted

    parts: list[Any] = []
    for plain in _tables(reference):
        table = Table(title=Text(plain.title), title_justify="left")
        for column in plain.headers:
            table.add_column(column)
        for row in plain.rows:
            table.add_row(*map(Text, row))
        parts.append(fitted(table))
    parts += [Text(note) for note in _notes(reference)]
    return Group(*parts)


def gates_text(
    reference: GateReference, width: int, ascii_box: bool, respell: Optional[Callable[[str], str]] = None,
    styled: bool = False,
) -> Optional[str]:
    """The lines ``gates_table`` prints at ``width`` (rewritten by ``respell`` first, as the console's print
    hook rewrites them; ``ascii_box``: the stream's encoding is not UTF, so rich draws the table's box in
    ASCII; ``styled``: on a terminal that takes styles, with rich's bold headings); None where a character of
    the card is not one cell wide (rich lays it out)."""
    same: Callable[[str], str] = respell or str
    tables = [
        PlainTable(same(table.title), tuple(map(same, table.headers)), [tuple(map(same, row)) for row in table.rows])
        for table in _tables(reference)
    ]
    notes = [same(note) for note in _notes(reference)]
    texts = [text for table in tables for text in (table.title, *table.headers, *(c for r in table.rows for c in r))]
    if not all(map(one_cell_wide, texts + notes)):
        return None
    lines = [line for table in tables for line in fitted_table(table, width, ascii_box, styled=styled)]
    lines += [line for note in notes for line in paragraph(note, width)]
    return "".join(line + "\n" for line in lines)


def _tables(reference: GateReference) -> list[PlainTable]:
    """The gates one writes, then the gates gradients are made of (each table only where it has a gate)."""
    written = [card for card in reference.gates if not card.internal]
    internal = [card for card in reference.gates if card.internal]
    tables = []
    if written:
        tables.append(PlainTable("Gates", _COLUMNS, [_row(card) for card in written]))
    if internal:
        title = "The gates gradients are made of (the backward pass builds them)"
        tables.append(PlainTable(title, _COLUMNS, [_row(card) for card in internal]))
    return tables


def _notes(reference: GateReference) -> list[str]:
    """What the roles on the card mean, and how to read its local gradients."""
    used = {card.role for card in reference.gates}
    notes = ["\n".join(f"{role}: {meaning}" for role, meaning in reference.roles.items() if role in used)]
    kinds = {card.kind for card in reference.gates}
    if ELEMENTWISE in kinds:
        notes.append("∂/∂a: an elementwise gate's local gradient; downstream = local × upstream.")
    if VJP in kinds:
        notes.append("da = ...: what input a receives from the upstream gradient dout (a vector-Jacobian product).")
    return notes


def _row(card: Any) -> tuple[str, ...]:
    computes = [] if card.forward == card.syntax else [card.forward]
    if card.decomposition:
        computes.append(f"--expand: {card.decomposition}")
    return (
        card.op,
        "\n".join([card.syntax, *_other_forms(card)]),
        "\n".join(computes),
        card.local,
        card.role,
        card.kink or "",
    )


def _other_forms(card: Any) -> list[str]:
    """Names it is also called by (dot for a @ b), then the Python spellings that mean it."""
    called = [name for name in card.functions if not card.syntax.startswith(name + "(")]
    forms = [f"{name}({', '.join(_arguments(card))})" for name in called]
    return forms + ([", ".join(card.spellings)] if card.spellings else [])


def _arguments(card: Any) -> list[str]:
    return [*"ab"[: card.arity], *(f"{param}=None" for param in card.params)]
