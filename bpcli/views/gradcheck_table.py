"""The gradient check for people: analytic against numeric, the relative error and its reading."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from bpcli.views.terminal import fitted
from bpcli.views.numbers import format_value
from bpcli.views.table import one_line, warning_lines

if TYPE_CHECKING:  # views read results, never import the analyses
    from bpcli.analyses.gradcheck import GradcheckResult

DEFAULT_PRECISION = 8  # enough digits to see where analytic and numeric part
STYLES = {"good": "green", "acceptable near kinks": "yellow", "suspicious": "yellow", "wrong": "red",
          "inconclusive": "dim"}


def gradcheck_table(result: GradcheckResult, precision: int = DEFAULT_PRECISION, full: bool = False,
                    warnings: bool = True) -> Group:
    """One row per input (its worst element), or per element with ``full``; then the verdict."""
    def show(value: Any) -> str:
        return format_value(value, precision)

    kinks = any(check.kink for check in result.checks)
    table = Table()
    for title in ("input", "value", "analytic", "numeric", *(("left", "right") if kinks else ()), "rel. error"):
        table.add_column(title, justify="left" if title == "input" else "right")
    table.add_column("reading")
    for check, label in _rows(result, full):
        sides = (show(check.left), show(check.right)) if kinks else ()
        table.add_row(
            Text(label), show(check.value), show(check.analytic), show(check.numeric), *sides,
            format_value(check.error, 2),
            Text(check.reading + (" (kink: between left and right)" if check.kink else ""),
                 style=STYLES[check.reading]),
        )
    heading = Text(f"Gradient check of {one_line(result.source)}: centred differences, "
                   f"h = {result.h:g}·max(1, |x|)")
    return Group(heading, fitted(table), _verdict(result), *warning_lines(result.warnings, warnings))


def _rows(result: GradcheckResult, full: bool) -> list[tuple[Any, str]]:
    """Every element with ``full``; otherwise each input once, by its worst element."""
    if full:
        return [(check, check.label) for check in result.checks]
    by_input: dict[str, list[Any]] = {}
    for check in result.checks:
        by_input.setdefault(check.input, []).append(check)
    rows = []
    for checks in by_input.values():
        worst = max(checks, key=lambda c: (not c.passed, c.error if c.reading != "inconclusive" else -1.0))
        label = worst.label if len(checks) == 1 else f"{worst.label} (worst of {len(checks)})"
        rows.append((worst, label))
    return rows


def _verdict(result: GradcheckResult) -> Text:
    failed = [check for check in result.checks if not check.passed]
    limit = format_value(result.max_error, 2)
    if not failed:
        unsure = sum(check.reading == "inconclusive" for check in result.checks)
        aside = f"; {unsure} inconclusive (a difference below its rounding error, or inf or nan)" if unsure else ""
        return Text(f"All {len(result.checks)} input elements pass: the worst relative error is "
                    f"{format_value(result.worst, 2)} (--max-error {limit}){aside}.", style="green")
    names = ", ".join(f"{c.label} ({c.reading}, {format_value(c.error, 2)})" for c in failed[:8])
    more = f" and {len(failed) - 8} more" if len(failed) > 8 else ""
    return Text(f"{len(failed)} of {len(result.checks)} input elements exceed --max-error {limit}: {names}{more}.",
                style="red")
