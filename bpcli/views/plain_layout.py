"""terminal.py's layouts as plain text, for output that takes no styles, without importing rich.

``bpcli gates`` prints a card of some 300 lines. Laid out by rich, that took
longer than everything else the command does, importing rich included, so the
command line writes the same bytes from here where the output takes no styles (a
pipe, a file, NO_COLOR): rich's word wrapping (``rich._wrap.divide_line`` and
``Text.wrap``), a table boxed as rich boxes it (HEAVY_HEAD, or ASCII where the
stream's encoding is not UTF), the column widths ``terminal.fitted`` chooses
(``fitted_widths``, which it uses too), and its one block per row where even
those do not fit. Every character must be one cell wide, as rich counts cells
(``one_cell_wide``); a text with any other is laid out by rich.
tests/test_plain_layout.py compares the two at every width.
"""

from __future__ import annotations

import re
from typing import Iterable, Optional, Sequence

FIELD_INDENT = 2  # a vertical block's fields sit this far right of its heading
FIELD_GAP = 2  # and each field's cell this far right of the longest field name (the grid's padding)
_WORD = re.compile(r"\s*\S+\s*")  # rich._wrap's word: a word and the spaces after it
# Each box as rich.box draws it: top, head, head_row, mid, row, foot_row, foot, bottom; each line is
# left edge, horizontal, divider, right edge.
HEAVY_HEAD = ("┏━┳┓", "┃ ┃┃", "┡━╇┩", "│ ││", "├─┼┤", "├─┼┤", "│ ││", "└─┴┘")
ASCII_BOX = ("+--+", "| ||", "|-+|", "| ||", "|-+|", "|-+|", "| ||", "+--+")
_CELL_PADDING = 1  # rich's default padding on each side of a cell


class PlainTable:
    """A table of plain texts: its title, its column headings and its rows (a text may hold newlines);
    each column justified "left" or "right" and cut with "…" or folded ("ellipsis", "fold"), rich's columns'
    ``justify`` and ``overflow`` (by default left, with "…"). A plain class: a NamedTuple's definition alone
    took a sixth of this module's import."""

    __slots__ = ("title", "headers", "rows", "justify", "overflow")

    def __init__(self, title: str, headers: tuple[str, ...], rows: list[tuple[str, ...]],
                 justify: tuple[str, ...] = (), overflow: tuple[str, ...] = ()) -> None:
        self.title = title
        self.headers = headers
        self.rows = rows
        self.justify = justify
        self.overflow = overflow


def one_cell_wide(text: str) -> bool:
    """Whether rich gives every character of ``text`` one cell, so that its width is its length.

    Printable ASCII and newlines; and, in the blocks where bpcli's symbols are
    (Latin, Greek, punctuation, super- and subscripts, arrows and mathematical
    operators, box drawing, dingbats: ``NARROW_BLOCKS``), a letter, number,
    punctuation or symbol that is not wide (East Asian W or F). Anything else
    (control, combining and zero-width characters, other scripts) is left to rich.
    """
    if text.isascii():
        return all(" " <= character <= "~" or character == "\n" for character in text)
    return all(_narrow(character) for character in text)


# Unicode blocks whose narrow letters and symbols rich counts one cell each (tests/test_plain_layout.py checks
# every one of them against rich): Latin-1 and Latin Extended, Greek and Cyrillic, General Punctuation,
# super- and subscripts, letterlike symbols to mathematical operators, box drawing to geometric shapes, dingbats.
NARROW_BLOCKS = ((0xA1, 0x250), (0x370, 0x530), (0x2010, 0x2060), (0x2070, 0x20A0), (0x2100, 0x2300),
                 (0x2500, 0x2600), (0x2700, 0x27C0))


def _narrow(character: str) -> bool:
    import unicodedata  # only for text that is not ASCII (start-up: a table of ASCII never needs it)

    if " " <= character <= "~" or character == "\n":
        return True
    code = ord(character)
    return (
        any(start <= code < end for start, end in NARROW_BLOCKS)
        and unicodedata.east_asian_width(character) not in ("W", "F")
        and unicodedata.category(character)[0] in "LNPS"
    )


def wrapped(text: str, width: int, pad: bool = False, fold: bool = True, right: bool = False) -> list[str]:
    """``text`` broken into lines of at most ``width`` as rich's ``Text.wrap`` breaks it: each of its lines
    between words, a word longer than a line folded (``fold``) or ended with "…"; ``pad``: each line
    padded with spaces to ``width`` (justified left), ``right``: justified right, else as broken."""
    lines: list[str] = []
    for line in text.split("\n"):
        breaks = _breaks(line, width, fold)
        for start, end in zip([0, *breaks], [*breaks, len(line)]):
            piece = line[start:end]
            if right:
                lines.append(_cut(_within(piece, width).rstrip(), width, fold).rjust(width))
            else:
                piece = _cut(_within(piece, width), width, fold)
                lines.append(piece.ljust(width) if pad else piece)
    return lines


def _breaks(line: str, width: int, fold: bool) -> list[int]:
    """Where rich._wrap.divide_line breaks ``line`` (offsets, every character one cell)."""
    breaks: list[int] = []
    offset = 0
    for word in _WORD.finditer(line):
        start, text = word.start(), word.group()
        length = len(text.rstrip())
        if width - offset >= length:
            offset += len(text)
        elif length > width:
            if fold:
                pieces = [text[index: index + width] for index in range(0, len(text), width)]
                for piece in pieces[:-1]:
                    if start:
                        breaks.append(start)
                    start += len(piece)
                if start:
                    breaks.append(start)
                offset = len(pieces[-1])
            else:
                if start:
                    breaks.append(start)
                offset = len(text)
        elif offset and start:
            breaks.append(start)
            offset = len(text)
    return breaks


def _within(piece: str, width: int) -> str:
    """One broken line without the spaces at its end that pass ``width`` (``Text.rstrip_end``)."""
    if len(piece) > width:  # rich searches r"\s+$": the same whitespace as str.rstrip's, in a line without "\n"
        spaces = len(piece) - len(piece.rstrip())
        return piece[: len(piece) - min(spaces, len(piece) - width)]
    return piece


def _cut(piece: str, width: int, fold: bool) -> str:
    """A line longer than ``width`` cut to it, ending in "…" unless folded (``Text.truncate``)."""
    if len(piece) > width:
        return piece[:width] if fold else piece[: width - 1] + "…"
    return piece


def paragraph(text: str, width: int) -> list[str]:
    """A Text printed at ``width`` (justified by default, folded), each line without trailing spaces."""
    return [line.rstrip(" ") for line in wrapped(text, width)]


def measure(text: str) -> tuple[int, int]:
    """rich's measurement of a Text: its longest word, and its longest line."""
    most = max(map(len, text.splitlines()), default=0)
    return max(map(len, text.split()), default=most), most  # a word is within a line: never wider than most


def column_range(texts: Iterable[str]) -> tuple[int, int]:
    """The narrowest a column of these texts can be without breaking a word, and its width unwrapped."""
    measured = [measure(text) for text in texts]
    return max(least for least, _ in measured), max(most for _, most in measured)


def fitted_widths(ranges: list[tuple[int, int]], available: int) -> Optional[list[int]]:
    """Each column's width within ``available`` from its (narrowest, unwrapped) range, none narrower
    than its narrowest; None where they cannot fit so.

    At their unwrapped widths where they fit; else the widest columns capped
    at one width, the largest that fits (a binary search), what that leaves
    over widening the capped columns by one each, from the left.
    """
    if sum(most for _, most in ranges) <= available:
        return [most for _, most in ranges]
    if sum(least for least, _ in ranges) > available:
        return None

    def widths(cap: int) -> list[int]:
        return [max(least, min(most, cap)) for least, most in ranges]

    low, high = 0, max(most for _, most in ranges)
    while low < high:
        middle = (low + high + 1) // 2
        if sum(widths(middle)) <= available:
            low = middle
        else:
            high = middle - 1
    result = widths(low)
    spare = available - sum(result)
    for index, (_, most) in enumerate(ranges):
        if spare and result[index] < most:
            result[index] += 1
            spare -= 1
    return result


def boxed_chrome(columns: int) -> int:
    """The width a boxed table spends on its edges, dividers and cell padding."""
    return 2 + columns - 1 + 2 * _CELL_PADDING * columns


def fitted_table(
    table: PlainTable, width: int, ascii_box: bool, heading: str = "{0}", styled: bool = False
) -> list[str]:
    """``table`` laid out as ``terminal.fitted`` lays it out at ``width``: boxed, or one block per row.
    ``styled``: with the styles rich writes on a terminal for a table of unstyled cells (bold headings, dim
    field names), as its segments are written."""
    ranges = [column_range(column) for column in zip(table.headers, *table.rows)]
    widths = fitted_widths(ranges, width - boxed_chrome(len(ranges)))
    if widths is None:
        return _blocks(table, width, heading, styled)
    return _boxed(table, widths, ASCII_BOX if ascii_box else HEAVY_HEAD, styled)


BOLD, DIM = "1", "2"  # the SGR codes of rich's "bold" and "dim"


def _segment(text: str, style: Optional[str]) -> str:
    """A segment as rich writes it: its text between its style's code and a reset (none for empty text)."""
    return f"\x1b[{style}m{text}\x1b[0m" if style and text else text


def _line(segments: list[tuple[str, Optional[str]]]) -> str:
    """A line of segments without the spaces at its end, as terminal.Trimmed leaves it: the segments of
    spaces at the end dropped, the last one left cut."""
    end = len(segments)
    while end and not segments[end - 1][0].rstrip(" "):
        end -= 1
    kept = segments[:end]
    if kept:
        kept[-1] = (kept[-1][0].rstrip(" "), kept[-1][1])
    return "".join(_segment(text, style) for text, style in kept)


def _boxed(table: PlainTable, widths: list[int], box: tuple[str, ...], styled: bool) -> list[str]:
    top, head, head_row, mid, _, _, foot, bottom = box
    table_width = sum(widths) + boxed_chrome(len(widths))
    lines = paragraph(table.title, table_width) if table.title else []
    lines.append(_rule(top, widths))
    right = [justify == "right" for justify in table.justify] or [False] * len(widths)
    fold = [overflow == "fold" for overflow in table.overflow] or [False] * len(widths)
    lines += _row(table.headers, widths, right, fold, head, header=True, style=BOLD if styled else None)
    lines.append(_rule(head_row, widths))
    for index, row in enumerate(table.rows):
        lines += _row(row, widths, right, fold, foot if index == len(table.rows) - 1 else mid)
    lines.append(_rule(bottom, widths))
    return lines


def _rule(edges: str, widths: list[int]) -> str:
    left, horizontal, divider, right = tuple(edges)
    return left + divider.join(horizontal * (width + 2 * _CELL_PADDING) for width in widths) + right


def _row(cells: Iterable[str], widths: list[int], right: list[bool], fold: list[bool], edges: str,
         header: bool = False, style: Optional[str] = None) -> list[str]:
    """One row of cells, each wrapped to its column and justified in it (a header's at the bottom of its row,
    a cell's at the top), each cell's padding and text written in ``style``."""
    left_edge, _, divider, right_edge = tuple(edges)
    columns: list[list[Optional[str]]] = [
        [*wrapped(cell, width, pad=True, fold=folded, right=flush_right)]
        for cell, width, flush_right, folded in zip(cells, widths, right, fold)
    ]
    height = max(map(len, columns))
    for index, column in enumerate(columns):
        filler: list[Optional[str]] = [None] * (height - len(column))  # a line of the cell's width
        columns[index] = filler + column if header else column + filler
    pad = _segment(" " * _CELL_PADDING, style)
    return [
        left_edge + divider.join(
            _segment(" " * (width + 2 * _CELL_PADDING), style) if line is None else pad + _segment(line, style) + pad
            for line, width in zip(line_cells, widths)
        ) + right_edge
        for line_cells in zip(*columns)
    ]


def heading_columns(heading: str) -> set[int]:
    """The columns a block's heading template (str.format over a row's cells by column number) names."""
    from string import Formatter  # only the vertical layout reads the heading's template

    return {int(field) for _, field, _, _ in Formatter().parse(heading) if field}


def heading_text(heading: str, in_heading: set[int], row: Sequence[str]) -> str:
    """A row's block heading: the template filled in; where a cell it names is empty (an elision row), those
    cells joined."""
    if all(row[index] for index in in_heading):
        return heading.format(*row)
    return "  ".join(row[index] for index in sorted(in_heading) if row[index])


def _blocks(table: PlainTable, width: int, heading: str, styled: bool) -> list[str]:
    """terminal.Fitted's vertical layout: the title, then each row as a heading and its fields."""
    bold = BOLD if styled else None
    in_heading = heading_columns(heading)
    lines = paragraph(table.title, width) if table.title else []
    for row in table.rows:
        lines += [_line([(line, bold)]) for line in wrapped(heading_text(heading, in_heading, row), width)]
        fields = [
            (header, cell)
            for index, (header, cell) in enumerate(zip(table.headers, row))
            if index not in in_heading and cell
        ]
        if fields:
            lines += _fields(fields, width, DIM if styled else None)
    return lines


def _fields(fields: list[tuple[str, str]], width: int, dim: Optional[str]) -> list[str]:
    """A block's fields: each heading beside its cell, or above it where the two do not fit side by side."""
    inner = max(1, width - FIELD_INDENT)
    indent = " " * FIELD_INDENT
    label_width = max(len(label) for label, _ in fields)
    widest_word = max(measure(cell)[0] for _, cell in fields)
    lines: list[str] = []
    if label_width + FIELD_GAP + widest_word <= inner:
        # rich's grid: the labels' column as wide as the longest, the gap, the cells in what is left
        cell_width = min(max(measure(cell)[1] for _, cell in fields), inner - label_width - FIELD_GAP)
        gap, blank = " " * FIELD_GAP, " " * (label_width + FIELD_GAP)
        for label, cell in fields:
            for index, line in enumerate(wrapped(cell, cell_width)):
                if index == 0:
                    lines.append(_line([(indent, None), (label.ljust(label_width), dim), (gap, None), (line, None)]))
                else:
                    lines.append(_line([(indent, None), (blank, None), (line, None)]))
    else:
        for label, cell in fields:
            lines += [_line([(indent, None), (line, dim)]) for line in wrapped(label, inner)]
            lines += [_line([(indent * 2, None), (line, None)]) for line in wrapped(cell, max(1, inner - FIELD_INDENT))]
    return lines
