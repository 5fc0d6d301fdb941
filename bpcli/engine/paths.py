"""Paths as pathlib spells, splits and resolves them, with os.path: pathlib's import (urllib.parse,
ipaddress, fnmatch) costs start-up time, and a path from the command line is text.

Every function but ``is_inside`` (two resolved paths) takes a path as text or as a ``pathlib.Path`` (the
library's callers and typer's options give one); each message and document names a file as
``str(pathlib.Path(path))`` would (``path_text``), so that it reads the same whichever was given.
tests/test_paths.py checks each against pathlib.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    FilePath = str | os.PathLike[str]  # a path as text, or a pathlib.Path


def path_text(path: FilePath) -> str:
    """``str(pathlib.Path(path))``: without "." segments, doubled or trailing slashes ("." for ""), as every
    message and document names a file."""
    text = os.fspath(path)
    root = "//" if text[:2] == "//" and text[2:3] != "/" else "/" if text[:1] == "/" else ""
    return root + "/".join(part for part in text.split("/") if part and part != ".") or "."


def path_parent(path: FilePath) -> str:
    """``pathlib.Path(path).parent``: "." for a name alone, the root for the root."""
    return os.path.dirname(path_text(path)) or "."


def path_name(path: FilePath) -> str:
    """``pathlib.Path(path).name``: the last segment ("" for the root and for ".")."""
    name = os.path.basename(path_text(path))
    return "" if name == "." else name


def path_suffix(path: FilePath) -> str:
    """``pathlib.Path(path).suffix``: from the name's last dot, unless the name starts or ends there."""
    name = path_name(path)
    dot = name.rfind(".")
    return name[dot:] if 0 < dot < len(name) - 1 else ""


def path_stem(path: FilePath) -> str:
    """``pathlib.Path(path).stem``: the name without its suffix."""
    name = path_name(path)
    return name[: len(name) - len(path_suffix(name))]


def joined(folder: FilePath, path: FilePath) -> str:
    """``str(pathlib.Path(folder) / path)``: an absolute ``path`` stays itself."""
    return path_text(os.path.join(os.fspath(folder), os.fspath(path)))


def resolved_path(path: FilePath) -> str:
    """``str(pathlib.Path(path).resolve())``: absolute, symbolic links followed (a file that is not there
    is no error); a loop of links is a RuntimeError, a NUL byte a ValueError and a vanished working folder
    an OSError, as pathlib's."""
    resolved = os.path.realpath(path_text(path))
    try:
        os.stat(resolved)
    except OSError as error:  # realpath follows a loop of links until it gives up, silently
        if error.errno == errno.ELOOP:
            raise RuntimeError(f"Symlink loop from {error.filename!r}") from None
    return resolved


def file_status(path: FilePath, links: bool = True) -> os.stat_result | None:
    """What pathlib's exists, is_dir and is_file (with ``links=False``, is_symlink) ask, as they ask it:
    None where nothing is there (or the path cannot be encoded), any other error raised."""
    named = path_text(path)  # as pathlib asks: "file/" is "file"
    try:
        return os.stat(named) if links else os.lstat(named)
    except OSError as error:
        if error.errno not in (errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP):
            raise
        return None
    except ValueError:
        return None


def is_directory(path: FilePath) -> bool:
    """``pathlib.Path(path).is_dir()``."""
    status = file_status(path)
    return status is not None and stat.S_ISDIR(status.st_mode)


def is_file(path: FilePath) -> bool:
    """``pathlib.Path(path).is_file()``: a regular file, or a link to one."""
    status = file_status(path)
    return status is not None and stat.S_ISREG(status.st_mode)


def is_inside(path: str, folder: str) -> bool:
    """``pathlib.Path(path).is_relative_to(folder)``, for two resolved paths: segment by segment."""
    return path == folder or path.startswith(folder.rstrip("/") + "/")
