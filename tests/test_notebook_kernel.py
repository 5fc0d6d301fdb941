"""A real Jupyter kernel runs docs/notebook-example.ipynb: %load_ext bpcli, the magics, a result's HTML.

Needs the notebook extra (nbclient, nbformat, ipykernel); skipped with that
reason where they are absent.
"""

from __future__ import annotations

import pytest

from helpers import REPO

nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed (pip install '.[notebook]')")
nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed (pip install '.[notebook]')")
pytest.importorskip("ipykernel", reason="ipykernel is not installed (pip install '.[notebook]')")
pytestmark = pytest.mark.slow  # a kernel starts: seconds

EXAMPLE = REPO / "docs" / "notebook-example.ipynb"  # the notebook docs/notebook.md points to


@pytest.fixture(scope="module")
def executed():
    notebook = nbformat.read(EXAMPLE, as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells)  # committed without outputs
    client = nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True)
    client.execute()
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


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
