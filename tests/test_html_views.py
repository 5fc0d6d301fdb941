"""HTML for pages and notebooks: valid, self-contained, escaped, and the terminal's numbers.

The step-through page (bpcli graph --format html), the check report (bpcli
check --html) and every result's _repr_html_ are parsed with html5lib in
strict mode (any parse error fails); what they show is compared with the
terminal's tables and with the worked examples' numbers.
"""

from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser

import pytest

import bpcli
from bpcli.views import html as html_view
from bpcli.views import layout, page
from bpcli.views.diagram import circuit
from helpers import run_cli

html5lib = pytest.importorskip("html5lib", reason="html5lib (the test extra) checks that the HTML is valid")

WORKED = [
    ("(x+y)*z", {"x": -2, "y": 5, "z": -4}),
    ("q = x + y; f = q * z", {"x": -2, "y": 5, "z": -4}),
    ("sigmoid(w0*x0 + w1*x1 + w2)", {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3}),
    ("sigy = sigmoid(y)\nnum = x + sigy\nsigx = sigmoid(x)\nxpy = x + y\nxpysqr = xpy**2\nden = sigx + xpysqr\n"
     "invden = 1 / den\nf = num * invden", {"x": 3, "y": -4}),
    ("max(x, y)", {"x": 4, "y": 2}),
    ("relu(x)", {"x": [1, -2, 3, -1], "upstream": [4, -1, 5, 9]}),
    ("f = x*y + x", {"x": 3, "y": 2}),
]
HOSTILE = "</script><script>alert(1)</script><img src=x onerror=alert(2)>&amp;\"'"


def strict_document(text: str):
    return html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(text)


def strict_fragment(text: str):
    return html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parseFragment(text)


class _Tags(HTMLParser):
    """Every start tag and attribute, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def tags(text: str) -> list[tuple[str, dict]]:
    parser = _Tags()
    parser.feed(text)
    return parser.tags


def assert_self_contained(text: str) -> None:
    """No script but ours, nothing loaded from anywhere, no event handler attributes."""
    found = tags(text)
    assert [t for t, _ in found].count("script") <= 1
    assert not [t for t, _ in found if t in ("img", "iframe", "link", "object", "embed", "image", "use")]
    for tag, attributes in found:
        assert not any(name.startswith("on") for name in attributes), (tag, attributes)
        assert "src" not in attributes and "href" not in attributes, (tag, attributes)
    assert re.findall(r"https?://[^\s\"'<>]+", text) == ["http://www.w3.org/2000/svg"] * text.count("<svg")


def local(element) -> str:
    """A tag without its namespace: html5lib puts SVG's elements in the SVG namespace."""
    return element.tag.split("}")[-1]


def text_of(element) -> str:
    return "".join(element.itertext())


def by_attribute(tree, name: str) -> list:
    return [element for element in tree.iter() if name in element.attrib]


# ---- the step-through page -------------------------------------------------------------


@pytest.mark.parametrize(("expression", "values"), WORKED, ids=[e.split("\n")[0][:24] for e, _ in WORKED])
def test_page_of_every_worked_example_is_valid_and_self_contained(expression, values):
    result = bpcli.grad(expression, **values)
    text = page.page(result)
    tree = strict_document(text)
    assert_self_contained(text)
    gates = [e for e in tree.iter() if e.attrib.get("class", "").startswith("node gate")]
    assert len(gates) == len(result.stages)
    steps = int(tree.find("body").attrib["data-steps"])
    assert steps == 2 * len(result.stages) + 1
    notes = [int(e.attrib["data-step"]) for e in tree.iter() if e.attrib.get("class") == "note"]
    assert notes == list(range(steps + 1))  # a note for every step, in order


def test_page_shows_each_value_and_gradient_from_its_step():
    """(x+y)*z: inputs at 0, q at 1, f at 2; the seed at 3; back through f at 4 and q at 5."""
    tree = strict_document(page.page(bpcli.grad("q = x + y; f = q * z", x=-2, y=5, z=-4)))
    shown = sorted((int(e.attrib["data-from"]), e.attrib["class"], text_of(e)) for e in tree.iter()
                   if local(e) == "text" and "data-from" in e.attrib)
    assert shown == [
        (0, "value", "-2"), (0, "value", "-4"), (0, "value", "5"),
        (1, "value", "3"),
        (2, "value", "-12"),
        (3, "grad", "1"),
        (4, "grad", "-4"), (4, "grad", "3"),
        (5, "grad", "-4"), (5, "grad", "-4"),
    ]
    lit = {text_of([t for t in g if t.attrib.get("class") == "caption"][0]):
           (g.attrib["data-forward"], g.attrib["data-backward"])
           for g in tree.iter() if "data-forward" in g.attrib and local(g) == "g"}
    assert lit == {"q = x + y": ("1", "5"), "f = q * z": ("2", "4")}
    rows = [r for r in tree.iter("tr") if "data-forward" in r.attrib]
    assert [(text_of(r[1]), r.attrib["data-forward"], r.attrib["data-backward"]) for r in rows] == [
        ("q", "1", "5"), ("f", "2", "4")]


def _notes(text: str) -> dict[int, str]:
    tree = strict_document(text)
    return {int(e.attrib["data-step"]): " | ".join(text_of(p) for p in e) for e in tree.iter()
            if e.attrib.get("class") == "note"}


def test_page_notes_give_the_local_gradient_formula_and_numbers():
    notes = _notes(page.page(bpcli.grad("q = x + y; f = q * z", x=-2, y=5, z=-4)))
    assert "q = x + y | with x = -2, y = 5 | q = 3" in notes[1]
    assert "It starts at the output: df = 1" in notes[3]
    assert "upstream df = 1 | ∂f/∂q = z = -4 | q ← local × upstream = -4 × 1 = -4" in notes[4]
    assert "∂f/∂z = q = 3 | z ← local × upstream = 3 × 1 = 3" in notes[4]
    assert "upstream dq = -4 | ∂q/∂x = 1 | x ← local × upstream = 1 × -4 = -4" in notes[5]
    assert "Done: dx = -4, dy = -4, dz = 3" in notes[5]


def test_page_fork_shows_the_contributions_adding_up():
    """x is used by x*y and by + x: dx += 1 (back through +), then dx += y = 2, dx = 3."""
    notes = _notes(page.page(bpcli.grad("f = x*y + x", x=3, y=2)))
    assert "dx += 1  (fork: x is used 2 times, contribution 1 of 2) | dx so far: 1" in notes[4]
    assert "dx += 2  (fork: x is used 2 times, contribution 2 of 2) | dx = 1 (via f) + 2 (via t1) = 3" in notes[5]
    tree = strict_document(page.page(bpcli.grad("f = x*y + x", x=3, y=2)))
    total = [e for e in tree.iter() if local(e) == "text" and text_of(e).startswith("dx = ")]
    assert [(text_of(e), e.attrib["data-from"]) for e in total] == [("dx = 3 (sum of 2)", "5")]


def test_page_x_times_x_enters_the_gate_twice():
    result = bpcli.grad("x * x", x=3)
    notes = _notes(page.page(result))
    assert notes[3].count("dx += 3") == 2 and "dx = 3 (via f) + 3 (via f) = 6" in notes[3]


def test_page_escapes_comments_and_names_from_the_input():
    source = f"q = x + y  # {HOSTILE}\nf = q * z"
    text = page.page(bpcli.grad(source, x=-2, y=5, z=-4))
    tree = strict_document(text)
    assert_self_contained(text)
    caption = text_of(tree.find("body/table/caption"))  # the table's title, cut at 80 characters
    assert "# </script><script>alert(1)</script><img src=x onerror=alert(2)>" in caption
    assert [t for t, _ in tags(text)].count("script") == 1


def test_page_without_gates_still_steps_to_the_seed_and_shows_the_gradients():
    tree = strict_document(page.page(bpcli.grad("x", x=2)))
    assert tree.find("body").attrib["data-steps"] == "1"
    assert "No gates" in text_of(tree.find("body"))
    (final,) = [e for e in tree.iter("div") if e.attrib.get("data-from") == "1"]
    assert [text_of(td) for td in final.iter("td")] == ["x", "2", "1"]


def test_parallel_wires_of_x_times_x_are_a_label_pair_apart():
    tree = strict_document(page.page(bpcli.grad("x * x", x=3)))
    ys = sorted(float(e.attrib["y"]) for e in tree.iter() if local(e) == "text" and e.attrib.get("class") == "value"
                and text_of(e) == "3")
    assert len(ys) == 2 and ys[1] - ys[0] >= page.WIRE_SPREAD - 1  # the two 3s do not overlap


def test_a_circuit_over_the_limit_is_a_table_with_a_message():
    expression = " + ".join(f"x*{i}" for i in range(1, 201))
    result = bpcli.grad(expression, x=1)
    text = page.page(result)
    tree = strict_document(text)
    assert "<svg" not in text and "<script" not in text
    assert f"the page draws at most {page.MAX_DRAWN_NODES}" in text
    rows = list(tree.iter("tr"))
    assert 2 <= len(rows) <= 202  # the terminal's elided table, not 399 rows
    assert any("more stages" in text_of(row) for row in rows)


def test_graph_format_html_writes_the_page_whole(tmp_path):
    target = tmp_path / "circuit.html"
    done = run_cli("graph", "(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4", "--format", "html", "-o", str(target))
    assert done.exit_code == 0, done.stderr
    printed = run_cli("graph", "(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4", "--format", "html")
    assert target.read_text(encoding="utf-8") == printed.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["circuit.html"]  # no temporary left behind


def test_graph_format_html_needs_values_and_a_writable_place(tmp_path):
    unbound = run_cli("graph", "x*y", "--format", "html")
    assert unbound.exit_code == 2 and "bind every input" in unbound.stderr
    nowhere = run_cli("graph", "x*y", "-x", "1", "-y", "2", "--format", "html", "-o", str(tmp_path / "no" / "c.html"))
    assert nowhere.exit_code == 2 and "cannot write" in nowhere.stderr and "Traceback" not in nowhere.stderr


# ---- the layout ------------------------------------------------------------------------


def test_layout_puts_inputs_left_output_right_and_wires_forward():
    c = circuit(bpcli.grad(WORKED[3][0], **WORKED[3][1]))
    edges = [(w.source, w.target) for w in c.wires]
    placed = layout.layered([b.id for b in c.boxes], {b.id: 60.0 for b in c.boxes}, edges)
    xs = {box.id: placed.centres[box.id][0] for box in c.boxes}
    inputs = [b.id for b in c.boxes if b.kind in ("input", "const")]
    assert {xs[i] for i in inputs} == {min(xs.values())}
    assert xs["n_out"] == max(xs.values())
    for route in placed.routes:
        assert all(a[0] < b[0] for a, b in zip(route, route[1:]))  # every wire goes left to right
    spots = list(placed.centres.values())
    assert len(set(spots)) == len(spots)  # no two boxes in one place
    assert all(0 < x < placed.width and 0 < y < placed.height for x, y in spots)


def test_layout_runs_a_chain_straight_and_a_gate_level_with_its_inputs():
    """The neuron: the last + gate, the sigmoid and the output on one line; each * between its two inputs."""
    c = circuit(bpcli.grad(WORKED[2][0], **WORKED[2][1]))
    edges = [(w.source, w.target) for w in c.wires]
    placed = layout.layered([b.id for b in c.boxes], {b.id: 60.0 for b in c.boxes}, edges)
    y = {b.caption or b.symbol: placed.centres[b.id][1] for b in c.boxes}
    assert y["t4 = t3 + w2"] == y["f = sigmoid(t4)"] == y["f"]
    assert y["t1 = w0 * x0"] == (y["w0"] + y["x0"]) / 2 and y["t2 = w1 * x1"] == (y["w1"] + y["x1"]) / 2
    assert min(placed.centres[b.id][1] for b in c.boxes) == 24.0 + layout.ROW_GAP / 2  # the top margin


def test_layout_barycentre_untangles_crossed_inputs():
    """a feeds the lower gate and b the upper one in the order given; sweeping uncrosses them."""
    nodes = ["a", "b", "g1", "g2", "out1", "out2"]
    edges = [("a", "g2"), ("b", "g1"), ("g1", "out1"), ("g2", "out2")]
    placed = layout.layered(nodes, dict.fromkeys(nodes, 40.0), edges)
    y = {n: placed.centres[n][1] for n in nodes}
    assert (y["a"] < y["b"]) == (y["g2"] < y["g1"])  # no crossing


# ---- the check report ------------------------------------------------------------------


def test_check_html_report_marks_the_wrong_line_and_shows_the_diagnosis(tmp_path):
    backward = tmp_path / f"mine {HOSTILE.replace('/', '')}.py"
    backward.write_text("dq = z\ndz = q\ndx = -dq  # the comment\ndy = dq\n")
    report = tmp_path / "report.html"
    done = run_cli("check", "q = x + y; f = q * z", "-x", "-2", "-y", "5", "-z", "-4",
                   "--backward", str(backward), "--html", str(report))
    assert done.exit_code == 1
    text = report.read_text(encoding="utf-8")
    tree = strict_document(text)
    assert_self_contained(text)
    assert [t for t, _ in tags(text)].count("script") == 0
    wrong = [row for row in tree.iter("tr") if row.attrib.get("class") == "wrong"]
    assert [[text_of(cell) for cell in row][:4] for row in wrong][0] == ["3", "dx = -dq", "4", "-4"]
    assert wrong[0][2].attrib["class"] == "right wrong-cell"  # the student's number, marked
    assert "A flipped sign" in text_of(tree.find("body"))
    assert HOSTILE.replace("/", "") in text_of(tree.find("body"))  # the file's name, as text


# ---- notebooks: every result's HTML is its terminal table -------------------------------------


def _results():
    return {
        "grad": bpcli.grad("q = x + y; f = q * z", x=-2, y=5, z=-4),
        "tensor grad": bpcli.grad("relu(x)", x=[1, -2, 3, -1], upstream=[4, -1, 5, 9]),
        "check": bpcli.check("q = x + y; f = q * z", x=-2, y=5, z=-4, expect={"dx": -4, "dz": -4}),
        "gradcheck": bpcli.gradcheck("x * y", x=3, y=2),
        "hessian": bpcli.hessian("x * x * y", x=1, y=2),
        "jacobian": bpcli.jacobian("x * y", x=[1, 2], y=3),
        "derivative": bpcli.derivative("x ** 3", x=2, order=2),
        "symbolic": bpcli.symbolic("x * y"),
        "gates": bpcli.gate_reference(["add", "mul"]),
        "points": bpcli.grad_points("x * y", {"x": [1, 2], "y": [3, 4]}),
    }


@pytest.mark.parametrize("kind", list(_results()))
def test_repr_html_is_valid_and_shows_the_terminal_tables_cells(kind):
    result = _results()[kind]
    shown = result._repr_html_()
    fragment = strict_fragment(shown)
    assert_self_contained(shown)
    terminal = result.to_csv() if kind == "points" else html_view.plain_text(result, width=400)
    cells = [cell for cell in fragment.iter() if cell.tag in ("td", "th")]
    assert cells or kind == "symbolic"
    for cell in cells:
        for line in text_of(cell).splitlines():
            assert line.strip() in terminal, (kind, line)
    markdown = result._repr_markdown_()
    assert markdown.strip() and "<script" not in markdown


def test_grad_html_has_the_table_columns_the_numbers_and_the_circuit():
    fragment = strict_fragment(bpcli.grad("q = x + y; f = q * z", x=-2, y=5, z=-4)._repr_html_())
    first = fragment.find(".//table")
    assert [text_of(th) for th in first.iter("th")] == [
        "#", "stage", "gate", "expression", "value", "local gradient", "upstream", "downstream"]
    rows = [[text_of(td) for td in row] for row in first.iter("tr")][1:]
    assert rows[0][:5] == ["1", "q", "add", "x + y", "3"] and rows[0][6] == "-4"
    assert rows[1][:5] == ["2", "f", "mul", "q * z", "-12"] and rows[1][7] == "q ← -4\nz ← 3"
    (svg,) = [e for e in fragment.iter() if local(e) == "svg"]
    assert {"-12", "3", "1"} <= {text_of(t) for t in svg.iter() if local(t) == "text"}
    assert not by_attribute(svg, "data-from")  # a notebook shows every number at once


def test_notebook_html_shows_warnings():
    shown = bpcli.grad("max(x, y)", x=4, y=4)._repr_html_()
    fragment = strict_fragment(shown)
    warnings = [p for p in fragment.iter("p") if "warning" in p.attrib.get("class", "")]
    assert warnings and "tie" in text_of(warnings[0]).lower()


def test_notebook_html_and_markdown_escape_comments():
    result = bpcli.grad(f"q = x + y  # {HOSTILE}\nf = q * z", x=-2, y=5, z=-4)
    shown = result._repr_html_()
    assert_self_contained(shown)
    assert [t for t, _ in tags(shown)].count("script") == 0
    assert "# </script><script>alert(1)</script><img src=x onerror=alert(2)>" in text_of(strict_fragment(shown))
    markdown = result._repr_markdown_()
    assert "\\<script\\>alert" in markdown  # Markdown shows a backslashed character as itself
    assert set(re.findall(r"(?<!\\)<[^>]*>?", markdown)) <= {"<br>"}  # no tag but our own line breaks


@pytest.mark.parametrize("text", [
    "- not a list\n1. nor this\n# nor a heading\n> nor a quote\n===\n+ x", "x + y = -10 (ok). 0.39 [a](b) *em* `c` <i>",
])
def test_markdown_text_reads_as_written_and_makes_no_markup(text):
    """Only what would make markup is escaped: a sheet stays readable as plain text (-10, not \\-10)."""
    from markdown_it import MarkdownIt  # rich's own Markdown parser, so always installed beside bpcli

    markdown = html_view.blocks_markdown([html_view.TextBlock(html_view.Cell(text))])
    rendered = MarkdownIt("commonmark").render(markdown)
    assert re.findall(r"<(\w+)", rendered) == ["p"] + ["br"] * text.count("\n")  # one paragraph, our line breaks
    assert text_of(strict_fragment(rendered)).replace("\n", "") == text.replace("\n", "")
    if "-10" in text:
        assert "= -10 (ok). 0.39" in markdown


@pytest.mark.parametrize("kind", ["grad", "check", "points"])
def test_plain_text_is_the_terminal_table(kind):
    """IPython's text/plain (its terminal, a notebook's fallback): the tables, not <... object at 0x...>."""
    result = _results()[kind]
    (plain,) = result._repr_mimebundle_().values()
    if kind == "points":
        assert plain == result.to_csv()
    else:
        assert plain == html_view.plain_text(result)
        assert "┃ " in plain and "object at" not in plain


def test_notebook_display_never_imports_ipython():
    code = ("import sys, bpcli; r = bpcli.grad('x*y', x=1, y=2); r._repr_html_(); r._repr_markdown_(); "
            "r._repr_mimebundle_(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('IPython', 'ipykernel')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_circuit_whose_wires_bend_too_often_is_a_table_too():
    """A long chain with an input used at every step: few nodes, but wires crossing quadratically many layers."""
    expression = "; ".join(["t0 = x", *(f"t{i} = t{i - 1} * x + y" for i in range(1, 190))])
    result = bpcli.grad(expression, x=0.5, y=0.1)
    c = circuit(result)
    assert len(c.boxes) <= page.MAX_DRAWN_NODES
    assert layout.bends([b.id for b in c.boxes], [(w.source, w.target) for w in c.wires]) > page.MAX_BENDS
    text = page.page(result)
    assert "<svg" not in text and "bend at most" in text
    assert "<svg" not in result._repr_html_()


def test_control_characters_from_the_input_are_spelt_out():
    """HTML forbids them (a strict parser stops at one): a comment's escape codes show as text, \\x1b."""
    result = bpcli.grad("q = x + y  # \x1b[31mred\x07\x00\x7f\x85\ud800\n f = q * z", x=1, y=2, z=3)
    for shown in (page.page(result), result._repr_html_()):
        parse = strict_document if shown.startswith("<!DOCTYPE") else strict_fragment
        text = text_of(parse(shown))
        assert "\\x1b[31mred" in text and "\x1b" not in text
    assert "\\\\x1b" in result._repr_markdown_() and "\x1b" not in result._repr_markdown_()


def test_check_html_report_of_an_answers_file(tmp_path):
    answers = tmp_path / "answers.toml"
    answers.write_text('[[problem]]\nexpr = "q = x + y; f = q * z"\ninputs = {x = -2, y = 5, z = -4}\n'
                       'expect = {dx = -4, dz = -4}\n\n'
                       '[[problem]]\nname = "<script>alert(1)</script>"\nexpr = "x * y"\ninputs = {x = 3, y = 2}\n'
                       'expect = {dx = 2}\n')
    report = tmp_path / "report.html"
    done = run_cli("check", "--answers", str(answers), "--html", str(report))
    assert done.exit_code == 1
    tree = strict_document(report.read_text(encoding="utf-8"))
    rows = [[text_of(td) for td in row] for row in tree.iter("tr") if row.attrib.get("class") == "wrong"]
    assert rows == [["1", "q = x + y; f = q * z", "✗", "1 of 2"]]
    assert "multiply gate" in text_of(tree.find("body"))  # dz = -4: the inputs of q * z were not swapped
    text = report.read_text(encoding="utf-8")
    assert_self_contained(text)
    assert [t for t, _ in tags(text)].count("script") == 0
    assert "<script>alert(1)</script>" in text_of(tree.find("body"))  # the problem's name, as text
