"""Files bpcli writes (``--out``) appear whole or not at all: the one writer every command uses.

The content goes to a temporary file beside the target, which replaces the
target (``os.replace``, atomic on one file system) only once everything is
written and flushed to disk. On any failure — a full disk, bad input found
half-way, Ctrl-C, or SIGTERM (``terminate_as_interrupt``) — the temporary file
is removed and the previous file is left as it was.

A target that is not a regular file (``/dev/stdout``, a named pipe) cannot be
replaced and is written in place; ``-`` means standard output, and is decided
by the caller (``shared.out_path``).
"""

from __future__ import annotations

import contextlib
import os
import stat
from typing import IO, TYPE_CHECKING, Any, Iterator

from bpcli.engine.errors import BpcliError
from bpcli.engine.paths import path_name, path_parent, path_text

if TYPE_CHECKING:
    from bpcli.engine.paths import FilePath


def cannot_write(path: str, error: OSError) -> BpcliError:
    """The error for a file that could not be written (--out), its path spelt by atomic_output."""
    return BpcliError(f"cannot write {path}: {error.strerror or error}")


@contextlib.contextmanager
def atomic_output(path: FilePath, binary: bool = False, newline: str | None = None) -> Iterator[IO[Any]]:
    """A file to write ``path``'s new content to (text in UTF-8, or bytes), put in place on success only.

    Any OSError (opening, writing, flushing, renaming) becomes the one
    "cannot write" BpcliError; the previous file is kept either way.
    """
    import tempfile  # only when a file is written (start-up)

    path = path_text(path)  # "out.csv/" is "out.csv", as pathlib spells it
    if _is_special(path):
        try:
            with _open(os.open(path, os.O_WRONLY | os.O_TRUNC), binary, newline) as handle:
                yield handle
        except OSError as error:
            raise cannot_write(path, error) from None
        return
    try:
        descriptor, temporary = tempfile.mkstemp(dir=path_parent(path), prefix=f".{path_name(path)}.", suffix=".tmp")
    except OSError as error:
        raise cannot_write(path, error) from None
    try:
        os.fchmod(descriptor, _mode(path))
        with _open(descriptor, binary, newline) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())  # on disk before the rename, so a crash cannot leave an empty file
        os.replace(temporary, path)
    except BaseException as failure:  # KeyboardInterrupt and SIGTERM too: the temporary file must go
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(failure, OSError):
            raise cannot_write(path, failure) from None
        raise


def _open(descriptor: int, binary: bool, newline: str | None) -> IO[Any]:
    if binary:
        return os.fdopen(descriptor, "wb")
    return os.fdopen(descriptor, "w", encoding="utf-8", newline=newline)


def _is_special(path: str) -> bool:
    """Whether ``path`` exists and is not a regular file (a device, a pipe): it is written in place."""
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:  # missing (or unreadable): the temporary file and the rename report what is wrong
        return False


def _mode(path: str) -> int:
    """The permissions of the file being replaced, or those a new file gets (0o666 less the umask)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
