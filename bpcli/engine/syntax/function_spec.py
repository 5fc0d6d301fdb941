"""FILE.py:NAME, the way --forward and --backward (and an answers file's "@FILE.py:NAME") pick a function.

Apart from the reader of the function (functions.py) so that telling a pick from a plain file does
not import Python's ``ast`` (start-up).
"""

from __future__ import annotations

import re

FUNCTION_SPEC = re.compile(r"(?P<path>.+\.py):(?P<name>[A-Za-z_][A-Za-z0-9_]*)\Z")


def split_spec(text: str) -> tuple[str, str] | None:
    """(path, function name) for ``FILE.py:NAME``; None for anything else."""
    found = FUNCTION_SPEC.match(text.strip())
    return None if found is None else (found.group("path"), found.group("name"))


def is_spec(text: str) -> bool:
    """Whether ``text`` picks a function (``layers.py:affine_forward``) rather than naming a file."""
    return split_spec(text) is not None
