"""README's examples, run for real: its console blocks are bpcli's actual output.

    python docs/readme_examples.py --write   # run every example and write its output into README.md
    python docs/readme_examples.py --check   # exit 1 if README shows anything bpcli no longer prints

A console block holds commands (lines starting with "$ ") each followed by its
output. Every command runs in bash, in a scratch folder holding the files the
examples use (shown in README), with the bpcli of the running interpreter's
environment; standard output and standard error appear together, as in a
terminal. Its exit status (bash with pipefail) must be the one README's output
implies: 2 where it shows "bpcli: error:", 0 or 1 for bpcli check and
gradcheck, 0 otherwise. A line "..." in README stands for any number of output lines (an
example may show only the part that matters); --write keeps such blocks as
they are and only checks them. Commands that install or test the project are
shown, not run (after `pip install . && ` the rest of the line runs), and so are commands that need a program this machine lacks
(jq, Graphviz's dot): they are reported as skipped.

A file an example reads is shown in README, as a fenced block right after a
line `<!-- file: NAME -->` (the one binary file, xhat.npy, is made here).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
ELLIPSIS = "..."
FAILED = "[exit status"  # the last line of a command that failed where README shows no failure
INSTALL = re.compile(r"^pip install \S+( && |$)")  # README's install step: the rest of the line runs
NOT_RUN = re.compile(r"^(pip install|python -m pytest)(\s|$)")
FILE_MARKER = re.compile(r"^<!-- file: (\S+) -->$")
# Programs outside bpcli that some examples need, and how to tell that an example needs one.
PROGRAMS = {"jq": re.compile(r"\|\s*jq\b"), "dot": re.compile(r"--format (svg|png)\b")}


@dataclass
class Example:
    command: str
    shown: list[str]  # the output README shows
    line: int  # where the command is in README (1-based)

    @property
    def shown_only(self) -> bool:
        rest = INSTALL.sub("", self.command)
        return not rest or bool(NOT_RUN.match(rest))

    @property
    def missing_program(self) -> str | None:
        return next((name for name, needs in PROGRAMS.items() if needs.search(self.command) and not shutil.which(name)),
                    None)

    @property
    def runs(self) -> bool:
        return not self.shown_only and self.missing_program is None

    @property
    def elided(self) -> bool:
        return ELLIPSIS in self.shown


def examples(text: str) -> list[Example]:
    """Every command of every console block, with the output shown under it."""
    found: list[Example] = []
    fence: str | None = None  # the indentation of the open console block, if any
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if fence is None:
            if stripped == "```console":
                fence = line[: len(line) - len(line.lstrip(" "))]
            continue
        if stripped == "```":
            fence = None
            continue
        content = line[len(fence):] if line.startswith(fence) else line.lstrip(" ")
        if content.startswith("$ "):
            found.append(Example(content[2:], [], number))
        elif found and found[-1].line < number:
            found[-1].shown.append(content.rstrip())
    return found


def shown_files(text: str) -> dict[str, str]:
    """The files README shows: each fenced block right after a `<!-- file: NAME -->` line."""
    files: dict[str, str] = {}
    lines = text.splitlines()
    for number, line in enumerate(lines):
        marker = FILE_MARKER.match(line.strip())
        if marker is None:
            continue
        opening = number + 1
        if opening >= len(lines) or not lines[opening].startswith("```"):
            raise ValueError(f"README.md:{number + 1}: {line.strip()} is not followed by a fenced block")
        closing = lines.index("```", opening + 1)
        files[marker.group(1)] = "\n".join(lines[opening + 1:closing]) + "\n"
    return files


def run(example: Example, folder: Path) -> list[str]:
    """What the command prints, as README shows it: trailing spaces dropped.

    A command that fails where README shows no failure gets a last line
    saying so, which README does not show: an error hidden by a pipe, a
    redirection or a "..." cannot pass for the output.
    """
    command = INSTALL.sub("", example.command)
    env = {**os.environ, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1", "TERM": "dumb",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("COLUMNS", None)
    process = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=folder, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    lines = [line.rstrip() for line in process.stdout.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    if process.returncode not in expected_exit_codes(example):
        lines.append(f"{FAILED} {process.returncode}]")
    return lines


def expected_exit_codes(example: Example) -> set[int]:
    """The exit statuses README's output stands for: 2 where it shows an error, 1 also for a check's
    verdict (bpcli check and gradcheck exit 1 on a wrong answer), 0 otherwise."""
    if any(line.startswith("bpcli: error:") for line in example.shown):
        return {2}
    if re.match(r"bpcli (check|gradcheck)\b", example.command):
        return {0, 1}
    return {0}


def matches(shown: list[str], actual: list[str]) -> bool:
    """Whether README's lines agree with the real output; a line "..." stands for any lines."""
    if ELLIPSIS not in shown:
        return shown == actual
    segments: list[list[str]] = [[]]
    for line in shown:
        if line == ELLIPSIS:
            segments.append([])
        else:
            segments[-1].append(line)
    first, *middle, last = segments
    if actual[: len(first)] != first or (last and actual[len(actual) - len(last):] != last):
        return False
    position, end = len(first), len(actual) - len(last)
    for segment in middle:
        found = next((i for i in range(position, end - len(segment) + 1) if actual[i:i + len(segment)] == segment), None)
        if found is None:
            return False
        position = found + len(segment)
    return position <= end


def scratch_folder(text: str) -> tempfile.TemporaryDirectory:
    folder = tempfile.TemporaryDirectory()
    root = Path(folder.name)
    for name, content in shown_files(text).items():
        (root / name).write_text(content)
    (root / "docs").mkdir()
    import numpy as np  # the one binary example file

    np.save(root / "xhat.npy", np.arange(12.0).reshape(3, 4) / 10)
    return folder


def outputs(text: str, found: list[Example]) -> dict[int, list[str]]:
    """Every runnable example's real output, by README line."""
    with scratch_folder(text) as folder:
        # Examples that write or read files of other examples run in README's order;
        # the rest would be independent, but order keeps the run reproducible.
        runnable = [e for e in found if e.runs]
        with ThreadPoolExecutor(max_workers=1) as pool:
            results = list(pool.map(lambda e: run(e, Path(folder)), runnable))
    return {example.line: result for example, result in zip(runnable, results)}


def stale(text: str) -> list[tuple[Example, list[str]]]:
    """The examples whose shown output is not what bpcli prints now."""
    found = examples(text)
    real = outputs(text, found)
    return [(e, real[e.line]) for e in found if e.runs and (failed(real[e.line]) or not matches(e.shown, real[e.line]))]


def failed(lines: list[str]) -> bool:
    """Whether the command exited as README's output says it does not (no "..." stands for that)."""
    return bool(lines) and lines[-1].startswith(FAILED)


def rewrite(text: str) -> str:
    """README with every example's output replaced by the real one (elided blocks kept)."""
    found = examples(text)
    real = outputs(text, found)
    lines = text.splitlines()
    # From the end, so that line numbers above stay valid.
    for example in sorted(found, key=lambda e: -e.line):
        if not example.runs or example.elided:
            continue
        command_line = lines[example.line - 1]
        indent = command_line[: len(command_line) - len(command_line.lstrip(" "))]
        start = example.line  # the first output line (0-based index after the command)
        lines[start:start + len(example.shown)] = [indent + line if line else "" for line in real[example.line]]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="write the real outputs into README.md")
    mode.add_argument("--check", action="store_true", help="exit 1 if README shows stale output")
    options = parser.parse_args()
    if options.write:
        README.write_text(rewrite(README.read_text()))
    text = README.read_text()
    for example in examples(text):
        if example.missing_program:
            print(f"README.md:{example.line}: skipped, {example.missing_program} is not installed", file=sys.stderr)
    problems = stale(text)
    for example, actual in problems:
        print(f"README.md:{example.line}: $ {example.command}", file=sys.stderr)
        print("  README shows:\n    " + "\n    ".join(example.shown), file=sys.stderr)
        print("  bpcli prints:\n    " + "\n    ".join(actual), file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
