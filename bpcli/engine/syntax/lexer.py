"""The lexer: one regular expression built from the grammar's own terminals.

It tries the same terminals in the same order as lark's basic lexer (priority,
then longest possible match). The text is cut into tokens by a single
``findall`` of that pattern, in C; a token's terminal is then found from its
text, looked up once per distinct text (a large expression repeats a few
dozen names and operators many thousand times). Tokens are plain tuples, the
lightest thing the LALR parser can shift. Newlines inside brackets are
dropped, so a long expression may wrap as in Python.
"""

from __future__ import annotations

import re
from typing import Final, Iterable, Iterator

# A token: (terminal, text, start, end), offsets into the source.
Token = tuple[str, str, int, int]
# Final literals, so that a type checker knows token[START] is an int and token[TEXT] a str.
KIND: Final = 0
TEXT: Final = 1
START: Final = 2
END: Final = 3

_OPEN_BRACKETS = frozenset({"LPAR", "LSQB"})
_CLOSE_BRACKETS = frozenset({"RPAR", "RSQB"})
NEWLINE = "_NEWLINE"
STRAY = "STRAY_CHARACTER"  # a character no terminal matches; no grammar terminal has this name


class Lexer:
    def __init__(self, terminals: list[tuple[str, str]], ignore: list[str]) -> None:
        """``terminals``: (name, regular expression) in the order lark's lexer tries them."""
        skipped = "|".join(pattern for name, pattern in terminals if name in ignore)
        kept = "|".join(f"(?:{pattern})" for name, pattern in terminals if name not in ignore)
        # Group 1: the spaces and comments before a token, skipped possessively so
        # that a comment is never given back to become a token. Group 2: the
        # token, a character no terminal matches, or nothing at the very end.
        # (Groups inside the terminals' own patterns come after these two.)
        self._pattern = re.compile(f"((?:{skipped})*+)({kept}|.|\\Z)", re.DOTALL)
        # Each terminal as the texts it matches where they are plain strings ("**", "<=" or ">="), else its
        # pattern, which re compiles (and keeps) when first needed: a run compiles NAME's and NUMBER's (start-up).
        self._terminals = [(name, _texts(pattern), pattern) for name, pattern in terminals if name not in ignore]
        self._kinds: dict[str, str] = {}

    def tokens(self, text: str) -> list[Token]:
        """The tokens of ``text``, without spaces and comments.

        A character no terminal matches becomes a STRAY token, which no parser
        state accepts: the parser stops there and reports it.
        """
        matches = self._pattern.findall(text)
        while matches and not matches[-1][1]:
            matches.pop()  # the text's end, matched after its last spaces and again on its own
        kinds = self._kinds
        tokens: list[Token] = []
        append = tokens.append
        position = 0
        for found in matches:
            skipped, token = found[0], found[1]
            position += len(skipped)
            end = position + len(token)
            append((kinds.get(token) or self._kind(token), token, position, end))
            position = end
        return [*_without_bracketed_newlines(tokens)] if "\n" in text else tokens

    def stream(self, text: str) -> Iterator[Token]:
        """The tokens of ``text`` one at a time, as ``tokens`` cuts them: a text of millions of tokens
        never holds them all at once (the flat tape, engine/tape.py, reads them as they come)."""
        kinds = self._kinds

        def cut() -> Iterator[Token]:
            for found in self._pattern.finditer(text):
                token = found.group(2)
                if not token:  # the text's end
                    return
                yield kinds.get(token) or self._kind(token), token, found.start(2), found.end(2)

        return _without_bracketed_newlines(cut()) if "\n" in text else cut()

    def _kind(self, token: str) -> str:
        # The alternation takes the first terminal that matches here, so no earlier
        # terminal can match this text exactly: the first that does is the one.
        kind = next((name for name, texts, pattern in self._terminals
                     if (token in texts if texts is not None else re.fullmatch(pattern, token))), STRAY)
        self._kinds[token] = kind
        return kind


_SPECIAL = frozenset(".^$*+?{}[]|()")


def _texts(pattern: str) -> frozenset[str] | None:
    """The texts ``pattern`` matches where each is a plain string: one (``\\*\\*``: ``**``), or a group of
    them as lark writes a terminal of several strings (``(?:<=|>=|<)``); None for any other pattern."""
    if pattern.startswith("(?:") and pattern.endswith(")"):
        parts = pattern[3:-1].split("|")  # a part cut at an escaped | is no plain string: None below
        texts = [text for text in map(_literal, parts) if text is not None]
        return frozenset(texts) if len(texts) == len(parts) else None
    text = _literal(pattern)
    return None if text is None else frozenset((text,))


def _literal(pattern: str) -> str | None:
    """The one text ``pattern`` matches where it is a plain string, its punctuation escaped (``\\*\\*``: ``**``);
    None for any other pattern (a class, a repetition, an alternative, an escape such as ``\\d``)."""
    text: list[str] = []
    escaped = False
    for character in pattern:
        if escaped:
            if character.isalnum():
                return None
            text.append(character)
            escaped = False
        elif character == "\\":
            escaped = True
        elif character in _SPECIAL:
            return None
        else:
            text.append(character)
    return None if escaped or not text else "".join(text)


def _without_bracketed_newlines(tokens: Iterable[Token]) -> Iterator[Token]:
    depth = 0
    for token in tokens:
        kind = token[KIND]
        if kind in _OPEN_BRACKETS:
            depth += 1
        elif kind in _CLOSE_BRACKETS:
            depth = max(0, depth - 1)
        elif kind == NEWLINE and depth:
            continue
        yield token
