"""The documentation's examples, run for real: its console blocks are bpcli's actual output.

    python docs/examples.py --write   # run every example and write its output into its page
    python docs/examples.py --check   # exit 1 if a page shows anything bpcli no longer prints
    python docs/examples.py --write docs/commands/grad.md   # only the pages named

The pages are README.md and every docs/**/*.md. A console block holds commands
(lines starting with "$ ") each followed by its output. Every command runs in
bash, in a scratch folder holding the files its page shows, with the bpcli of
the running interpreter's environment; standard output and standard error
appear together, as in a terminal. The commands of one page run in the page's
order, in one folder (an example may read what an earlier one wrote). Its exit
status (bash with pipefail) must be the one the page's output implies: 2 where
it shows "bpcli: error:", 0 or 1 for bpcli check and gradcheck, 0 otherwise. A
line "..." stands for any number of output lines (an example may show only the
part that matters); --write keeps such blocks as they are and only checks them.
Commands that install or test the project are shown, not run (after
`pip install . && ` the rest of the line runs), and so are commands that need a
program this machine lacks (jq, Graphviz's dot): they are reported as skipped.

A file an example reads is shown on its page, as a fenced block right after a
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

REPO = Path(__file__).resolve().parent.parent
ELLIPSIS = "..."
FAILED = "[exit status"  # the last line of a command that failed where its page shows no failure
INSTALL = re.compile(r"^pip install \S+( && |$)")  # README's install step: the rest of the line runs
NOT_RUN = re.compile(r"^(pip install|python -m pytest)(\s|$)")
FILE_MARKER = re.compile(r"^<!-- file: (\S+) -->$")
# Programs outside bpcli that some examples need, and how to tell that an example needs one.
PROGRAMS = {"jq": re.compile(r"\|\s*jq\b"), "dot": re.compile(r"--format (svg|png)\b")}


@dataclass
class Example:
    command: str
    shown: list[str]  # the output its page shows
    line: int  # where the command is on its page (1-based)

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


def shown_files(text: str, page: str = "README.md") -> dict[str, str]:
    """The files a page shows: each fenced block right after a `<!-- file: NAME -->` line."""
    files: dict[str, str] = {}
    lines = text.splitlines()
    for number, line in enumerate(lines):
        marker = FILE_MARKER.match(line.strip())
        if marker is None:
            continue
        opening = number + 1
        if opening >= len(lines) or not lines[opening].startswith("```"):
            raise ValueError(f"{page}:{number + 1}: {line.strip()} is not followed by a fenced block")
        closing = lines.index("```", opening + 1)
        files[marker.group(1)] = "\n".join(lines[opening + 1:closing]) + "\n"
    return files


def run(example: Example, folder: Path) -> list[str]:
    """What the command prints, as a page shows it: trailing spaces dropped.

    A command that fails where its page shows no failure gets a last line
    saying so, which no page shows: an error hidden by a pipe, a
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
    """The exit statuses the output shown stands for: 2 where it shows an error, 1 also for a check's
    verdict (bpcli check and gradcheck exit 1 on a wrong answer), 0 otherwise."""
    if any(line.startswith("bpcli: error:") for line in example.shown):
        return {2}
    if re.match(r"bpcli (check|gradcheck)\b", example.command):
        return {0, 1}
    return {0}


def matches(shown: list[str], actual: list[str]) -> bool:
    """Whether the lines shown agree with the real output; a line "..." stands for any lines."""
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
        starts = range(position, end - len(segment) + 1)
        found = next((i for i in starts if actual[i:i + len(segment)] == segment), None)
        if found is None:
            return False
        position = found + len(segment)
    return position <= end


def scratch_folder(text: str, page: str) -> tempfile.TemporaryDirectory:
    """A folder holding the files the page shows (and docs/, where examples write diagrams)."""
    folder = tempfile.TemporaryDirectory()
    root = Path(folder.name)
    for name, content in shown_files(text, page).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)  # a student's folder (docs/commands/grade.md)
        (root / name).write_text(content)
    (root / "docs").mkdir()
    import numpy as np  # the one binary example file

    np.save(root / "xhat.npy", np.arange(12.0).reshape(3, 4) / 10)
    return folder


def outputs(text: str, found: list[Example], page: str) -> dict[int, list[str]]:
    """Every runnable example's real output, by line of its page."""
    with scratch_folder(text, page) as folder:
        # In the page's order: an example may read a file an earlier one wrote.
        return {example.line: run(example, Path(folder)) for example in found if example.runs}


def stale(text: str, page: str = "README.md") -> list[tuple[Example, list[str]]]:
    """The examples whose shown output is not what bpcli prints now."""
    found = examples(text)
    real = outputs(text, found, page)
    return [(e, real[e.line]) for e in found if e.runs and (failed(real[e.line]) or not matches(e.shown, real[e.line]))]


def failed(lines: list[str]) -> bool:
    """Whether the command exited as its page says it does not (no "..." stands for that)."""
    return bool(lines) and lines[-1].startswith(FAILED)


def rewrite(text: str, page: str = "README.md") -> str:
    """The page with every example's output replaced by the real one (elided blocks kept)."""
    found = examples(text)
    real = outputs(text, found, page)
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


def pages() -> list[Path]:
    """Every page whose examples are run: README.md, then docs/**/*.md."""
    return [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def page_name(path: Path) -> str:
    """How reports name a page: its path in the repository (a page elsewhere, as given)."""
    try:
        return path.resolve().relative_to(REPO).as_posix()
    except ValueError:
        return str(path)


def stale_pages(paths: list[Path]) -> dict[str, list[tuple[Example, list[str]]]]:
    """stale() of every page named, by page name; pages are independent, so two run at a time."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(map(page_name, paths), pool.map(lambda path: stale(path.read_text(), page_name(path)), paths)))


def foreign_bpcli() -> str | None:
    """Why the bpcli the examples would run is not this checkout's, if it is not.

    The examples run the bpcli beside this interpreter: run with an interpreter
    whose bpcli is another checkout's (a global installation), --write would put
    that checkout's output into these pages.
    """
    import importlib.util

    spec = importlib.util.find_spec("bpcli")
    if spec is None or spec.origin is None:
        return f"{sys.executable} has no bpcli installed"
    origin = Path(spec.origin).resolve()
    if REPO not in origin.parents:
        return f"{sys.executable} runs the bpcli of {origin.parent}, not this checkout's (activate its environment)"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="write the real outputs into the pages")
    mode.add_argument("--check", action="store_true", help="exit 1 if a page shows stale output")
    parser.add_argument("pages", nargs="*", type=Path, help="only these pages (default: README.md and docs/**/*.md)")
    options = parser.parse_args()
    chosen = options.pages or pages()
    foreign = foreign_bpcli()
    if foreign and options.write:
        print(f"docs/examples.py: not writing: {foreign}", file=sys.stderr)
        return 2
    if foreign:
        print(f"docs/examples.py: note: {foreign}", file=sys.stderr)
    if options.write:
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda path: path.write_text(rewrite(path.read_text(), page_name(path))), chosen))
    for path in chosen:
        for example in examples(path.read_text()):
            if example.missing_program:
                print(f"{page_name(path)}:{example.line}: skipped, {example.missing_program} is not installed",
                      file=sys.stderr)
    problems = stale_pages(chosen)
    for name, stale_examples in problems.items():
        for example, actual in stale_examples:
            print(f"{name}:{example.line}: $ {example.command}", file=sys.stderr)
            print("  the page shows:\n    " + "\n    ".join(example.shown), file=sys.stderr)
            print("  bpcli prints:\n    " + "\n    ".join(actual), file=sys.stderr)
    return 1 if any(problems.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
