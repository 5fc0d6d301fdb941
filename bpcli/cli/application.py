"""The ``bpcli`` Typer application: the root command and its --version."""

from __future__ import annotations

import typer

from bpcli import __version__

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
