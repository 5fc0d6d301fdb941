"""An exercise variant as a problem sheet (Markdown) and as the answers file a student fills in (TOML).

The sheet is ``bpcli grad``'s stage table, cell for cell (the same local
gradient and downstream lines), with the blanks shown as ``?``; the template
is an answers file for ``bpcli check --answers`` with one key per blank.
Nothing is computed here: the numbers are the grad result's.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable

from bpcli.views.html import Cell, TableBlock, TextBlock, blocks_markdown
from bpcli.views.numbers import format_value
from bpcli.views.table import downstream_line, local_line

if TYPE_CHECKING:  # views read results, never import the analyses
    from bpcli.analyses.exercise import ExerciseProblem, ExerciseSet, Variant

BLANK = "?"
HEADERS = ["#", "stage", "gate", "expression", "value", "local gradient", "upstream", "downstream"]
KEYS_HELP = (
    "Fill in every ? in the tables, by hand, with the lecture's rules. In the answers file each blank is a key: "
    "NAME the forward value of stage NAME; dq/dx the local gradient ∂q/∂x of stage q for its input x; "
    "dNAME the upstream gradient ∂f/∂NAME (of a stage, or of an input); dx via q the downstream gradient x "
    "receives from stage q (local × upstream). Replace each \"?\" with your number and check your work with "
    "bpcli check --answers FILE (numbers are held to the digits you write: 0.39 for 0.3932 passes)."
)


def sheet_markdown(variant: Variant, precision: int = 4) -> str:
    """The problem sheet: for each problem, the circuit, its inputs and the stage table with blanks."""
    who = f" for {variant.student}" if variant.student else ""
    parts = [f"# Backpropagation by hand{who}\n\n", blocks_markdown([TextBlock(Cell(KEYS_HELP))])]
    for number, problem in enumerate(variant.problems, start=1):
        title = problem.spec.name or problem.spec.expression
        parts.append(f"\n## Problem {number}: {_inline(title)}\n\n")
        parts.append(blocks_markdown(_problem_blocks(problem, precision)))
    return "".join(parts)


def _inline(text: str) -> str:
    """A heading's text, escaped as every Markdown text here (input cannot add markup)."""
    return blocks_markdown([TextBlock(Cell(" ".join(text.split())))]).strip()


def _problem_blocks(problem: ExerciseProblem, precision: int) -> list[TableBlock | TextBlock]:
    result = problem.result
    circuit = "\n".join(f"{stage.name} = {stage.expr}" for stage in result.stages)
    inputs = ", ".join(f"{name} = {format_value(value)}" for name, value in problem.inputs.items())
    blocks: list[TableBlock | TextBlock] = [
        TextBlock(Cell(f"The circuit, one gate per stage, at {inputs}; the output is {result.output}:")),
        TextBlock(Cell(circuit), preformatted=True),
        _stage_table(problem, precision),
        _gradient_table(problem, precision),
    ]
    if result.forks:
        used = ", ".join(f"{fork.name} (used {len(fork.contributions)} times)" for fork in result.forks)
        blocks.append(TextBlock(Cell(f"Forks: {used}. A value used by several gates gets the sum of the "
                                     "gradients flowing back to it.")))
    return blocks


def _blanked(problem: ExerciseProblem) -> set[tuple[str, int | None, int | None]]:
    return {(blank.kind, blank.stage, blank.position) for blank in problem.blanks}


def _stage_table(problem: ExerciseProblem, precision: int) -> TableBlock:
    formulas_only = "forward" in problem.spec.blank  # a local gradient's number would give forward values away

    def show(value: Any) -> str:
        return format_value(value, precision)

    rows = [_stage_row(stage, _blanked(problem), show, formulas_only) for stage in problem.result.stages]
    right = [True, False, False, False, True, False, True, False]
    return TableBlock(f"Backpropagation through {problem.result.output}", HEADERS, right, rows)


def _stage_row(stage: Any, blanked: set[tuple[str, int | None, int | None]], show: Callable[[Any], str],
               formulas_only: bool) -> list[Cell]:
    """A row of grad's stage table, its blanked cells as ?."""
    def blank(kind: str, position: int | None = None) -> bool:
        return (kind, stage.index, position) in blanked

    carried = [p for p, formula in enumerate(stage.formulas) if formula is not None]
    local = [f"∂{stage.name}/∂{stage.inputs[p]} = {BLANK}" if blank("local", p)
             else _local_shown(stage, p, show, formulas_only) for p in carried]
    downstream = [f"{stage.inputs[p]} ← {BLANK}" if blank("downstream", p) else downstream_line(stage, p, show)
                  for p in carried]
    return [Cell(text) for text in (
        str(stage.index), stage.name, stage.op, stage.expr,
        BLANK if blank("forward") else show(stage.value),
        "\n".join(local) or "—",
        BLANK if blank("upstream") else show(stage.upstream),
        "\n".join(downstream) or "—",
    )]


def _local_shown(stage: Any, position: int, show: Callable[[Any], str], formula_only: bool) -> str:
    """A local gradient that is not blanked: as the grad table shows it, or its formula alone."""
    if formula_only:
        return f"∂{stage.name}/∂{stage.inputs[position]} = {stage.formulas[position]}"
    return str(local_line(stage, position, show))


def _gradient_table(problem: ExerciseProblem, precision: int) -> TableBlock:
    result, blanked = problem.result, _blanked(problem)
    output = result.output
    rows = []
    for name, value in result.inputs.items():
        gradient = BLANK if ("upstream", None, None) in blanked else format_value(result.gradients[name], precision)
        rows.append([Cell(name), Cell(format_value(value, precision)), Cell(gradient)])
    return TableBlock(f"Gradients of {output}", ["input", "value", f"∂{output}/∂input"], [False, True, True], rows)


# ---- the answers template -----------------------------------------------------------------


def answers_template(variant: Variant) -> str:
    """The answers file: one [[problem]] per problem, one key per blank, each "?" for the student to replace."""
    lines = [
        "# bpcli exercise: replace each \"?\" with your number, then check your work with",
        "#   bpcli check --answers THIS_FILE",
        f"# seed {variant.seed}" + (f", student {json.dumps(variant.student)}" if variant.student else ""),
    ]
    for problem in variant.problems:
        lines += ["", "[[problem]]"]
        lines.append(f"name = {_string(problem.name)}")
        inputs = ", ".join(f"{_key(name)} = {_number(value)}" for name, value in problem.inputs.items())
        lines += [f"expr = {_string(problem.spec.expression)}", f"inputs = {{ {inputs} }}", "", "[problem.expect]"]
        lines += [f"{_key(blank.key)} = {_string(BLANK)}" for blank in problem.blanks]
    return "\n".join(lines) + "\n"


def _string(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text, ensure_ascii=False)


def _key(key: str) -> str:
    bare = key.replace("_", "").replace("-", "").isalnum() and key.isascii()
    return key if bare else _string(key)


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


# ---- the result as a whole ----------------------------------------------------------------------


def exercise_text(result: ExerciseSet, precision: int = 4) -> str:
    """Every variant's sheet, one after another."""
    return "\n---\n\n".join(sheet_markdown(variant, precision) for variant in result.variants)


def exercise_table(result: ExerciseSet, precision: int = 4) -> Any:
    """The sheets rendered for a terminal (``rich.print(result)``)."""
    from rich.markdown import Markdown  # rich only to draw

    # A cell's lines (<br> in the Markdown) side by side: a terminal's Markdown table keeps a cell on one line.
    return Markdown(exercise_text(result, precision).replace("<br>", "; "))
