"""Paths without pathlib (engine/paths.py): spelt, split, joined and resolved exactly as pathlib does.

check --answers, grade and check --backward read their paths with os.path, because pathlib's import (with
urllib.parse and ipaddress) is a large part of their start-up; every message, document and confinement
decision must stay what it was with pathlib, which is the oracle here.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bpcli.analyses.answers import Folders, check_answers
from bpcli.analyses.grade import grade
from bpcli.engine.errors import BpcliError
from bpcli.engine.paths import file_status, is_directory, is_file, is_inside, joined, path_name, path_parent, path_stem, path_suffix, path_text, resolved_path
from helpers import REPO

# Segments that exercise every rule: roots ("/", "//", "///"), ".", "..", dots that are and are not suffixes,
# "~" (never expanded), a space, and a byte that is not UTF-8 (as os.fsdecode gives it).
SEGMENTS = st.sampled_from(["/", ".", "..", "a", "b.c", ".x", "x.", "a.tar.gz", "~", " ", "-", "\udcff"])
WRITTEN = st.lists(SEGMENTS, max_size=7).map("".join)


@given(WRITTEN)
def test_a_path_is_spelt_and_split_as_pathlib_does(text):
    path = Path(text)
    assert path_text(text) == str(path)
    assert path_text(path) == str(path)  # a pathlib.Path is taken as well
    assert (path_parent(text), path_name(text), path_suffix(text), path_stem(text)) == (
        str(path.parent), path.name, path.suffix, path.stem)


@given(WRITTEN, WRITTEN)
def test_a_path_is_joined_as_pathlib_joins(folder, text):
    assert joined(folder, text) == str(Path(folder) / text)  # an absolute text stays itself


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """A folder with a file, a link into it, a link out of it, a dangling link and a loop of links."""
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "d" / "f").write_text("")
    for link, target in [("in", "d/e"), ("out", "/etc"), ("dangling", "nowhere"), ("loop1", "loop2"),
                         ("loop2", "loop1")]:
        (tmp_path / link).symlink_to(target)
    monkeypatch.chdir(tmp_path)
    return tmp_path


RESOLVED = ["", ".", "..", "d", "d/", "d/e/..", "in/..", "in/../f", "loop1", "loop1/x", "out", "out/passwd",
            "dangling", "dangling/x", "d/f/", "d/f/x", "/", "//", "~", "a\0b", "x" * 300]


def _outcome(resolve):
    try:
        return resolve()
    except Exception as error:  # the same kind of error (a loop: RuntimeError, a NUL byte: ValueError)
        return type(error)


@pytest.mark.parametrize("text", RESOLVED)
def test_a_path_is_resolved_as_pathlib_resolves_it(tree, text):
    assert _outcome(lambda: resolved_path(text)) == _outcome(lambda: str(Path(text).resolve()))


@pytest.mark.parametrize("text", ["d", "d/f", "d/f/", "in", "dangling", "loop1", "nothing", "d/f/x", "a\0b"])
def test_a_file_status_asks_what_pathlib_asks(tree, text):
    link = file_status(text, links=False)
    assert (file_status(text) is not None) == Path(text).exists()
    assert is_directory(text) == Path(text).is_dir()
    assert is_file(text) == Path(text).is_file()
    assert (link is not None and stat.S_ISLNK(link.st_mode)) == Path(text).is_symlink()


def test_a_file_status_raises_what_pathlib_raises(monkeypatch):
    """Only "not there" is an answer; any other error (a folder that may not be searched) is raised, as by
    pathlib's exists."""
    def refused(path, **_):
        raise PermissionError(errno.EACCES, "Permission denied", path)

    monkeypatch.setattr(os, "stat", refused)
    with pytest.raises(PermissionError):
        Path("locked/answers.toml").exists()  # the oracle asks os.stat too
    with pytest.raises(PermissionError):
        file_status("locked/answers.toml")
    with pytest.raises(PermissionError):
        is_directory("locked")


@pytest.mark.parametrize(("path", "folder"), [
    ("/", "/"), ("/tmp", "/"), ("/tmp", "/tmp"), ("/tmp/a", "/tmp"), ("/tmpx", "/tmp"), ("/tmp", "/tmp/a"),
    ("/a/b/c", "/a/b"), ("/a/bc", "/a/b"),
])
def test_inside_is_pathlibs_is_relative_to_segment_by_segment(path, folder):
    assert is_inside(path, folder) == Path(path).is_relative_to(folder)


def test_an_at_path_is_confined_as_before(tree):
    folders = Folders.of("d//f")  # the folder of d/f: d
    assert folders.base == "d" and folders.allowed == (str(tree / "d"),)
    assert folders.resolve("f") == str(tree / "d" / "f")
    assert folders.resolve("../in/..") == str(tree / "d")  # a link followed before "..", as the system does
    for outside in ["../out/passwd", "/etc/passwd", "../d2", "e/../../f"]:
        with pytest.raises(BpcliError, match=f"@{outside} is outside the answers file's folder {tree / 'd'}"):
            folders.resolve(outside)
    with pytest.raises(BpcliError, match="is not a path bpcli can follow"):
        Folders.of("hw.toml").resolve("loop1")


def test_an_answers_file_named_as_text_is_named_as_a_path_would_be(tree):
    (tree / "d" / "hw.toml").write_text('[[problem]]\nexpr = "x*y"\ninputs = { x = 3, y = "@x.json" }\n'
                                        'expect = { dx = 2 }\n')
    (tree / "d" / "x.json").write_text("2")
    for spelling in ["./d//hw.toml", "d/./hw.toml"]:
        as_text, as_path = check_answers(spelling), check_answers(Path(spelling))
        assert as_text.to_json() == as_path.to_json()
        assert json.loads(as_text.to_json())["answers"] == "d/hw.toml"


def test_a_grade_of_paths_given_as_text_is_the_grade_of_pathlib_paths(tmp_path):
    subprocess.run([sys.executable, "-m", "bpcli", "grade", "--init", str(tmp_path / "course")], check=True,
                   capture_output=True)
    key = str(tmp_path / "course") + "//./key.toml"
    submissions = [f"{tmp_path}/course/ada/", f"{tmp_path}/./course/bob.toml", f"{tmp_path}/course/carl.toml"]
    as_text = grade(key, submissions).to_json()
    assert as_text == grade(Path(key), [Path(path) for path in submissions]).to_json()
    students = json.loads(as_text)["students"]
    assert [(student["student"], student["submission"]) for student in students] == [
        ("ada", f"{tmp_path}/course/ada"), ("bob", f"{tmp_path}/course/bob.toml"),
        ("carl", f"{tmp_path}/course/carl.toml")]


def test_checking_answers_and_grading_import_no_pathlib(tmp_path):
    """pathlib's import is some 0.6 x Python's own start-up: these analyses read their paths without it."""
    subprocess.run([sys.executable, "-m", "bpcli", "grade", "--init", str(tmp_path / "course")], check=True,
                   capture_output=True)
    (tmp_path / "hw.toml").write_text('[[problem]]\nexpr = "x*y"\ninputs = { x = 3, y = 2 }\nexpect = { dx = 2 }\n')
    probe = (
        "import sys\n"
        "watched = ('pathlib', 'urllib.parse', 'ipaddress')\n"
        "already = set(sys.modules)  # a .pth file in site-packages may have imported pathlib before any of this\n"
        "from bpcli.analyses.answers import check_answers\n"
        "from bpcli.analyses.grade import grade\n"
        "from bpcli.cli.shared import read_text\n"
        "check_answers('hw.toml')\n"
        "grade('course/key.toml', ['course/ada', 'course/bob.toml'])\n"
        "read_text('hw.toml')\n"
        "print(sorted(name for name in watched if name in set(sys.modules) - already))\n"
    )
    process = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path,
                             env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
    assert process.returncode == 0, process.stderr[-2000:]
    assert process.stdout.split("\n")[0] == "[]"


def _bpcli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real bpcli of this tree, run in ``cwd`` (the quick reader hands its paths on as text)."""
    return subprocess.run([sys.executable, "-m", "bpcli", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)


def test_grade_init_into_a_path_too_long_for_the_system_is_refused_with_a_message(tmp_path):
    """2,100 segments (longer than PATH_MAX): os.makedirs recursed once per segment and overflowed Python's
    stack (exit 3, an internal error); pathlib's mkdir tried the folder first and said why it could not."""
    folder = "a/" * 2100
    process = _bpcli("grade", "--init", folder, cwd=tmp_path)
    assert process.returncode == 2, process.stderr
    assert process.stderr == f"bpcli: error: cannot write {path_text(folder)}: File name too long\n"
    assert not (tmp_path / "a").exists()


def test_grade_init_makes_the_missing_folders_as_pathlib_did(tmp_path):
    (tmp_path / "d").mkdir()
    for written in ["new/er/course", "d/../x/./course/", "d/course"]:
        assert _bpcli("grade", "--init", written, cwd=tmp_path).returncode == 0
        assert (tmp_path / written / "ada" / "backward.py").is_file()
    process = _bpcli("grade", "--init", "d/course", cwd=tmp_path)  # made above: nothing of the user's is replaced
    assert (process.returncode, process.stderr) == (
        2, "bpcli: error: d/course exists: --init writes its example into a new folder\n")


@pytest.mark.parametrize("out", ["./-", ".//-", "-/"])
def test_exercise_out_spelt_as_standard_output_writes_there_as_every_out_does(tmp_path, out):
    """--out ./- is str(pathlib.Path) "-": standard output, for exercise as for grad, graph and grade's --csv."""
    process = _bpcli("exercise", "x*y", "--out", out, cwd=tmp_path)
    assert process.returncode == 0, process.stderr
    assert process.stdout.startswith("# Backpropagation by hand")
    assert list(tmp_path.iterdir()) == []


def test_a_submission_whose_status_cannot_be_read_is_that_students_zero(tmp_path):
    """A name longer than the system takes: stat raises (as pathlib's is_dir does), and the whole run was an
    internal error (exit 3) where the contract gives that student a zero with its message."""
    _bpcli("grade", "--init", "course", cwd=tmp_path)
    long_name = "a" * 300
    process = _bpcli("grade", "course/key.toml", "course/ada", long_name, "--json", cwd=tmp_path)
    assert process.returncode == 0, process.stderr
    ada, long = json.loads(process.stdout)["students"]
    assert (ada["student"], ada["score"]) == ("ada", 3)
    assert (long["student"], long["score"]) == (long_name, 0)
    assert long["error"] == f"cannot read {long_name}: File name too long"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root searches any folder")
def test_a_submission_folder_that_may_not_be_searched_is_that_students_zero(tmp_path):
    _bpcli("grade", "--init", "course", cwd=tmp_path)
    locked = tmp_path / "course" / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        process = _bpcli("grade", "course/key.toml", "course/ada", "course/locked", "--json", cwd=tmp_path)
    finally:
        locked.chmod(0o755)
    assert process.returncode == 0, process.stderr
    ada, student = json.loads(process.stdout)["students"]
    assert (ada["score"], student["student"], student["score"]) == (3, "locked", 0)
    assert student["error"] == "cannot read course/locked/answers.toml: Permission denied"


@pytest.mark.parametrize(("args", "says"), [
    # is it a file of that name, or a function of a file?
    (["check", "x*y", "--backward", "a" * 300 + ".py:backward", "x=1", "y=2"], "give its forward function with "
     "--forward FILE.py:NAME"),
    (["exercise", "x*y", "--out", "a" * 300 + "/sheet.md"], "File name too long"),  # is it a folder?
    (["exercise", "x*y", "--out", "a" * 300 + ".md"], "File name too long"),
])
def test_a_path_too_long_to_ask_about_is_bad_input(tmp_path, args, says):
    """pathlib's is_file and is_dir raise on a name too long (as engine/paths.py's do); asked whether a path
    names a file or a folder, bpcli let it out as an internal error (exit 3) instead of one message, exit 2."""
    process = _bpcli(*args, cwd=tmp_path)
    assert process.returncode == 2, process.stderr
    assert process.stderr.startswith("bpcli: error: ")
    assert process.stderr.endswith(f"{says}\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("args", "replaced"), [
    (["exercise", "--set", "week.toml", "--out", "week.md"], "week.toml"),  # the answers file of week.md
    (["exercise", "--set", "out/exercise.toml", "--out", "out/"], "out/exercise.toml"),
    (["exercise", "--file", "week.md", "--out", "./week.md"], "week.md"),  # the sheet
])
def test_exercise_never_writes_a_sheet_or_answers_file_over_what_it_reads(tmp_path, args, replaced):
    """--out week.md writes week.md and week.toml: with --set week.toml that was the grader's problem set,
    replaced without a word."""
    (tmp_path / "out").mkdir()
    problems = '[[problem]]\nexpr = "f = x*y"\n'
    for name in ["week.toml", "out/exercise.toml"]:
        (tmp_path / name).write_text(problems)
    (tmp_path / "week.md").write_text("f = x*y\n")
    before = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
    process = _bpcli(*args, cwd=tmp_path)
    assert process.returncode == 2, process.stderr
    assert process.stderr.startswith(f"bpcli: error: --out would write {replaced} over ")
    assert {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()} == before
