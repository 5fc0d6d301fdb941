"""Where the grammar file is: inside the installed package, or in the checkout.

A wheel carries ``grammar/`` as ``bpcli/grammar/`` (pyproject's force-include);
an editable install or a plain checkout imports bpcli from the repository,
where the grammar sits beside the package at the top level. The file is found
relative to this module with os.path, rather than through importlib.resources
or pathlib, whose imports alone cost more than reading the grammar (start-up
matters: bpcli is run thousands of times by grading scripts).
"""

from __future__ import annotations

import os

GRAMMAR_FILE = "bpcli.lark"
# bpcli/engine/syntax/ -> bpcli/
_PACKAGE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))


def path() -> str:
    """The grammar file bpcli parses with."""
    for folder in (_PACKAGE, os.path.dirname(_PACKAGE)):
        candidate = os.path.join(folder, "grammar", GRAMMAR_FILE)
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError(
        f"bpcli's grammar ({GRAMMAR_FILE}) is missing beside {_PACKAGE}: the installation is broken"
    )


def text() -> str:
    with open(path(), encoding="utf-8") as file:
        return file.read()
