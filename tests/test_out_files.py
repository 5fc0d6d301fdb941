"""Files bpcli writes appear whole or not at all (issue 17, "Nothing lost").

A failure half-way (a full disk, Ctrl-C, SIGTERM) leaves the previous file as
it was and no temporary file beside it; SIGTERM during the progress bar gives
the terminal its cursor back. The interruptions run the real ``bpcli`` in a
subprocess and signal it while it writes.
"""

from __future__ import annotations

import errno
import os
import pty
import signal
import stat
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from helpers import bpcli_executable, run_cli

PREVIOUS = "the previous file, which must survive\n"
ROWS = 300_000  # seconds of writing: long enough to be interrupted half-way


def leftovers(folder: Path, *expected: Path) -> list[str]:
    """Files in ``folder`` besides ``expected``: a temporary file left behind would be one."""
    return sorted(path.name for path in folder.iterdir() if path not in expected)


# ---- failures in-process ------------------------------------------------------------------


def test_a_failure_while_writing_points_keeps_the_previous_file(tmp_path, monkeypatch):
    import bpcli.views.points_out as points_out

    def full_disk(result, out, fmt, progress=None):
        out.write(b"x,f,df/dx\n1.0,")  # half a file, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(points_out, "write_points", full_disk)
    points, out = tmp_path / "p.csv", tmp_path / "out.csv"
    points.write_text("x\n1\n2\n")
    out.write_text(PREVIOUS)
    result = run_cli("grad", "x * x", "--points", str(points), "--out", str(out))
    assert result.exit_code == 2 and "No space left on device" in result.stderr
    assert out.read_text() == PREVIOUS
    assert leftovers(tmp_path, points, out) == []


class _Failing:
    """A renderable that fails half-way through being printed, as a full disk would make it."""

    def __rich_console__(self, console, options):
        from rich.segment import Segment

        yield Segment("half a tree\n" * 100)
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_failure_while_writing_a_text_graph_keeps_the_previous_file(tmp_path, monkeypatch):
    import bpcli.views.diagram as diagram

    monkeypatch.setattr(diagram, "tree", lambda result, precision: _Failing())
    out = tmp_path / "tree.txt"
    out.write_text(PREVIOUS)
    result = run_cli("graph", "x * y", "-x", "1", "-y", "2", "--format", "text", "--out", str(out))
    assert result.exit_code == 2 and "cannot write" in result.stderr
    assert out.read_text() == PREVIOUS
    assert leftovers(tmp_path, out) == []


def test_a_file_that_cannot_be_flushed_to_disk_is_not_put_in_place(tmp_path, monkeypatch):
    def full_disk(descriptor):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    out = tmp_path / "circuit.dot"
    out.write_text(PREVIOUS)
    result = run_cli("graph", "x * y", "--format", "dot", "--out", str(out))
    assert result.exit_code == 2 and "No space left on device" in result.stderr
    assert out.read_text() == PREVIOUS
    assert leftovers(tmp_path, out) == []


def test_a_replaced_file_keeps_its_permissions_and_a_new_one_follows_the_umask(tmp_path):
    kept, new = tmp_path / "kept.dot", tmp_path / "new.dot"
    kept.write_text(PREVIOUS)
    kept.chmod(0o640)
    assert run_cli("graph", "x * y", "--out", str(kept)).exit_code == 0
    assert kept.read_text().startswith("digraph circuit {")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640
    umask = os.umask(0o022)
    try:
        assert run_cli("graph", "x * y", "--out", str(new)).exit_code == 0
    finally:
        os.umask(umask)
    assert stat.S_IMODE(new.stat().st_mode) == 0o644


def test_a_device_is_written_in_place(tmp_path):
    assert run_cli("graph", "x * y", "--out", os.devnull).exit_code == 0
    assert Path(os.devnull).exists() and not stat.S_ISREG(os.stat(os.devnull).st_mode)


def test_a_folder_that_does_not_exist_is_one_clear_error(tmp_path):
    result = run_cli("graph", "x * y", "--out", str(tmp_path / "missing" / "circuit.dot"))
    assert result.exit_code == 2 and "cannot write" in result.stderr and "No such file" in result.stderr


# ---- interruptions: a real process, signalled while it writes ---------------------------------


@pytest.fixture(scope="module")
def many_points(tmp_path_factory) -> Path:
    """A structured .npy of ROWS points (x, y): read in a moment, written for seconds."""
    path = tmp_path_factory.mktemp("points") / "points.npy"
    rows = np.zeros(ROWS, dtype=[("x", "f8"), ("y", "f8")])
    generator = np.random.default_rng(0)
    rows["x"], rows["y"] = generator.random(ROWS), generator.random(ROWS)
    np.save(path, rows)
    return path


def _writing(folder: Path, out: Path) -> bool:
    """Whether bpcli has started writing: a temporary file with something in it, or (as the old
    build did) the target itself truncated and rewritten."""
    temporary = [path for path in folder.iterdir() if path.name.startswith(f".{out.name}.")]
    if any(path.stat().st_size > 0 for path in temporary):
        return True
    return out.read_text() != PREVIOUS


def _interrupted(folder: Path, out: Path, process: subprocess.Popen, signum: int) -> int:
    deadline = time.monotonic() + 120
    while not _writing(folder, out):
        assert process.poll() is None, "bpcli ended before it started writing"
        assert time.monotonic() < deadline, "bpcli never started writing"
        time.sleep(0.005)
    process.send_signal(signum)
    return process.wait(timeout=120)


@pytest.mark.slow
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_points_run_leaves_the_previous_file(tmp_path, many_points, signum, code):
    out = tmp_path / "out.csv"
    out.write_text(PREVIOUS)
    process = subprocess.Popen(
        [*bpcli_executable(), "grad", "x * y + tanh(x)", "--points", str(many_points), "--out", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    assert _interrupted(tmp_path, out, process, signum) == code
    assert process.stderr.read() == b""
    assert out.read_text() == PREVIOUS
    assert leftovers(tmp_path, out) == []


@pytest.mark.slow
def test_sigterm_during_the_progress_bar_gives_the_cursor_back(tmp_path, many_points):
    out = tmp_path / "out.csv"
    out.write_text(PREVIOUS)
    terminal, child = pty.openpty()
    process = subprocess.Popen(
        [*bpcli_executable(), "grad", "x * y + tanh(x)", "--points", str(many_points), "--out", str(out)],
        stdout=subprocess.DEVNULL, stderr=child, env={**os.environ, "TERM": "xterm", "COLUMNS": "80"},
    )
    os.close(child)
    shown = bytearray()
    reader = threading.Thread(target=_read_all, args=(terminal, shown))
    reader.start()
    assert _interrupted(tmp_path, out, process, signal.SIGTERM) == 143
    reader.join(timeout=60)
    os.close(terminal)
    hidden = shown.rfind(b"\x1b[?25l")
    assert hidden >= 0, bytes(shown)  # the progress bar did hide the cursor
    assert shown.rfind(b"\x1b[?25h") > hidden, bytes(shown)  # and gave it back
    assert out.read_text() == PREVIOUS and leftovers(tmp_path, out) == []


def _read_all(descriptor: int, into: bytearray) -> None:
    """Everything written to a terminal until its last writer closes it."""
    while True:
        try:
            data = os.read(descriptor, 65536)
        except OSError:  # EIO: the child side is closed
            return
        if not data:
            return
        into.extend(data)


def test_columns_zero_on_a_terminal_still_prints_the_table():
    """COLUMNS=0 is no width at all: it is ignored, as a value that is not a positive number."""
    terminal, child = pty.openpty()
    process = subprocess.Popen([*bpcli_executable(), "grad", "x * 2", "-x", "1"], stdout=child, stderr=child,
                               env={**os.environ, "COLUMNS": "0"})
    os.close(child)
    shown = bytearray()
    _read_all(terminal, shown)
    os.close(terminal)
    assert process.wait(timeout=60) == 0
    assert b"Backpropagation through x * 2" in shown and b"Gradients of f = 2" in shown
