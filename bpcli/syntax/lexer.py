"""The lexer: one regular expression built from the grammar's own terminals.

lark's lexer makes a full Token object per token and was most of the parse time
on large inputs; this one tries the same terminals in the same order as lark's
basic lexer (priority, then longest possible match) with a single compiled
pattern and makes light tokens the LALR parser accepts as they are. It also
drops newlines inside brackets, so a long expression may wrap as in Python.
"""

from __future__ import annotations

import re
from typing import Iterator

_OPEN_BRACKETS = frozenset({"LPAR", "LSQB"})
_CLOSE_BRACKETS = frozenset({"RPAR", "RSQB"})
NEWLINE = "_NEWLINE"
STRAY = "STRAY_CHARACTER"  # no terminal of the grammar has this name


class Token:
    """What the parser needs of a token: its terminal, its text and where it is."""

    __slots__ = ("type", "value", "start_pos", "end_pos")

    def __init__(self, type: str, value: str, start_pos: int, end_pos: int) -> None:  # noqa: A002
        self.type, self.value, self.start_pos, self.end_pos = type, value, start_pos, end_pos

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"Token({self.type!r}, {self.value!r})"


class UnexpectedCharacter(Exception):
    """No terminal matches the text at ``position``."""

    def __init__(self, position: int) -> None:
        super().__init__(position)
        self.position = position


class Lexer:
    def __init__(self, terminals: list[tuple[str, str]], ignore: list[str]) -> None:
        """``terminals``: (name, regular expression) in the order lark's lexer tries them."""
        skipped = "|".join(pattern for name, pattern in terminals if name in ignore)
        kept = "|".join(f"(?P<{name}>{pattern})" for name, pattern in terminals if name not in ignore)
        # Spaces and comments before a token are skipped by the same match;
        # possessively, so a comment is never given back to become a token.
        self._pattern = re.compile(f"(?:{skipped})*+(?:{kept})")
        self._skip = re.compile(f"(?:{skipped})*+")
        # For text on one line: every token, or a character no terminal matches.
        # (Spaces or a comment at the very end match with no token: \Z.)
        self._line = re.compile(f"(?:{skipped})*+(?:{kept}|(?P<{STRAY}>.)|\\Z)", re.DOTALL)

    def tokens(self, text: str) -> list[Token] | Iterator[Token]:
        """The tokens of ``text``, without spaces and comments."""
        if "\n" in text:
            return self._lines(text)
        # One line (as any expression given on the command line): no newline
        # to weigh against brackets, so the tokens come from one finditer.
        # A character no terminal matches becomes a STRAY token, which no
        # parser state accepts: the parser stops there and reports it.
        return [
            Token(kind, m[kind], *m.span(kind)) for m in self._line.finditer(text) if (kind := m.lastgroup)
        ]

    def _lines(self, text: str) -> Iterator[Token]:
        match = self._pattern.match
        position, depth, end = 0, 0, len(text)
        while position < end:
            found = match(text, position)
            if found is None:
                rest = self._skip.match(text, position).end()
                if rest == end:
                    return  # only spaces or comments were left
                raise UnexpectedCharacter(rest)
            kind = found.lastgroup
            start, stop = found.span(kind)
            if kind in _OPEN_BRACKETS:
                depth += 1
            elif kind in _CLOSE_BRACKETS:
                depth = max(0, depth - 1)
            if kind != NEWLINE or not depth:
                yield Token(kind, text[start:stop], start, stop)
            position = stop
