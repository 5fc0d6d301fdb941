"""grad --explain: one sentence per stage, from the gate's role and the actual numbers."""

from __future__ import annotations

import bpcli
from bpcli.views.explain import explain
from helpers import run_cli, run_json, run_process
from test_worked_examples import NOTES_PROGRAM

NEURON = "dot = w0*x0 + w1*x1 + w2; f = sigmoid(dot)"
NEURON_VALUES = {"w0": 2, "w1": -3, "w2": -3, "x0": -1, "x1": -2}


def texts(expression: str, values: dict, **options) -> list[str]:
    return [sentence.text for sentence in explain(bpcli.grad(expression, values, **options))]


def test_add_and_multiply():
    assert texts("q = x + y; f = q * z", {"x": -2, "y": 5, "z": -4}) == [
        "the multiply gate f = q * z swaps its inputs: q gets z·(1) = -4, z gets q·(1) = 3",
        "the add gate q = x + y received -4 and distributes it unchanged to x and y",
    ]


def test_max_routes_to_the_larger_input():
    assert texts("max(x, y)", {"x": 4, "y": 2}) == [
        "the max gate f = max(x, y) routes the 1 it received to x, the input that won (x = 4, y = 2); y gets 0"
    ]


def test_max_tie_splits():
    (sentence,) = texts("max(x, y)", {"x": 3, "y": 3})
    assert sentence.startswith("the max gate f = max(x, y) splits the 1 it received evenly between its equal inputs")
    assert sentence.endswith("x gets greater(x, y)·(1) = 0.5, y gets greater(y, x)·(1) = 0.5")


def test_sigmoid_scales_by_its_local_gradient():
    sentences = texts(NEURON, NEURON_VALUES)
    assert sentences[0] == (
        "the sigmoid gate f = sigmoid(dot) received 1 and scales it by its local gradient f * (1 - f) = 0.1966: "
        "dot gets 0.1966"
    )
    assert sentences[-1] == (
        "the multiply gate t1 = w0 * x0 swaps its inputs: w0 gets x0·(0.1966) = -0.1966, x0 gets w0·(0.1966) = 0.3932"
    )


def test_forks_sum_once_every_gradient_has_arrived():
    sentences = explain(bpcli.grad(NOTES_PROGRAM, x=3, y=-4))
    kinds = [(s.kind, s.name) for s in sentences]
    stages = [name for kind, name in kinds if kind == "stage"]
    assert stages == ["f", "invden", "den", "xpysqr", "xpy", "sigx", "num", "sigy"]
    # x's last gradient arrives through num (stage 2), y's through sigy (stage 1).
    assert kinds.index(("fork", "x")) == kinds.index(("stage", "num")) + 1
    assert kinds[-1] == ("fork", "y")
    fork_x = sentences[kinds.index(("fork", "x"))].text
    assert fork_x == "x is used in 3 places; its gradient is the sum 1.583 (via xpy) - 0.03576 (via sigx) + 0.5121 (via num) = 2.06"
    assert [s.index for s in sentences if s.kind == "stage"] == list(range(8, 0, -1))


def test_relu_gates_the_gradient():
    assert texts("relu(x) + relu(y)", {"x": 2, "y": -1})[1:] == [
        "the relu gate t2 = relu(y) blocks the 1 it received, since y = -1 is not positive: y gets step(y)·(1) = 0",
        "the relu gate t1 = relu(x) lets the 1 it received through, since x = 2 is positive: x gets step(x)·(1) = 1",
    ]
    (vector,) = texts("relu(x)", {"x": [1, -2, 3, -1]}, upstream=[4, -1, 5, 9])
    assert vector == (
        "the relu gate f = relu(x) lets the upstream gradient [4, -1, 5, 9] through where x is positive "
        "and blocks it elsewhere: x gets step(x)·([4, -1, 5, 9]) = [4, 0, 5, 0]"
    )


def test_subtract_and_structural_gates():
    sentences = texts("sum(W @ X) - y", {"W": [[1, 2], [3, 4]], "X": [[1, 0], [0, 1]], "y": 2})
    assert sentences[0] == "the subtract gate f = t2 - y received 1 and distributes it: t2 gets 1·(1) = 1, y gets -1·(1) = -1"
    assert sentences[2] == (
        "the matrix multiply gate t1 = W @ X swaps its inputs: W gets dt1 @ X.T = [[1, 1], [1, 1]], "
        "X gets W.T @ dt1 = [[4, 4], [6, 6]]"
    )


def test_stages_no_gradient_flows_through():
    assert texts("a = 2 * 3; b = x * x; a + x", {"x": 1})[1:] == [
        "no gradient flows through the multiply gate b = x * x: its value does not reach the output f",
        "no gradient flows through the multiply gate a = 2 * 3: it depends on no input",
    ]


def test_a_stage_after_the_output():
    assert texts("a = x*2; b = x*3; a", {"x": 1})[0] == (
        "no gradient flows through the multiply gate b = x * 3: its value does not reach the output a"
    )


def test_no_gates():
    result = run_cli("grad", "x", "-x", "2", "--explain")
    assert result.stdout.endswith("In words, backward from x:\nthere are no gates: the output x just receives the gradient 1\n")


def test_numbers_follow_precision():
    (sentence,) = [s.text for s in explain(bpcli.grad("sigmoid(x)", x=1), precision=8)]
    assert sentence.endswith("local gradient f * (1 - f) = 0.19661193: x gets 0.19661193")


class TestCommandLine:
    def test_after_the_table(self):
        result = run_cli("grad", "q = x + y; f = q * z", "-x", "-2", "-y", "5", "-z", "-4", "--explain")
        assert result.exit_code == 0, result.stderr
        tail = result.stdout.split("In words, backward from f:\n")[1]
        assert tail.splitlines() == [
            "(2) the multiply gate f = q * z swaps its inputs: q gets z·(1) = -4, z gets q·(1) = 3",
            "(1) the add gate q = x + y received -4 and distributes it unchanged to x and y",
        ]

    def test_in_the_json_document(self):
        doc = run_json("grad", "x*y + x", "-x", "3", "-y", "2", "--explain")
        assert doc["explanation"][-1] == {
            "kind": "fork", "name": "x", "index": 1,
            "text": "x is used in 2 places; its gradient is the sum 1 (via f) + 2 (via t1) = 3",
        }
        assert list(doc)[-2:] == ["explanation", "warnings"]
        assert "explanation" not in run_json("grad", "x*y + x", "-x", "3", "-y", "2")

    def test_real_process_with_expand(self):
        process = run_process("grad", "sigmoid(x)", "-x", "1", "--expand", "--explain")
        assert process.returncode == 0, process.stderr
        assert "(2) the negate gate t1 = -x received" not in process.stdout
        assert "(4) the reciprocal gate f = 1 / t3 received 1 and scales it by its local gradient" in process.stdout
        assert "(1) the negate gate t1 = -x received -0.1966 and scales it by its local gradient -1: x gets 0.1966" in (
            process.stdout
        )
