"""``python -m bpcli``: the same as the ``bpcli`` command."""

from bpcli.cli import console

console()
