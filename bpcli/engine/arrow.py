"""pyarrow, an optional extra (``pip install "bpcli[arrow]"``): Parquet and Arrow IPC files, and faster CSV.

Parquet and Arrow files cannot be read or written without it, and say how to
get it; CSV is read and written without it too, only more slowly, and to the
same text.
"""

from __future__ import annotations

from typing import Any

from bpcli.engine.errors import BpcliError

INSTALL = 'pip install "bpcli[arrow]"'


def optional() -> Any | None:
    """The pyarrow module, or None where it is not installed (or cannot be imported)."""
    try:
        import pyarrow  # an optional extra, imported only for the files that use it (start-up)
    except ImportError:
        return None
    return pyarrow


def required(what: str) -> Any:
    """The pyarrow module, or the BpcliError that says ``what`` needs it and how to install it."""
    pyarrow = optional()
    if pyarrow is None:
        raise BpcliError(f"{what} needs pyarrow, which is not installed: {INSTALL}")
    return pyarrow
