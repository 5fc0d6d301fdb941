"""Shared helpers: the CLI as a user runs it, and a centred finite difference."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

from typer.testing import CliRunner

import bpcli
from bpcli.cli import app

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args: str, input: str | None = None):
    """Invoke the typer app in-process, as `bpcli ARGS...` would."""
    return CliRunner().invoke(app, list(args), input=input)


def run_json(*args: str) -> dict:
    result = run_cli(*args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def bpcli_executable() -> list[str]:
    """The installed console script, beside the interpreter running the tests."""
    script = Path(sys.executable).parent / "bpcli"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bpcli"]


def run_process(*args: str, input: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real `bpcli` in a subprocess."""
    return subprocess.run(
        [*bpcli_executable(), *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


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
