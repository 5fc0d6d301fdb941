"""The ``--json`` documents, one function per schema (bpcli/views/schemas/ describes each; ``bpcli schema NAME``).

Needs neither rich nor numpy for scalar results, so a scripted run stays fast.
"""

from __future__ import annotations

import json
import math
import re
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from bpcli.engine.record import NamedTuple

if TYPE_CHECKING:  # views read results, never import the analyses
    from bpcli.analyses.check import CheckResult
    from bpcli.analyses.derivative import DerivativeResult
    from bpcli.analyses.gates import GateReference
    from bpcli.analyses.grade import GradeResult, ProblemMark
    from bpcli.analyses.gradcheck import GradcheckResult
    from bpcli.analyses.hessian import HessianResult
    from bpcli.analyses.jacobian import JacobianResult
    from bpcli.analyses.symbolic import SymbolicResult

GRAD_SCHEMA = "bpcli.grad/1"
JACOBIAN_SCHEMA = "bpcli.jacobian/1"
HESSIAN_SCHEMA = "bpcli.hessian/1"
DERIVATIVE_SCHEMA = "bpcli.derivative/1"
SYMBOLIC_SCHEMA = "bpcli.symbolic/1"
CHECK_SCHEMA = "bpcli.check/1"
GRADCHECK_SCHEMA = "bpcli.gradcheck/1"
GATES_SCHEMA = "bpcli.gates/1"
EXERCISE_SCHEMA = "bpcli.exercise/1"
GRADE_SCHEMA = "bpcli.grade/1"


def grad_document(
    result: Any, explanation: list[Any] | None = None, gradients_only: bool = False, streamed: bool = False
) -> dict[str, Any]:
    """The bpcli.grad/1 document of a GradResult; ``explanation``: the sentences of ``--explain``.

    ``gradients_only`` leaves out the stages and the forks (``--gradients-only``);
    ``streamed`` keeps arrays as they are, for ``write`` to write row by row, and has the stages of a
    result of the flat tape written from its arrays as they are written (the same text, without the graph).
    """
    value = _streamed if streamed else jsonable
    document = {
        "schema": GRAD_SCHEMA,
        "expression": result.source,
        "output": result.output,
        "value": value(result.value),
        "inputs": {name: value(v) for name, v in result.inputs.items()},
        "shapes": {name: list(shape) for name, shape in result.shapes.items()},
        "gradients": {name: value(v) for name, v in result.gradients.items()},
        "constants": result.constants,
    }
    if not gradients_only:
        on_tape = streamed and getattr(result, "run", None) is not None  # a TapeGradResult's: the tape's arrays
        document["stages"] = _Encoded(lambda: _tape_stages(result)) if on_tape else [
            _stage(stage, value) for stage in result.stages]
        document["forks"] = {
            fork.name: {
                "contributions": [{"stage": c.stage, "value": value(c.value)} for c in fork.contributions],
                "total": value(fork.total),
            }
            for fork in result.forks
        }
    if explanation is not None:
        document["explanation"] = [
            {"kind": s.kind, "name": s.name, "index": s.index, "text": s.text} for s in explanation
        ]
    document["warnings"] = _warnings(result)
    return document


def jacobian_document(result: JacobianResult) -> dict[str, Any]:
    """The bpcli.jacobian/1 document of a JacobianResult."""
    return {
        "schema": JACOBIAN_SCHEMA,
        "expression": result.source,
        "output": result.output,
        "output_shape": list(result.output_shape),
        "layout": result.layout,
        "passes": result.passes,
        "inputs": {name: jsonable(v) for name, v in result.inputs.items()},
        "shapes": {name: list(shape) for name, shape in result.shapes.items()},
        "jacobians": {name: jsonable(result.rows(name)) for name in result.entries},
        "warnings": _warnings(result),
    }


def hessian_document(result: HessianResult) -> dict[str, Any]:
    """The bpcli.hessian/1 document of a HessianResult."""
    return {
        "schema": HESSIAN_SCHEMA,
        "expression": result.source,
        "output": result.output,
        "value": jsonable(result.value),
        "mode": result.mode,
        "variables": result.variables,
        "elements": result.elements if result.mode == "matrix" else None,
        "inputs": {name: jsonable(v) for name, v in result.inputs.items()},
        "shapes": {name: list(shape) for name, shape in result.shapes.items()},
        "gradients": {name: jsonable(v) for name, v in result.gradients.items()},
        "hessian": jsonable(result.entries),
        "vector": None if result.vector is None else {name: jsonable(v) for name, v in result.vector.items()},
        "hvp": None if result.product is None else {name: jsonable(v) for name, v in result.product.items()},
        "passes": result.passes,
        "warnings": _warnings(result),
    }


def derivative_document(result: DerivativeResult) -> dict[str, Any]:
    """The bpcli.derivative/1 document of a DerivativeResult (bpcli grad --order N --wrt x)."""
    return {
        "schema": DERIVATIVE_SCHEMA,
        "expression": result.source,
        "output": result.output,
        "wrt": result.wrt,
        "order": result.order,
        "value": jsonable(result.value),
        "inputs": {name: jsonable(v) for name, v in result.inputs.items()},
        "derivatives": [
            {"order": d.order, "label": d.label, "stage": d.stage, "value": jsonable(d.value), "formula": d.formula}
            for d in result.derivatives
        ],
        "stages": [
            {"index": s.index, "name": s.name, "order": s.order, "op": s.op, "expr": s.expr,
             "inputs": list(s.inputs), "value": jsonable(s.value), "holds": list(s.holds)}
            for s in result.stages
        ],
        "warnings": _warnings(result),
    }


def symbolic_document(result: SymbolicResult) -> dict[str, Any]:
    """The bpcli.symbolic/1 document of a SymbolicResult (bpcli grad --symbolic)."""
    return {
        "schema": SYMBOLIC_SCHEMA,
        "expression": result.source,
        "output": result.output,
        "stages": [{"name": name, "expr": text} for name, text in result.stages],
        "gradients": result.gradients,
        "derivatives": [
            {"label": d.label, "wrt": d.wrt, "order": d.order, "expr": d.expression, "program": d.program,
             "value": jsonable(d.value)}
            for d in result.derivatives
        ],
        "inputs": {name: jsonable(v) for name, v in result.inputs.items()},
        "warnings": _warnings(result),
    }


def check_document(result: CheckResult) -> dict[str, Any]:
    """The bpcli.check/1 document of a CheckResult: one entry per problem, even for a single check.

    Answers files add ``files`` (each file's score, or why it could not be
    read) and, to every problem and warning, the ``file`` it comes from.
    """
    rule = result.rule
    document = {
        "schema": CHECK_SCHEMA,
        "answers": result.answers,
        "passed": result.passed,
        "exit_code": result.exit_code,
        "score": result.score,
        "tolerance": "digits" if rule.digits else {"rtol": rule.rtol or 0.0, "atol": rule.atol or 0.0},
        "problems": [_problem(problem, result.answers) for problem in result.problems],
        "warnings": [{"problem": problem.index, **warning, **_from_file(problem, result.answers)}
                     for problem in result.problems for warning in _warnings(problem)],
    }
    if result.answers is not None or result.files:
        document["files"] = [_answers_file(file) for file in (result.files or [result])]
    return document


def _answers_file(result: Any) -> dict[str, Any]:
    return {"answers": result.answers, "passed": result.passed, "exit_code": result.exit_code,
            "score": result.score, "error": result.error}


def _from_file(problem: Any, answers: str | None) -> dict[str, Any]:
    """The answers file a problem comes from, in documents about answers files (nothing otherwise)."""
    file = problem.file or answers
    return {} if file is None else {"file": file}


def _problem(problem: Any, answers: str | None = None) -> dict[str, Any]:
    return {
        "index": problem.index,
        "name": problem.name,
        "expression": problem.expression,
        "passed": problem.passed,
        "error": problem.error,
        "output": problem.output,
        "value": jsonable(problem.value),
        "inputs": {name: jsonable(v) for name, v in problem.inputs.items()},
        "met": problem.met,
        "counted": problem.counted,
        "expectations": [_outcome(outcome) for outcome in problem.outcomes],
        "backward": None if problem.backward is None else _backward(problem.backward),
        "upstream": _upstream(problem.upstream),
        "warnings": _warnings(problem),
        **_from_file(problem, answers),
    }


def _upstream(upstream: Any) -> dict[str, Any] | None:
    if upstream is None:
        return None
    return {"source": upstream.source, "name": upstream.name, "seed": upstream.seed,
            "value": jsonable(upstream.value)}


def _outcome(outcome: Any) -> dict[str, Any]:
    return {
        "key": outcome.key,
        "name": outcome.name,
        "kind": outcome.kind,
        "expected": jsonable(outcome.expected),
        "written": outcome.written or None,
        "actual": jsonable(outcome.actual),
        "allowed": jsonable(outcome.allowed),
        "pass": outcome.passed,
        "source": outcome.source,
        "line": outcome.line,
        "note": outcome.note or None,
        "diagnosis": None if outcome.diagnosis is None else outcome.diagnosis.to_json(),
        **({} if outcome.stage is None else {"stage": outcome.stage}),  # a cell of a stage's row
    }


def _backward(check: Any) -> dict[str, Any]:
    first = check.first_wrong
    return {
        "file": check.label,
        "first_wrong_line": None if first is None else first.number,
        "missing": [f"d{name}" for name in check.missing],
        "lines": [
            {
                "line": line.number,
                "text": line.text,
                "target": line.target,
                "status": line.status,
                "value": jsonable(line.value),
                "should_be": jsonable(line.should_be),
                "note": line.note or None,
                "diagnosis": None if line.diagnosis is None else line.diagnosis.to_json(),
            }
            for line in check.lines
        ],
        "warnings": list(check.warnings),
    }


def grade_document(result: GradeResult) -> dict[str, Any]:
    """The bpcli.grade/1 document of a GradeResult: the key's problems, and every student's marks."""
    return {
        "schema": GRADE_SCHEMA,
        "key": result.key,
        "exit_code": result.exit_code,
        "max_score": result.max_score,
        "problems": [
            {"name": problem.name, "points": problem.points, "hidden": problem.hidden,
             "answers": list(problem.answers), "backward": problem.backward, "loss": problem.loss,
             "gradients": list(problem.gradients)}
            for problem in result.problems
        ],
        "students": [
            {"student": student.student, "submission": student.submission, "score": student.score,
             "max_score": student.max_score, "error": student.error, "notes": student.notes,
             "problems": [_mark(mark) for mark in student.problems]}
            for student in result.students
        ],
    }


def _mark(mark: ProblemMark) -> dict[str, Any]:
    checked = mark.result
    return {
        "name": mark.name,
        "score": mark.score,
        "max_score": mark.max_score,
        "hidden": mark.hidden,
        "met": mark.met,
        "expectations": mark.expectations,
        "error": mark.error,
        "notes": mark.notes,
        "answers": [] if checked is None else [_outcome(outcome) for outcome in checked.outcomes],
        "backward": None if checked is None or checked.backward is None else _backward(checked.backward),
    }


def gradcheck_document(result: GradcheckResult) -> dict[str, Any]:
    """The bpcli.gradcheck/1 document of a GradcheckResult."""
    return {
        "schema": GRADCHECK_SCHEMA,
        "expression": result.source,
        "output": result.output,
        "h": result.h,
        "max_error": result.max_error,
        "passed": result.passed,
        "worst": jsonable(result.worst),
        "inputs": {name: jsonable(v) for name, v in result.inputs.items()},
        "checks": [
            {
                "input": c.input,
                "index": list(c.index),
                "element": c.label,
                "value": jsonable(c.value),
                "analytic": jsonable(c.analytic),
                "numeric": jsonable(c.numeric),
                "relative_error": jsonable(c.error),
                "reading": c.reading,
                "step": jsonable(c.step),
                "kink": c.kink,
                "left": jsonable(c.left),
                "right": jsonable(c.right),
                "passed": c.passed,
            }
            for c in result.checks
        ],
        "warnings": _warnings(result),
    }


def gates_document(reference: GateReference) -> dict[str, Any]:
    """The bpcli.gates/1 document of a GateReference: the gate registry as a reference card."""
    return {
        "schema": GATES_SCHEMA,
        "roles": reference.roles,
        "gates": [
            {
                "op": card.op,
                "title": card.title,
                "syntax": card.syntax,
                "functions": list(card.functions),
                "spellings": list(card.spellings),
                "forward": card.forward,
                "local": card.local,
                "role": card.role,
                "kind": card.kind,
                "arity": card.arity,
                "params": list(card.params),
                "kink": card.kink,
                "decomposition": card.decomposition,
                "internal": card.internal,
            }
            for card in reference.gates
        ],
        "warnings": [],
    }


def _warnings(result: Any) -> list[dict[str, Any]]:
    return [{"stage": w.stage, "kind": w.kind, "message": w.message} for w in result.warnings]


def _stage(stage: Any, value: Callable[[Any], Any]) -> dict[str, Any]:
    return {
        "index": stage.index,
        "name": stage.name,
        "op": stage.op,
        "role": stage.role,
        "expr": stage.expr,
        "inputs": list(stage.inputs),
        "shape": list(stage.shape),
        "value": value(stage.value),
        "local": _each(value, stage.local),
        "local_formula": list(stage.formulas),
        "upstream": value(stage.upstream),
        "downstream": _each(value, stage.downstream),
    }


class _Encoded:
    """A list in a document whose items are JSON text already, made in chunks as the document is written
    (a large expression's stages: their text is written without a Stage or a dict per stage)."""

    __slots__ = ("chunks",)

    def __init__(self, chunks: Callable[[], Iterable[list[str]]]) -> None:
        self.chunks = chunks  # called each time the document is written


# A stage of the tape is written from a template: the stage the graph makes of its gate alone (the result's
# ``stage_like``, its names placeholders that ``as_format`` makes format fields), with a hole for each number,
# written by _stage itself (so the two writers cannot differ).
_HOLE = "\ue000"  # marks a number's hole in a template's first text (a private-use character)
# The holes in order, after the stage's name and its inputs' names (fields 0 to 2): its number, then its numbers.
_INDEX, _VALUE, _UPSTREAM, _LOCAL, _DOWNSTREAM = 3, 4, 5, (6, 7), (8, 9)


class _Hole(NamedTuple):
    place: int


def _hole_text(hole: Any) -> str:
    return f"{_HOLE}{hole.place}{_HOLE}"


def _stage_template(result: Any, op: str, arity: int, repeated: bool) -> str:
    """The format string of the stage of ``op`` on ``arity`` inputs (both one value, for ``repeated``: x * x),
    for ``str.format(name, input 0's name, input 1's name, index, value, upstream, local 0, local 1,
    downstream 0, downstream 1)``: _stage's own text of the gate alone, its names and numbers made holes."""
    stage = result.stage_like(op, arity, repeated)
    marked = stage._replace(index=_hole_text(_Hole(_INDEX)), value=_Hole(_VALUE), upstream=_Hole(_UPSTREAM),
                            local=tuple(_Hole(p) for p in _LOCAL[:arity]),
                            downstream=tuple(_Hole(p) for p in _DOWNSTREAM[:arity]))
    return re.sub(f'"{_HOLE}(\\d+){_HOLE}"', r"{\1}", result.as_format(_compact(_stage(marked, _hole_text))))


_STAGES_PER_CHUNK = 2_000


def _tape_stages(result: Any) -> Iterator[list[str]]:
    """The JSON text of every stage of a tape's run (engine/tape.py), in chunks: each from the template of
    its gate (and of whether its two inputs are one value), its names and numbers filled in."""
    from bpcli.engine.tape import OPS, VARIABLE  # the tape's opcodes: the positions in OPS

    run, names = result.run, result.names
    templates: dict[tuple[int, bool], str] = {}
    ops, first, second = run.tape.ops, run.tape.first, run.tape.second
    values, adjoint, local, shares = run.values, run.adjoint, run.local, run.shares
    number_text = float.__repr__  # json's own: every number of a run is finite, and -0.0 is written 0.0 below
    chunk: list[str] = []
    for i, op in enumerate(ops):
        if op == VARIABLE:
            continue
        a, b = first[i], second[i]
        key = (op, a == b)
        template = templates.get(key)
        if template is None:
            template = templates[key] = _stage_template(result, OPS[op], 1 if b < 0 else 2, a == b)
        index, name = names[i]
        chunk.append(template.format(
            name, names[a][1], names[b][1] if b >= 0 else "", index, number_text(values[i] + 0.0),
            number_text(adjoint[i] + 0.0), number_text(local[2 * i] + 0.0), number_text(local[2 * i + 1] + 0.0),
            number_text(shares[2 * i] + 0.0), number_text(shares[2 * i + 1] + 0.0)))
        if len(chunk) == _STAGES_PER_CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _each(value: Callable[[Any], Any], values: Any) -> list[Any]:
    """``[value(v) for v in values]``, a finite float (most are) turned to JSON's here: 0.0 for -0.0, as jsonable."""
    return [v + 0.0 if type(v) is float and v - v == 0.0 else value(v) for v in values]


def jsonable(value: Any) -> Any:
    """Numbers as JSON numbers, arrays as nested lists, inf and nan as strings."""
    if type(value) is float and math.isfinite(value):  # most values: checked first
        return value + 0.0  # -0.0 (a zero gradient times a negative upstream) is written 0.0
    if value is None:
        return None
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    value = float(value)
    if math.isfinite(value):
        return value + 0.0  # -0.0 (a zero gradient times a negative upstream) is written 0.0
    if value != value:
        return "nan"
    return "inf" if value > 0 else "-inf"


class _Array:
    """An array in a document, written row by row when the document is: its nested list never exists whole.

    A 2000 × 2000 value as nested lists takes some 130 MB of Python objects
    and its text another 80 MB; row by row, one row's worth at a time.
    """

    __slots__ = ("array",)

    def __init__(self, array: Any) -> None:
        self.array = array


def _streamed(value: Any) -> Any:
    """``jsonable``, except that an array is kept, to be written row by row."""
    if type(value) in _PLAIN or not getattr(value, "ndim", 0):
        return jsonable(value)
    return _Array(value)


_PLAIN = (float, int, type(None))  # values that are no array, told apart without getattr's exception


def dumps(document: dict[str, Any], indent: int | None = 2) -> str:
    """JSON text: one line per top-level key and per list item when ``indent`` is set (see ``write``)."""
    import io

    text = io.StringIO()
    write(document, text, indent)
    return text.getvalue()


def write(document: dict[str, Any], stream: Any, indent: int | None = 2) -> None:
    """Write ``document`` as JSON text to ``stream``, piece by piece: one line per top-level key and
    per list item when ``indent`` is set.

    Each piece goes through json's C encoder (which ``indent`` would switch
    off), so a document with 100,000 stages is written in a fraction of a second
    and still reads stage by stage; arrays kept by ``grad_document(streamed=True)``
    are written a row at a time.
    """
    if indent is None:
        _write_value(document, stream)
        return
    pad = " " * indent
    stream.write("{\n")
    for number, (key, value) in enumerate(document.items()):
        stream.write(f"{',' if number else ''}\n{pad}" if number else pad)
        stream.write(f"{_compact(key)}: ")
        if isinstance(value, _Encoded):
            _write_encoded(value, stream, f",\n{pad * 2}", (f"[\n{pad * 2}", f"\n{pad}]"))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            stream.write(f"[\n{pad * 2}")
            for position, item in enumerate(value):
                if position:
                    stream.write(f",\n{pad * 2}")
                _write_value(item, stream)
            stream.write(f"\n{pad}]")
        else:
            _write_value(value, stream)
    stream.write("\n}")


def _write_encoded(items: _Encoded, stream: Any, separator: str, brackets: tuple[str, str]) -> None:
    """A list of JSON texts, chunk by chunk, the items apart by ``separator``; ``[]`` if it is empty."""
    written = False
    for chunk in items.chunks():
        if chunk:
            stream.write(separator if written else brackets[0])
            stream.write(separator.join(chunk))
            written = True
    stream.write(brackets[1] if written else "[]")


class _HoldsArray(Exception):
    """The encoder met a kept array: the value is written piece by piece instead."""


def _kept_array(value: Any) -> Any:
    """The encoder's ``default``: a kept array stops it; anything else is refused as json.dumps refuses it."""
    if isinstance(value, (_Array, _Encoded)):
        raise _HoldsArray
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# One encoder for every piece (json.dumps with options builds one per call).
_compact = json.JSONEncoder(ensure_ascii=False, allow_nan=False, default=_kept_array).encode


def _write_value(value: Any, stream: Any) -> None:
    """One value, compact: encoded at once, unless it holds a kept array, whose dicts and lists are walked.

    The encoder itself finds the arrays (raising at the first), so a document
    without them is never searched for them.
    """
    if isinstance(value, _Array):
        _write_array(value.array, stream)
        return
    if isinstance(value, _Encoded):
        _write_encoded(value, stream, ", ", ("[", "]"))
        return
    try:
        text = _compact(value)
    except _HoldsArray:
        if isinstance(value, dict):
            stream.write("{")
            for position, (key, item) in enumerate(value.items()):
                stream.write(f"{', ' if position else ''}{_compact(key)}: ")
                _write_value(item, stream)
            stream.write("}")
        else:
            _write_list(value, stream, _write_value)
    else:
        stream.write(text)


def _write_list(items: Any, stream: Any, write_item: Callable[[Any, Any], None]) -> None:
    stream.write("[")
    for position, item in enumerate(items):
        if position:
            stream.write(", ")
        write_item(item, stream)
    stream.write("]")


def _write_array(array: Any, stream: Any) -> None:
    """An array as nested lists, as ``jsonable`` writes it, the last axis's rows one at a time."""
    if array.ndim == 1:
        row = array + 0.0  # -0.0 is written 0.0, as jsonable writes it
        import numpy as np  # numpy only where arrays are (start-up)

        stream.write(_compact(row.tolist() if np.isfinite(row).all() else jsonable(row)))
    else:
        _write_list(array, stream, _write_array)


def exercise_document(result: Any) -> dict[str, Any]:
    """``bpcli exercise --json``: every variant's inputs and blanks with their answers (the grader's view)."""
    return {
        "schema": EXERCISE_SCHEMA,
        "seed": result.seed,
        "variants": [
            {
                "student": variant.student,
                "problems": [
                    {
                        "name": problem.name,
                        "expr": problem.spec.expression,
                        "blank": list(problem.spec.blank),
                        "inputs": problem.inputs,
                        "blanks": [{"key": b.key, "kind": b.kind, "stage": b.stage, "answer": jsonable(b.answer)}
                                   for b in problem.blanks],
                    }
                    for problem in variant.problems
                ],
            }
            for variant in result.variants
        ],
    }
