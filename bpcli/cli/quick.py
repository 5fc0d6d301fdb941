"""The quick path: ``bpcli grad EXPR -x V ... [--json]`` without importing typer.

Grading scripts run bpcli thousands of times, and typer's import alone is
several times the start-up of Python itself. The commonest call, grad with
single-dash bindings, is recognised here and run by the same functions as the
typer command (``shared.evaluated``, ``shared.print_grad``); anything else —
another command, an option such as --precision, --x-style bindings, --help —
goes to typer, which knows every option.
"""

from __future__ import annotations

from bpcli.cli.shared import evaluated, print_grad, run_reporting
from bpcli.engine.limits import DEFAULT_MAX_ELEMENTS


def grad(argv: list[str]) -> int | None:
    """The exit code of ``bpcli grad`` run on ``argv``, or None when typer must handle it."""
    if len(argv) < 2 or argv[0] != "grad" or argv[1].startswith("-"):
        return None
    expression, rest = argv[1], argv[2:]
    json_output = "--json" in rest
    bindings = [argument for argument in rest if argument != "--json"]
    if any(argument.startswith("--") for argument in bindings):
        return None  # an option of grad (or a --x binding): typer's parser decides
    return run_reporting(lambda: _grad(expression, bindings, json_output))


def _grad(expression: str, bindings: list[str], json_output: bool) -> None:
    result = evaluated(expression, None, bindings, None, False, 0, DEFAULT_MAX_ELEMENTS)
    print_grad(result, json_output)
