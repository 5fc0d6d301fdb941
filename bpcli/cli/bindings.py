"""Command-line bindings: ``-x -2``, ``--x -2``, ``--w0=2``, ``x=-2``.

Every single letter may be a variable, so bindings are read from the
arguments the command-line parser did not recognise. A value that starts with
``-`` is a value, never an option: ``-x -2`` binds x to -2. The value texts
are read by ``bpcli.engine.values``.
"""

from __future__ import annotations

from bpcli.engine.errors import BpcliError


CONST_OPTION = "--const"


def is_identifier(name: str) -> bool:
    """ASCII letters, digits and _, not starting with a digit: a variable's name (no pattern to compile)."""
    return name.isascii() and name.isidentifier()


def split_constants(arguments: list[str]) -> tuple[list[str], list[str]]:
    """The names given ``--const NAME`` (or ``--const=NAME``), and the other arguments.

    Read among the bindings, as they are: a variable named const is bound as const=VALUE.
    """
    names: list[str] = []
    rest: list[str] = []
    position = 0
    while position < len(arguments):
        argument = arguments[position]
        position += 1
        if argument == CONST_OPTION:
            if position >= len(arguments):
                raise BpcliError("--const needs the name of an input: --const mask")
            names.append(arguments[position])
            position += 1
        elif argument.startswith(CONST_OPTION + "="):
            names.append(argument.split("=", 1)[1])
        else:
            rest.append(argument)
    for name in names:
        _check_name(name, f"--const {name}")
    return names, rest


def split_bindings(arguments: list[str]) -> dict[str, str]:
    """Pair names with their value texts, in the order given."""
    bindings: dict[str, str] = {}
    position = 0
    while position < len(arguments):
        argument = arguments[position]
        position += 1
        if argument.startswith("-") and len(argument) > 1:
            flag = argument.lstrip("-")
            if "=" in flag:
                name, text = flag.split("=", 1)
            else:
                name = flag
                if position >= len(arguments):
                    raise BpcliError(f"{argument} needs a value: {argument} 2")
                text = arguments[position]
                position += 1
            _check_name(name, argument)
        elif "=" in argument:
            name, text = argument.split("=", 1)
            _check_name(name, argument)
        else:
            raise BpcliError(
                f"unexpected argument {argument!r}: bind a variable as -x 2, --x 2 or x=2 "
                "(quote the expression if it contains spaces)"
            )
        if name in bindings:
            raise BpcliError(f"{name} is bound twice")
        bindings[name] = text
    return bindings


def _check_name(name: str, argument: str) -> None:
    foreign = next((char for char in name if not char.isascii()), None)
    if foreign is not None:
        from bpcli.engine.syntax.parser import non_ascii_hint  # the parser only where an error needs it (start-up)

        raise BpcliError(f"{argument!r} is not a binding: {non_ascii_hint(foreign)}")
    if not is_identifier(name):
        raise BpcliError(
            f"{argument!r} is not a binding: a variable name is letters, digits and _ "
            "and starts with a letter or _ (unknown option?)"
        )

