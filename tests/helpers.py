"""Shared helpers: the CLI as a user runs it, and a centred finite difference."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

import jsonschema
from typer.testing import CliRunner

import bpcli
from bpcli.cli import app

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args: str, input: str | None = None):
    """Invoke the typer app in-process, as `bpcli ARGS...` would; --json output is validated."""
    result = CliRunner().invoke(app, list(args), input=input)
    validate_output(args, result.stdout)
    return result


def run_json(*args: str) -> dict:
    result = run_cli(*args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


# ---- every --json output the tests produce is checked against its schema ----


def validate_output(args: Sequence[str], stdout: str) -> None:
    """Validate what a bpcli run with ``args`` printed, if it printed a --json document (or JSON Lines)."""
    if "--help" in args or not stdout.strip():
        return
    if "--points" in args:
        if "--json" in args or "jsonl" in args:  # --format jsonl
            for line in stdout.splitlines():
                validated(line, "points")
    elif "--json" in args:
        validated(stdout)


# jsonschema takes about half a millisecond per stage: a list longer than this
# (a 100,000-gate document's stages) is checked on this many items spread evenly
# along it; every item of a list is written by the same code.
SAMPLED_ITEMS = 500


def validated(text: str, schema: str | None = None) -> dict:
    """A --json document, parsed and checked against its schema (the one its "schema" key names)."""
    document = json.loads(text)
    validator = _validator(schema or document["schema"])
    error = jsonschema.exceptions.best_match(validator.iter_errors(_sampled(document)))
    if error is not None:
        where = "/".join(map(str, error.absolute_path))
        raise AssertionError(f"the document does not follow its schema at /{where}: {error.message}")
    return document


def _sampled(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sampled(item) for key, item in value.items()}
    if isinstance(value, list):
        step = max(1, len(value) // SAMPLED_ITEMS)
        return [_sampled(item) for item in value[::step]]
    return value


@functools.cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(strict(bpcli.json_schema(name)))


def strict(schema: Any) -> Any:
    """The schema with no keys beyond those it lists: the shipped schemas let documents
    gain keys (for their readers' sake), the tests make sure every key is described."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    tightened = {key: strict(value) for key, value in schema.items()}
    if "properties" in schema and "additionalProperties" not in schema:
        tightened["additionalProperties"] = False
    return tightened


def bpcli_executable() -> list[str]:
    """The installed console script, beside the interpreter running the tests."""
    script = Path(sys.executable).parent / "bpcli"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bpcli"]


def on_a_terminal(*args: str, env: dict[str, str], columns: int | None = None) -> bytes:
    """What the real bpcli writes to a pseudo-terminal (``columns`` wide, if given), escape codes and all."""
    import pty

    parent, child = pty.openpty()
    if columns is not None:
        import fcntl
        import struct
        import termios

        fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    process = subprocess.Popen([*bpcli_executable(), *args], stdin=child, stdout=child, stderr=child, env=env)
    os.close(child)
    output = b""
    while True:
        try:
            chunk = os.read(parent, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        output += chunk
    os.close(parent)
    assert process.wait(timeout=60) == 0
    return output


def run_process(*args: str, input: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real `bpcli` in a subprocess; --json output is validated."""
    process = subprocess.run(
        [*bpcli_executable(), *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )
    validate_output(args, process.stdout)
    return process


def centred_difference(f: Callable[[float], float], x: float, h: float = 1e-5) -> float:
    step = h * max(1.0, abs(x))
    return (f(x + step) - f(x - step)) / (2 * step)


def numeric_gradients(expression: str, point: dict[str, float]) -> dict[str, float]:
    """Every input's gradient by a centred finite difference of bpcli's own forward pass."""
    def value_at(name: str) -> Callable[[float], float]:
        return lambda v: bpcli.grad(expression, {**point, name: v}).value

    return {name: centred_difference(value_at(name), x) for name, x in point.items()}


def close(analytic: float, numeric: float, rel: float = 1e-6) -> bool:
    """Relative agreement, with an absolute floor for gradients that are (nearly) zero."""
    return abs(analytic - numeric) <= rel * (abs(analytic) + abs(numeric)) + 1e-8
