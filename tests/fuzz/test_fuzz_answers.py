"""Random answers files: random TOML trees, path tricks and tolerances (issue 17).

A student writes the answers file; the grader runs ``bpcli check --answers``.
Whatever the file holds, the run keeps the command line's promise (an answer,
or one clear error; never a traceback), never shows a byte of a file outside
the answers file's folder, scores every problem (one that could not be checked
is wrong, in every total) and holds every problem to the grader's tolerance
when the command line gives one.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from fuzzing import budget, run_and_judge

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

SECRET = "OUTSIDE-THE-FOLDER"  # in every file outside the answers file's folder


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> Path:
    """The student's folder (good files, a link out, a loop of links), and secrets beside it."""
    root = tmp_path_factory.mktemp("grading")
    (root / "secret.txt").write_text(f"{SECRET} = x * y\n")
    (root / "secret.json").write_text(f'"{SECRET}"')
    student = root / "student"
    (student / "sub").mkdir(parents=True)
    (student / "forward.py").write_text("q = x * y\nf = q + x\n")
    (student / "mine.py").write_text("dq = 1\ndx = dq * y + 1\ndy = dq * x\n")
    (student / "x.json").write_text("[1, 2]")
    (student / "sub" / "ok.json").write_text("3")
    (student / "link.json").symlink_to(root / "secret.json")
    (student / "link.txt").symlink_to(root / "secret.txt")
    (student / "loop").symlink_to(student / "loop")
    return student


PATHS = [
    "@forward.py", "@mine.py", "@x.json", "@sub/ok.json", "@sub/../x.json", "@./x.json", "@ x.json",
    "@../secret.txt", "@../secret.json", "@link.json", "@link.txt", "@loop", "@sub/../../secret.json",
    "@/etc/passwd", "@/dev/zero", "@{root}/secret.txt", "@{root}/student/../secret.json", "@", "@.", "@sub",
    "@x.json\x00", "@" + "a" * 5_000, "@~/secret.txt", "@%2e%2e/secret.txt", "@..\\secret.txt",
]
EXPRESSIONS = ["x * y", "q = x * y\nf = q + x", "sum(x * x)", "x +* y", "", "# only a comment", "relu(x) * y"]
NAMES = ["x", "y", "q", "f", "z"]
TOLERANCES = [0.0, 1e-9, 0.5, 1e300, math.inf, -math.inf, math.nan, -1.0, 5e-324]

strings = st.one_of(st.sampled_from(PATHS), st.sampled_from(EXPRESSIONS),
                    st.text(st.characters(blacklist_categories=("Cs",)), max_size=20))
scalars = st.one_of(
    strings, st.integers(-10**30, 10**30), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
    st.sampled_from(TOLERANCES),
)
trees = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(NAMES), children, max_size=3),
    max_leaves=8,
)
values = st.one_of(scalars, st.lists(st.integers(-3, 3), min_size=1, max_size=3), trees)
problems = st.fixed_dictionaries(
    {"expr": st.one_of(st.sampled_from(PATHS), st.sampled_from(EXPRESSIONS))},
    optional={
        "inputs": st.dictionaries(st.sampled_from(NAMES), values, max_size=3),
        "expect": st.dictionaries(st.sampled_from(["dx", "dy", "x", "f", "q", "d(x)", "dq"]), values, min_size=1,
                                  max_size=3),
        "backward": st.one_of(st.sampled_from(PATHS), st.just("dx = y\ndy = x"), scalars),
        "upstream": values, "rtol": scalars, "atol": scalars, "seed": scalars, "name": scalars, "extra": scalars,
    },
)
documents = st.one_of(
    st.fixed_dictionaries({"problem": st.lists(problems, min_size=1, max_size=4)}),
    st.dictionaries(st.sampled_from(["problem", "problems", "x"]), trees, min_size=1, max_size=2),
)
graders = st.sampled_from([(), ("--rtol", "1e-9"), ("--atol", "0.5"), ("--rtol", "0", "--atol", "0")])


def toml(document: dict) -> str:
    """A TOML text for a tree of tables, arrays, strings and numbers (a list of tables as [[key]])."""
    lines = []
    for key, value in document.items():
        if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            for table in value:
                lines.append(f"[[{key}]]")
                lines.extend(f"{_key(inner)} = {_value(item)}" for inner, item in table.items())
        else:
            lines.insert(0, f"{_key(key)} = {_value(value)}")
    return "\n".join(lines) + "\n"


def _key(key: str) -> str:
    return json.dumps(key, ensure_ascii=False)


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):  # TOML's basic strings escape as JSON does, DEL included
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(map(_value, value)) + "]"
    return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"


def _located(document: dict, root: Path) -> dict:
    """The document with {root} in its paths replaced by the folder above the student's."""
    text = json.dumps(document).replace("{root}", str(root).replace("\\", "\\\\"))
    return json.loads(text, parse_constant=float)


@budget(1.0)
@given(documents, graders, st.booleans())
@example({"problem": [{"expr": "@../secret.txt", "inputs": {"x": 1}, "expect": {"dx": 1}}]}, (), True)
@example({"problem": [{"expr": "x * y", "inputs": {"x": "@link.json", "y": 2}, "expect": {"dx": 2}}]}, (), True)
@example({"problem": [{"expr": "x * y", "inputs": {"x": 3, "y": 2}, "expect": {"dx": 5}, "rtol": math.inf}]},
         (), True)
@example({"problem": [{"expr": "x * y", "inputs": {"x": 3, "y": 2}, "expect": {"dx": 5}, "rtol": 1e300}]},
         ("--rtol", "1e-9"), True)
@example({"problem": [1]}, (), False)
def test_random_answers_files(folders, document, grader, as_json):
    path = folders / "hw.toml"
    path.write_text(toml(_located(document, folders.parent)), encoding="utf-8")
    arguments = ("check", "--answers", str(path), *grader, *(("--json",) if as_json else ()))
    result = run_and_judge(*arguments)
    assert SECRET not in result.stdout + result.stderr
    if as_json and result.stdout:
        _holds_the_score_together(json.loads(result.stdout), grader)


def _holds_the_score_together(document: dict, grader: tuple[str, ...]) -> None:
    """Every problem counted: an errored one is wrong, and at least one of its expectations unmet."""
    problems, score = document["problems"], document["score"]
    assert score["problems"] == len(problems)
    assert score["passed"] == sum(problem["passed"] for problem in problems)
    assert score["expectations"] == sum(problem["counted"] for problem in problems)
    assert score["met"] == sum(problem["met"] for problem in problems) <= score["expectations"]
    for problem in problems:
        if problem["error"] is not None:
            assert not problem["passed"] and problem["counted"] >= 1 and document["exit_code"] == 2
        assert "outside the answers file's folder" not in (problem["error"] or "") or problem["value"] is None
    if grader:  # the grader's tolerance governs every problem, whatever the file sets
        given = dict(zip(grader[::2], map(float, grader[1::2])))
        assert document["tolerance"] == {"rtol": given.get("--rtol", 0.0), "atol": given.get("--atol", 0.0)}
        for problem in problems:
            for expectation in problem["expectations"]:
                expected, allowed = expectation["expected"], expectation["allowed"]
                if isinstance(expected, float) and isinstance(allowed, float) and math.isfinite(expected):
                    bound = given.get("--atol", 0.0) + given.get("--rtol", 0.0) * abs(expected)
                    assert allowed == pytest.approx(bound, rel=1e-9, abs=1e-300)


def test_the_folder_fixture_has_its_links(folders):
    """The path tricks above need the links to exist as links (some file systems refuse them)."""
    assert os.path.islink(folders / "link.json") and os.path.islink(folders / "loop")
