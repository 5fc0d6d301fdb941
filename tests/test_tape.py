"""The flat tape (bpcli/engine/tape.py) against the graph it stands in for: the same numbers bit for
bit (-0.0 included), the same warnings, and the usual output wherever it steps aside."""

from __future__ import annotations

import importlib.util
import io
import json
import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

import bpcli
from bpcli.analyses import grad as grad_analysis
from bpcli.analyses.grad import differentiate
from bpcli.analyses.result import TapeGradResult
from bpcli.engine import tape
from bpcli.engine.graph import INPUT
from bpcli.engine.problem import Problem, build
from bpcli.views.json_doc import dumps, grad_document, write

from helpers import REPO, run_cli

# The benchmarks' own generator of large expressions (tests/expressions.py is another module of that name).
_spec = importlib.util.spec_from_file_location("benchmark_expressions", REPO / "benchmarks" / "expressions.py")
assert _spec is not None and _spec.loader is not None
benchmark_expressions = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(benchmark_expressions)

NAMES = ("x", "y", "t2", "z")  # t2: a variable that the stages' generated names must skip
UNARY = ("-{}", "+{}", "exp({})", "log({})", "sqrt({})", "tanh({})", "sigmoid({})", "relu({})", "abs({})",
         "log1p({})", "expm1({})", "({})")
BINARY = ("{} + {}", "{} - {}", "{} * {}", "{} / {}", "({} - {})", "max({}, {})", "min({},\n {})")
# Numbers that meet the edges: zeros of both signs (kinks, -0.0 gradients), ties, overflow.
VALUES = st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.0, 0.5, -3.25, 700.0, 1e-310]) | st.floats(
    min_value=-5, max_value=5, allow_nan=False)

STAGES = ("a", "b", "f")  # names a program's statements assign; f: the name the output takes otherwise


def _texts(leaves: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.recursive(
        st.sampled_from(leaves),
        lambda inner: st.tuples(st.sampled_from(UNARY), inner).map(lambda t: t[0].format(t[1]))
        | st.tuples(st.sampled_from(BINARY), inner, inner).map(lambda t: t[0].format(t[1], t[2])),
        max_leaves=8,
    )


# Staged programs, right and wrong: a stage used before it is assigned, assigned twice, unused, renamed...
programs = st.tuples(
    st.lists(st.tuples(st.sampled_from(STAGES), _texts(NAMES + STAGES)), max_size=3),
    st.sampled_from(["", "f = ", "b = "]), _texts(NAMES + STAGES), st.sampled_from(["; ", "\n"]),
).map(lambda t: t[3].join([*(f"{name} = {value}" for name, value in t[0]), t[1] + t[2]]))

texts = st.recursive(
    st.sampled_from(NAMES),
    lambda inner: st.tuples(st.sampled_from(UNARY), inner).map(lambda t: t[0].format(t[1]))
    | st.tuples(st.sampled_from(BINARY), inner, inner).map(lambda t: t[0].format(t[1], t[2])),
    max_leaves=12,
)


def bits(value: float) -> bytes:
    return struct.pack("<d", value)


def usual(text: str, point: dict[str, float]) -> bpcli.GradResult:
    return differentiate(Problem.of(text, point))


def assert_same(answer: tape.Answer, result: bpcli.GradResult) -> None:
    assert bits(answer.value) == bits(result.value)
    assert list(answer.gradients) == list(result.gradients)
    assert {k: bits(v) for k, v in answer.gradients.items()} == {k: bits(v) for k, v in result.gradients.items()}
    assert answer.inputs == result.inputs
    assert answer.warnings == result.warnings


def assert_same_document(text: str, answer: tape.Answer, result: bpcli.GradResult) -> None:
    """The whole --json document written from the tape's run is the graph's, byte for byte, compact too;
    the stages and forks read from the run are the graph's."""
    on_tape = TapeGradResult(text, answer, lambda: result)
    for indent in (2, None):
        written = io.StringIO()
        write(grad_document(on_tape, streamed=True), written, indent)
        assert written.getvalue() == dumps(grad_document(result), indent)
    # The stages and forks as the Python API gives them (the table reads them), -0.0 included.
    assert on_tape.stages == result.stages
    assert repr(on_tape.stages) == repr(result.stages)
    assert repr(on_tape.stages[-2:]) == repr(result.stages[-2:])
    assert repr(on_tape.forks) == repr(result.forks)
    assert on_tape.tensors is result.tensors is False
    assert "_built" not in vars(on_tape)  # all without the graph


def assert_stepped_aside_for_a_reason(result: bpcli.GradResult) -> None:
    """The tape steps aside only where the graph warns of more than a kink, or meets inf or nan on the way
    (sqrt(relu(x)) at 0: an inf that relu's selecting gradient turns back into 0), or where its one sum of the
    values, gradients and local gradients overflows though each is finite (log(x) at 1e-308: two gradients of
    9e307; then the usual way decides, tape.forward and tape.backward)."""
    values = [v for v in result.evaluation.values if v is not None]
    assert ({w.kind for w in result.warnings} - {"kink"} or not all(math.isfinite(v) for v in values)
            or not math.isfinite(2 * sum(abs(v) for v in values)))


@given(texts, st.lists(VALUES, min_size=len(NAMES), max_size=len(NAMES)))
def test_the_tape_computes_what_the_graph_computes_bit_for_bit(text: str, numbers: list[float]) -> None:
    read = tape.read(text)
    if read is None:  # a lone variable: no gate to differentiate
        assert text.strip("()+") in NAMES
        return
    point = {name: value for name, value in zip(NAMES, numbers) if name in read.variables}
    answer = tape.differentiate(text, point)
    result = usual(text, point)
    if answer is None:
        assert_stepped_aside_for_a_reason(result)
        return
    assert_same(answer, result)
    assert_same_document(text, answer, result)


@given(programs, st.lists(VALUES, min_size=len(NAMES), max_size=len(NAMES)))
def test_staged_programs_too(text: str, numbers: list[float]) -> None:
    read = tape.read(text)
    if read is None:  # the usual way: what it says is what it said
        return
    point = {name: numbers[i % len(numbers)] for i, name in enumerate(read.variables)}
    answer = tape.differentiate(text, point)
    result = usual(text, point)
    if answer is None:
        assert_stepped_aside_for_a_reason(result)
        return
    assert answer.output == result.output
    assert_same(answer, result)
    assert_same_document(text, answer, result)


@pytest.mark.parametrize("seed", range(4))
def test_the_benchmark_expressions_kinks_and_ties_included(seed: int) -> None:
    text = benchmark_expressions.random_expression(3_000, seed=seed)
    read = tape.read(text)
    assert read is not None
    point = {k: v for k, v in benchmark_expressions.point(seed=seed).items() if k in read.variables}
    answer = tape.differentiate(text, point)
    assert answer is not None
    result = usual(text, point)
    assert any(w.kind == "kink" for w in result.warnings)  # ties and relu(0): the tape writes them
    assert_same(answer, result)
    assert_same_document(text, answer, result)


@given(texts | programs | st.sampled_from(["x + 1", "q = x * y; q + x", "sum(x)", "x ** y", "f * x", "exp(x, y)",
                                "max(x)", "x +", "np.exp(x)", "sigmoid(x=y)", "(x, y)", "x[0] + y", ""]))
def test_the_tape_holds_the_gates_the_parser_and_lowering_make_in_their_order(text: str) -> None:
    read = tape.read(text)
    if read is None:
        return
    graph = build(text)  # the real parser takes whatever the tape takes
    variables = {name: entry for name, entry in read.variables.items()}
    made = [(node.op, node.name) if node.op == INPUT else (node.op, node.inputs) for node in graph.nodes]
    entries = [
        (INPUT, next(name for name, at in variables.items() if at == entry)) if op == tape.VARIABLE
        else (tape.OPS[op], (read.first[entry],) if read.second[entry] < 0 else (read.first[entry], read.second[entry]))
        for entry, op in enumerate(read.ops)
    ]
    assert entries == made


@pytest.mark.parametrize("text", ["x + 1", "q = x * y; q = q + x", "x = y * z; x * 2", "a * x; a = x + y", "x ** y",
                                  "f * x", "sum(x)", "x +", "q = x * y; x"])
def test_what_the_tape_does_not_take_it_leaves_to_the_parser(text: str) -> None:
    assert tape.read(text) is None


def grad_everywhere(monkeypatch: pytest.MonkeyPatch, shortest: int, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(grad_analysis, "TAPE_SHORTEST", shortest)
    result = run_cli("grad", *args)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("args", [
    ("max(x, y) * relu(x - y)", "-x", "2", "-y", "2", "--json", "--gradients-only"),  # a tie and a kink
    ("x * -y", "-x", "0", "-y", "3", "--json", "--gradients-only"),  # -0.0
    ("max(x, y) * relu(x - y)", "-x", "2", "-y", "2"),  # the table: its stages read from the tape
    ("q = x * -y; f = q * q + max(q, x) / sqrt(y)", "-x", "0", "-y", "3", "--max-stages", "2"),
    ("max(x, y) * relu(x - y)", "-x", "2", "-y", "2", "--json"),  # the whole document, from the tape
    ("q = x * -y; f = q * q + max(q, x)", "-x", "0", "-y", "3", "--json"),  # a program, -0.0, forks
    ("x * x", "-x", "3", "--json", "--explain"),
    ("exp(exp(x)) * y", "-x", "800", "-y", "1", "--json"),  # overflow: the graph's warnings
    ("log(x) * y", "-x", "0", "-y", "1", "--json", "--gradients-only"),  # -inf
    ("x * y", "-x", "1", "-y", "2", "-z", "3", "--json"),  # an unused binding
    ("x * y", "-x", "1", "--json"),  # an unbound variable: exit 2
    ("x * (y +", "-x", "1", "-y", "2"),  # a syntax error, its caret
    ("x * y", "-x", "1", "-y", "2", "--upstream", "3", "--json"),
    ("x * y", "-x", "1", "-y", "2", "--expand", "--json"),
    ("x * y", "-x", "1", "-y", "1e-400", "--json", "--gradients-only"),  # an underflowed input
])
def test_the_command_line_prints_what_it_printed_without_the_tape(monkeypatch: pytest.MonkeyPatch,
                                                                   args: tuple[str, ...]) -> None:
    without = grad_everywhere(monkeypatch, 10**9, *args)
    assert grad_everywhere(monkeypatch, 0, *args) == without


def test_grad_takes_the_tape_for_a_large_expression_and_its_views_build_the_graph() -> None:
    text = benchmark_expressions.random_expression(2_000)
    assert len(text) >= grad_analysis.TAPE_SHORTEST
    point = benchmark_expressions.point()
    result = bpcli.grad(text, point)
    assert isinstance(result, TapeGradResult)
    expected = usual(text, point)
    assert grad_document(result, gradients_only=True) == grad_document(expected, gradients_only=True)
    written = io.StringIO()
    write(grad_document(result, streamed=True), written)  # as the command line writes it: from the tape
    assert "_built" not in vars(result)
    assert json.loads(written.getvalue()) == json.loads(dumps(grad_document(expected)))
    assert grad_document(result) == grad_document(expected)  # the stages as Python objects: the graph, built now


def test_the_budget_still_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(grad_analysis, "TAPE_SHORTEST", 0)
    with pytest.raises(bpcli.BpcliError, match="budget"):
        bpcli.grad("x * y + x", x=1.0, y=2.0, limits=bpcli.Limits(max_total_elements=5))


def test_only_explain_builds_the_graph_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """--explain reads the graph's stages: the command line builds it at once, with no tape first. The JSON
    document, its stages included, and the table are read from the tape."""
    calls: list[str] = []
    real = tape.differentiate

    def counted(text: str, *args: object, **kwargs: object) -> tape.Answer | None:
        calls.append(text)
        return real(text, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tape, "differentiate", counted)
    monkeypatch.setattr(grad_analysis, "TAPE_SHORTEST", 0)
    for explained in (["x * y", "--explain"], ["x * y", "--json", "--explain"]):
        assert run_cli("grad", *explained, "-x", "1", "-y", "2").exit_code == 0
    assert calls == []
    assert run_cli("grad", "x * y", "-x", "1", "-y", "2", "--json", "--gradients-only").exit_code == 0
    assert calls == ["x * y"]
    run = run_cli("grad", "x * y", "-x", "1", "-y", "2", "--json")
    assert calls == ["x * y"] * 2
    assert json.loads(run.stdout)["stages"][0]["local_formula"] == ["y", "x"]
    assert "∂f/∂x = y = 2" in run_cli("grad", "x * y", "-x", "1", "-y", "2").stdout
    assert calls == ["x * y"] * 3
    bpcli.grad("x * y", x=1, y=2)
    assert calls == ["x * y"] * 4
