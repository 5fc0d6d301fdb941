"""README, docs/ and CI tell the same story: CI runs README's own install and test command, and
every example of README.md and docs/**/*.md is what bpcli prints today."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

from bpcli.cli import COMMANDS
from helpers import REPO

TEST_COMMAND = 'pip install ".[test]" && python -m pytest'
# Every command of the CLI's table has its page, and so has each of grad's other modes.
COMMAND_PAGES = [*COMMANDS, "points", "derivative", "symbolic"]


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


def _examples():
    """docs/examples.py, the script that runs the pages' examples and writes their output."""
    import importlib.util
    import sys

    if "docs_examples" not in sys.modules:
        spec = importlib.util.spec_from_file_location("docs_examples", REPO / "docs" / "examples.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclass looks itself up there
        spec.loader.exec_module(module)
    return sys.modules["docs_examples"]


def _page_texts() -> dict[str, str]:
    examples = _examples()
    return {examples.page_name(path): path.read_text() for path in examples.pages()}


@pytest.mark.slow  # runs every example of every page as a subprocess
def test_every_console_example_prints_what_its_page_shows():
    """Each `$ bpcli ...` of README and docs/ runs in a real shell; its output must be the one its page shows."""
    examples = _examples()
    for name, text in _page_texts().items():
        for example in examples.examples(text):
            if example.missing_program:
                message = f"{name}:{example.line} not run: {example.missing_program} is not installed"
                warnings.warn(message, stacklevel=1)
    stale = examples.stale_pages(examples.pages())
    assert not any(stale.values()), "\n\n".join(
        f"{name}:{example.line}: $ {example.command}\nshows:\n" + "\n".join(example.shown)
        + "\nprints:\n" + "\n".join(actual)
        for name, found in stale.items() for example, actual in found
    ) + "\n\n(python docs/examples.py --write updates every page)"


def test_the_check_runs_every_pages_examples_and_reads_the_files_they_show():
    """The check above is only as good as what it runs: every page's examples, with the files each page shows."""
    examples = _examples()
    texts = _page_texts()
    assert {"README.md", "docs/conventions.md", "docs/security.md", "docs/python-api.md",
            "docs/performance.md"} <= set(texts)
    assert set(texts) >= {f"docs/commands/{command}.md" for command in COMMAND_PAGES}
    assert set(texts) == {"README.md"} | {path.relative_to(REPO).as_posix() for path in (REPO / "docs").rglob("*.md")}
    # Counted whether or not jq and Graphviz are installed here: what the pages ask to run.
    runs = {name: [example for example in examples.examples(text) if not example.shown_only]
            for name, text in texts.items()}
    assert sum(map(len, runs.values())) >= 50, {name: len(found) for name, found in runs.items()}
    for command in COMMAND_PAGES:
        assert runs[f"docs/commands/{command}.md"], f"docs/commands/{command}.md runs no example"
    assert {"forward.py", "mine.py", "hw.toml"} <= set(examples.shown_files(texts["docs/commands/check.md"]))
    assert "points.csv" in examples.shown_files(texts["docs/commands/points.md"])


def test_readme_shows_the_two_commands_first_and_one_example_of_every_command():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) < 300
    commands = [example.command for example in _examples().examples(readme)]
    first_commands = [command.split()[1] for command in commands if command.startswith("bpcli ")][:2]
    assert first_commands == ["grad", "check"], commands
    for needle in [*(f"bpcli {command}" for command in COMMANDS), "--order", "--symbolic", "--points"]:
        assert any(needle in command for command in commands), needle


def test_an_error_cannot_pass_for_output_shown_or_elided():
    """A failing command is stale even when a pipe, a redirection or a "..." would hide its error."""
    examples = _examples()
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
    stale = [example.line for example, _ in examples.stale(fake)]
    assert stale == [2, 3, 5]


def test_the_python_examples_of_the_docs_run(monkeypatch):
    """The `>>>` examples of README and docs/ (the Python API) give the output they show; each page runs on its own."""
    import doctest
    import os
    import sys

    # One example runs the bpcli command, as a user would: the one of this interpreter's environment.
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    total = 0
    for name, text in _page_texts().items():
        blocks = [block for block in re.findall(r"```python\n(.*?)```", text, re.S) if ">>>" in block]
        total += len(blocks)
        test = doctest.DocTestParser().get_doctest("\n".join(blocks), {}, name, str(REPO / name), 0)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
        runner.run(test)
        assert runner.summarize(verbose=False).failed == 0, name
    assert total >= 5


LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^\s*```.*?^\s*```", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")


def _relative_links(text: str) -> list[str]:
    """The link targets of a page outside code, other than web addresses."""
    prose = INLINE_CODE.sub("", FENCE.sub("", text))
    return [target for target in LINK.findall(prose) if not re.match(r"[a-z]+:", target)]


def _anchors(text: str) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as hyphens."""
    anchors: set[str] = set()
    for heading in re.findall(r"^#+ (.*)$", FENCE.sub("", text), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchor, number = slug, 0
        while anchor in anchors:
            number += 1
            anchor = f"{slug}-{number}"
        anchors.add(anchor)
    return anchors


def test_every_relative_link_of_readme_and_docs_leads_somewhere():
    checked = 0
    for name, text in _page_texts().items():
        page = REPO / name
        for target in _relative_links(text):
            path, _, fragment = target.partition("#")
            resolved = (page.parent / path).resolve() if path else page
            assert resolved.exists(), f"{name}: {target} does not exist"
            assert resolved.is_relative_to(REPO), f"{name}: {target} leaves the repository"
            if fragment and resolved.suffix == ".md":
                assert fragment in _anchors(resolved.read_text()), f"{name}: {target}: no heading has that anchor"
            checked += 1
    assert checked >= 20


REPOSITORY_PATH = re.compile(r"`((?:bpcli|tests|benchmarks|grammar|docs)/[^`\s]*)`")
PLACEHOLDER = re.compile(r"[A-Z]{2,}")  # a recipe's bpcli/analyses/NAME.py stands for a file yet to be written


def test_every_file_the_pages_name_exists():
    """A page that names `bpcli/engine/gates.py` sends the reader there: the layout moves, the pages follow."""
    named = {(name, path) for name, text in _page_texts().items() for path in REPOSITORY_PATH.findall(text)
             if not PLACEHOLDER.search(path)}
    assert len(named) >= 10
    missing = sorted(f"{name}: {path}" for name, path in named if not (REPO / path).exists())
    assert not missing, missing


def test_the_link_check_finds_a_broken_link():
    text = "See [grad](docs/commands/grad.md), ![a](docs/missing.svg), `[not](a-link.md)` and [web](https://x.org).\n"
    assert _relative_links(text) == ["docs/commands/grad.md", "docs/missing.svg"]
    assert not (REPO / "docs" / "missing.svg").exists()
    assert _anchors("# `bpcli grad`: values, gradients\n## Many points\n## Many points\n") == {
        "bpcli-grad-values-gradients", "many-points", "many-points-1"}


def test_the_example_script_checks_every_page_it_is_given(tmp_path: Path):
    """`python docs/examples.py --check PAGE` fails on a page whose example is stale, and --write fixes it."""
    import subprocess
    import sys

    page = tmp_path / "page.md"
    page.write_text('Text.\n\n```console\n$ bpcli grad "(x+y)*z" --symbolic\ndf/dx = y\n```\n')
    script = [sys.executable, str(REPO / "docs" / "examples.py")]
    check = subprocess.run([*script, "--check", str(page)], capture_output=True, text=True)
    assert check.returncode == 1, check.stderr
    assert f'{page}:4: $ bpcli grad "(x+y)*z" --symbolic' in check.stderr
    write = subprocess.run([*script, "--write", str(page)], capture_output=True, text=True)
    assert write.returncode == 0, write.stderr
    assert page.read_text() == ('Text.\n\n```console\n$ bpcli grad "(x+y)*z" --symbolic\n'
                                'df/dx = z\ndf/dy = z\ndf/dz = x + y\n```\n')


def test_the_example_script_will_not_write_another_checkouts_output(monkeypatch, tmp_path: Path):
    """Run by an interpreter whose bpcli is installed from elsewhere, --write would fill the pages with that output."""
    import importlib.machinery
    import importlib.util

    examples = _examples()
    elsewhere = importlib.machinery.ModuleSpec("bpcli", None, origin=str(tmp_path / "bpcli" / "__init__.py"))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: elsewhere)
    assert f"runs the bpcli of {tmp_path / 'bpcli'}, not this checkout's" in examples.foreign_bpcli()
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert examples.foreign_bpcli().endswith("has no bpcli installed")
