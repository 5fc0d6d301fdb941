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

# C0 and C1 controls and DEL, the line and paragraph separators, the invisible
# formatting characters that reorder text (bidi marks, embeddings, overrides and isolates),
# and those that show nothing at all (the soft hyphen, zero-width spaces and joiners, the
# byte order mark, invisible operators, tag characters): "ada\u200b" must not print as "ada".
_CONTROLS = [*range(0x20), *range(0x7F, 0xA0), 0x00AD, 0x061C, 0x180E, *range(0x200B, 0x2010), 0x2028,
             0x2029, *range(0x202A, 0x202F), *range(0x2060, 0x2065), *range(0x2066, 0x2070), 0xFEFF,
             *range(0xFFF9, 0xFFFC), *range(0xE0000, 0xE0080)]
_NAMED = {"\t": "\\t", "\r": "\\r", "\n": "\\n"}
# str.translate tables (no regular expression to compile at start-up): every control to its escape.
_ESCAPES = {code: _NAMED.get(chr(code)) or (f"\\x{code:02x}" if code < 0x100 else
                                            f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
            for code in _CONTROLS}
_ESCAPES_BUT_NEWLINE = {code: escape for code, escape in _ESCAPES.items() if code != ord("\n")}


def printable(text: str, newlines: bool = True) -> str:
    """``text`` with every control character escaped; line breaks are kept unless ``newlines`` is False.

        >>> printable("x\\x1b[31m red\\x00")
        'x\\\\x1b[31m red\\\\x00'
        >>> printable("a\\nb"), printable("a\\nb", newlines=False)
        ('a\\nb', 'a\\\\nb')
    """
    return text.translate(_ESCAPES_BUT_NEWLINE if newlines else _ESCAPES)


def excerpt(text: str, width: int = 40) -> str:
    """A short quotation of input in a message (a CSV cell, a header): quoted, cut to ``width`` characters.

        >>> excerpt("oops"), excerpt("x" * 50, 8)
        ("'oops'", "'xxxxxxxx'...")
    """
    return repr(text[:width]) + ("..." if len(text) > width else "")
