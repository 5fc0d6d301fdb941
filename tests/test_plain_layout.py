"""The gate card written without rich (views/plain_layout.py) is, byte for byte, what rich prints.

``bpcli gates`` lays its card out as plain text where the output takes no styles
(start-up: rich took longer to lay it out than the rest of the command). These
tests hold the two layouts to the same bytes: rich's word wrapping, the boxed
table, terminal.fitted's widths and its vertical blocks, at every width a test
can afford, in UTF-8 and respelled for an ASCII stream.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

import bpcli
from bpcli.cli import shared
from bpcli.cli.encoding import respelling
from bpcli.engine.record import replace
from bpcli.views import plain_layout, table_of, terminal
from bpcli.views.gates_table import gates_text
from bpcli.views.plain_layout import NARROW_BLOCKS, one_cell_wide, wrapped
from bpcli.views.terminal import PrintHook
from helpers import REPO

CARDS = {"all": None, "some": ["mul", "relu", "matmul", "sum", "where"], "one": ["mul"]}


def rich_card(reference, width, monkeypatch, encoding="utf-8"):
    """The card as the command line's console prints it without styles (shared.console, on a pipe), every table
    laid out by rich alone (else terminal.Fitted would lay it out with plain_layout too)."""
    return rendered(reference, width, encoding, monkeypatch)


def plain_card(reference, width, encoding="utf-8"):
    stream = io.TextIOWrapper(io.BytesIO(), encoding=encoding)
    return gates_text(reference, width, not encoding.startswith("utf"), respelling(stream))


@pytest.mark.parametrize("card", CARDS)
def test_the_card_is_riches_at_every_width(card, monkeypatch):
    """Every width from the narrowest bpcli uses: the blocks, the wrapped tables, the tables whole."""
    reference = bpcli.gate_reference(CARDS[card])
    widths = range(20, 231) if card != "all" else range(20, 231, 3)  # the whole card takes rich 40 ms a width
    for width in widths:
        assert plain_card(reference, width) == rich_card(reference, width, monkeypatch), width


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_the_card_for_a_stream_that_cannot_write_its_symbols_is_riches(encoding, monkeypatch):
    """Respelled before the layout as the console's print hook respells it, and boxed in ASCII as rich boxes a
    stream whose encoding is not UTF."""
    reference = bpcli.gate_reference(None)
    for width in (20, 44, 80, 120, 155, 230):
        plain = plain_card(reference, width, encoding)
        assert plain == rich_card(reference, width, monkeypatch, encoding), width
        assert plain.isascii() if encoding == "ascii" else "∂" not in plain


def rich_wrapped(text, width, justify, fold):
    console = Console(width=1000, emoji=False, highlight=False)
    lines = Text(text).wrap(console, width, justify=justify, overflow="fold" if fold else "ellipsis")
    return [line.plain for line in lines]


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=" abc-\n", max_size=60), st.integers(1, 12), st.sampled_from(["default", "left", "right"]),
       st.booleans())
def test_words_are_wrapped_as_rich_wraps_them(text, width, justify, fold):
    """Spaces anywhere (leading, doubled, trailing), words longer than the line (folded or cut with "…"), newlines;
    as broken, justified left (padded) or right."""
    laid_out = wrapped(text, width, pad=justify == "left", fold=fold, right=justify == "right")
    assert laid_out == rich_wrapped(text, width, justify, fold)


@pytest.mark.parametrize(("text", "one_cell"), [
    ("a * b, ∂/∂a = 1 × upstream ⁰¹²", True),
    ("tab\there", False),  # a control character: rich draws it otherwise
    ("漢字", False),  # two cells each
    ("e\u0301", False),  # a combining accent takes no cell
    ("\u200b", False),  # nor does a zero-width space
    ("😀", False),
])
def test_only_text_whose_every_character_rich_counts_one_cell_is_laid_out_without_rich(text, one_cell):
    assert one_cell_wide(text) is one_cell


def test_every_character_taken_as_one_cell_is_one_cell_to_rich():
    """plain_layout's blocks of narrow characters, checked one by one against rich's own count."""
    for start, end in NARROW_BLOCKS:
        taken = [chr(code) for code in range(start, end) if one_cell_wide(chr(code))]
        assert taken  # each block holds some
        assert [character for character in taken if cell_len(character) != 1] == []


def test_a_card_with_a_wider_character_is_left_to_rich():
    reference = bpcli.gate_reference(["mul"])
    wide = replace(reference, gates=[reference.gates[0]._replace(local="∂/∂a = 漢")])
    assert gates_text(wide, 120, False) is None


# ``python -m bpcli`` with every fitted table laid out by rich alone (terminal.Fitted uses plain_layout otherwise).
RICH_ONLY = "from bpcli.views import terminal; terminal._plain_lines = lambda *arguments: None; import bpcli.__main__"


def run_gates(*words, rich_only=False, **environment):
    env = {key: value for key, value in os.environ.items() if key not in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE")}
    program = ["-c", RICH_ONLY] if rich_only else ["-m", "bpcli"]
    return subprocess.run([sys.executable, "-X", "importtime", *program, "gates", *words], capture_output=True,
                          cwd=REPO, timeout=60, env={**env, **environment})


@pytest.mark.parametrize(("words", "environment"), [
    ([], {}),
    ([], {"COLUMNS": "33"}),
    ([], {"COLUMNS": "90"}),
    (["max", "relu", "matmul"], {"COLUMNS": "200"}),
    ([], {"PYTHONIOENCODING": "ascii", "COLUMNS": "100"}),
])
def test_the_command_prints_riches_bytes_without_importing_rich(words, environment):
    """On a pipe no style is printed, so the card is laid out without rich; TTY_COMPATIBLE=0 (no terminal,
    as rich reads it) leaves it to rich (its tables laid out by rich alone), and the two print the same bytes."""
    plain = run_gates(*words, **environment)
    by_rich = run_gates(*words, **environment, rich_only=True, TTY_COMPATIBLE="0")
    assert plain.returncode == by_rich.returncode == 0
    assert plain.stdout == by_rich.stdout
    imported = {line.split(b"|")[-1].strip().decode() for line in plain.stderr.splitlines()}
    assert "bpcli.views.gates_table" in imported  # the measurement saw the view
    assert not {module for module in imported if module.split(".")[0] == "rich"}
    assert "rich.console" in {line.split(b"|")[-1].strip().decode() for line in by_rich.stderr.splitlines()}


def rich_styled_card(reference, width):
    """The card as rich prints it on a terminal that takes styles."""
    console = Console(highlight=False, width=width, force_terminal=True, color_system="truecolor", emoji=False,
                      file=io.StringIO())
    console.push_render_hook(PrintHook(None))
    with console.capture() as captured:
        console.print(reference)
    return captured.get()


@pytest.mark.parametrize("card", CARDS)
def test_the_styled_card_is_riches_at_every_width(card):
    """On a terminal: the headings bold and the blocks' field names dim, each segment written as rich writes it."""
    reference = bpcli.gate_reference(CARDS[card])
    widths = range(20, 231) if card != "all" else range(20, 231, 3)
    for width in widths:
        assert gates_text(reference, width, False, styled=True) == rich_styled_card(reference, width), width
    assert "\x1b[1mgate" in gates_text(reference, 200, False, styled=True)
    assert "\x1b[2mlocal gradient" in gates_text(reference, 30, False, styled=True)


def run_on_a_terminal(*words, **environment):
    """``bpcli gates WORDS`` with a pseudo-terminal for its standard output: what it printed, and its imports."""
    pty = pytest.importorskip("pty")  # POSIX only
    env = {key: value for key, value in os.environ.items() if key not in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE")}
    main, child = pty.openpty()
    with subprocess.Popen([sys.executable, "-X", "importtime", "-m", "bpcli", "gates", *words], stdout=child,
                          stderr=subprocess.PIPE, cwd=REPO, env={**env, "TERM": "xterm", **environment}) as process:
        os.close(child)
        printed = b""
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the terminal's other end is closed: everything is read
                break
            if not chunk:
                break
            printed += chunk
        imported = {line.split(b"|")[-1].strip().decode() for line in process.stderr.read().splitlines()}
    os.close(main)
    assert process.returncode == 0
    return printed, imported


@pytest.mark.parametrize("words", [[], ["max", "relu", "matmul"]])
@pytest.mark.parametrize("columns", ["33", "100", "200"])
def test_a_terminal_gets_riches_styled_card_without_rich(words, columns):
    """FORCE_COLOR leaves the card to rich (it finds a terminal all the same): the two print the same bytes."""
    printed, imported = run_on_a_terminal(*words, COLUMNS=columns)
    by_rich, imported_by_rich = run_on_a_terminal(*words, COLUMNS=columns, FORCE_COLOR="1")
    assert printed == by_rich
    assert b"\x1b[1m" in printed
    assert not {module for module in imported if module.split(".")[0] == "rich"}
    assert "rich.console" in imported_by_rich


def rendered(renderable, width, encoding, monkeypatch=None):
    """``renderable`` printed as the command line's console prints it without styles; with ``monkeypatch``,
    every fitted table laid out by rich alone."""
    stream = io.TextIOWrapper(io.BytesIO(), encoding=encoding)
    console = Console(highlight=False, width=width, color_system=None, emoji=False, file=stream)
    console.push_render_hook(PrintHook(respelling(stream)))
    with monkeypatch.context() if monkeypatch else contextlib.nullcontext() as patch:
        if patch:
            patch.setattr(terminal, "_plain_lines", lambda *arguments: None)
        with console.capture() as captured:
            console.print(renderable)
    return captured.get()


def tables():
    """A table of each command whose tables are fitted, with their multi-line cells, right-justified numbers,
    arrays, an elision row and a check mark; some cut to 2 stages."""
    results = {
        "grad": bpcli.grad("sigmoid(w0*x0 + w1*x1 + w2)", w0=2, x0=-1, w1=-3, x1=-2, w2=-3),
        "grad of arrays": bpcli.grad("sum(relu(W @ x))", W=np.arange(6.0).reshape(2, 3) - 2,
                                     x=np.array([1.0, 2.0, -3.0])),
        "gradcheck": bpcli.gradcheck("relu(x) * y + tanh(x)", x=0.5, y=3),
        "order 4": bpcli.derivative("tanh(x) * exp(x)", x=0.5, order=4),
        "check": bpcli.check("(x+y)*z", {"x": -2, "y": 5, "z": -4}, expect={"dx": -4, "dz": 3}),
    }
    shown = {name: table_of(result) for name, result in results.items()}
    shown.update({f"{name}, 2 stages": table_of(results[name], max_stages=2) for name in ("grad", "order 4")})
    return shown


@pytest.mark.parametrize("encoding", ["utf-8", "ascii"])
def test_every_fitted_table_is_laid_out_as_rich_lays_it_out(encoding, monkeypatch):
    """Where nothing is styled (a pipe, a file, NO_COLOR) a fitted table is written by plain_layout: the same
    bytes as rich's at every width, whole, wrapped between words or as blocks."""
    for name, table in tables().items():
        for width in range(20, 200, 9):
            assert rendered(table, width, encoding) == rendered(table, width, encoding, monkeypatch), (name, width)


def test_the_tables_of_these_commands_are_plain(monkeypatch):
    """The comparison above compares something: each of these tables takes the plain path."""
    laid_out = []
    monkeypatch.setattr(plain_layout, "fitted_table", lambda *arguments: laid_out.append(arguments[0].headers) or [])
    for table in tables().values():
        rendered(table, 80, "utf-8")
    assert len(laid_out) == 2 + 2 + 1 + 2 + 1 + 2 + 2  # grad's two tables each time, gradcheck's one, ...


def test_a_dumb_terminal_without_colour_gets_riches_card(monkeypatch):
    """NO_COLOR on a dumb terminal (TERM=dumb, as in Emacs' shell; FORCE_COLOR makes the pipe one): rich prints
    80 columns wide whatever width the console is given (Console.size), so the card must be 80 wide too."""
    environment = {"NO_COLOR": "1", "FORCE_COLOR": "1", "TERM": "dumb", "COLUMNS": ""}
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    monkeypatch.setattr(terminal, "_plain_lines", lambda *arguments: None)  # its tables laid out by rich alone
    console = shared.console()  # the command line's console in the same environment, on the same kind of stream
    with console.capture() as captured:
        console.print(bpcli.gate_reference(None))
    printed = run_gates(**environment)
    assert printed.returncode == 0
    assert printed.stdout.decode() == captured.get()


def test_a_field_of_newlines_alone_is_laid_out_as_rich_lays_it_out(monkeypatch):
    """A block whose field holds nothing but a newline (it is not empty, so it is shown): its label, then nothing."""
    table = Table()
    table.add_column("value of it")
    table.add_column("x")
    table.add_row("a", "\n")
    assert rendered(terminal.fitted(table), 5, "utf-8", monkeypatch) == "a\n  x\n"
    assert rendered(terminal.fitted(table), 5, "utf-8") == "a\n  x\n"


def test_a_console_that_does_not_wrap_gets_riches_table(monkeypatch):
    """A library user's console that does not wrap (Console(soft_wrap=True), writing to a file): the title is
    cut at the table's width, as rich cuts it."""
    table = Table(title=Text("a title long enough to wrap at this width"), title_justify="left")
    table.add_column("name")
    table.add_column("value")
    table.add_row("x", "1.5")

    def printed():
        console = Console(width=24, color_system=None, soft_wrap=True, file=io.StringIO())
        with console.capture() as captured:
            console.print(terminal.fitted(table))
        return captured.get()

    plain = printed()
    monkeypatch.setattr(terminal, "_plain_lines", lambda *arguments: None)
    assert plain == printed()
