"""Random text and random values on the command line: an answer or one clear error, fast, never a traceback.

Every case runs the command line in-process (typer's CliRunner, as a user runs
it, minus the start-up) and must end in exit 0 (or 1 for a check's verdict)
with no error, or exit 2 with exactly one ``bpcli: error:`` message and nothing
on standard output, in under a second of processor time (wall time would
measure the machine's load). A handful of cases run in a real process too.
"""

from __future__ import annotations

import json
import math
import time

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bpcli.engine.values import NUMBER
from fuzzing import SECOND, budget, run_and_judge, scalar_expressions
from helpers import run_cli, run_process

# inf and nan are bpcli's to report: a numpy RuntimeWarning reaching the user fails the case.
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

COMMANDS = [
    ("grad",), ("grad", "--json"), ("grad", "--symbolic"), ("grad", "--explain", "--precision", "3"),
    ("check", "--expect", "dx=1"), ("code",), ("graph", "--format", "mermaid"), ("jacobian",), ("hessian",), ("gates",), ("schema",),
]
BINDINGS = ("x=1.5", "y=-2", "z=0.5", "v=[1, 2]", "A=[[1, 2], [3, 4]]")

HOSTILE = [
    "1e999", "1e999 * x", "0x10", "0b101", "1_000", "1j", "__import__('os')", "__import__('os').system('ls')",
    "exec('x')", "eval('1')", "open('/etc/passwd')", "lambda: 1", "x if y else z", "x[0]", "x.__class__",
    "().__class__.__bases__[0].__subclasses__()", "import os", "print(x)", "x := 1", "x and y", "not x",
    "x < y", "x == y", "x % y", "x // y", "~x", "x ^ y", "x | y", "x << 2", "[i for i in v]", "{1: 2}",
    "f'{x}'", "b'x'", "'''", '"', "\\", "\x00", "\x1b[31mx", "\u202ex", "ｘ + 1", "x²", "x\u00a0+ 1", "٣ * x",
    "x +* y", "x ** ** y", "max(x,", "max(x y)", "sum(A, axis=)", "sum(A, axis=(0, 0))", "sum(A, axis=1e999)",
    "(" * 60 + "x", "x" + ")" * 60, "[" * 1_000, "]" * 1_000, "(" * 2_000 + "x" + ")" * 2_000,
    "-" * 2_000 + "x", "x" * 100_000, "x+" * 5_000 + "x", "# just a comment", ";;;", "\n\n\n", "q = x; q = y",
    "x = 1; x", "dx += 1", "W.dot(v, v)", "np.sum(A, 0)", "math.pi * x", "A.shape", "A.T()", "2.T",
]

mutated = st.tuples(scalar_expressions, st.integers(min_value=0), st.text(max_size=3), st.integers(0, 3)).map(
    lambda t: t[0][: t[1] % (len(t[0]) + 1)] + t[2] + t[0][t[1] % (len(t[0]) + 1) + t[3]:]
)
texts = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(),  # any unicode, control characters included
    st.text(alphabet="xyzAv0123456789.eE+-*/@()[],=;#_ \n\t^!<>'\"\\", max_size=60),
    st.text(alphabet="xy0123456789.e+-*/()[], ", min_size=1, max_size=12).map(lambda t: t * 500),  # long lines
    mutated,
)


@pytest.fixture(scope="module", autouse=True)
def warm():
    """Each command's first run imports its modules; the one-second bound is for the run itself."""
    for command in COMMANDS:
        run_cli(*command, "--", "x", "x=1")


@budget(1.5)
@given(texts, st.sampled_from(COMMANDS))
@example("(x+y)*z", ("grad", "--json"))
def test_random_text(text, command):
    run_and_judge(*command, "--", text, *BINDINGS)


def test_check_diagnosing_a_value_used_500_times():
    # Found by test_random_text: the search for a missed fork sum tried every subset
    # of up to 9 of the uses (2.5 s of processor time for 14 uses; 500 never ended).
    result = run_and_judge("check", "--expect", "dx=1", "--", "-x" * 500, *BINDINGS)
    assert result.exit_code == 1 and "dx is wrong" in result.stdout


# ---- values --------------------------------------------------------------------------------

numbers = st.floats(allow_nan=True, allow_infinity=True).map(repr) | st.sampled_from(
    ["nan", "-nan", "inf", "-inf", "Infinity", "1e999", "-1e999", "1e-999", "4.9e-324", "1.7976931348623157e308",
     "+.5", " 2 ", "1.", ".", "-", "--1", "1e", "e1", "1..2", "0x1", "1_0", "١", "", " "]
)
json_arrays = st.recursive(
    st.floats(allow_nan=False) | st.integers(-(10**30), 10**30) | st.sampled_from([True, None, "a", 1e308]),
    lambda children: st.lists(children, max_size=4),
    max_leaves=12,
).map(json.dumps)
# Fills of a few hundred elements, or malformed: one within the limit but of 400 MB is work, not a hang
# (the limit itself is tested in tests/test_robustness.py, and sampled here far beyond it).
dimensions = st.lists(st.integers(-2, 300), max_size=3).map(lambda ds: ",".join(map(str, ds)))
fills = st.tuples(st.sampled_from(["randn", "rand", "zeros", "ones", "eye"]),
                  dimensions | st.text(alphabet="0123456789,-x ", max_size=4)).map(lambda t: f"{t[0]}:{t[1]}")
values = numbers | json_arrays | fills | st.sampled_from(
    ["@", "@/nonexistent.json", "@/dev/null", "@/", "[", "]", "randn:100000,100000", "ones:99999999999999999999"]
)
forms = st.sampled_from(["-{} {}", "--{} {}", "{}={}", "--{}={}"])
names = st.sampled_from(["x", "y", "v", "A", "w0", "_", "x-y", "1x", "", "grad"])
shapes_of = {"x": "", "y": "", "v": "[1, 2]", "A": "[[1, 2], [3, 4]]"}


VALUE_COMMANDS = [("grad",), ("grad", "--json"), ("check", "--expect", "dx=1"), ("check", "--expect", "dv=[1, 2]")]


@budget(1.5)
@given(
    st.sampled_from(["x * y", "sum(v * x)", "sum(A @ v) + y", "sum(max(A, x))", "sigmoid(x) / y", "x**y"]),
    st.lists(st.tuples(forms, names, values), max_size=4),
    st.sampled_from(VALUE_COMMANDS),
)
@example("x * y", [("-{} {}", "x", "nan"), ("{}={}", "y", "1e999")], ("grad", "--json"))
@example("sum(v * x)", [("-{} {}", "v", "[1e308, 1]"), ("{}={}", "x", "inf")], ("check", "--expect", "dv=[1, 2]"))
def test_random_values(expression, bindings, command):
    arguments = []
    for form, name, value in bindings:
        arguments += form.format(name, value).split(" ", 1) if " " in form else [form.format(name, value)]
    result = run_and_judge(*command, expression, *arguments)
    if result.exit_code == 0 and command == ("grad", "--json"):
        # An inf or nan given is accepted, and always flagged.
        flagged = {w["message"].split()[0] for w in json.loads(result.stdout)["warnings"] if w["kind"] == "nonfinite-input"}
        for _, name, value in bindings:
            if NUMBER.match(value.strip()) and not math.isfinite(float(value)) and name in expression:
                assert name in flagged, (name, value, flagged)


# ---- a real process ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arguments",
    [
        ["grad", "--", "__import__('os').system('echo owned')"],
        ["grad", "--", "(" * 10_000 + "x" + ")" * 10_000, "x=2", "--json"],
        ["grad", "x * y", "-x", "1e999", "-y", "nan", "--json"],
        ["grad", "sum(x)", "-x", "[" * 50_000 + "]" * 50_000],
        ["check", "--", "x +* y", "--expect", "dx=1"],
        ["hessian", "--", "\x1b[2J\u202e x", "x=1"],
    ],
)
def test_in_a_real_process(arguments):
    started = time.perf_counter()
    process = run_process(*arguments)
    assert time.perf_counter() - started < 5 * SECOND  # start-up included
    assert "Traceback" not in process.stderr and "internal error" not in process.stderr
    assert "owned" not in process.stdout
    if process.returncode == 2:
        assert process.stdout == "" and process.stderr.count("bpcli: error:") == 1
    else:
        assert process.returncode == 0 and json.loads(process.stdout)["warnings"]
