"""What the fuzz tests share: their budget, expressions over every gate, and the points a difference can judge.

The budget is a share of the loaded hypothesis profile (tests/conftest.py):
``ci`` by default, ``thorough`` with ``--hypothesis-profile=thorough`` or
HYPOTHESIS_PROFILE=thorough. Expressions are drawn from the gate registry, so
a new gate is fuzzed as soon as it is registered.
"""

from __future__ import annotations

import gc
import json
import math
import re
import sys
import time
from typing import Any, Callable

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

import bpcli
from bpcli.engine.evaluate import evaluate
from bpcli.engine.gates import REGISTRY
from helpers import run_cli

KINK_AT_ZERO_OF = {"unzero": 1}  # unzero(a, b) jumps where b is 0, not where a == b
KINK_DISTANCE = 1e-3  # the promise: gradients agree at least this far from every kink
SINGULAR_DISTANCE = 0.1  # log, sqrt and 1/x change too fast near 0 for a difference quotient
SINGULAR = {"log", "sqrt", "recip"}
RELATIVE = 1e-6
SECOND = 1.0  # the longest a fuzzed command line may take (processor time)
# A centred difference is off by about h**2 * f''' / 6: some 1e-10 here, which no relative
# tolerance covers where the gradient is 0.
TRUNCATION = 1e-8


def budget(share: float) -> settings:
    """This test's examples: a share of the profile's (150 under ci, 5,000 under thorough)."""
    return settings(
        max_examples=max(10, round(settings.default.max_examples * share)),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )


# ---- scalar expressions over every elementwise gate -----------------------------------


def _template(gate: Any) -> str:
    """The gate's syntax with its operands as format fields: "max(a, b)" -> "max(({a}), ({b}))"."""
    return re.sub(r"\b([ab])\b", lambda m: "({%s})" % m.group(1), gate.syntax)


# The gates of real numbers: booleans (comparisons, ~, &, |), the jumps of // and %, where's condition
# and clip's three inputs are tested in tests/test_numpy_*.py.
ELEMENTWISE = sorted(op for op, gate in REGISTRY.items() if gate.elementwise and not gate.carries_no_gradient
                     and op not in ("floordiv", "mod", "where", "clip"))
UNARY = [_template(REGISTRY[op]) for op in ELEMENTWISE if REGISTRY[op].arity == 1]
BINARY = [_template(REGISTRY[op]) for op in ELEMENTWISE if REGISTRY[op].arity == 2]
POWERS = ["({a})**2", "({a})**3", "({a})**-1", "({a})**0.5", "({a})**-2", "2**({a})"]
SCALARS = ("x", "y", "z")
CONSTANTS = ("0.5", "2", "1.5", "3", "1e-3")


def _expressions(leaves: st.SearchStrategy[str], max_leaves: int) -> st.SearchStrategy[str]:
    def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        unary = st.tuples(st.sampled_from(UNARY + POWERS), children).map(lambda t: t[0].format(a=t[1]))
        binary = st.tuples(st.sampled_from(BINARY), children, children).map(lambda t: t[0].format(a=t[1], b=t[2]))
        return unary | binary

    return st.recursive(leaves, extend, max_leaves=max_leaves)


scalar_expressions = _expressions(st.sampled_from(SCALARS) | st.sampled_from(CONSTANTS), max_leaves=12)
coordinates = st.floats(min_value=-2.5, max_value=2.5, allow_nan=False).map(lambda v: round(v, 3))


# ---- array expressions over the structural gates ----------------------------------------
# Shapes (), (3,) and (3, 3) broadcast with each other, so every combination is well shaped.

S, V, M = (), (3,), (3, 3)
ARRAY_VARIABLES = {"s": S, "v": V, "w": V, "A": M, "B": M}


def _broadcast(a: tuple, b: tuple) -> tuple:
    return a if len(a) >= len(b) else b


def _typed(max_leaves: int) -> st.SearchStrategy[tuple[str, tuple]]:
    leaves = st.sampled_from(sorted(ARRAY_VARIABLES.items())) | st.sampled_from(
        [("0.5", S), ("2", S), ("[1, -2, 0.5]", V), ("[[1, 2, 0], [0, 1, 3], [2, 0, 1]]", M)]
    )

    def extend(children: st.SearchStrategy[tuple[str, tuple]]) -> st.SearchStrategy[tuple[str, tuple]]:
        def unary(t):
            template, (text, shape) = t
            return template.format(a=text), shape

        def binary(t):
            template, (a, sa), (b, sb) = t
            return template.format(a=a, b=b), _broadcast(sa, sb)

        def structural(t):
            kind, (a, sa), (b, sb), axis = t
            if kind == "matmul" and sa and sb:
                return f"({a}) @ ({b})", sa[:-1] + sb[1:]
            if kind == "outer" and sa == V and sb == V:
                return f"outer({a}, {b})", M
            if kind == "transpose":
                return f"({a}).T", sa[::-1]
            if kind in ("sum", "mean", "max", "min") and sa:
                if axis is None or axis >= len(sa):
                    return f"{kind}({a})", S
                return f"{kind}({a}, axis={axis - len(sa) if axis % 2 else axis})", sa[:axis] + sa[axis + 1:]
            return f"({a}) * ({b})", _broadcast(sa, sb)

        kinds = st.sampled_from(["matmul", "outer", "transpose", "sum", "mean", "max", "min"])
        return (
            st.tuples(st.sampled_from(UNARY + POWERS[:3]), children).map(unary)
            | st.tuples(st.sampled_from(BINARY), children, children).map(binary)
            | st.tuples(kinds, children, children, st.sampled_from([None, 0, 1])).map(structural)
        )

    return st.recursive(leaves, extend, max_leaves=max_leaves)


array_expressions = _typed(max_leaves=8).map(lambda t: t[0] if t[1] == S else f"sum({t[0]})")


@st.composite
def array_point(draw: Callable, expression: str) -> dict[str, Any]:
    graph = bpcli.build(expression)
    point = {}
    for v in graph.variables:
        name = graph.nodes[v].name
        shape = ARRAY_VARIABLES[name]
        count = math.prod(shape)
        numbers = draw(st.lists(coordinates, min_size=count, max_size=count))
        point[name] = np.array(numbers).reshape(shape) if shape else numbers[0]
    return point


# ---- where a finite difference can judge --------------------------------------------------


def far_from_kinks(result: Any) -> bool:
    """No input of a gate within KINK_DISTANCE of its kink (SINGULAR_DISTANCE of a singularity)."""
    graph, values = result.graph, result.evaluation.values
    for node in graph.stages:
        n = graph.nodes[node]
        gate = REGISTRY[n.op]
        inputs = [np.asarray(values[i], dtype=float) for i in n.inputs]
        if n.op in SINGULAR and np.min(np.abs(inputs[0])) < SINGULAR_DISTANCE:
            return False
        if n.op == "pow" and np.min(inputs[0]) < SINGULAR_DISTANCE:
            return False
        if n.op == "log1p" and np.min(np.abs(inputs[0] + 1)) < SINGULAR_DISTANCE:  # log1p is singular at -1
            return False
        if gate.kink is None:
            continue
        if not gate.elementwise:  # a reduction: its largest (smallest) two elements must differ
            if _closest_pair(inputs[0], n.op, (n.attrs or {}).get("axis")) < KINK_DISTANCE:
                return False
        elif n.op in KINK_AT_ZERO_OF:  # a two-input gate whose jump is where one input is 0
            if np.min(np.abs(inputs[KINK_AT_ZERO_OF[n.op]])) < KINK_DISTANCE:
                return False
        elif gate.arity == 1 and np.min(np.abs(inputs[0])) < KINK_DISTANCE:
            return False
        elif gate.arity == 2 and np.min(np.abs(inputs[0] - inputs[1])) < KINK_DISTANCE:
            return False
    return True


def _closest_pair(a: np.ndarray, op: str, axis: Any) -> float:
    if a.size < 2:
        return math.inf
    ordered = np.sort(a.reshape(-1) if axis is None else np.moveaxis(a, axis, -1), axis=-1)
    top = ordered[..., -2:] if op == "amax" else ordered[..., :2]
    return float(np.min(np.abs(top[..., 1] - top[..., 0]))) if top.shape[-1] == 2 else math.inf


def moderate(result: Any) -> bool:
    """Every value finite and below 1e4, where a difference quotient keeps its digits."""
    return all(
        v is None or (bool(np.all(np.isfinite(v))) and float(np.max(np.abs(v))) < 1e4)
        for v in result.evaluation.values
    )


def mismatches(result: Any) -> list[tuple]:
    """Every input element whose gradient a centred difference of bpcli's own forward pass contradicts."""
    graph, point = result.graph, result.inputs
    found = []
    for name, analytic in result.gradients.items():
        value = np.asarray(point[name], dtype=float)
        for index in np.ndindex(value.shape):
            x = float(value[index])
            h = 1e-5 * max(1.0, abs(x))

            def f(moved: float) -> float:
                changed = value.copy()
                changed[index] = moved
                bound = {**point, name: changed if changed.shape else float(changed)}
                return float(evaluate(graph, bound).values[graph.output])

            numeric = (f(x + h) - f(x - h)) / (2 * h)
            exact = float(np.asarray(analytic)[index])
            # Below the rounding error of the difference quotient, nothing can be told apart.
            rounding = 10 * sys.float_info.epsilon * max(1.0, abs(float(result.value))) / h
            if not abs(exact - numeric) <= RELATIVE * (abs(exact) + abs(numeric)) + rounding + TRUNCATION:
                found.append((name, index, exact, numeric))
    return found


# ---- the command line's promise ---------------------------------------------------------------


def run_and_judge(*arguments: str) -> Any:
    """Run the command line in-process and hold it to its promise: exit 0 (1: a check's verdict)
    with output and no error, or exit 2 with one message (warnings before it), never a traceback,
    in under SECOND of processor time. ``check --answers`` reports the problems it could check
    on standard output, and exits 2 if one could not be."""
    gc.disable()  # a collection of the test process's own heap (hypothesis's, mostly) is not bpcli's time
    try:
        started = time.process_time()
        result = run_cli(*arguments)
        seconds = time.process_time() - started
    finally:
        gc.enable()
    output, errors = result.stdout, result.stderr
    assert "Traceback" not in output + errors and "internal error" not in errors, errors
    assert seconds < SECOND, f"{seconds:.2f} s"
    if result.exit_code == 2 and "--answers" in arguments and ("error:" in output or '"exit_code": 2' in output):
        return result  # the report of the problems it could check (as a table, or as JSON)
    if result.exit_code == 2:
        assert output == "", output
        before, found, _ = errors.partition("bpcli: error: ")
        assert found and errors.count("bpcli: error:") == 1, errors
        assert all(line.startswith("bpcli: warning: ") for line in before.splitlines()), errors
        return result
    assert result.exit_code == 0 or (result.exit_code == 1 and arguments[0] == "check"), (result.exit_code, errors)
    assert "bpcli: error" not in errors and output, errors
    if "--json" in arguments:
        json.loads(output)
    return result
