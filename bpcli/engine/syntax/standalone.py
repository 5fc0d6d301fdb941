"""The parser's tables, generated from ``grammar/`` once, so that a run never rebuilds them.

lark builds the LALR tables from the grammar; that costs lark's import and the
table construction, most of bpcli's start-up, and lark's own standalone
module would still bring its runtime (logging, dataclasses, inspect) to every
run. So lark runs here only, and what bpcli's parser needs is written out as
Python literals: the terminals in the order the lexer tries them, the LALR
states, and for each grammar rule how lark would hand its children on (which
are kept, which inlined, where an absent ``[optional]`` stands as None, and
whether a ``?rule`` passes a single child through). ``parser.py`` drives them.

The module is generated at install time (``hatch_build.py``) and, in a
checkout whose grammar has changed since, on the first run. It records the
grammar it came from and its own layout, and is used only while both are
unchanged, so an edited grammar can never be parsed with stale tables. Where it cannot be
written (a read-only installation), the same tables are built in memory.
It holds literals only: nothing is unpickled.
"""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType
from typing import Any

MODULE = "_lalr_parser"
GENERATED = os.path.join(os.path.dirname(os.path.abspath(__file__)), MODULE + ".py")

# The layout of the generated module: a file of another layout is stale, whatever its grammar
# (a checkout keeps its generated file, which git ignores, across updates of this module).
FORMAT = 2
# Options that shape the tables.
PARSER_OPTIONS = {"parser": "lalr", "start": "program", "maybe_placeholders": True}
SHIFT, REDUCE = 0, 1


def load(grammar_text: str) -> ModuleType | None:
    """The generated tables for this grammar, or None if there are none or they are stale."""
    if not os.path.isfile(GENERATED):
        return None
    name = f"bpcli.engine.syntax.{MODULE}"
    try:
        if sys.modules.pop(name, None) is not None:  # generated again during this run: a fresh module
            importlib.invalidate_caches()
        module = importlib.import_module(name)
    except Exception:  # a damaged file: regenerate rather than fail
        return None
    current = getattr(module, "FORMAT", None) == FORMAT and getattr(module, "GRAMMAR", None) == grammar_text
    return module if current else None


def tables(grammar_text: str) -> dict[str, Any]:
    """What the parser needs of lark's LALR parser for ``grammar_text``, as plain data."""
    import lark  # only when the tables are generated
    from lark.parsers.lalr_analysis import Shift  # only when the tables are generated

    parser = lark.Lark(grammar_text, **PARSER_OPTIONS)
    conf = parser.parse_interactive("").parser_state.parse_conf
    rules = list(conf.callbacks)
    number = {rule: index for index, rule in enumerate(rules)}
    # Names are lark Tokens (a kind of str); str() keeps the tables plain literals.
    states = {
        state: {
            str(symbol): (SHIFT, argument) if action is Shift else (REDUCE, number[argument])
            for symbol, (action, argument) in row.items()
        }
        for state, row in conf.states.items()
    }
    # lark's basic lexer tries terminals by priority, then by the longest possible match.
    ordered = sorted(
        parser.terminals, key=lambda t: (-t.priority, -t.pattern.max_width, -len(t.pattern.value), t.name)
    )
    return {
        "FORMAT": FORMAT,
        "GRAMMAR": grammar_text,
        "LARK_VERSION": lark.__version__,
        "TERMINALS": [(str(t.name), t.pattern.to_regexp()) for t in ordered],
        "IGNORE": sorted(map(str, parser.lexer_conf.ignore)),
        "STATES": states,
        "START": conf.start_state,
        "END": conf.end_state,
        "RULES": [_rule_plan(rule) for rule in rules],
    }


def _rule_plan(rule: Any) -> tuple[Any, ...]:
    """How lark hands a rule's children to its callback (lark's parse_tree_builder, for LALR).

    (size, origin, callback name, pass a single child through, [(position,
    inline its children, Nones before it)], Nones at the end). Symbols that
    are filtered punctuation are left out; a rule whose name starts with _ is
    inlined into its parent; an absent [optional] is a None where it would be.
    """
    expansion = rule.expansion
    empty = rule.options.empty_indices
    if empty:
        runs = "".join(str(int(flag)) for flag in empty).split("0")
        nones = [len(run) for run in runs]
    else:
        nones = [0] * (len(expansion) + 1)
    kept = []
    pending = 0  # Nones due before the next kept child: those before a filtered symbol carry on
    for position, symbol in enumerate(expansion):
        pending += nones[position]
        if not (symbol.is_term and symbol.filter_out) or rule.options.keep_all_tokens:
            kept.append((position, not symbol.is_term and symbol.name.startswith("_"), pending))
            pending = 0
    name = rule.alias or rule.options.template_source or rule.origin.name
    single = bool(rule.options.expand1 and not rule.alias)
    return (len(expansion), str(rule.origin.name), str(name), single, kept, pending + nones[len(expansion)])


def in_memory(grammar_text: str) -> ModuleType:
    """The tables without writing them: for an installation whose package folder is read-only."""
    module = ModuleType(f"{MODULE}, built in memory")
    module.__dict__.update(tables(grammar_text))
    return module


def generate(grammar_text: str, target: str | os.PathLike[str] = GENERATED) -> None:
    """Write the tables for ``grammar_text`` to ``target`` as a Python module (atomically)."""
    import tempfile  # only when the tables are generated

    data = tables(grammar_text)
    lines = [f'"""Generated by bpcli from grammar/bpcli.lark with lark {data["LARK_VERSION"]}; do not edit."""']
    lines += [f"{key} = {value!r}" for key, value in data.items()]
    source = "\n".join(lines) + "\n"
    folder = os.path.dirname(os.path.abspath(target))
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{MODULE}-", suffix=".py")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(source)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; every user of the installation reads it
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise
