"""The command line: one module per command, each a thin layer over the library.

Nothing here computes; a command reads its arguments, calls ``bpcli.api`` (or
the library module for its job) and prints a view. Imports of the parser,
numpy and rich happen inside the commands that need them, so
``bpcli grad ... --json`` on scalars starts without numpy or rich.
"""

from bpcli.cli import check, code, grad, gradcheck, graph, hessian, jacobian  # noqa: F401  (each module registers its command)
from bpcli.cli.app import app, main

__all__ = ["app", "main"]
