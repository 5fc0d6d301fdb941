"""Output to a stream whose encoding cannot spell bpcli's symbols.

Standard output need not be UTF-8: PYTHONIOENCODING=ascii, a latin-1 locale, a
Windows redirect (cp1252). Every table has a ∂ and every backward line a ←, so
instead of failing on the first of them, a symbol the stream cannot encode is
written the ASCII way (∂ as d, ← as <-, … as ...). JSON is exact either way: a
character it cannot encode becomes its JSON escape (``\\u2202``), which is the
same string to every JSON reader.
"""

from __future__ import annotations

import codecs
from typing import Any, Callable, Optional

SPELLED = "bpcli.ascii"  # the codec error handler for text people read
ESCAPED = "bpcli.json"  # the one for JSON documents

ASCII_SPELLINGS = {
    "∂": "d", "←": "<-", "→": "->", "—": "-", "–": "-", "…": "...", "·": "*", "×": "x", "±": "+-",
    "ε": "eps", "≤": "<=", "≥": ">=", "≠": "!=", "≈": "~", "∞": "inf", "√": "sqrt", "✓": "ok", "✗": "FAIL",
    "‘": "'", "’": "'", "“": '"', "”": '"',
}
SUPERSCRIPT_DIGITS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
# The characters every table and message uses: a stream that encodes them is left alone.
SYMBOLS = "∂←—…·×±²✓✗"


def spell_in_ascii(text: str) -> str:
    """``text`` with each character outside ASCII written the ASCII way (∂f/∂x as df/dx, x² as x^2)."""
    out: list[str] = []
    superscript = False  # inside a run of superscript digits, which takes one "^"
    for character in text:
        digit = character.translate(SUPERSCRIPT_DIGITS)
        if digit != character:
            out.append(digit if superscript else "^" + digit)
            superscript = True
            continue
        superscript = False
        out.append(character if character.isascii() else _ascii_spelling(character))
    return "".join(out)


def _ascii_spelling(character: str) -> str:
    if character in ASCII_SPELLINGS:
        return ASCII_SPELLINGS[character]
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", character).encode("ascii", "ignore").decode("ascii")
    if decomposed:  # é as e, ﬁ as fi
        return decomposed
    return character.encode("ascii", "backslashreplace").decode("ascii")  # nothing lost: \u4e2d


def _spelled(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    return spell_in_ascii(error.object[error.start:error.end]), error.end


def _escaped(error: UnicodeError) -> tuple[str, int]:
    """JSON's escape of each character (a UTF-16 surrogate pair beyond the first 65,536)."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    units = error.object[error.start:error.end].encode("utf-16-be")
    escapes = "".join(f"\\u{int.from_bytes(units[i:i + 2], 'big'):04x}" for i in range(0, len(units), 2))
    return escapes, error.end


codecs.register_error(SPELLED, _spelled)
codecs.register_error(ESCAPED, _escaped)


def encodes_symbols(stream: Any) -> bool:
    """Whether the stream's encoding can write bpcli's symbols (UTF-8 can; ascii, latin-1, cp1252 cannot)."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        SYMBOLS.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def tolerate_encoding(stream: Any) -> None:
    """Let ``stream`` write what its encoding cannot, the ASCII way, rather than fail on it."""
    if stream is None or getattr(stream, "errors", None) == SPELLED or encodes_symbols(stream):
        return
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors=SPELLED)


def respelling(stream: Any) -> Optional[Callable[[str], str]]:
    """What rewrites a text for ``stream`` (each character it cannot encode the ASCII way); None for UTF-8."""
    if encodes_symbols(stream):
        return None
    encoding = getattr(stream, "encoding", None) or "utf-8"
    return lambda text: text.encode(encoding, SPELLED).decode(encoding)


def json_for(stream: Any, text: str) -> str:
    """JSON text that ``stream`` can encode: what it cannot is written as JSON escapes."""
    if encodes_symbols(stream) or text.isascii():
        return text
    encoding = getattr(stream, "encoding", None) or "utf-8"
    return text.encode(encoding, ESCAPED).decode(encoding)


def json_stream(stream: Any) -> Any:
    """``stream`` for a JSON document written piece by piece: escaped where it cannot encode a character."""
    return stream if encodes_symbols(stream) else _JsonEscaping(stream)


class _JsonEscaping:
    """A stream whose writes are JSON text (a character is escaped alone, so pieces may break anywhere)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(json_for(self._stream, text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
