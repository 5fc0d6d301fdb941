"""Where the grammar file is: inside the installed package, or in the checkout.

A wheel carries ``grammar/`` as ``bpcli/grammar/`` (pyproject's force-include)
and it is read with importlib.resources; an editable install or a plain
checkout imports bpcli from the repository, where the grammar sits beside the
package at the top level.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

GRAMMAR_FILE = "bpcli.lark"


def text() -> str:
    """The text of the grammar bpcli parses with."""
    installed = resources.files("bpcli") / "grammar" / GRAMMAR_FILE
    if installed.is_file():
        return installed.read_text(encoding="utf-8")
    checkout = Path(__file__).resolve().parents[2] / "grammar" / GRAMMAR_FILE
    if checkout.is_file():
        return checkout.read_text(encoding="utf-8")
    raise FileNotFoundError(f"bpcli's grammar ({GRAMMAR_FILE}) is missing: the installation is broken")
