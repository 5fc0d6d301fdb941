"""Where the grammar file is: inside the installed package, or in the checkout.

A wheel carries ``grammar/`` as ``bpcli/grammar/`` (pyproject's force-include);
an editable install or a plain checkout imports bpcli from the repository,
where the grammar sits beside the package at the top level. The file is found
relative to this module rather than through importlib.resources, whose import
alone costs more than reading the grammar (start-up matters: bpcli is run
thousands of times by grading scripts).
"""

from __future__ import annotations

from pathlib import Path

GRAMMAR_FILE = "bpcli.lark"
_PACKAGE = Path(__file__).resolve().parent.parent


def path() -> Path:
    """The grammar file bpcli parses with."""
    for candidate in (_PACKAGE / "grammar" / GRAMMAR_FILE, _PACKAGE.parent / "grammar" / GRAMMAR_FILE):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"bpcli's grammar ({GRAMMAR_FILE}) is missing beside {_PACKAGE}: the installation is broken")


def text() -> str:
    return path().read_text(encoding="utf-8")
