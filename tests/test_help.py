"""--help ends with examples that run, --version, and typer's shell completion."""

from __future__ import annotations

import shlex

import pytest

from bpcli import __version__
from bpcli.cli import app
from helpers import run_cli, run_process
from typer.main import get_command

COMMANDS = sorted(get_command(app).commands)


def examples(help_text: str) -> list[str]:
    """The commands of the Examples: block the help ends with."""
    lines = help_text.rstrip().splitlines()
    start = max(i for i, line in enumerate(lines) if line.strip() == "Examples:")
    return [line.strip() for line in lines[start + 1:]]


def test_every_command_is_here():
    assert {"grad", "jacobian", "hessian", "check", "gradcheck", "grade", "graph", "code", "gates", "schema"} <= set(COMMANDS)


@pytest.mark.parametrize("command", [[], *([name] for name in COMMANDS)], ids=["bpcli", *COMMANDS])
def test_help_ends_with_two_or_three_examples_that_run(command, tmp_path, monkeypatch):
    result = run_cli(*command, "--help")
    assert result.exit_code == 0, result.stderr
    assert "\\b" not in result.stdout and "\b" not in result.stdout  # click's paragraph mark, never shown
    shown = examples(result.stdout)
    assert 2 <= len(shown) <= 3, shown
    monkeypatch.chdir(tmp_path)  # whatever an example writes stays here
    for line in shown:
        words = shlex.split(line)
        assert words[0] == "bpcli" and (not command or words[1] == command[0]), line
        ran = run_cli(*words[1:])
        assert ran.exit_code == 0, (line, ran.stderr)
        assert ran.stdout.strip(), line


def test_an_example_runs_in_a_real_process(tmp_path):
    (line,) = [line for line in examples(run_cli("grad", "--help").stdout) if "--json" in line]
    process = run_process(*shlex.split(line)[1:])
    assert process.returncode == 0, process.stderr
    assert '"gradients": {"x": -4.0, "y": -4.0, "z": 3.0}' in process.stdout


def test_version():
    process = run_process("--version")
    assert process.returncode == 0, process.stderr
    assert process.stdout == f"bpcli {__version__}\n"


class TestShellCompletion:
    @pytest.mark.parametrize("shell, marker", [
        ("bash", "complete -o default -F _bpcli_completion bpcli"),
        ("zsh", "#compdef bpcli"),
        ("fish", "complete --command bpcli"),
    ])
    def test_show_completion_for_a_named_shell(self, shell, marker):
        process = run_process("--show-completion", shell)
        assert process.returncode == 0, process.stderr
        assert marker in process.stdout
        assert "_BPCLI_COMPLETE=complete_" + shell in process.stdout

    def test_a_shell_without_a_script_is_bad_input(self):
        process = run_process("--show-completion", "tcsh")
        assert process.returncode == 2
        assert "'tcsh' is not one of 'bash', 'zsh'" in process.stderr and "Traceback" not in process.stderr

    def test_the_script_completes_commands_and_options(self):
        """What the bash script runs on a Tab: bpcli answers with the commands that fit, despite its quick path."""
        commands = run_process(env={"_BPCLI_COMPLETE": "complete_bash", "COMP_WORDS": "bpcli gra", "COMP_CWORD": "1"})
        assert commands.returncode == 0, commands.stderr
        assert commands.stdout.split() == ["grad", "gradcheck", "grade", "graph"]
        options = run_process(env={"_BPCLI_COMPLETE": "complete_bash", "COMP_WORDS": "bpcli grad x --ord",
                                   "COMP_CWORD": "3"})
        assert options.stdout.split() == ["--order"]
