"""The quick reader: a command's usual arguments read without typer, from the same declarations.

Grading scripts run bpcli thousands of times, and typer's import alone is
several times the start-up of Python itself. Each command is declared once
(declare.py); this module reads that declaration — the options' names, types,
defaults and bounds — and runs the command on the arguments it understands
for certain. Anything it is not sure of goes to typer, which reads the same
declaration and has the last word: --help, --version, completion, ``--``, a
value out of bounds or not a number, an option without its value, a word that
may be a misspelt option. What typer prints for those is unchanged.
"""

from __future__ import annotations

import functools
import os
import typing
from typing import Any, Optional

from bpcli.cli.declare import DECLARED, Context, Declaration, Declared, Path, annotations_of
from bpcli.cli.shared import run_reporting
from bpcli.engine.paths import path_text
from bpcli.engine.record import NamedTuple

_TYPER_WORDS = ("--help", "--version", "--")


class _Parameter(NamedTuple):
    """One parameter of a command's function, as its declaration says it is read."""

    name: str
    declarations: tuple[str, ...]  # its option names (--h, --step); none for an argument
    kind: Any  # bool (a flag), int, float, str, Path, or Context
    default: Any
    many: bool  # a list: repeated options, or every remaining word
    settings: dict[str, Any]


class Undecided(Exception):
    """The arguments are for typer to read (it knows what to say about them)."""


def run(argv: list[str], commands: tuple[str, ...]) -> Optional[int]:
    """The exit code of ``bpcli`` run on ``argv``, or None when typer must read it."""
    if not argv or argv[0] not in commands or any(word in _TYPER_WORDS for word in argv):
        return None
    if any(name.startswith("_") and name.endswith("_COMPLETE") for name in os.environ):
        return None  # the shell asks typer for completions
    import importlib  # the command's module only (start-up)

    importlib.import_module(f"bpcli.cli.{argv[0]}")
    declared = DECLARED.get(argv[0])
    if declared is None:
        return None  # a command registered on typer's application directly
    try:
        arguments = read(declared, argv[1:])
    except Undecided:
        return None

    def checked() -> Any:
        if declared.takes_bindings:
            _check_option_words(argv[0], declared, arguments["ctx"].args, commands)
        return declared.function(**arguments)

    return run_reporting(checked)


def read(declared: Declared, words: list[str]) -> dict[str, Any]:
    """The function's arguments from the command line's words, as typer would give them."""
    parameters = _parameters(declared)
    options = {name: parameter for parameter in parameters for name in parameter.declarations}
    values: dict[str, Any] = {}
    rest: list[str] = []
    position = 0
    while position < len(words):
        word = words[position]
        name, sign, attached = word.partition("=") if word.startswith("--") else (word, "", "")
        parameter = options.get(name)
        position += 1
        if parameter is None:
            if word.startswith("-") and word != "-" and not declared.takes_bindings:
                raise Undecided()  # typer's "No such option"
            rest.append(word)
            continue
        if parameter.kind is bool:
            if sign:
                raise Undecided()  # a flag takes no value
            values[parameter.name] = True
            continue
        if not sign:
            if position == len(words):
                raise Undecided()  # the option's value is missing
            attached, position = words[position], position + 1
        value = _converted(parameter, attached)
        values[parameter.name] = [*values.get(parameter.name, []), value] if parameter.many else value
    for parameter in parameters:  # the arguments, in order, from the other words; the context gets what is left
        if not parameter.declarations and parameter.kind is not Context:
            values[parameter.name] = _taken(parameter, rest)
    if rest and not declared.takes_bindings:
        raise Undecided()  # typer's "Got unexpected extra argument"
    return {
        parameter.name: Context(rest) if parameter.kind is Context else values.get(parameter.name, parameter.default)
        for parameter in parameters
    }


def _taken(parameter: _Parameter, rest: list[str]) -> Any:
    """An argument's words, taken from the front of ``rest``: one, or (a list) all."""
    count = len(rest) if parameter.many else min(1, len(rest))
    taken, rest[:] = rest[:count], rest[count:]
    if not taken:
        return parameter.default
    converted = [_converted(parameter, word) for word in taken]
    return converted if parameter.many else converted[0]


def _converted(parameter: _Parameter, text: str) -> Any:
    """A word as the parameter's type, within its bounds; typer reports any word that is not."""
    if parameter.kind is Path:
        return path_text(text)  # str(pathlib.Path(text)), without pathlib (declare.Path)
    if parameter.kind not in (int, float):
        return text
    try:
        value = parameter.kind(text)
    except ValueError:
        raise Undecided() from None
    low, high = parameter.settings.get("min"), parameter.settings.get("max")
    if (low is not None and value < low) or (high is not None and value > high):
        raise Undecided()
    return value


def _parameters(declared: Declared) -> tuple[_Parameter, ...]:
    return _parameters_of(declared.function)


@functools.cache  # read twice in a run (the arguments, then the option words among the bindings)
def _parameters_of(function: Any) -> tuple[_Parameter, ...]:
    hints = annotations_of(function)
    code = function.__code__
    names = code.co_varnames[: code.co_argcount]
    defaults = dict(zip(names[len(names) - len(function.__defaults__ or ()):], function.__defaults__ or ()))
    return tuple(_parameter(name, hints[name], defaults.get(name)) for name in names)


def _parameter(name: str, annotation: Any, default: Any) -> _Parameter:
    declaration: Optional[Declaration] = None
    if typing.get_origin(annotation) is typing.Annotated:
        declaration = next(item for item in annotation.__metadata__ if isinstance(item, Declaration))
        annotation = typing.get_args(annotation)[0]
        words = declaration.declarations
    elif isinstance(default, Declaration):
        declaration = default
        default, *rest = declaration.declarations
        words = tuple(rest)
    kind, many = _kind(annotation)
    if declaration is None:
        return _Parameter(name, (), kind, default, many, {})
    if declaration.positional:
        words = ()
    return _Parameter(name, tuple(words), kind, default, many, declaration.settings)


def _kind(annotation: Any) -> tuple[Any, bool]:
    """The type a word is converted to, and whether it is a list (Optional[list[Path]]: Path, True)."""
    arguments = [argument for argument in typing.get_args(annotation) if argument is not type(None)]
    if typing.get_origin(annotation) is typing.Union:
        return _kind(arguments[0])
    if typing.get_origin(annotation) is list:
        return arguments[0], True
    return annotation, False


def _check_option_words(name: str, declared: Declared, arguments: list[str], commands: tuple[str, ...]) -> None:
    """common.check_option_words, the other commands' options read from their declarations only when needed."""
    from bpcli.cli import common

    own = _long_options(declared)
    if not any(word.startswith("--") and "=" not in word and word not in own for word in arguments):
        common.check_option_words(name, own, set(), arguments)
        return
    import importlib  # every command's options, for a word that is none of this one's (start-up)

    for command in commands:
        importlib.import_module(f"bpcli.cli.{command}")
    elsewhere = {option for command in commands for option in _long_options(DECLARED[command])}
    common.check_option_words(name, own, elsewhere, arguments)


def _long_options(declared: Declared) -> set[str]:
    return {word for parameter in _parameters(declared) for word in parameter.declarations if word.startswith("--")}
