"""README and CI tell the same story: CI runs README's own install and test command."""

from __future__ import annotations

from helpers import REPO

TEST_COMMAND = 'pip install ".[test]" && python -m pytest'


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    assert f"$ {TEST_COMMAND}" in readme
    assert TEST_COMMAND in ci.splitlines()


def test_readme_install_command_runs_the_main_example():
    readme = (REPO / "README.md").read_text()
    assert '$ pip install . && bpcli grad "(x+y)*z" -x -2 -y 5 -z -4' in readme
