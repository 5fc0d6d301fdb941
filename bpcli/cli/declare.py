"""The commands and their options, declared once without importing typer.

A command module writes its function as a typer command is written, with
``Option``, ``Argument`` and ``Context`` from here in place of typer's, and
registers it with ``@command(...)`` (the settings ``app.command`` takes). Two
readers use the one declaration:

- ``application.py`` hands it to typer (``--help``, completion, usage errors,
  every argument the quick reader leaves alone), converting each ``Option`` to
  the ``typer.Option`` of the same arguments;
- ``quick.py`` reads the common command lines itself, so that ``bpcli check``
  and the rest start without typer's import (several times Python's own
  start-up), and hands everything else to typer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from bpcli.engine.record import NamedTuple

if TYPE_CHECKING:
    # What a command is handed for a path: text from the quick reader, a pathlib.Path from typer. Either
    # is read with engine/paths.py (pathlib's import is start-up time), and mypy holds a command to that.
    from bpcli.engine.paths import FilePath as Path
else:
    class Path:
        """A path option or argument in a declaration: typer reads it as a ``pathlib.Path``
        (application.py), the quick reader as the text pathlib would spell (quick.py)."""


class Context:
    """What a command reads of typer's Context: ``args``, the words left for bindings.

    typer's own Context takes its place when typer runs the command.
    """

    def __init__(self, args: list[str]) -> None:
        self.args = args


class Declaration:
    """``typer.Option``'s (or ``typer.Argument``'s) arguments, kept to be read by either reader."""

    def __init__(self, declarations: tuple[Any, ...], settings: dict[str, Any], positional: bool) -> None:
        self.declarations = declarations
        self.settings = settings
        self.positional = positional  # an Argument: words in order, not --name


# Typed as typer's are (Any), so that a parameter declared `json_output: bool = Option(False, ...)` checks.
def Option(*declarations: Any, **settings: Any) -> Any:  # noqa: N802  (spelt as typer.Option, which it stands for)
    """As a parameter's default, ``Option(DEFAULT, "--name", help=...)``; in ``Annotated``,
    ``Option("--name", help=...)``: the arguments typer.Option takes."""
    return Declaration(declarations, settings, positional=False)


def Argument(*declarations: Any, **settings: Any) -> Any:  # noqa: N802
    """``typer.Argument``'s arguments, as ``Option`` keeps typer.Option's."""
    return Declaration(declarations, settings, positional=True)


class Declared(NamedTuple):  # not a dataclass: dataclasses' import is start-up time
    """A command as declared: its function and typer's settings for it (context_settings, epilog)."""

    function: Callable[..., Any]
    settings: dict[str, Any]

    @property
    def takes_bindings(self) -> bool:
        """Words that are no option of the command are bindings (-x -2, --w0 2), not errors."""
        return bool(self.settings.get("context_settings", {}).get("ignore_unknown_options"))


# The commands declared so far, by name (the modules named in bpcli.cli.COMMANDS declare them on import).
DECLARED: dict[str, Declared] = {}


def command(**settings: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a command, named as its function, with ``typer.Typer.command``'s settings."""

    def declare(function: Callable[..., Any]) -> Callable[..., Any]:
        DECLARED[function.__name__] = Declared(function, settings)
        return function

    return declare


def annotations_of(function: Callable[..., Any]) -> dict[str, Any]:
    """A command function's annotations (texts: ``from __future__ import annotations``), each evaluated
    in its module, as ``typing.get_type_hints(function, include_extras=True)`` gives them, for both
    readers. Not that function itself: it compiles each text, and a run's first compile() sets up
    Python's AST types (see engine/record.py); eval of a text does not. The texts are bpcli's own
    source, never input."""
    written = function
    while hasattr(written, "__wrapped__"):  # a wrapper's annotations are read in its original's module
        written = written.__wrapped__
    namespace = written.__globals__
    return {name: eval(text, namespace) if isinstance(text, str) else text  # noqa: S307  (bpcli's own source)
            for name, text in function.__annotations__.items()}
