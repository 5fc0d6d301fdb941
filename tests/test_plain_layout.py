"""The gate card written without rich (views/plain_layout.py) is, byte for byte, what rich prints.

``bpcli gates`` lays its card out as plain text where the output takes no styles
(start-up: rich took longer to lay it out than the rest of the command). These
tests hold the two layouts to the same bytes: rich's word wrapping, the boxed
table, terminal.fitted's widths and its vertical blocks, at every width a test
can afford, in UTF-8 and respelled for an ASCII stream.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.text import Text

import bpcli
from bpcli.cli.encoding import respelling
from bpcli.engine.record import replace
from bpcli.views.gates_table import gates_text
from bpcli.views.plain_layout import one_cell_wide, wrapped
from bpcli.views.terminal import PrintHook
from helpers import REPO

CARDS = {"all": None, "some": ["mul", "relu", "matmul", "sum", "where"], "one": ["mul"]}


def rich_card(reference, width, encoding="utf-8"):
    """The card as the command line's console prints it without styles (shared.console, on a pipe)."""
    stream = io.TextIOWrapper(io.BytesIO(), encoding=encoding)
    console = Console(highlight=False, width=width, color_system=None, emoji=False, file=stream)
    console.push_render_hook(PrintHook(respelling(stream)))
    with console.capture() as captured:
        console.print(reference)
    return captured.get()


def plain_card(reference, width, encoding="utf-8"):
    stream = io.TextIOWrapper(io.BytesIO(), encoding=encoding)
    return gates_text(reference, width, not encoding.startswith("utf"), respelling(stream))


@pytest.mark.parametrize("card", CARDS)
def test_the_card_is_riches_at_every_width(card):
    """Every width from the narrowest bpcli uses: the blocks, the wrapped tables, the tables whole."""
    reference = bpcli.gate_reference(CARDS[card])
    widths = range(20, 231) if card != "all" else range(20, 231, 3)  # the whole card takes rich 40 ms a width
    for width in widths:
        assert plain_card(reference, width) == rich_card(reference, width), width


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_the_card_for_a_stream_that_cannot_write_its_symbols_is_riches(encoding):
    """Respelled before the layout as the console's print hook respells it, and boxed in ASCII as rich boxes a
    stream whose encoding is not UTF."""
    reference = bpcli.gate_reference(None)
    for width in (20, 44, 80, 120, 155, 230):
        plain = plain_card(reference, width, encoding)
        assert plain == rich_card(reference, width, encoding), width
        assert plain.isascii() if encoding == "ascii" else "∂" not in plain


def rich_wrapped(text, width, pad, fold):
    console = Console(width=1000, emoji=False, highlight=False)
    lines = Text(text).wrap(console, width, justify="left" if pad else "default",
                            overflow="fold" if fold else "ellipsis")
    return [line.plain for line in lines]


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=" abc-\n", max_size=60), st.integers(1, 12), st.booleans(), st.booleans())
def test_words_are_wrapped_as_rich_wraps_them(text, width, pad, fold):
    """Spaces anywhere (leading, doubled, trailing), words longer than the line (folded or cut with "…"), newlines."""
    assert wrapped(text, width, pad=pad, fold=fold) == rich_wrapped(text, width, pad, fold)


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


def test_a_card_with_a_wider_character_is_left_to_rich():
    reference = bpcli.gate_reference(["mul"])
    wide = replace(reference, gates=[reference.gates[0]._replace(local="∂/∂a = 漢")])
    assert gates_text(wide, 120, False) is None


def run_gates(*words, **environment):
    env = {key: value for key, value in os.environ.items() if key not in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE")}
    return subprocess.run([sys.executable, "-X", "importtime", "-m", "bpcli", "gates", *words], capture_output=True,
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
    as rich reads it) leaves it to rich, and the two print the same bytes."""
    plain = run_gates(*words, **environment)
    by_rich = run_gates(*words, **environment, TTY_COMPATIBLE="0")
    assert plain.returncode == by_rich.returncode == 0
    assert plain.stdout == by_rich.stdout
    imported = {line.split(b"|")[-1].strip().decode() for line in plain.stderr.splitlines()}
    assert "bpcli.views.gates_table" in imported  # the measurement saw the view
    assert not {module for module in imported if module.split(".")[0] == "rich"}
    assert "rich.console" in {line.split(b"|")[-1].strip().decode() for line in by_rich.stderr.splitlines()}


def test_a_terminal_that_takes_styles_gets_riches_card():
    """FORCE_COLOR: rich finds a terminal, and prints the headings bold."""
    styled = run_gates("mul", FORCE_COLOR="1", COLUMNS="100")
    assert styled.returncode == 0
    assert b"\x1b[1mgate" in styled.stdout
    assert styled.stdout.replace(b"\x1b[1m", b"").replace(b"\x1b[0m", b"") == run_gates("mul", COLUMNS="100").stdout
