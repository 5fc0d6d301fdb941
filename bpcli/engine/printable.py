"""Text from input, made safe to show on a terminal: the one escaping function every view uses.

An expression's comment, a problem's name, a file's path or a CSV header may
hold control characters: an escape sequence would recolour, move the cursor or
retitle the terminal, a NUL or a carriage return hides what comes before it,
and a bidirectional override makes text read differently than it is. Every
such character is shown as its Python escape (``\\x1b``, ``\\u202e``), so the
reader sees that it is there and nothing acts on it. Rich markup is not a
concern here: the views print input as ``rich.text.Text``, never as markup.
"""

from __future__ import annotations

import re

# C0 and C1 controls and DEL, the line and paragraph separators, and the
# invisible formatting characters that reorder text (bidi overrides and isolates, marks).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CONTROL_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\t": "\\t", "\r": "\\r", "\n": "\\n"}


def _escape(match: re.Match[str]) -> str:
    character = match.group()
    if character in _NAMED:
        return _NAMED[character]
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, newlines: bool = True) -> str:
    """``text`` with every control character escaped; line breaks are kept unless ``newlines`` is False.

        >>> printable("x\\x1b[31m red\\x00")
        'x\\\\x1b[31m red\\\\x00'
        >>> printable("a\\nb"), printable("a\\nb", newlines=False)
        ('a\\nb', 'a\\\\nb')
    """
    return (_CONTROL_BUT_NEWLINE if newlines else _CONTROL).sub(_escape, text)


def excerpt(text: str, width: int = 40) -> str:
    """A short quotation of input in a message (a CSV cell, a header): quoted, cut to ``width`` characters.

        >>> excerpt("oops"), excerpt("x" * 50, 8)
        ("'oops'", "'xxxxxxxx'...")
    """
    return repr(text[:width]) + ("..." if len(text) > width else "")
