"""A real Jupyter kernel runs a small notebook: %load_ext bpcli, the magics, a result's HTML.

Needs the notebook extra (nbclient, nbformat, ipykernel); skipped with that
reason where they are absent.
"""

from __future__ import annotations

import pytest

nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed (pip install '.[notebook]')")
nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed (pip install '.[notebook]')")
pytest.importorskip("ipykernel", reason="ipykernel is not installed (pip install '.[notebook]')")
pytestmark = pytest.mark.slow  # a kernel starts: seconds

CELLS = [
    "%load_ext bpcli",
    "x = -2\nfwd = 'q = x + y; f = q * z'",
    '%bpcli grad "(x+y)*z" -x $x -y 5 -z -4',
    "%%bpcli check --forward fwd -y 5 -z -4\ndq = z\ndz = q\ndx = -dq\ndy = dq",
    "import bpcli\nbpcli.hessian('x * x * y', x=1, y=2)",
    '%bpcli grad "x+" -x 1',
]


@pytest.fixture(scope="module")
def executed():
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in CELLS])
    client = nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True)
    client.execute()
    return notebook.cells


def html_of(cell) -> str:
    (shown,) = [o for o in cell.outputs if o.output_type in ("execute_result", "display_data")]
    assert "text/markdown" in shown.data and "┃" in shown.data["text/plain"]  # the terminal's table as text
    return shown.data["text/html"]


def test_the_line_magic_shows_the_stage_table_and_the_circuit(executed):
    html = html_of(executed[2])
    assert "<table>" in html and "<svg" in html
    assert "<td>q</td>" not in html  # a bare expression: generated names
    for number in (">-12<", ">-4<", ">3<"):
        assert number in html


def test_the_cell_magic_marks_the_wrong_line(executed):
    html = html_of(executed[3])
    wrong = [row for row in html.split("<tr") if 'class="wrong"' in row]
    assert wrong and "dx = -dq" in wrong[0]
    assert "A flipped sign" in html


def test_a_result_shows_itself(executed):
    html = html_of(executed[4])
    assert "<table>" in html and ">4<" in html and ">2<" in html


def test_bad_input_is_a_message_not_a_traceback(executed):
    outputs = executed[5].outputs
    assert [o.output_type for o in outputs] == ["stream"]
    assert outputs[0].name == "stderr" and outputs[0].text.startswith("error: parse error")
