"""bpcli gates: the reference card is the gate registry itself, so it lists every gate as the engine runs it."""

from __future__ import annotations

import pytest

import bpcli
from bpcli.engine.gates import REGISTRY, ROLES
from helpers import close, numeric_gradients, run_cli, run_json, run_process

# The gates the backward pass builds: indicators (the local gradients of relu, abs,
# max, min), the broadcasts that undo and redo broadcasting, ties of reductions,
# and the sum at a fork.
MADE_FOR_GRADIENTS = {"accumulate", "broadcast", "unbroadcast", "share", "step", "sign", "greater", "nonzero", "unzero",
                      "scatter", "keepdims", "reshape_like", "dim", "ndim", "size", "prod_others", "prod_pairs"}


def table_rows(output: str) -> list[list[str]]:
    """The first column of every table row that starts a gate (continuation rows have it empty)."""
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in output.splitlines() if line.startswith("│")]
    return [row for row in rows if row[0]]


class TestEveryGate:
    def test_the_json_card_lists_every_registered_gate_as_registered(self):
        doc = run_json("gates")
        assert [gate["op"] for gate in doc["gates"]] == list(REGISTRY)
        for card in doc["gates"]:
            gate = REGISTRY[card["op"]]
            assert card["syntax"] == gate.syntax
            assert card["local"] == gate.local
            assert card["role"] == gate.role and card["role"] in doc["roles"]
            assert card["kink"] == (gate.kink_note or None)
            assert card["kind"] == ("elementwise" if gate.elementwise else "vjp")
            assert (card["decomposition"] is None) == (gate.decompose is None)
            assert card["forward"]
        assert doc["roles"] == ROLES

    def test_the_gates_gradients_are_made_of_are_marked(self):
        doc = run_json("gates")
        assert {gate["op"] for gate in doc["gates"] if gate["internal"]} == MADE_FOR_GRADIENTS

    def test_the_table_lists_every_gate_the_internal_ones_last(self):
        result = run_process("gates")
        assert result.returncode == 0, result.stderr
        ops = [row[0] for row in table_rows(result.stdout) if row[0] != "gate"]
        assert sorted(ops) == sorted(REGISTRY)
        title = "The gates gradients are made of (the backward pass builds them)"
        after = table_rows(result.stdout.split(title)[1])
        assert {row[0] for row in after if row[0] != "gate"} == MADE_FOR_GRADIENTS
        for role, meaning in ROLES.items():
            assert f"{role}: {meaning}" in result.stdout

    def test_a_row_reads_as_the_registry(self):
        rows = {row[0]: row for row in table_rows(run_cli("gates", "mul", "max").stdout)}
        assert rows["mul"] == ["mul", "a * b", "", "∂/∂a = b, ∂/∂b = a", "swaps", ""]
        assert rows["max"][:2] == ["max", "max(a, b)"] and rows["max"][4] == "routes"
        assert rows["amax"][1] == "max(a, axis=None)"


class TestWhatTheCardSays:
    """What the card states about a gate is what the engine does."""

    @pytest.mark.parametrize("op", [op for op, gate in REGISTRY.items() if gate.decompose is not None])
    def test_a_decomposition_computes_the_gate_and_its_gradient(self, op):
        card = bpcli.gate_reference([op]).gates[0]
        for a in (-2.5, -0.3, 0.0, 1.7):
            one, many = bpcli.grad(card.syntax, a=a), bpcli.grad(card.decomposition, a=a)
            assert close(one.value, many.value, 1e-12) and close(one.gradients["a"], many.gradients["a"], 1e-12)
            assert close(many.gradients["a"], numeric_gradients(card.decomposition, {"a": a})["a"], 1e-6)

    @pytest.mark.parametrize("op", [op for op, gate in REGISTRY.items() if bpcli.gate_reference([op]).gates[0].spellings])
    def test_every_spelling_means_the_gate(self, op):
        card = bpcli.gate_reference([op]).gates[0]
        arguments = ", ".join("abc"[: card.arity])
        for spelling in card.spellings:
            text = spelling if spelling.startswith("a.") else f"{spelling}({arguments})"
            assert [node.op for node in bpcli.build(text).nodes if node.op not in ("input", "const")] == [op]

    @pytest.mark.parametrize("name, ops", [("max", ["max", "amax"]), ("dot", ["matmul"]), ("amin", ["amin"]),
                                           ("sigmoid", ["sigmoid"])])
    def test_a_gate_is_asked_for_by_its_op_or_by_the_name_it_is_called_by(self, name, ops):
        assert [gate["op"] for gate in run_json("gates", name)["gates"]] == ops

    def test_an_unknown_gate_is_bad_input(self):
        result = run_cli("gates", "sigmod")
        assert result.exit_code == 2
        assert result.stderr.startswith("bpcli: error: no gate is called 'sigmod' (did you mean 'sigmoid'?)")
