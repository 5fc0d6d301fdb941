"""The ``bpcli`` Typer application: the root command, its --version, and the declared commands.

The commands are declared without typer (declare.py); ``register`` hands each to
typer, which reads the arguments the quick reader (quick.py) leaves to it.
"""

from __future__ import annotations

import functools
import inspect
import pathlib
import typing
from typing import Any

import typer

from bpcli import __version__
from bpcli.cli import common
from bpcli.cli.declare import Context, Declaration, Declared, Path, annotations_of
from bpcli.cli.shared import run_reporting

app = typer.Typer(
    name="bpcli",
    help="Differentiate an expression and show every stage of backpropagation.",
    rich_markup_mode=None,  # plain help and plain one-line usage errors
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    add_completion=True,
    epilog="""\b
Examples:
  bpcli grad "(x+y)*z" -x -2 -y 5 -z -4
  bpcli gates relu
  bpcli schema grad
""",
)


def _version(value: bool) -> None:
    if value:
        print(f"bpcli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Differentiate an expression and show every stage of backpropagation."""


def register(application: typer.Typer, declared: Declared) -> None:
    """Add a declared command (declare.py) to a typer application, its options converted to typer's."""
    function = declared.function
    hints = annotations_of(function)
    parameters = [
        parameter.replace(annotation=_typer_annotation(hints[parameter.name]), default=_typer_value(parameter.default))
        for parameter in inspect.signature(function).parameters.values()
    ]

    @functools.wraps(function)
    def run(**kwargs: Any) -> Any:
        ctx = kwargs.get("ctx")  # typer's (click's) Context, where the command reads bindings
        if ctx is not None and _answered_as_an_option(ctx, kwargs.get("expression")):
            return None

        def checked() -> Any:
            if ctx is not None:
                _check_option_words(ctx)
            return function(**kwargs)

        code = run_reporting(checked)  # bad input: one message on stderr and exit 2, never a traceback
        if code:
            raise typer.Exit(code)
        return None

    run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    run.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters}
    application.command(**declared.settings)(run)


def _typer_value(value: Any) -> Any:
    """A declared Option or Argument as typer's, made of the same arguments."""
    if not isinstance(value, Declaration):
        return value
    return (typer.Argument if value.positional else typer.Option)(*value.declarations, **value.settings)


def _typer_annotation(annotation: Any) -> Any:
    """A declared type as typer reads it: declare.Path is pathlib's, declare.Context typer's, options typer's."""
    if annotation is Path:
        return pathlib.Path
    if annotation is Context:
        return typer.Context
    arguments = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Annotated:
        return typing.Annotated[(_typer_annotation(arguments[0]), *map(_typer_value, annotation.__metadata__))]
    if arguments:  # Optional[...], list[...]
        return typing.get_origin(annotation)[tuple(map(_typer_annotation, arguments))]
    return annotation


def _answered_as_an_option(ctx: Any, expression: Any) -> bool:
    """--help means the option wherever it is (bind a variable named help as help=V); so does
    --version, which the console script also hands to the root command (bpcli.cli.main)."""
    words = [expression, *ctx.args]
    if "--version" in words:
        print(f"bpcli {__version__}")
        return True
    if "--help" in words:
        print(ctx.get_help())
        return True
    return False


def _check_option_words(ctx: Any) -> None:
    """common.check_option_words, with the options typer knows of this command and of every other."""
    commands = getattr(ctx.find_root().command, "commands", {}).values()
    common.check_option_words(
        ctx.command.name, _long_options(ctx.command.params),
        {opt for command in commands for opt in _long_options(command.params)}, ctx.args,
    )


def _long_options(params: Any) -> set[str]:
    return {opt for param in params for opt in param.opts if opt.startswith("--")}
