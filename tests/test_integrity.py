"""Grading untrusted files (issue 17): what an answers file may read and set, what reaches the
terminal, how errored problems and several files are scored, and the crashes the hostile test found.

Each test reproduces one finding: it fails on the build the issue was filed against.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import bpcli
from bpcli.engine.values import utf8_text
from helpers import run_cli

SECRET = "TOP-SECRET-LINE"  # the content of a file outside the answers file's folder


@pytest.fixture
def homework(tmp_path: Path) -> Path:
    """A student's folder, and beside it (outside) a file the student must not read."""
    folder = tmp_path / "student"
    folder.mkdir()
    (tmp_path / "secret.txt").write_text(f"{SECRET} = x\nmore secrets\n")
    (tmp_path / "secret.json").write_text("7")
    return folder


def answers(folder: Path, *problems: str, name: str = "hw.toml") -> Path:
    path = folder / name
    path.write_text("".join(f"[[problem]]\n{problem}\n" for problem in problems))
    return path


GOOD = 'expr = "x * y"\ninputs = { x = 3, y = 2 }\nexpect = { dx = 2, dy = 3 }'


def checked(*arguments: str) -> tuple[int, str, str]:
    result = run_cli("check", *arguments)
    return result.exit_code, result.stdout, result.stderr


def checked_json(*arguments: str) -> tuple[int, dict]:
    result = run_cli("check", *arguments, "--json")
    return result.exit_code, json.loads(result.stdout)


# ---- @ paths stay inside the answers file's folder ----------------------------------------------


@pytest.mark.parametrize("written", ["@{outside}/secret.txt", "@../secret.txt", "@./../student/../secret.txt"])
def test_an_expression_path_outside_the_folder_is_refused_and_never_shown(homework, written):
    path = answers(homework, f'expr = "{written.format(outside=homework.parent)}"\ninputs = {{ x = 1 }}\n'
                             'expect = { dx = 1 }', GOOD)
    code, document = checked_json("--answers", str(path))
    assert code == 2
    refused, good = document["problems"]
    assert "outside the answers file's folder" in refused["error"]
    assert good["passed"] is True  # the others are still checked
    code, stdout, stderr = checked("--answers", str(path))
    assert SECRET not in json.dumps(document) + stdout + stderr


def test_a_symbolic_link_out_of_the_folder_is_refused(homework):
    (homework / "forward.py").symlink_to(homework.parent / "secret.txt")
    path = answers(homework, 'expr = "@forward.py"\ninputs = { x = 1 }\nexpect = { dx = 1 }')
    code, document = checked_json("--answers", str(path))
    assert code == 2 and "outside the answers file's folder" in document["problems"][0]["error"]
    assert SECRET not in json.dumps(document)


@pytest.mark.parametrize("problem", [
    'expr = "x * y"\ninputs = { x = "@../secret.json", y = 2 }\nexpect = { dx = 2 }',
    'expr = "x * y"\ninputs = { x = 3, y = 2 }\nexpect = { dx = "@../secret.json" }',
    'expr = "x * y"\ninputs = { x = 3, y = 2 }\nbackward = "@../secret.txt"',
    'expr = "x * y"\ninputs = { x = 3, y = 2 }\nupstream = "@../secret.json"\nexpect = { dx = 2 }',
])
def test_every_key_that_reads_a_file_is_held_to_the_folder(homework, problem):
    code, document = checked_json("--answers", str(answers(homework, problem)))
    assert code == 2
    assert "outside the answers file's folder" in document["problems"][0]["error"]


def test_a_path_is_refused_without_being_opened(homework):
    """A missing file outside is refused for where it is, not reported as missing: bpcli never tried it."""
    path = answers(homework, 'expr = "@/nonexistent/forward.py"\ninputs = { x = 1 }\nexpect = { dx = 1 }')
    code, document = checked_json("--answers", str(path))
    error = document["problems"][0]["error"]
    assert code == 2 and "outside the answers file's folder" in error and "No such file" not in error


def test_allow_paths_lets_a_grader_widen_the_folders(homework):
    shared = homework.parent / "shared"
    shared.mkdir()
    (shared / "W.json").write_text("[1, 2]")
    path = answers(homework, f'expr = "sum(W * x)"\ninputs = {{ W = "@{shared}/W.json", x = [1, 1] }}\n'
                             'expect = { dx = [1, 2] }')
    assert checked("--answers", str(path))[0] == 2
    code, document = checked_json("--answers", str(path), "--allow-paths", str(shared))
    assert code == 0, document
    assert checked("x", "-x", "1", "--expect", "dx=1", "--allow-paths", str(shared))[0] == 2


def test_inputs_paths_resolve_from_the_answers_file_as_the_others_do(homework, monkeypatch, tmp_path):
    (homework / "x.json").write_text("[1, 2]")
    (homework / "dx.json").write_text("[2, 4]")
    path = answers(homework, 'expr = "sum(x * x)"\ninputs = { x = "@x.json" }\nexpect = { dx = "@dx.json" }')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, document = checked_json("--answers", str(path))
    assert code == 0, document["problems"][0]["error"]
    assert document["problems"][0]["inputs"] == {"x": [1.0, 2.0]}
    assert document["problems"][0]["expectations"][0]["written"] == "@dx.json"  # as the file writes it


def test_an_error_quotes_no_more_of_a_file_than_the_line_that_failed(homework):
    lines = [f"line{i} = x * {i}" for i in range(40)]
    lines[0] = "q = x +* y"
    (homework / "forward.py").write_text("\n".join(lines))
    path = answers(homework, 'expr = "@forward.py"\ninputs = { x = 1, y = 2 }\nexpect = { dx = 1 }')
    code, document = checked_json("--answers", str(path))
    problem = document["problems"][0]
    assert code == 2 and problem["expression"] == "@forward.py"
    assert "q = x +* y" in problem["error"] and "line39" not in json.dumps(document)


# ---- tolerances: the grader's command line wins ------------------------------------------------


@pytest.mark.parametrize("setting", ["rtol = inf", "atol = nan", "rtol = -1.0", "atol = -inf"])
def test_a_non_finite_or_negative_tolerance_in_a_file_is_bad_input(homework, setting):
    path = answers(homework, 'expr = "x * y"\ninputs = { x = 3, y = 2 }\nexpect = { dx = 100 }\n' + setting)
    code, stdout, stderr = checked("--answers", str(path))
    assert code == 2 and "must be a finite number, 0 or more" in stderr and stdout == ""


def test_the_command_lines_tolerance_replaces_a_problems_own(homework):
    path = answers(homework, 'expr = "x * y"\ninputs = { x = 3, y = 2 }\nexpect = { dx = 2.5 }\nrtol = 0.5')
    assert checked("--answers", str(path))[0] == 0  # the file's own tolerance, where the grader gives none
    code, document = checked_json("--answers", str(path), "--rtol", "1e-9")
    assert code == 1
    assert document["problems"][0]["expectations"][0]["allowed"] == pytest.approx(2.5e-9)


@pytest.mark.parametrize("option, message", [
    (("--rtol", "nan"), "--rtol must be a finite number, 0 or more, not nan"),
    (("--atol", "inf"), "--atol must be a finite number, 0 or more, not inf"),
    (("--rtol", "-inf"), "Invalid value for '--rtol': -inf is not in the range x>=0.0"),  # typer's range check
])
def test_a_non_finite_tolerance_on_the_command_line_is_bad_input(option, message):
    code, stdout, stderr = checked("x * y", "-x", "3", "-y", "2", "--expect", "dx=2", *option)
    assert code == 2 and stdout == ""
    assert message in stderr


def test_the_library_refuses_a_non_finite_tolerance_too():
    with pytest.raises(bpcli.BpcliError, match="rtol must be a finite number"):
        bpcli.check("x * y", x=3, y=2, expect={"dx": 2.5}, rtol=float("inf"))


# ---- control characters are shown escaped ------------------------------------------------------


def test_an_expression_comment_cannot_reach_the_terminal_in_a_title():
    result = run_cli("grad", "x * 2 # \x1b]0;owned\x07\x1b[2J", "-x", "1")
    assert result.exit_code == 0
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "\\x1b]0;owned\\x07\\x1b[2J" in result.stdout


def test_a_problem_name_is_escaped_and_its_markup_stays_text(homework):
    path = answers(homework, 'name = "bad\\u001b[31m\\u0000[bold]x[/bold]\\u202e"\n' + GOOD)
    code, stdout, _ = checked("--answers", str(path))
    assert code == 0
    assert "\x1b" not in stdout and "\x00" not in stdout and "\u202e" not in stdout
    assert "bad\\x1b[31m\\x00[bold]x[/bold]\\u202e" in stdout


def test_a_file_path_in_an_error_is_escaped():
    result = run_cli("grad", "--file", "no\x1b[2Jsuch\x07file.txt")
    assert result.exit_code == 2
    assert "\x1b" not in result.stderr and "no\\x1b[2Jsuch" in result.stderr


def test_expect_text_in_an_error_is_escaped():
    result = run_cli("check", "x * y", "-x", "1", "-y", "2", "--expect", "\x1b[31mdx")
    assert result.exit_code == 2
    assert "\x1b" not in result.stderr and "\\x1b[31mdx" in result.stderr


def test_a_csv_header_in_a_warning_is_escaped(tmp_path):
    values = tmp_path / "x.csv"
    values.write_text("\x1b[31ma,b\n1,2\n")
    result = run_cli("grad", "sum(x)", "-x", f"@{values}")
    assert result.exit_code == 0
    assert "\x1b" not in result.stderr and "\\x1b[31ma,b" in result.stderr


def test_a_backward_files_path_in_its_title_is_escaped(tmp_path):
    backward = tmp_path / "mi\x1b[2Jne.py"
    backward.write_text("dx = y\ndy = x\n")
    result = run_cli("check", "x * y", "-x", "3", "-y", "2", "--backward", str(backward))
    assert result.exit_code == 0
    assert "\x1b" not in result.stdout and "mi\\x1b[2Jne.py" in result.stdout


def test_the_staged_code_escapes_the_expression_in_its_comments():
    result = run_cli("code", "x * 2 # \x1b[2J\x07\x00 end")
    assert result.exit_code == 0
    assert "\x1b" not in result.stdout and "\x00" not in result.stdout and "\\x1b[2J\\x07\\x00 end" in result.stdout


def test_the_caret_of_a_parse_error_stays_under_the_character_after_an_escape():
    result = run_cli("grad", "x\x01 + +* y")
    lines = result.stderr.splitlines()
    assert lines[1] == "  x\\x01 + +* y"
    assert lines[2].index("^") == lines[1].index("\\x01")


# ---- an errored problem fails in every total -----------------------------------------------------


def test_an_errored_problem_counts_as_failed_in_every_total(homework):
    path = answers(homework, GOOD, 'expr = "x * z"\ninputs = { x = 3 }\nexpect = { dx = 1, dz = 3, x = 3 }')
    code, document = checked_json("--answers", str(path))
    assert code == 2
    assert document["score"] == {"problems": 2, "passed": 1, "expectations": 5, "met": 2}
    assert [problem["counted"] for problem in document["problems"]] == [2, 3]
    stdout = checked("--answers", str(path))[1]
    assert "1 of 2 problems right (50%), 2 of 5 expectations met" in stdout


# ---- several answers files, a score each ------------------------------------------------------


def test_several_answers_files_are_each_scored(homework):
    first = answers(homework, GOOD, name="alice.toml")
    second = answers(homework, 'expr = "x * y"\ninputs = { x = 3, y = 2 }\nexpect = { dx = 3 }', name="bob.toml")
    code, document = checked_json("--answers", str(first), "--answers", str(second))
    assert code == 1 and document["answers"] is None
    assert [(f["answers"], f["exit_code"], f["score"]["met"]) for f in document["files"]] == [
        (str(first), 0, 2), (str(second), 1, 0)]
    assert [problem["file"] for problem in document["problems"]] == [str(first), str(second)]
    assert document["score"] == {"problems": 2, "passed": 1, "expectations": 3, "met": 2}
    code, stdout, _ = checked("--answers", str(first), "--answers", str(second))
    assert f"Checking {first}" in stdout and f"Checking {second}" in stdout and "Scores of 2 answers files" in stdout
    assert "All 2 files: 1 of 2 problems right (50%), 2 of 3 expectations met." in stdout


def test_one_malformed_file_among_several_does_not_stop_the_others(homework):
    good = answers(homework, GOOD, name="good.toml")
    broken = homework / "broken.toml"
    broken.write_text("problem = [1]\n")
    code, document = checked_json("--answers", str(broken), "--answers", str(good))
    assert code == 2
    assert "problem 1 is not a table" in document["files"][0]["error"]
    assert document["files"][1]["passed"] is True and document["score"]["passed"] == 1


def test_one_answers_file_lists_itself_in_files(homework):
    path = answers(homework, GOOD)
    code, document = checked_json("--answers", str(path))
    assert code == 0 and document["answers"] == str(path)
    assert document["files"] == [{"answers": str(path), "passed": True, "exit_code": 0,
                                  "score": document["score"], "error": None}]


# ---- crashes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["problem = [1]\n", "problem = [[1]]\n", 'problem = ["x"]\n'])
def test_a_problem_that_is_not_a_table_is_bad_input(tmp_path, text):
    path = tmp_path / "hw.toml"
    path.write_text(text)
    code, stdout, stderr = checked("--answers", str(path))
    assert code == 2 and "is not a table" in stderr and "internal error" not in stderr


@pytest.mark.parametrize("option, message", [
    (("--h", "1e-16"), "cannot move x = 1"), (("--h", "inf"), "finite number above 0"),
    (("--h", "nan"), "finite number above 0"), (("--max-error", "nan"), "--max-error must be a finite number"),
    (("--h", "1e308"), "beyond float64"),
])
def test_gradcheck_refuses_a_step_or_bound_that_cannot_judge(option, message):
    result = run_cli("gradcheck", "x * x", "-x", "1", *option)
    assert result.exit_code == 2 and message in result.stderr and result.stdout == ""


@given(st.sampled_from([b"", b"\xef\xbb\xbf", b"\xef\xbb"]), st.binary(max_size=40))
def test_text_is_read_as_the_utf_8_sig_codec_reads_it(mark, data):
    """engine/values.utf8_text, every file's and standard input's reader: the codec is the oracle (its text,
    or the byte it stops at), without its import."""
    try:
        expected = (mark + data).decode("utf-8-sig")
    except UnicodeDecodeError as error:
        with pytest.raises(bpcli.BpcliError, match=rf"^f\.txt is not UTF-8 text \(byte {error.start}\)$"):
            utf8_text("f.txt", mark + data)
    else:
        assert utf8_text("f.txt", mark + data) == expected


def test_a_byte_order_mark_is_accepted_in_every_text_input(tmp_path):
    bom = "\ufeff"
    expression = tmp_path / "f.txt"
    expression.write_text(bom + "q = x * y\nf = q + x", encoding="utf-8")
    backward = tmp_path / "mine.py"
    backward.write_text(bom + "dq = 1\ndx = dq * y + 1\ndy = dq * x\n", encoding="utf-8")
    assert run_cli("grad", "--file", str(expression), "-x", "3", "-y", "2").exit_code == 0
    assert run_cli("grad", "-", "-x", "3", "-y", "2", input=bom + "x * y").exit_code == 0
    result = run_cli("check", "--file", str(expression), "-x", "3", "-y", "2", "--backward", str(backward))
    assert result.exit_code == 0, result.stderr
    toml = tmp_path / "hw.toml"
    toml.write_text(bom + '[[problem]]\nexpr = "@f.txt"\ninputs = { x = 3, y = 2 }\nexpect = { dx = 3 }\n',
                    encoding="utf-8")
    assert run_cli("check", "--answers", str(toml)).exit_code == 0


# ---- options that do not apply --------------------------------------------------------------


@pytest.mark.parametrize("arguments, message", [
    (("grad", "x*2", "-x", "1", "--out", "r.csv"), "--out and --format are for the rows of --points"),
    (("grad", "x*2", "-x", "1", "--format", "jsonl"), "--out and --format are for the rows of --points"),
    (("hessian", "x*x", "-x", "1", "--out", "f"), "this command has no --out option"),
    (("jacobian", "x*x", "-x", "1", "--out", "f.txt"), "this command has no --out option"),
])
def test_an_option_that_does_not_apply_is_an_error(tmp_path, monkeypatch, arguments, message):
    monkeypatch.chdir(tmp_path)
    result = run_cli(*arguments)
    assert result.exit_code == 2 and message in result.stderr and result.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_order_does_not_go_with_points(tmp_path):
    points = tmp_path / "p.csv"
    points.write_text("x\n1\n2\n")
    result = run_cli("grad", "x * x", "--points", str(points), "--order", "2")
    assert result.exit_code == 2 and "do not go with --points" in result.stderr


def test_out_dash_is_standard_output(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    points = tmp_path / "p.csv"
    points.write_text("x\n1\n2\n")
    result = run_cli("grad", "x * x", "--points", str(points), "--out", "-")
    assert result.exit_code == 0 and result.stdout == "x,f,df/dx\n1.0,1.0,2.0\n2.0,4.0,4.0\n"
    result = run_cli("graph", "x * x", "--format", "mermaid", "--out", "-")
    assert result.exit_code == 0 and result.stdout.startswith("---\ntitle:")
    assert not (tmp_path / "-").exists()


def test_a_binding_named_like_an_option_still_binds():
    """--out 3 binds a variable out where the expression has one: the clearer error is only for non-values."""
    result = run_cli("hessian", "out * out", "--out", "3", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["hessian"] == [[2.0]]


def test_a_shared_folder_is_relative_to_the_current_one(homework, monkeypatch):
    """--allow-paths is the grader's own path: relative to where bpcli runs, as any option's."""
    (homework.parent / "shared").mkdir()
    (homework.parent / "shared" / "x.json").write_text("2")
    path = answers(homework, 'expr = "x * x"\ninputs = { x = "@../shared/x.json" }\nexpect = { dx = 4 }')
    monkeypatch.chdir(homework.parent)
    assert checked("--answers", str(path), "--allow-paths", "shared")[0] == 0
    monkeypatch.chdir(homework)  # from here, "shared" names a folder that does not exist
    assert checked("--answers", str(path), "--allow-paths", "shared")[0] == 2


def test_a_value_file_in_an_error_is_quoted_by_a_short_excerpt_only(homework):
    (homework / "x.csv").write_text("1,2\n3," + "9" * 30 + "oops" + "7" * 10_000 + "\n")
    path = answers(homework, 'expr = "sum(x)"\ninputs = { x = "@x.csv" }\nexpect = { dx = [1, 1] }')
    code, document = checked_json("--answers", str(path))
    error = document["problems"][0]["error"]
    assert code == 2 and "row 2: '" in error and "is not a number" in error
    assert len(error) < len(str(homework)) + 120 and "7" * 100 not in error


def test_symbolic_text_escapes_the_expression_it_names():
    result = run_cli("grad", "1 + 2 # \x1b[31mred", "--symbolic")
    assert result.exit_code == 0
    assert "\x1b" not in result.stdout and "1 + 2 # \\x1b[31mred has no input variables" in result.stdout


def test_a_windows_line_ending_is_not_shown_in_a_parse_errors_excerpt(tmp_path):
    program = tmp_path / "f.txt"
    program.write_bytes(b"q = x +* y\r\nf = q\r\n")
    result = run_cli("grad", "--file", str(program), "-x", "1", "-y", "2")
    assert result.stderr.splitlines()[1:3] == ["  q = x +* y", "         ^"]
