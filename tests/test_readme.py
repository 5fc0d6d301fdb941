"""README and CI tell the same story: CI runs README's own install and test command."""

from __future__ import annotations

import warnings

import pytest

from helpers import REPO

TEST_COMMAND = 'pip install ".[test]" && python -m pytest'


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    assert f"$ {TEST_COMMAND}" in readme
    assert TEST_COMMAND in ci.splitlines()


def test_ci_installs_the_oracle_extra_before_the_tests():
    """The differential test against PyTorch is skipped without torch: CI installs the extra that brings it."""
    import tomllib

    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(requirement.startswith("torch") for requirement in extras["oracle"])
    lines = (REPO / ".ci" / "run").read_text().splitlines()
    assert lines.index('pip install --quiet ".[oracle]"') < lines.index(TEST_COMMAND)


def test_readme_install_command_runs_the_main_example():
    readme = (REPO / "README.md").read_text()
    assert '$ pip install . && bpcli grad "(x+y)*z" -x -2 -y 5 -z -4' in readme


def _readme_examples():
    import importlib.util
    import sys

    if "readme_examples" not in sys.modules:
        spec = importlib.util.spec_from_file_location("readme_examples", REPO / "docs" / "readme_examples.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclass looks itself up there
        spec.loader.exec_module(module)
    return sys.modules["readme_examples"]


@pytest.mark.slow  # runs every example as a subprocess
def test_every_console_example_prints_what_readme_shows():
    """Each `$ bpcli ...` of README runs in a real shell; its output must be the one README shows."""
    readme_examples = _readme_examples()
    text = (REPO / "README.md").read_text()
    for example in readme_examples.examples(text):
        if example.missing_program:
            warnings.warn(f"README.md:{example.line} not run: {example.missing_program} is not installed", stacklevel=1)
    stale = readme_examples.stale(text)
    assert not stale, "\n\n".join(
        f"README.md:{example.line}: $ {example.command}\nshows:\n" + "\n".join(example.shown)
        + "\nprints:\n" + "\n".join(actual)
        for example, actual in stale
    ) + "\n\n(python docs/readme_examples.py --write updates README)"


def test_the_check_runs_readmes_examples_and_reads_the_files_it_shows():
    """The check above is only as good as what it runs: README's examples, with the files README shows."""
    readme_examples = _readme_examples()
    text = (REPO / "README.md").read_text()
    runs = [example for example in readme_examples.examples(text) if example.runs]
    assert len(runs) >= 30, len(runs)
    assert {"forward.py", "mine.py", "hw.toml"} <= set(readme_examples.shown_files(text))


def test_an_error_cannot_pass_for_output_shown_or_elided():
    """A failing command is stale even when a pipe, a redirection or a "..." would hide its error."""
    readme_examples = _readme_examples()
    fake = "\n".join([
        "```console",
        '$ bpcli grad "(x+)*z" -x 1 -z 2 --json | jq .value',
        '$ bpcli grad "(x+)*z" -x 1 -z 2 > /dev/null; echo done',
        "done",
        '$ bpcli grad "(x+)*z" -x 1 -z 2  # a typo',
        "...",
        '$ bpcli grad "(x+y)*z" -x -2 -y 5 -z -4 --json | jq .gradients.x',
        "-4",
        "```",
    ])
    stale = [example.line for example, _ in readme_examples.stale(fake)]
    assert stale == [2, 3, 5]


def test_the_python_examples_of_readme_run(monkeypatch):
    """README's `>>>` examples (the Python API) give the output README shows."""
    import doctest
    import os
    import re
    import sys

    # One example runs the bpcli command, as a user would: the one of this interpreter's environment.
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    text = (REPO / "README.md").read_text()
    blocks = [block for block in re.findall(r"```python\n(.*?)```", text, re.S) if ">>>" in block]
    assert len(blocks) >= 3
    test = doctest.DocTestParser().get_doctest("\n".join(blocks), {}, "README.md", str(REPO / "README.md"), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
