"""The check report for people: expectations met or not, a backward pass line by line, the score."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from bpcli.engine.printable import printable
from bpcli.views.terminal import Fitted, fitted
from bpcli.views.numbers import format_value
from bpcli.views.table import DEFAULT_PRECISION, one_line, warning_lines

if TYPE_CHECKING:  # views read results, never import the analyses
    from bpcli.analyses.check import CheckResult

PASS, FAIL = "✓", "✗"
STATUS_MARKS = {"right": PASS, "partial": PASS, "wrong": FAIL, "follows": FAIL, "helper": "", "step": ""}


def check_table(result: CheckResult, precision: int = DEFAULT_PRECISION, full: bool = False) -> Group:
    """One problem in detail, or an answers file as one row per problem, the wrong ones in detail, and a score."""
    def show(value: Any) -> str:
        return format_value(value, precision, full)

    if result.files:
        reports = [part for file in result.files for part in (*_answers_report(file, show), Text(""))]
        return Group(*reports, _files_table(result), _summary(result))
    if result.answers is None:
        (problem,) = result.problems
        return Group(*_problem_detail(problem, show), _summary(result))
    return Group(*_answers_report(result, show))


def _answers_report(result: CheckResult, show) -> list[Any]:
    """An answers file: one row per problem, the wrong ones in detail, and its score (or why it was not read)."""
    if result.error is not None:
        return [Text(f"Checking {printable(result.answers or '')}: error: {printable(result.error)}", style="red")]
    heading = Text(f"Checking {printable(result.answers or '')}: {len(result.problems)} problems")
    parts: list[Any] = [heading, _answers_table(result)]
    for problem in result.problems:
        if not problem.passed:
            parts.append(Text(f"\nProblem {problem.index}: {_label(problem)}", style="bold"))
            parts.extend(_problem_detail(problem, show, failures_only=True))
    parts.append(_summary(result))
    return parts


def _files_table(result: CheckResult) -> Fitted:
    """Several answers files: a score per file."""
    table = Table(title=Text(f"Scores of {len(result.files)} answers files"), title_justify="left")
    table.add_column("file")
    table.add_column("problems right", justify="right")
    table.add_column("expectations met", justify="right")
    table.add_column("result")
    for file in result.files:
        score = file.score
        counts = ("—", "—") if file.error is not None else (
            f"{score['passed']} of {score['problems']}", f"{score['met']} of {score['expectations']}")
        table.add_row(Text(printable(file.answers or '')), *counts, _verdict(file))
    return fitted(table, heading="{0}  {3}")


def _verdict(file: Any) -> Text:
    if file.exit_code == 2:  # a problem, or the whole file, could not be checked
        return Text("error", style="red")
    return Text(PASS, style="green") if file.passed else Text(FAIL, style="red")


def _problem_detail(problem: Any, show, failures_only: bool = False) -> list[Any]:
    if problem.error is not None:
        return [Text(f"error: {printable(problem.error)}", style="red")]
    parts: list[Any] = []
    if problem.backward is not None and not failures_only:
        parts.append(Text(f"Your backward pass ({printable(problem.backward.label)}), line by line"))
        parts.append(_lines_table(problem.backward, show))
    if not failures_only:
        inputs = ", ".join(f"{name} = {show(value)}" for name, value in problem.inputs.items())
        parts.append(Text(f"Checking {one_line(_code(problem.expression))}" + (f" at {inputs}" if inputs else "")))
        if problem.upstream is not None and problem.upstream.source != "one":
            parts.append(Text(_upstream_line(problem.upstream, show)))
        parts.append(_outcomes_table(problem, show))
    for outcome in problem.outcomes:
        if not outcome.passed:
            parts.append(_failure(problem, outcome, show))
        elif outcome.note and not failures_only:  # accepted, with a word on why (a one-sided derivative)
            written = outcome.written or show(outcome.expected)
            parts.append(Text(printable(f"{PASS} {outcome.key} = {written}: {outcome.note}"), style="green"))
    first = problem.backward.first_wrong if problem.backward is not None else None
    if first is not None:
        parts.append(Text(f"First wrong line: {first.number}: {printable(first.text)}", style="bold red"))
    if problem.backward is not None:
        parts.extend(Text(f"warning: {printable(w)}", style="yellow") for w in problem.backward.warnings)
    parts.extend(warning_lines(problem.warnings))
    return parts


UPSTREAM_SOURCES = {
    "given": "as given (--upstream)",
    "ones": "all ones (--upstream ones)",
    "random": "random normal values, --seed {seed}",
}


def _upstream_line(upstream: Any, show) -> str:
    """Which gradient flowed into the output, when it is not the number 1."""
    source = UPSTREAM_SOURCES[upstream.source].format(seed=upstream.seed)
    return f"Upstream gradient {printable(upstream.name)} ({source}) = {show(upstream.value)}"


def _outcomes_table(problem: Any, show) -> Fitted:
    table = Table()
    table.add_column("check", style="bold")
    table.add_column("meaning")
    table.add_column("expected", justify="right")
    table.add_column("actual", justify="right")
    table.add_column("allowed", justify="right", style="dim")
    table.add_column("")
    for outcome in problem.outcomes:
        where = "" if outcome.line is None else f" (line {outcome.line})"
        table.add_row(
            Text(printable(outcome.key) + where),
            Text(_meaning(problem, outcome)),
            Text(printable(outcome.written) or show(outcome.expected)),
            Text(show(outcome.actual)),
            Text("—" if outcome.allowed is None else "±" + format_value(_largest(outcome.allowed), 2)),
            Text(PASS if outcome.passed else FAIL, style="green" if outcome.passed else "red"),
        )
    return fitted(table, heading="{0}  {5}")


def _lines_table(check: Any, show) -> Fitted:
    table = Table()
    table.add_column("line", justify="right", style="dim")
    table.add_column("statement")
    table.add_column("your value", justify="right")
    table.add_column("should be", justify="right")
    table.add_column("verdict")
    for line in check.lines:
        mark = STATUS_MARKS[line.status]
        verdict = line.diagnosis.message if line.diagnosis is not None else line.note
        style = "red" if mark == FAIL else ("green" if mark == PASS else "dim")
        table.add_row(
            str(line.number), Text(printable(line.text)), Text(show(line.value)), Text(show(line.should_be)),
            Text(f"{mark} {line.status}" + (f": {printable(verdict)}" if verdict else ""), style=style),
        )
    return fitted(table, heading="line {0}: {1}  {4}")


def _failure(problem: Any, outcome: Any, show) -> Text:
    meaning = _meaning(problem, outcome)
    if outcome.expected is None or outcome.note:
        text = Text(printable(f"{FAIL} {outcome.key}: {outcome.note}"), style="red")
    else:
        written = outcome.written or show(outcome.expected)
        text = Text(printable(f"{FAIL} {outcome.key} = {written}, but {meaning} = {show(outcome.actual)}"), style="red")
    diagnosis = outcome.diagnosis
    if diagnosis is not None:
        text.append(f"\n  {diagnosis.message}")
        if diagnosis.hint:
            text.append(f"\n  hint: {diagnosis.hint}", style="yellow")
    return text


def _answers_table(result: CheckResult) -> Fitted:
    table = Table()
    table.add_column("#", justify="right", style="dim")
    table.add_column("problem")
    table.add_column("result")
    table.add_column("met", justify="right")
    for problem in result.problems:
        if problem.error is not None:
            verdict, met = Text("error", style="red"), "—"
        else:
            verdict = Text(PASS, style="green") if problem.passed else Text(FAIL, style="red")
            met = f"{problem.met} of {len(problem.outcomes)}"
        table.add_row(str(problem.index), Text(_label(problem)), verdict, met)
    return fitted(table, heading="{0}. {1}  {2}")


def _summary(result: CheckResult) -> Text:
    score = result.score
    if result.answers is None and not result.files:
        return Text(f"{score['met']} of {score['expectations']} expectations met.")
    share = 100 * score["passed"] / max(1, score["problems"])
    label = f"All {len(result.files)} files" if result.files else "Score"
    return Text(f"{label}: {score['passed']} of {score['problems']} problems right ({share:.0f}%), "
                f"{score['met']} of {score['expectations']} expectations met.")


def _meaning(problem: Any, outcome: Any) -> str:
    if outcome.kind == "local":
        return f"∂{outcome.stage}/∂{outcome.name} (local)"
    if outcome.kind == "downstream":
        return f"∂{problem.output}/∂{outcome.name} via {outcome.stage}"
    return f"∂{problem.output}/∂{outcome.name}" if outcome.gradient else f"value of {outcome.name}"


def _label(problem: Any) -> str:
    return one_line(problem.name) if problem.name else one_line(_code(problem.expression), 60)


def _code(source: str) -> str:
    """A program without its comments, its statements joined by ';', for a one-line title."""
    lines = (line.strip() for line in re.sub(r"#[^\n]*", "", source).splitlines())
    return "; ".join(line for line in lines if line)


def _largest(allowed: Any) -> Any:
    return allowed.max(initial=0.0) if hasattr(allowed, "max") else allowed  # an empty array allows 0
