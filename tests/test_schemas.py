"""The JSON Schemas ship in the package, and every --json document follows its own.

run_cli and run_process (tests/helpers.py) validate whatever --json output any
test produces; here every command prints its documents over a variety of
inputs, and the schemas themselves are checked.
"""

from __future__ import annotations

import json

import jsonschema
import pytest

import bpcli
from bpcli.analyses.gradcheck import INCONCLUSIVE, READINGS
from bpcli.analyses.jacobian import LAYOUTS
from bpcli.views.json_schemas import SCHEMAS
from bpcli.views import json_doc
from helpers import REPO, run_cli, run_process, validated

NEURON = ["--w0", "2", "--x0", "-1", "--w1", "-3", "--x1", "-2", "--w2", "-3"]
NOTES = "(x + sigmoid(y)) / (sigmoid(x) + (x+y)**2)"

# Every kind of --json document, over inputs that fill its optional parts: arrays,
# forks, warnings, inf and nan, explanations, failures, backward files.
DOCUMENTS = [
    ("grad", ["grad", "(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4"], 0),
    ("grad", ["grad", "q = x + y; f = q * x", "-x", "-2", "-y", "5", "--explain"], 0),
    ("grad", ["grad", "sigmoid(w0*x0 + w1*x1 + w2)", *NEURON, "--expand", "--explain"], 0),
    ("grad", ["grad", "relu(x)", "-x", "[1,-2,3,-1]", "--upstream", "[4,-1,5,9]"], 0),
    ("grad", ["grad", "D = W @ X", "-W", "randn:5,10", "-X", "randn:10,3", "--upstream", "randn:5,3"], 0),
    ("grad", ["grad", "x_hat * g + b", "--x_hat", "randn:4,3", "-g", "randn:3", "-b", "randn:1,3",
              "--upstream", "ones"], 0),
    ("grad", ["grad", "sum(max(W, axis=0))", "-W", "[[1,2],[1,0]]"], 0),
    ("grad", ["grad", "log(x) * y", "-x", "0", "-y", "2"], 0),  # -inf, and a gradient that is inf
    ("grad", ["grad", "sqrt(x) + 0 * y", "-x", "-1", "-y", "nan"], 0),  # nan in and out
    ("grad", ["grad", "a = x * 2; b = x + 1; f = a * a", "-x", "3", "-w", "1"], 0),  # unused stage and binding
    ("grad", ["grad", "max(x, y)", "-x", "4", "-y", "4"], 0),  # a tie
    ("grad", ["grad", "3 * 4"], 0),  # no inputs at all
    ("jacobian", ["jacobian", "relu(x)", "-x", "[1,-2,3,-1]"], 0),
    ("jacobian", ["jacobian", "W @ x", "-W", "[[1,2],[3,4]]", "-x", "[5,6]", "--layout", "inputs-first"], 0),
    ("jacobian", ["jacobian", "x * y", "-x", "2", "-y", "inf"], 0),
    ("hessian", ["hessian", "x**2 * y + exp(x*y)", "-x", "1", "-y", "2"], 0),
    ("hessian", ["hessian", "sum(W @ x)**2", "-W", "randn:2,3", "-x", "randn:3", "--wrt", "x"], 0),
    ("hessian", ["hessian", "sum(W @ x)**2", "-W", "randn:2,3", "-x", "randn:3", "--vector", "x=ones:3"], 0),
    ("hessian", ["hessian", "relu(x) * x", "-x", "0"], 0),  # a kink
    ("derivative", ["grad", "x**4", "-x", "2", "--order", "3"], 0),
    ("derivative", ["grad", "x * sum(W * x)", "-x", "2", "-W", "[1, 2]", "--order", "2", "--wrt", "x"], 0),
    ("derivative", ["grad", "log(x)", "-x", "0", "--order", "2"], 0),
    ("symbolic", ["grad", "(x+y)*z", "--symbolic"], 0),
    ("symbolic", ["grad", "x * sigmoid(y)", "--symbolic", "--wrt", "y", "--order", "2", "-x", "1", "-y", "2"], 0),
    ("check", ["check", "q = x + y; f = q * z", "-x", "-2", "-y", "5", "-z", "-4", "--expect", "dx=-4",
               "--expect", "dz=-4", "--expect", "q=3"], 1),
    ("check", ["check", "relu(x)", "-x", "[1,-2]", "--upstream", "[1,1]", "--expect", "dx=[1,0]",
               "--rtol", "1e-3"], 0),
    ("check", ["check", "log(x)", "-x", "0", "--expect", "dx=inf"], 0),
    ("gradcheck", ["gradcheck", "sigmoid(w0*x0 + w1*x1 + w2)", *NEURON], 0),
    ("gradcheck", ["gradcheck", "relu(x) * y", "-x", "0", "-y", "3"], 0),
    ("gradcheck", ["gradcheck", "sum(tanh(W @ X))", "-W", "randn:5,10", "-X", "randn:10,3", "--max-checks", "20"], 0),
    ("gradcheck", ["gradcheck", "exp(x)", "-x", "0", "--h", "0.1"], 1),  # a coarse step: over the tolerance
    ("gradcheck", ["gradcheck", "x*1e12 + y", "-x", "1e10", "-y", "1e-20"], 0),  # inconclusive
    ("gates", ["gates"], 0),
    ("exercise", ["exercise", "x*y + x", "--seed", "3"], 0),
    ("gates", ["gates", "max", "dot"], 0),
]


@pytest.mark.parametrize("name, args, code", DOCUMENTS, ids=[" ".join(args[:2]) for _, args, _ in DOCUMENTS])
def test_every_document_follows_its_schema(name, args, code):
    result = run_cli(*args, "--json")  # validated on the way out
    assert result.exit_code == code, result.stderr
    assert json.loads(result.stdout)["schema"] == f"bpcli.{name}/1"


def test_a_backward_file_and_an_answers_file(tmp_path):
    backward = tmp_path / "mine.py"
    backward.write_text("dnum = invden\ndinvden = num\ndden = (-1.0 / (den**2)) * dinvden\n"
                        "dsigx = dden\ndxpysqr = dden\ndxpy = (2 * xpy) * dxpysqr\ndx = dxpy\ndy = dxpy\n")
    forward = REPO / "tests" / "data" / "notes_forward.py"
    result = run_cli("check", "--file", str(forward), "--backward", str(backward), "-x", "3", "-y", "-4", "--json")
    assert result.exit_code == 1, result.stderr
    lines = json.loads(result.stdout)["problems"][0]["backward"]["lines"]
    assert [line["status"] for line in lines] == ["right"] * 6 + ["partial"] * 2  # the forks' other terms left out
    answers = tmp_path / "hw.toml"
    answers.write_text(f'[[problem]]\nname = "neuron"\nexpr = "sigmoid(w0*x0 + w1*x1 + w2)"\n'
                       f'inputs = {{ w0 = 2, x0 = -1, w1 = -3, x1 = -2, w2 = -3 }}\nexpect = {{ dx0 = 0.39 }}\n\n'
                       f'[[problem]]\nexpr = "x +"\nexpect = {{ dx = 1 }}\n\n'
                       f'[[problem]]\nexpr = "@{forward.name}"\ninputs = {{ x = 3, y = -4 }}\nbackward = "@mine.py"\n')
    (tmp_path / forward.name).write_text(forward.read_text())
    result = run_cli("check", "--answers", str(answers), "--json")
    assert result.exit_code == 2, result.stderr  # problem 2 does not parse; the others are still checked
    doc = json.loads(result.stdout)
    assert [problem["error"] is None for problem in doc["problems"]] == [True, False, True]


def test_points_as_json_lines(tmp_path):
    points = tmp_path / "points.csv"
    points.write_text("x,y\n3,-4\n0,1\n-1,nan\n")
    result = run_process("grad", NOTES, "--points", str(points), "--json")  # each line validated
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 3


class TestTheSchemas:
    @pytest.mark.parametrize("name", SCHEMAS)
    def test_each_is_a_valid_draft_2020_12_schema_that_stands_alone(self, name):
        schema = bpcli.json_schema(name)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        jsonschema.Draft202012Validator.check_schema(schema)
        refs = {value.removeprefix("#/$defs/") for value in _all_values(schema, "$ref")}
        assert refs <= set(schema["$defs"]), "every reference resolves within the schema"

    def test_one_file_per_schema_and_the_documents_name_them(self):
        files = {path.stem for path in (REPO / "bpcli" / "views" / "schemas").glob("*.json")}
        assert files == {*SCHEMAS, "common"}
        ids = {value for key, value in vars(json_doc).items() if key.endswith("_SCHEMA")}
        constants = {name: bpcli.json_schema(name)["properties"].get("schema", {}).get("const") for name in SCHEMAS}
        assert ids == set(constants.values()) - {None}
        assert [name for name, const in constants.items() if const is None] == ["points"]  # JSON Lines: no key
        for name in SCHEMAS:
            assert bpcli.json_schema(name)["title"] == f"bpcli.{name}/1"
            assert bpcli.json_schema(f"bpcli.{name}/1") == bpcli.json_schema(name)

    def test_enumerations_match_the_code(self):
        reading = bpcli.json_schema("gradcheck")["properties"]["checks"]["items"]["properties"]["reading"]["enum"]
        assert reading == [word for _, word in READINGS] + [INCONCLUSIVE]
        assert bpcli.json_schema("jacobian")["properties"]["layout"]["enum"] == list(LAYOUTS)

    def test_numbers_may_be_non_finite_words_and_nothing_else(self):
        validator = jsonschema.Draft202012Validator(bpcli.json_schema("grad"))
        document = json.loads(bpcli.grad("log(x)", x=0).to_json())
        assert document["value"] == "-inf" and validator.is_valid(document)
        assert not validator.is_valid({**document, "value": "Infinity"})
        assert not validator.is_valid({**document, "gradients": {"x": [1, "x"]}})

    def test_the_tests_catch_a_document_that_drifts_from_its_schema(self):
        text = bpcli.grad("(x+y)*z", x=-2, y=5, z=-4).to_json()
        validated(text)
        with pytest.raises(AssertionError, match="Additional properties"):
            validated(text.replace('"warnings"', '"notes": [], "warnings"'))
        with pytest.raises(AssertionError, match="/stages/0/upstream"):
            validated(text.replace('"upstream": -4.0', '"upstream": "-4"'))
        # The shipped schemas let a reader's documents gain keys (a new key is not a new schema number).
        assert jsonschema.Draft202012Validator(bpcli.json_schema("grad")).is_valid(
            {**json.loads(text), "notes": []})


class TestTheCommand:
    def test_without_a_name_it_lists_the_schemas(self):
        result = run_process("schema")
        assert result.returncode == 0, result.stderr
        assert [line.split()[0] for line in result.stdout.splitlines()] == list(SCHEMAS)
        assert "grad        bpcli.grad/1: bpcli grad --json" in result.stdout

    @pytest.mark.parametrize("name", ["grad", "bpcli.check/1"])
    def test_it_prints_the_schema(self, name):
        result = run_cli("schema", name)
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout) == bpcli.json_schema(name)

    def test_an_unknown_name(self):
        result = run_cli("schema", "gard")
        assert result.exit_code == 2
        assert result.stderr.startswith("bpcli: error: no JSON schema is called 'gard'; the schemas are: grad, ")

    def test_more_than_one_name_is_one_line_of_error(self):
        result = run_cli("schema", "grad", "x=1")
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr == "bpcli: error: bpcli schema prints one schema at a time, not 2: grad x=1\n"


def _all_values(node, key):
    if isinstance(node, dict):
        for k, value in node.items():
            if k == key:
                yield value
            else:
                yield from _all_values(value, key)
    elif isinstance(node, list):
        for item in node:
            yield from _all_values(item, key)
