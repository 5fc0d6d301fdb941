"""The grammar ships inside the wheel and is found by regular and editable installs.

Each test installs bpcli into a fresh virtual environment (no network: the
dependencies, pip and hatchling are borrowed from the environment running the
tests) and runs the installed `bpcli` from a folder outside the checkout.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from helpers import REPO, validated

pytestmark = [
    pytest.mark.slow,  # each test builds a wheel or a virtual environment
    pytest.mark.skipif(
        not any(p.endswith("site-packages") for p in sys.path), reason="needs a site-packages to borrow from"
    ),
]


def fresh_venv(root: Path) -> Path:
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (site,) = (venv / "lib").glob("python*/site-packages")
    outer = [p for p in sys.path if p.endswith("site-packages")]
    # Appended after the venv's own site-packages, so the bpcli installed there wins.
    (site / "zz_borrowed_dependencies.pth").write_text("\n".join(outer) + "\n")
    return venv


def pip_install(venv: Path, *args: str) -> None:
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps",
         "--no-build-isolation", "--no-index", *args],
        check=True, capture_output=True, timeout=300,
    )


def run_installed(venv: Path, cwd: Path) -> tuple[dict, str]:
    process = subprocess.run(
        [str(venv / "bin" / "bpcli"), "grad", "(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4", "--json"],
        capture_output=True, text=True, cwd=cwd, timeout=60,
    )
    assert process.returncode == 0, process.stderr
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import bpcli; print(bpcli.__file__)"],
        capture_output=True, text=True, cwd=cwd, check=True,
    ).stdout.strip()
    return validated(process.stdout), where


def test_wheel_carries_the_grammar(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(tmp_path), str(REPO)],
        check=True, capture_output=True, timeout=300,
    )
    (wheel,) = tmp_path.glob("bpcli-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "bpcli/grammar/bpcli.lark" in names
    shipped = zipfile.ZipFile(wheel).read("bpcli/grammar/bpcli.lark").decode()
    assert shipped == (REPO / "grammar" / "bpcli.lark").read_text()
    # The parser tables, generated from that grammar at build time (hatch_build.py).
    generated = zipfile.ZipFile(wheel).read("bpcli/engine/syntax/_lalr_parser.py").decode()
    assert f"GRAMMAR = {shipped!r}" in generated
    # The JSON schemas of the --json documents, and the mark of a typed package.
    schemas = sorted(path.name for path in (REPO / "bpcli" / "views" / "schemas").glob("*.json"))
    assert schemas and sorted(name for name in names if name.startswith("bpcli/views/schemas/")) == [
        f"bpcli/views/schemas/{name}" for name in schemas]
    assert "bpcli/py.typed" in names


def test_regular_install_loads_the_grammar_from_the_package(tmp_path):
    venv = fresh_venv(tmp_path)
    pip_install(venv, str(REPO))
    doc, where = run_installed(venv, cwd=tmp_path)
    assert doc["gradients"] == {"x": -4.0, "y": -4.0, "z": 3.0}
    package = Path(where).parent
    assert str(package).startswith(str(venv))
    assert (package / "grammar" / "bpcli.lark").is_file()
    parser_module = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "from bpcli.engine.syntax.parser import _parser; print(_parser().__name__)"],
        capture_output=True, text=True, cwd=tmp_path, check=True,
    ).stdout.strip()
    assert parser_module == "bpcli.engine.syntax._lalr_parser"
    schema = subprocess.run([str(venv / "bin" / "bpcli"), "schema", "grad"], capture_output=True, text=True,
                            cwd=tmp_path, timeout=60)
    assert schema.returncode == 0, schema.stderr
    assert '"const": "bpcli.grad/1"' in schema.stdout


def test_editable_install_loads_the_grammar_from_the_checkout(tmp_path):
    venv = fresh_venv(tmp_path)
    pip_install(venv, "-e", str(REPO))
    doc, where = run_installed(venv, cwd=tmp_path)
    assert doc["gradients"] == {"x": -4.0, "y": -4.0, "z": 3.0}
    assert Path(where).parent == REPO / "bpcli"
    assert not (REPO / "bpcli" / "grammar").exists()
