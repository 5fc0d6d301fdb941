"""HTML and Markdown for notebooks and pages: the terminal's tables, cell for cell.

Every result already knows how to show itself in the terminal (its rich
renderable: a Group of Tables and Texts). This module reads that renderable
back as plain blocks -- a table's title, headers and cells with their styles,
a paragraph with its style -- and writes those blocks as HTML or Markdown, so
the notebook shows the same columns and the same numbers as the terminal,
with no second table to keep in step. Every piece of text is escaped here
(names and comments come from students' input).
"""

from __future__ import annotations

import csv
import html
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from bpcli.engine.printable import printable
from bpcli.engine.record import replace
from bpcli.views import table_of
from bpcli.views.check_table import FAIL
from bpcli.views.terminal import Fitted

if TYPE_CHECKING:  # views read results, never import the analyses
    from bpcli.analyses.check import CheckResult

# A terminal style read as a CSS class: the colours keep the meaning they have in the table.
_STYLE_CLASSES = (("red", "bad"), ("green", "good"), ("yellow", "warn"), ("bold", "strong"), ("dim", "dim"))

CSS = """
.bpcli { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; font-size: 14px;
  color: #1f2328; }
.bpcli table { border-collapse: collapse; margin: 0.4em 0 1em 0; }
.bpcli caption { text-align: left; font-weight: 600; padding: 0.2em 0; }
.bpcli th, .bpcli td { border: 1px solid #d0d7de; padding: 0.2em 0.6em; vertical-align: top;
  white-space: pre-wrap; font-variant-numeric: tabular-nums; }
.bpcli th { background: #f6f8fa; }
.bpcli td.right { text-align: right; }
.bpcli p { margin: 0.3em 0; white-space: pre-wrap; }
.bpcli pre { background: #f6f8fa; padding: 0.5em; }
.bpcli .good { color: #1a7f37; }
.bpcli .bad { color: #cf222e; }
.bpcli .warn { color: #9a6700; }
.bpcli .strong { font-weight: 600; }
.bpcli .dim { color: #656d76; }
.bpcli tr.wrong td { background: #ffebe9; }
.bpcli td.wrong-cell { outline: 2px solid #cf222e; outline-offset: -2px; font-weight: 600; }
.bpcli .warning { background: #fff8c5; border-left: 4px solid #d4a72c; padding: 0.2em 0.6em; }
"""


@dataclass(frozen=True)
class Cell:
    text: str
    classes: tuple[str, ...] = ()
    pieces: tuple[tuple[str, tuple[str, ...]], ...] = ()  # styled runs inside the text, when there are several


@dataclass(frozen=True)
class TableBlock:
    title: str
    headers: list[str]
    right: list[bool]  # columns aligned right (numbers)
    rows: list[list[Cell]]


@dataclass(frozen=True)
class TextBlock:
    cell: Cell
    preformatted: bool = False


# ---- reading a rich renderable -------------------------------------------------


def blocks(renderable: Any) -> list[TableBlock | TextBlock]:
    """A rich renderable (Group, Table, Text, str, or anything rich prints) as tables and paragraphs."""
    if isinstance(renderable, Group):
        return [block for part in renderable.renderables for block in blocks(part)]
    if isinstance(renderable, Table):
        return [_table_block(renderable)]
    if isinstance(renderable, Fitted):  # a terminal's table, fitted to its width: HTML has its own
        return [_table_block(renderable.table)]
    if isinstance(renderable, Text):
        return [TextBlock(_cell(renderable))]
    if isinstance(renderable, str):
        return [TextBlock(Cell(renderable))]
    if hasattr(renderable, "__rich__"):  # a result: its command's table
        return blocks(table_of(renderable))
    return [TextBlock(Cell(plain_text(renderable)), preformatted=True)]  # a tree: its lines as the terminal has them


def _table_block(table: Any) -> TableBlock:
    columns = table.columns
    rows = [
        [_cell(cell, column.style) for cell in column.cells]
        for column in columns
    ]
    return TableBlock(
        title=_plain(table.title) if table.title is not None else "",
        headers=[_plain(column.header) for column in columns],
        right=[column.justify == "right" for column in columns],
        rows=[list(row) for row in zip(*rows)],
    )


def _cell(content: Any, column_style: Any = "") -> Cell:
    base = _classes(column_style)
    if not isinstance(content, Text):
        return Cell(str(content), base)
    own = _classes(content.style)
    pieces = _pieces(content)
    return Cell(content.plain, tuple(dict.fromkeys(base + own)), pieces if len(pieces) > 1 else ())


def _pieces(text: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The runs of a Text that carry their own style (a hint in yellow after a red line)."""
    plain = text.plain
    cuts = sorted({0, len(plain), *(s.start for s in text.spans), *(s.end for s in text.spans)})
    runs = []
    for start, end in zip(cuts, cuts[1:]):
        styles = [s.style for s in text.spans if s.start <= start and end <= s.end]
        classes = tuple(dict.fromkeys(c for style in styles for c in _classes(style)))
        runs.append((plain[start:end], classes))
    return tuple(runs)


def _classes(style: Any) -> tuple[str, ...]:
    words = str(style or "").split()
    return tuple(css for colour, css in _STYLE_CLASSES if colour in words)


def _plain(content: Any) -> str:
    return getattr(content, "plain", None) or str(content)


def plain_text(renderable: Any, width: int = 100) -> str:
    """What the terminal shows, without colours, at a fixed width."""
    # force_jupyter=False: inside a kernel rich would otherwise display the text as an output of its own
    console = Console(width=width, color_system=None, highlight=False, record=True,
                      file=_Discard(),  # type: ignore[arg-type]  # not an IO: rich only writes and flushes it
                      force_jupyter=False)
    console.print(renderable)
    return console.export_text()


class _Discard:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


# ---- writing HTML ---------------------------------------------------------------

RowAttributes = Callable[[int, TableBlock], dict[str, str]]
CellAttributes = Callable[[int, int, TableBlock], dict[str, str]]


def escape(text: str) -> str:
    """Text for HTML: markup characters as entities, characters HTML forbids spelt out (``\\x1b``)."""
    return html.escape(visible(text), quote=True)


def visible(text: str) -> str:
    """Control characters escaped as in every view (engine.printable), and what else HTML forbids."""
    return "".join(_spelt(ch) if _forbidden(ch) else ch for ch in printable(text))


def _forbidden(ch: str) -> bool:
    """Surrogates and noncharacters: a strict HTML parser stops at them."""
    code = ord(ch)
    return 0xD800 <= code <= 0xDFFF or 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE


def _spelt(ch: str) -> str:
    code = ord(ch)
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def attributes(values: dict[str, str]) -> str:
    return "".join(f' {name}="{escape(value)}"' for name, value in values.items())


def blocks_html(
    items: Iterable[TableBlock | TextBlock],
    row_attributes: RowAttributes | None = None,
    cell_attributes: CellAttributes | None = None,
) -> str:
    """The blocks as HTML: tables with captions, paragraphs; rows with a failure mark are marked wrong."""
    parts = []
    for block in items:
        if isinstance(block, TextBlock):
            parts.append(_paragraph(block))
        else:
            parts.append(table_html(block, row_attributes, cell_attributes))
    return "\n".join(parts)


def _paragraph(block: TextBlock) -> str:
    tag = "pre" if block.preformatted else "p"
    classes = list(block.cell.classes)
    if block.cell.text.startswith("warning:"):
        classes.append("warning")
    return f"<{tag}{_class_attribute(classes)}>{_cell_content(block.cell)}</{tag}>"


def table_html(
    block: TableBlock, row_attributes: RowAttributes | None = None, cell_attributes: CellAttributes | None = None
) -> str:
    lines = ["<table>"]
    if block.title:
        lines.append(f"<caption>{escape(block.title)}</caption>")
    lines.append("<thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in block.headers) + "</tr></thead>")
    lines.append("<tbody>")
    for number, row in enumerate(block.rows):
        extra = dict(row_attributes(number, block)) if row_attributes else {}
        if any(cell.text.startswith(FAIL) for cell in row):
            extra["class"] = " ".join(filter(None, (extra.get("class", ""), "wrong")))
        cells = []
        for column, cell in enumerate(row):
            classes = [*cell.classes, *(["right"] if block.right[column] else [])]
            more = dict(cell_attributes(number, column, block)) if cell_attributes else {}
            classes.extend(more.pop("class", "").split())
            cells.append(f"<td{_class_attribute(classes)}{attributes(more)}>{_cell_content(cell)}</td>")
        lines.append(f"<tr{attributes(extra)}>" + "".join(cells) + "</tr>")
    lines.append("</tbody></table>")
    return "\n".join(lines)


def _cell_content(cell: Cell) -> str:
    if not cell.pieces:
        return escape(cell.text)
    return "".join(
        f"<span{_class_attribute(classes)}>{escape(text)}</span>" if classes else escape(text)
        for text, classes in cell.pieces
    )


def _class_attribute(classes: Iterable[str]) -> str:
    names = " ".join(dict.fromkeys(classes))
    return f' class="{names}"' if names else ""


# ---- writing Markdown --------------------------------------------------------------


def blocks_markdown(items: Iterable[TableBlock | TextBlock]) -> str:
    """The blocks as Markdown: pipe tables (line breaks inside a cell as <br>), paragraphs, code blocks."""
    parts = []
    for block in items:
        if isinstance(block, TextBlock):
            text = block.cell.text.rstrip("\n")
            parts.append(f"```\n{text}\n```" if block.preformatted else _markdown_text(text))
            continue
        lines = [f"**{_markdown_text(block.title)}**", ""] if block.title else []
        lines.append("| " + " | ".join(_markdown_cell(h) for h in block.headers) + " |")
        lines.append("|" + "|".join("---:" if right else "---" for right in block.right) + "|")
        lines.extend("| " + " | ".join(_markdown_cell(c.text) for c in row) + " |" for row in block.rows)
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


# Characters that make markup wherever they are (emphasis, code, links, HTML, tables), and the
# starts of a line that make a block (a heading, a list, a quote, a rule): escaping only these
# keeps a sheet readable as plain text (-10, x + y, 0.39) while input still cannot add markup.
_INLINE_MARKUP = "\\`*_{}[]<>|~"
_BLOCK_START = re.compile(r"^([ \t]*)([#+=-]|\d+(?=[.)]))", re.MULTILINE)


def _markdown_inline(text: str) -> str:
    return "".join("\\" + ch if ch in _INLINE_MARKUP else ch for ch in visible(text))


def _markdown_text(text: str) -> str:
    """Text with Markdown's and HTML's active characters escaped, so input cannot add markup."""
    escaped = _BLOCK_START.sub(_escaped_block_start, _markdown_inline(text))
    return escaped.replace("\n", "  \n")


def _escaped_block_start(found: re.Match[str]) -> str:
    indent, start = found.group(1), found.group(2)
    return indent + (start + "\\" if start[0].isdigit() else "\\" + start)  # 1\. is not a list item


def _markdown_cell(text: str) -> str:
    """A table cell's text: inline markup escaped (a cell holds no blocks), its lines joined by <br>."""
    return _markdown_inline(text).replace("\n", "<br>")


# ---- what a notebook shows ---------------------------------------------------------


POINT_ROWS = 200  # rows of a points table a notebook shows; the rest are counted


def _points_blocks(result: Any) -> list[TableBlock | TextBlock]:
    # Only the rows shown are written out: a million points are not formatted to show two hundred.
    first = replace(
        result, inputs={name: column[:POINT_ROWS] for name, column in result.inputs.items()},
        value=result.value[:POINT_ROWS],
        gradients={name: column[:POINT_ROWS] for name, column in result.gradients.items()},
    )
    header, *rows = csv.reader(first.to_csv().splitlines())
    shown = [[Cell(text) for text in row] for row in rows]
    count = result.count
    table = TableBlock(f"{result.output} and its gradients at {count:,} points", header, [True] * len(header), shown)
    more = [TextBlock(Cell(f"… {count - POINT_ROWS:,} more points (to_csv() has every one)"))] \
        if count > POINT_ROWS else []
    warnings = [TextBlock(Cell(f"warning: {w.message}", ("warn",))) for w in result.warnings]
    return [table, *more, *warnings]


def notebook_html(result: Any, drawing: str = "") -> str:
    """A result in a notebook: a drawing (a GradResult's circuit: views/page.py), then its tables and warnings."""
    return _notebook_div(drawing + blocks_html(blocks(table_of(result))))


def notebook_markdown(result: Any) -> str:
    return blocks_markdown(blocks(table_of(result)))


def points_html(result: Any) -> str:
    """Points in a notebook: the CSV the command writes, as a table."""
    return _notebook_div(blocks_html(_points_blocks(result)))


def points_markdown(result: Any) -> str:
    return blocks_markdown(_points_blocks(result))


def notebook_text(result: Any) -> str:
    """A result as IPython's plain text: what the terminal shows, without colour."""
    return plain_text(table_of(result))


def points_text(result: Any) -> str:
    """Points as plain text: the CSV the command writes, its first POINT_ROWS rows."""
    table, *rest = _points_blocks(result)
    assert isinstance(table, TableBlock)  # the points' table first, then text (more points, warnings)
    lines = [",".join(table.headers), *(",".join(cell.text for cell in row) for row in table.rows)]
    return "\n".join([*lines, *(block.cell.text for block in rest if isinstance(block, TextBlock))]) + "\n"


def _notebook_div(body: str) -> str:
    return f'<div class="bpcli"><style>{CSS}</style>{body}</div>'


def document(title: str, body: str, head: str = "", body_attributes: dict[str, str] | None = None) -> str:
    """A whole HTML page: self-contained (no link to anything outside it)."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n{head}</head>\n"
        f'<body class="bpcli"{attributes(body_attributes or {})}>\n{body}\n</body>\n</html>\n'
    )


_STUDENT_COLUMNS = {"your value", "expected"}  # views/check_table: the student's numbers


def check_report(result: CheckResult) -> str:
    """``bpcli check --html``: the student's lines beside the true values, wrong ones marked, the diagnosis."""
    verdict = "every expectation met" if result.passed else "something is wrong"
    heading = f'<h1>bpcli check: <span class="{"good" if result.passed else "bad"}">{escape(verdict)}</span></h1>'

    def mark_wrong_numbers(row: int, column: int, block: TableBlock) -> dict[str, str]:
        wrong = any(cell.text.startswith(FAIL) for cell in block.rows[row])
        return {"class": "wrong-cell"} if wrong and block.headers[column] in _STUDENT_COLUMNS else {}

    report = blocks_html(blocks(table_of(result)), None, mark_wrong_numbers)
    return document("bpcli check report", heading + "\n" + report)
