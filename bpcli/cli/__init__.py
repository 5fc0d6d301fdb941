"""The command line: one module per command, each a thin layer over the library.

Nothing here computes; a command reads its arguments, calls ``bpcli.analyses.grad`` (or
the library module for its job) and prints a view. Imports of the parser,
numpy and rich happen inside the commands that need them, and the usual
command lines do not even import typer: each command is declared once
(``declare.py``), and ``quick.py`` reads its arguments from that declaration,
handing typer only what it is not sure of (--help, completion, bad values).
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

__all__ = ["app", "console", "main"]


# typer's --show-completion and --install-completion find the shell by looking
# at the processes above bpcli, and ignore a shell named after them. Named
# (bpcli --show-completion zsh, as in a Dockerfile, under sh), the shell is taken
# as given: typer's own switch for that makes the options take a shell name
# (and reject one it has no script for).
_COMPLETION_OPTIONS = ("--show-completion", "--install-completion")


def main() -> None:
    """The command line, ended with ``sys.exit`` (the console script is ``console``, which then ends the
    process at once)."""
    _collect_less_often()
    from bpcli.cli import quick, shared  # the quick reader: the usual command lines without typer (start-up)

    shared.guard_standard_streams()
    shared.terminate_as_interrupt()
    arguments = sys.argv[1:]
    code = shared.run_reporting(lambda: shared.require_utf8(arguments)) or quick.run(arguments, COMMANDS)
    if code is None:
        if "--version" in arguments:  # the root's option, wherever it is written (bpcli grad --version)
            sys.argv[1:] = ["--version"]
        if len(arguments) == 2 and arguments[0] in _COMPLETION_OPTIONS:
            os.environ["_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION"] = "1"
        # What typer prints itself (help, usage errors, --version) is reported like a command's output.
        code = shared.run_reporting(_typer)
    sys.exit(shared.flushed_at_exit(code))


def console() -> None:
    """The ``bpcli`` command and ``python -m bpcli``: ``main``, and then the process ends at once."""
    try:
        main()
    except SystemExit as exit:
        _end_now(exit.code)


def _end_now(code: Any) -> NoReturn:
    """End the process without tearing the interpreter down: Python's own exit frees every module and
    object one by one, 1.5 ms of a JSON run and 3 ms of a table (a tenth to a quarter of ``python -c
    pass``), when the command's output is written and its files closed (--out is renamed into place
    before this). The exit functions run first (atexit: a coverage tool's, say) and the standard streams
    are flushed; where a thread is still working, or a stream cannot be flushed, or the code is not a
    number, Python ends the process its own way, as it did before."""
    import atexit  # built in

    threading = sys.modules.get("threading")
    if threading is not None and any(not thread.daemon for thread in threading.enumerate()
                                      if thread is not threading.main_thread()):
        sys.exit(code)
    if code is not None and not isinstance(code, int):
        sys.exit(code)  # a message: Python prints it and ends with 1
    atexit._run_exitfuncs()  # what Python's exit would run, now (no public way to ask for it)
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        sys.exit(code)  # Python reports a stream it cannot flush, as before
    os._exit(code or 0)


# The cyclic collector's first generation, in objects made: Python's default (700) has it scan the
# modules' objects some ten to thirty times while a command starts, all of them alive to the end, which is
# a twentieth of a JSON run's start-up. Garbage cycles wait a little longer (the large phases pause the
# collector anyway: engine.problem.collector_paused).
_FIRST_GENERATION = 50_000


def _collect_less_often() -> None:
    """The console script's process only (the library leaves the collector as it finds it)."""
    import gc  # built in

    gc.set_threshold(_FIRST_GENERATION, *gc.get_threshold()[1:])


def _typer() -> Any:
    """typer's exit code: it exits with the command's code."""
    try:
        _application()()
    except SystemExit as exit:
        return exit.code
    return 0


# The commands: each is the module of this package of that name, which declares
# its command (declare.py); bpcli --help lists them in this order.
COMMANDS = ("check", "code", "exercise", "gates", "grad", "gradcheck", "grade", "graph", "hessian", "jacobian",
            "schema")


def _application() -> Any:
    import importlib  # the commands, named in COMMANDS, on first use

    from bpcli.cli.application import app, register  # typer only where the quick reader leaves off (start-up)
    from bpcli.cli.declare import DECLARED

    for command in COMMANDS:
        importlib.import_module(f"bpcli.cli.{command}")
    # Once, however often the application is asked for (a module may also register on typer's app itself).
    registered = {info.callback.__name__ for info in app.registered_commands if info.callback is not None}
    for command in COMMANDS:
        if command not in registered:
            register(app, DECLARED[command])
    return app


def __getattr__(name: str) -> Any:
    if name == "app":  # the typer application, with every command
        return _application()
    raise AttributeError(f"module 'bpcli.cli' has no attribute {name!r}")
