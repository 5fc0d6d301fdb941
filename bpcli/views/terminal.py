"""Tables that fit the terminal without cutting a number, and lines without trailing spaces.

rich shrinks a table that is too wide by cutting its widest columns, words and
numbers included (a 60-column terminal showed ``0.51…``). ``fitted`` lays a
table out itself: at its natural width where that fits; else with each column
narrowed no further than its longest word, so cells wrap between words and
never inside one; and where even that is too wide, as one block per row, each
cell under its column's heading (the vertical layout).
"""

from __future__ import annotations

import copy
import dataclasses
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Optional

from rich.box import HEAVY_HEAD
from rich.console import Console, ConsoleOptions, ConsoleRenderable, Group, RenderableType, RenderHook, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.table import Column, Table
from rich.text import Span, Text


if TYPE_CHECKING:
    from bpcli.views.plain_layout import PlainTable

# Wide enough that nothing is measured against it: a cell's natural width.
_UNBOUNDED = 1_000_000


class Fitted:
    """A table shown whole, wrapped between words, or as blocks: whichever the width allows.

    In the vertical layout each row is a block: a heading made from some of
    its cells (``heading``: a str.format template over the cells by column
    number), then every other cell that is not empty, under its column's name.
    """

    def __init__(self, table: Table, heading: str = "{0}") -> None:
        self.table = table
        self.heading = heading

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        plain = _plain_lines(self, console, options)
        if plain is not None:
            for line in plain:
                yield Segment(line)
                yield Segment.line()
            return
        # Trimmed here too, not only by the command line's console: rich.print(result) shows the same lines.
        widths = column_widths(self.table, console, options)
        if widths is None:
            yield Trimmed(Group(*self._blocks(console, options)))
        else:
            yield Trimmed(_with_widths(self.table, widths))

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.table)

    def _blocks(self, console: Console, options: ConsoleOptions) -> Iterator[RenderableType]:
        table = self.table
        if table.title:
            yield _as_text(table.title, console)
        # only fitted tables need them (start-up: not a Markdown view)
        from bpcli.views.plain_layout import FIELD_INDENT, heading_columns, heading_text

        inner = options.update_width(max(1, options.max_width - FIELD_INDENT))
        in_heading = heading_columns(self.heading)
        rows = zip(*(list(column.cells) for column in table.columns))
        for row in rows:
            cells = [_as_text(cell, console, column.style) for column, cell in zip(table.columns, row)]
            yield Text(heading_text(self.heading, in_heading, [cell.plain for cell in cells]), style="bold")
            fields = [
                (_plain(column.header), cell)
                for index, (column, cell) in enumerate(zip(table.columns, cells))
                if index not in in_heading and cell.plain
            ]
            if fields:
                yield _fields(fields, console, inner)


def _plain_lines(shown: Fitted, console: Console, options: ConsoleOptions) -> Optional[list[str]]:
    """The lines ``shown`` prints where they take no style (no colour system: a pipe, a file, NO_COLOR),
    laid out as plain text (plain_layout: the same bytes, a tenth of the time); None where rich lays it out,
    where the console records what it prints (export_html would want the styles), and where it does not
    wrap (soft_wrap: rich crops a title to one line)."""
    from bpcli.views.plain_layout import fitted_table  # only fitted tables need it (start-up: not a Markdown view)

    if console.color_system is not None or console.record or options.legacy_windows or options.no_wrap:
        return None
    plain = _plain_table(shown.table)
    if plain is None:
        return None
    return fitted_table(plain, options.max_width, options.ascii_only, shown.heading)


def _plain_table(table: Table) -> Optional[PlainTable]:
    """The texts of a table drawn as fitted draws it by default, or None for anything plain_layout does not
    lay out as rich does: a setting of the table or a column other than those, a cell that is not text,
    or one of line breaks alone."""
    from bpcli.views.plain_layout import PlainTable, one_cell_wide  # only fitted tables need them (start-up)

    columns = table.columns
    if (
        table.box is not HEAVY_HEAD or not table.show_header or not table.show_edge or table.show_lines
        or table.show_footer or table.caption or (table.title and table.title_justify != "left")
        or table.padding != (0, 1, 0, 1) or table.collapse_padding or not table.pad_edge or table.expand
        or table.width is not None or table.min_width is not None or table.leading
        or any(row.end_section for row in table.rows)
        or any(not _plain_column(column) for column in columns)
    ):
        return None
    texts = [_plain_text(column.header) for column in columns]
    rows = [[_plain_text(cell) for cell in column.cells] for column in columns]
    title = _plain_text(table.title) if table.title else ""
    every = [title, *texts, *(cell for column in rows for cell in column)]
    # A text of line breaks alone is wrapped by rich's grid into nothing at all: rich lays it out.
    if any(text is None or not one_cell_wide(text) or (text and not text.strip("\n")) for text in every):
        return None
    return PlainTable(
        str(title), tuple(map(str, texts)), [tuple(map(str, row)) for row in zip(*rows)],
        tuple(column.justify for column in columns), tuple(str(column.overflow) for column in columns),
    )


def _plain_column(column: Column) -> bool:
    return (
        column.justify in ("left", "right") and column.overflow in ("ellipsis", "fold") and not column.no_wrap
        and column.width is None and column.min_width is None and column.max_width is None
        and column.ratio is None and column.vertical == "top"
    )


def _plain_text(cell: Any) -> Optional[str]:
    """A cell's text where rich prints it as it is: a Text that sets no layout of its own, or a str with no
    markup or emoji code in it; else None."""
    if isinstance(cell, str):
        return cell if "[" not in cell and ":" not in cell else None
    if isinstance(cell, Text) and cell.justify is None and cell.overflow is None and cell.no_wrap is None:
        return cell.plain
    return None


def fitted(table: Table, heading: str = "{0}") -> Fitted:
    """``table`` laid out for the width it is printed at (see the module's description)."""
    return Fitted(table, heading)


def column_widths(table: Table, console: Console, options: ConsoleOptions) -> Optional[list[int]]:
    """Each column's content width within ``options.max_width``, none narrower than its longest word;
    None where the table cannot fit so."""
    from bpcli.views.plain_layout import fitted_widths  # only fitted tables need it (start-up: not a Markdown view)

    unbounded = options.update_width(_UNBOUNDED)
    ranges = [_column_range(column, console, unbounded) for column in table.columns]
    return fitted_widths(ranges, options.max_width - _chrome(table))


def _column_range(column: Column, console: Console, options: ConsoleOptions) -> tuple[int, int]:
    """The narrowest a column can be without breaking a word, and its width unwrapped."""
    measured = [Measurement.get(console, options, cell) for cell in (column.header, *column.cells)]
    least = max(m.minimum for m in measured)
    most = max(m.maximum for m in measured)
    if column.no_wrap:
        least = most
    if column.min_width is not None:
        least, most = max(least, column.min_width), max(most, column.min_width)
    return least, max(least, most)


def _chrome(table: Table) -> int:
    """The width a table spends on borders and cell padding (rich's defaults: padding on every edge)."""
    borders = ((2 if table.show_edge else 0) + len(table.columns) - 1) if table.box else 0
    _, right, _, left = table.padding
    return borders + (left + right) * len(table.columns)


def _with_widths(table: Table, widths: list[int]) -> Table:
    """A copy of ``table`` whose columns have these content widths (the table itself is left as it was)."""
    laid_out = copy.copy(table)
    laid_out.columns = [dataclasses.replace(column, width=width) for column, width in zip(table.columns, widths)]
    return laid_out


def _fields(fields: list[tuple[str, Text]], console: Console, options: ConsoleOptions) -> RenderableType:
    """A block's fields: each heading beside its cell, or above it where the two do not fit side by side."""
    from bpcli.views.plain_layout import FIELD_GAP, FIELD_INDENT  # only fitted tables need them (start-up)

    label_width = max(len(label) for label, _ in fields)
    unbounded = options.update_width(_UNBOUNDED)
    widest_word = max(Measurement.get(console, unbounded, cell).minimum for _, cell in fields)
    lines: list[RenderableType] = []
    if label_width + FIELD_GAP + widest_word <= options.max_width:
        grid = Table.grid(padding=(0, FIELD_GAP), pad_edge=False)
        grid.add_column(no_wrap=True)
        grid.add_column(overflow="fold")
        for label, cell in fields:
            grid.add_row(Text(label, style="dim"), cell)
        lines.append(grid)
    else:
        for label, cell in fields:
            lines.append(Text(label, style="dim"))
            lines.append(_Indented(cell, FIELD_INDENT))
    return _Indented(Group(*lines), FIELD_INDENT)


class _Indented:
    """A renderable moved right by a number of spaces (rich's Padding pads the right side too)."""

    def __init__(self, renderable: RenderableType, indent: int) -> None:
        self.renderable = renderable
        self.indent = indent

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = max(1, options.max_width - self.indent)
        margin = Segment(" " * self.indent)
        for line in console.render_lines(self.renderable, options.update_width(width), pad=False):
            yield margin
            yield from line
            yield Segment.line()


def _as_text(cell: Any, console: Console, style: Any = "") -> Text:
    text = console.render_str(cell) if isinstance(cell, str) else cell.copy()
    if style:
        text.stylize(style)
    text.overflow = "fold"  # a number wider than the whole terminal breaks where it must, but loses nothing
    return text


def _plain(cell: Any) -> str:
    return cell if isinstance(cell, str) else cell.plain


class PrintHook(RenderHook):
    """What a console does to everything it prints (Console.push_render_hook): trims every line and,
    with ``respell``, rewrites the text a stream cannot encode before the layout is made."""

    def __init__(self, respell: Optional[Callable[[str], str]] = None) -> None:
        self.respell = respell

    def process_renderables(self, renderables: list[ConsoleRenderable]) -> list[ConsoleRenderable]:
        if self.respell is not None:
            renderables = [respelled(renderable, self.respell) for renderable in renderables]
        return [_trimmed(renderable) for renderable in renderables]


def _trimmed(renderable: Any) -> Any:
    """``renderable`` with no line ending in spaces. A fitted table trims its own lines and a group is
    trimmed part by part (each ends its last line), so that no line is split and measured twice: for a long
    table that was a fifth of the time it takes to print."""
    if isinstance(renderable, Fitted):
        return renderable
    if isinstance(renderable, Group):
        return Group(*map(_trimmed, renderable.renderables), fit=renderable.fit)
    return Trimmed(renderable)


def respelled(renderable: Any, respell: Callable[[str], str]) -> Any:
    """``renderable`` with every piece of text rewritten by ``respell`` (∂ as d for an ASCII stream).

    The text is rewritten before rich measures it, so that a table's columns
    are as wide as what is printed. A renderable of a kind not known here is
    left as it is.
    """
    if isinstance(renderable, str):
        return respell(renderable)
    if isinstance(renderable, Text):
        return _respelled_text(renderable, respell)
    if isinstance(renderable, Group):
        return Group(*(respelled(part, respell) for part in renderable.renderables), fit=renderable.fit)
    if isinstance(renderable, Table):
        return _respelled_table(renderable, respell)
    if isinstance(renderable, Fitted):
        return Fitted(_respelled_table(renderable.table, respell), renderable.heading)
    if hasattr(renderable, "__rich__"):
        return respelled(renderable.__rich__(), respell)
    return renderable


def _respelled_table(table: Table, respell: Callable[[str], str]) -> Table:
    copied = copy.copy(table)
    copied.title = respelled(table.title, respell) if table.title else table.title
    copied.caption = respelled(table.caption, respell) if table.caption else table.caption
    copied.columns = [
        dataclasses.replace(
            column, header=respelled(column.header, respell), _cells=[respelled(cell, respell) for cell in column.cells]
        )
        for column in table.columns
    ]
    return copied


def _respelled_text(text: Text, respell: Callable[[str], str]) -> Text:
    """A Text rewritten piece by piece between its styles' edges, each style kept on its piece."""
    plain = text.plain
    if respell(plain) == plain:
        return text
    cuts = sorted({0, len(plain), *(min(edge, len(plain)) for span in text.spans for edge in (span.start, span.end))})
    moved = {0: 0}
    pieces: list[str] = []
    for start, end in zip(cuts, cuts[1:]):
        pieces.append(respell(plain[start:end]))
        moved[end] = moved[start] + len(pieces[-1])
    spans = [
        Span(moved[min(span.start, len(plain))], moved[min(span.end, len(plain))], span.style) for span in text.spans
    ]
    return Text("".join(pieces), style=text.style, justify=text.justify, overflow=text.overflow,
                no_wrap=text.no_wrap, end=text.end, tab_size=text.tab_size, spans=spans)


class Trimmed:
    """A renderable with every line's trailing spaces removed (rich pads titles and cells to their width)."""

    def __init__(self, renderable: RenderableType) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in console.render_lines(self.renderable, options, pad=False, new_lines=False):
            yield from _rstripped(line)
            yield Segment.line()


def _rstripped(line: list[Segment]) -> Iterable[Segment]:
    """A line of segments without the spaces at its end."""
    end = len(line)
    while end and not line[end - 1].control and not line[end - 1].text.rstrip(" "):
        end -= 1
    if end == 0:
        return []
    last = line[end - 1]
    return [*line[: end - 1], Segment(last.text.rstrip(" ") if not last.control else last.text, last.style,
                                      last.control)]
