"""Build hook: generate the standalone LALR parser from grammar/ when bpcli is installed.

The generated module (bpcli/engine/syntax/_lalr_parser.py, not committed) lets a run
parse without importing lark or rebuilding the tables; see
bpcli/engine/syntax/standalone.py. Editable installs get it in the checkout, wheels
carry it inside the package.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class GenerateParser(BuildHookInterface):
    PLUGIN_NAME = "generate-parser"

    def initialize(self, version: str, build_data: dict) -> None:
        root = Path(self.root)
        standalone = _load(root / "bpcli" / "engine" / "syntax" / "standalone.py")
        grammar = (root / "grammar" / "bpcli.lark").read_text(encoding="utf-8")
        standalone.generate(grammar, target=standalone.GENERATED)
        if version != "editable":
            build_data["force_include"][str(standalone.GENERATED)] = "bpcli/engine/syntax/_lalr_parser.py"


def _load(path: Path):
    """Load the generator by path, without importing the bpcli package being built."""
    spec = importlib.util.spec_from_file_location("_bpcli_standalone", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
