"""bpcli graph: the circuit as DOT, Mermaid, SVG/PNG through Graphviz, and a tree."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess

import pytest

import bpcli
from bpcli.views import diagram
from bpcli.views.numbers import format_value
from helpers import REPO, run_cli, run_process
from test_worked_examples import NOTES_PROGRAM

SNAPSHOTS = REPO / "tests" / "snapshots"
MAIN_EXAMPLE = ("(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4")
needs_graphviz = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz's dot program is not installed (apt-get install graphviz)"
)


def wire_labels(dot_text: str) -> list[tuple[str, str, list[str]]]:
    """(source, target, [label lines]) for every edge of the DOT text."""
    edges = re.findall(r"^  (\w+) -> (\w+)(?: \[label=<(.*)>\])?;$", dot_text, flags=re.MULTILINE)
    return [(a, b, re.findall(r">([^<>]+)</font>", label)) for a, b, label in edges]


class TestDot:
    def test_every_wire_carries_its_value_and_gradient(self):
        result = bpcli.grad(NOTES_PROGRAM, x=3, y=-4)
        text = diagram.dot(result)
        labels = wire_labels(text)
        # One wire per use of a value by a stage, and one into the output.
        assert len(labels) == sum(len(stage.inputs) for stage in result.stages) + 1
        for stage in result.stages:
            into = [lines for _, target, lines in labels if target == f"n{stage.node}"]
            expected = [
                [format_value(result.evaluation.values[used])]
                + ([format_value(received)] if received is not None else [])
                for used, received in zip(result.graph.nodes[stage.node].inputs, stage.downstream)
            ]
            assert into == expected, stage.name
        assert labels[-1] == (f"n{result.graph.output}", "n_out", ["1.546", "1"])

    def test_every_stage_value_and_gradient_appears(self):
        result = bpcli.grad("(x+y)*z", x=-2, y=5, z=-4)
        text = diagram.dot(result)
        for stage in result.stages:
            assert f">{format_value(stage.value)}</font>" in text
            assert f">{format_value(stage.upstream)}</font>" in text
        assert text.count('<font color="#1a7f37">') == 6  # five wires' values and the legend
        assert "t1 = x + y" in text and "f = t1 * z" in text

    def test_a_fork_shows_the_sum_of_its_gradients(self):
        text = diagram.dot(bpcli.grad(NOTES_PROGRAM, x=3, y=-4))
        assert "gradient 2.06 (sum of 3)" in text and "gradient 1.592 (sum of 2)" in text

    @needs_graphviz
    def test_graphviz_parses_it(self):
        for expression, values in [(NOTES_PROGRAM, {"x": 3, "y": -4}), ("relu(x) * 2", {"x": [1.0, -2.0]})]:
            result = bpcli.grad(expression, values, upstream=None if expression == NOTES_PROGRAM else "ones")
            done = subprocess.run(["dot", "-Tcanon"], input=diagram.dot(result), capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
            assert "digraph circuit" in done.stdout

    def test_without_values_the_circuit_alone(self):
        result = run_cli("graph", "(x+y)*z")
        assert result.exit_code == 0, result.stderr
        assert "n0 -> n2;" in result.stdout and "label=<<font" not in result.stdout


class TestMermaid:
    @pytest.mark.parametrize(
        "snapshot, arguments",
        [
            ("add_multiply.mmd", MAIN_EXAMPLE),
            ("notes_staged_example.mmd", (NOTES_PROGRAM, "-x", "3", "-y", "-4")),
        ],
    )
    def test_matches_the_reviewed_snapshot(self, snapshot, arguments):
        result = run_cli("graph", *arguments, "--format", "mermaid")
        assert result.exit_code == 0, result.stderr
        assert result.stdout == (SNAPSHOTS / snapshot).read_text()

    def test_labels_cannot_break_out_of_their_quotes(self):
        text = diagram.mermaid(bpcli.grad("q = x + 1 # one more\nf = q * 2", x=1))
        assert 'title: "q = x + 1; f = q * 2 at x = 1"' in text
        assert all(line.count('"') % 2 == 0 for line in text.splitlines())


class TestImages:
    @needs_graphviz
    def test_svg_and_png_files(self, tmp_path):
        svg, png = tmp_path / "circuit.svg", tmp_path / "circuit.png"
        assert run_cli("graph", *MAIN_EXAMPLE, "--format", "svg", "--out", str(svg)).exit_code == 0
        assert run_cli("graph", *MAIN_EXAMPLE, "--format", "png", "--out", str(png)).exit_code == 0
        text = svg.read_text()
        assert "<svg" in text and ">&#45;12</text>" in text and 'fill="#cf222e"' in text
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    @needs_graphviz
    def test_svg_to_standard_output_from_a_real_process(self):
        process = run_process("graph", *MAIN_EXAMPLE, "--format", "svg")
        assert process.returncode == 0, process.stderr
        assert process.stdout.lstrip().startswith("<?xml") and "</svg>" in process.stdout

    @needs_graphviz
    def test_without_a_format_the_out_files_suffix_says_which(self, tmp_path):
        """graph -o circuit.svg draws an SVG (it wrote DOT text into circuit.svg), as --points --out does."""
        for suffix, starts in ((".svg", "<?xml"), (".png", "\x89PNG"), (".mmd", "---"), (".html", "<!DOCTYPE html>"),
                               (".dot", "digraph circuit {"), (".gv", "digraph circuit {")):
            out = tmp_path / f"circuit{suffix}"
            result = run_cli("graph", *MAIN_EXAMPLE, "-o", str(out))
            assert (result.exit_code, result.stderr) == (0, ""), suffix
            written = out.read_bytes().decode("latin-1")
            assert written.startswith(starts), (suffix, written[:40])
        tree = tmp_path / "circuit.txt"
        assert run_cli("graph", *MAIN_EXAMPLE, "--out", str(tree)).exit_code == 0
        assert tree.read_text() == run_cli("graph", *MAIN_EXAMPLE, "--format", "text").stdout

    def test_a_format_given_wins_over_the_suffix(self, tmp_path):
        out = tmp_path / "circuit.svg"
        assert run_cli("graph", *MAIN_EXAMPLE, "--format", "dot", "--out", str(out)).exit_code == 0
        assert out.read_text().startswith("digraph circuit {")

    def test_o_is_out_where_the_expression_has_no_variable_o(self, tmp_path):
        out = tmp_path / "circuit.dot"
        result = run_cli("graph", *MAIN_EXAMPLE, "--format", "dot", "-o", str(out))
        assert result.exit_code == 0, result.stderr
        assert result.stdout == "" and out.read_text().startswith("digraph circuit {")
        both = run_cli("graph", *MAIN_EXAMPLE, "-o", str(out), "--out", str(out))
        assert both.exit_code == 2 and "once" in both.stderr

    def test_o_binds_a_variable_o(self):
        result = run_cli("graph", "o * 2", "-o", "3", "--format", "dot")
        assert result.exit_code == 0, result.stderr
        assert "o * 2 at o = 3" in result.stdout

    def test_without_graphviz_exit_2_and_say_how_to_install_it(self, monkeypatch):
        monkeypatch.setattr(shutil, "which", lambda program: None)  # diagram imports shutil when it draws
        result = run_cli("graph", *MAIN_EXAMPLE, "--format", "svg", "--out", "circuit.svg")
        assert result.exit_code == 2
        message = result.stderr
        assert message.startswith("bpcli: error: --format svg draws with Graphviz's dot program")
        assert "apt-get install graphviz" in message and "--format dot, which needs nothing" in message
        assert message.count("\n") == 1

    def test_png_needs_a_file(self):
        result = run_cli("graph", *MAIN_EXAMPLE, "--format", "png")
        assert result.exit_code == 2
        assert "--out" in result.stderr

    def test_unknown_format(self):
        result = run_cli("graph", *MAIN_EXAMPLE, "--format", "jpeg")
        assert result.exit_code == 2
        assert result.stderr == "bpcli: error: --format is one of dot, mermaid, svg, png, text, html, not 'jpeg'\n"


class TestText:
    def test_a_tree_from_the_output_back_to_the_inputs(self):
        result = run_cli("graph", *MAIN_EXAMPLE, "--format", "text")
        assert result.exit_code == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines[1] == "└── f = t1 * z  [*]  value -12  gradient 1"
        assert lines[2] == "    ├── t1 = x + y  [+]  value 3  gradient -4"
        assert lines[3] == "    │   ├── x  value -2  gradient -4"
        assert lines[5] == "    └── z  value -4  gradient 3"

    def test_a_shared_stage_is_drawn_once(self, tmp_path):
        # Each stage feeds the next twice: drawn in full, the tree would have 2**12 leaves.
        program = "; ".join(["a0 = x * 2"] + [f"a{k} = a{k - 1} + a{k - 1}" for k in range(1, 12)])
        out = tmp_path / "tree.txt"
        result = run_cli("graph", program, "-x", "1", "--format", "text", "--out", str(out))
        assert result.exit_code == 0, result.stderr
        branches = [line for line in out.read_text().splitlines() if "── " in line]
        assert len(branches) == 12 + 11 + 2  # a11 ... a0, each stage's second use, x and 2
        assert sum(line.endswith("(drawn above)") for line in branches) == 11


def test_the_readme_diagrams_are_what_bpcli_draws_today():
    script = (REPO / "docs" / "make_diagrams.sh").read_text()
    drawn = [shlex.split(line)[1:] for line in script.splitlines() if line.startswith("draw ")]
    assert len(drawn) == 3
    for name, *arguments in drawn:
        result = run_cli("graph", *arguments, "--format", "dot")
        assert result.exit_code == 0, result.stderr
        assert result.stdout == (REPO / "docs" / f"{name}.dot").read_text(), f"run docs/make_diagrams.sh ({name})"
        assert "</svg>" in (REPO / "docs" / f"{name}.svg").read_text()
    assert "(docs/add-multiply.svg)" in (REPO / "README.md").read_text()
