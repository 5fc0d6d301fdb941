"""The grammar against itself, the printer and Python.

- Printing any AST and parsing the text back gives the same AST (the printer
  writes the table's "expression" column and the staged code).
- Every string bpcli's own grammar generates (hypothesis.extra.lark's
  from_lark) parses:
  the lexer and the parser never disagree with the grammar.
- Where such a string is also Python, Python's parser (ast.parse, which runs
  nothing) reads the same tree: precedence and associativity agree.
"""

from __future__ import annotations

import ast as python_ast
import re

import lark
from hypothesis import event, example, given
from hypothesis import strategies as st
from hypothesis.extra.lark import LarkStrategy

from bpcli.engine.errors import BpcliError
from bpcli.engine.syntax import grammar, spellings
from bpcli.engine.syntax.ast import Invert, Array, Assign, Binary, Call, Name, Neg, Number, Transpose, Tuple
from bpcli.engine.syntax.parser import parse
from bpcli.engine.syntax.printer import to_text
from fuzzing import budget

# ---- random trees --------------------------------------------------------------------------

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True)
number_texts = st.from_regex(r"([0-9]{1,4}(\.[0-9]{0,3})?|\.[0-9]{1,3})([eE][+-]?[0-9]{1,3})?", fullmatch=True)
numbers = number_texts.map(lambda text: Number(float(text), text))


def _trees(children):
    some = st.lists(children, min_size=1, max_size=3).map(tuple)
    keywords = st.lists(st.tuples(names, children | some.map(Tuple)), max_size=2, unique_by=lambda k: k[0])
    return st.one_of(
        st.builds(Neg, children),
        st.builds(Binary, st.sampled_from(["+", "-", "*", "/", "**", "@"]), children, children),
        st.builds(Transpose, children),
        st.builds(Call, names, st.lists(children, max_size=3).map(tuple), keywords=keywords.map(tuple)),
        st.builds(Array, some),
    )


trees = st.recursive(numbers | st.builds(Name, names), _trees, max_leaves=15)


@budget(1.5)
@given(trees)
@example(Transpose(Number(2.0, "2")))  # "2.T" lexes as the number "2." and the name T
@example(Neg(Binary("**", Neg(Name("x")), Number(2.0, "2"))))
def test_printing_and_parsing_back_gives_the_same_tree(tree):
    text = to_text(tree)
    (statement,) = parse(text).statements
    assert statement == tree, text


# ---- strings from the grammar --------------------------------------------------------------

_GRAMMAR = lark.Lark(grammar.text(), parser="lalr", start="program")
# A number with a point or an exponent, so that "2" followed by ".T" (which lexes as "2." and T,
# in Python too) is not drawn; whole numbers are covered by the round trip above.
_NUMBERS = st.from_regex(r"([0-9]{1,3}\.[0-9]{0,3}|\.[0-9]{1,3})([eE][+-]?[0-9]{1,3})?|[0-9]{1,3}[eE][+-]?[0-9]{1,3}", fullmatch=True)
_TERMINALS = {
    "NUMBER": _NUMBERS,
    "NAME": names,
    # A comment runs to the end of the line: drawn between two tokens it would swallow the rest.
    "COMMENT": st.just(" "),
}


class _Shallower(LarkStrategy):
    """from_lark, drawing a rule's expansions that do not recurse into it more often.

    The grammar has a rule per precedence level and most are recursive (expr:
    product | expr + product | expr - product): drawn uniformly, expr recurses
    two times in three and most draws exceed hypothesis's depth. Every
    expansion stays possible; only the odds change.
    """

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.nonterminal_strategies = {
            rule: st.sampled_from(_weighted(rule, strategy.elements))
            for rule, strategy in self.nonterminal_strategies.items()
        }


def _weighted(rule: str, expansions) -> list:
    closing = [e for e in expansions if all(symbol.name != rule for symbol in e)]
    return [*expansions, *closing * (6 * (len(expansions) - len(closing)))]


grammar_strings = _Shallower(_GRAMMAR, "program", _TERMINALS, st.characters(codec="utf-8"))

# Errors the grammar cannot know of: raised while the tree is built, with a message of their own.
_MEANING = re.compile(
    r"is not an? (function|method|attribute) bpcli knows|is not supported|takes one array here"
    r"|given twice|positional argument follows|reduces one array|only a name's elements|is random"
)


@budget(0.6)
@given(grammar_strings)
@example("-x**2")
@example("2**-1")
@example("a-b-c")
@example("a/b/c")
@example("2**3**2")
@example("-2**-x**y @ z.T; q = np.maximum(a, b) / W.dot(v)")
def test_every_string_of_the_grammar_parses_as_python_reads_it(text):
    try:
        ours = parse(text)
    except BpcliError as error:
        assert _MEANING.search(error.message), (text, error.message)
        event("refused for its meaning")
        return
    theirs = _python_program(text)
    if theirs is not None:
        event("also Python")
        assert [_ours(statement) for statement in ours.statements] == theirs, text


def _python_program(text: str) -> list | None:
    try:
        body = python_ast.parse(text).body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    try:
        return [_python_statement(statement) for statement in body]
    except _NotWritten:
        return None


class _NotWritten(Exception):
    """Python that bpcli's grammar does not write (True, x.y = 1, ...)."""


def _ours(node):
    """A bpcli tree as nested tuples that a Python tree can be compared with."""
    kind = type(node)
    if kind is Assign:
        return ("+=" if node.accumulate else "=", node.target, _ours(node.value))
    if kind is Number:
        return ("number", node.value)
    if kind is Name:
        return ("name", node.id)
    if kind is Neg:
        return ("-", _ours(node.operand))
    if kind is Invert:
        return ("~", _ours(node.operand))
    if kind is Binary:
        return (node.op, _ours(node.left), _ours(node.right))
    if kind is Transpose:
        return (".T", _ours(node.operand))
    if kind is Call:
        return ("call", node.func, tuple(map(_ours, node.args)), tuple((k, _ours(v)) for k, v in node.keywords))
    if kind in (Array, Tuple):
        return (kind.__name__, tuple(map(_ours, node.elements)))
    raise AssertionError(node)


_OPERATORS = {python_ast.Add: "+", python_ast.Sub: "-", python_ast.Mult: "*", python_ast.Div: "/",
              python_ast.Pow: "**", python_ast.MatMult: "@", python_ast.FloorDiv: "//", python_ast.Mod: "%",
              python_ast.BitAnd: "&", python_ast.BitOr: "|"}


def _python_statement(node):
    if isinstance(node, python_ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], python_ast.Name):
        return ("=", node.targets[0].id, _python(node.value))
    if isinstance(node, python_ast.AugAssign) and isinstance(node.target, python_ast.Name):
        if isinstance(node.op, python_ast.Add):
            return ("+=", node.target.id, _python(node.value))
        # c -= v is c = c - v, a new version of c
        return ("=", node.target.id, (_OPERATORS[type(node.op)], ("name", node.target.id), _python(node.value)))
    if isinstance(node, python_ast.Expr):
        return _python(node.value)
    raise _NotWritten(node)


def _axis_keyword(args, keywords, arrays):
    """numpy's reductions read the argument after the array as the axis, as bpcli's tree writes it."""
    if len(args) <= arrays:
        return args, keywords
    return args[:arrays], (("axis", args[arrays]), *keywords)


def _python(node):
    """The same nested tuples from Python's tree."""
    if isinstance(node, python_ast.Constant) and type(node.value) in (int, float):
        return ("number", float(node.value))
    if isinstance(node, python_ast.Name):
        return ("name", node.id)
    if isinstance(node, python_ast.UnaryOp):
        operand = _python(node.operand)
        if isinstance(node.op, python_ast.Invert):
            return ("~", operand)
        return operand if isinstance(node.op, python_ast.UAdd) else ("-", operand)
    if isinstance(node, python_ast.BinOp):
        return (_OPERATORS[type(node.op)], _python(node.left), _python(node.right))
    if isinstance(node, python_ast.Attribute) and node.attr == "T":
        return (".T", _python(node.value))
    if isinstance(node, python_ast.Call):
        args = tuple(map(_python, node.args))
        keywords = tuple((k.arg, _python(k.value)) for k in node.keywords)
        func = node.func
        if isinstance(func, python_ast.Name):
            return ("call", func.id, args, keywords)
        if isinstance(func.value, python_ast.Name) and func.value.id in spellings.MODULE_ALIASES:
            spelt = f"{spellings.MODULE_ALIASES[func.value.id]}.{func.attr}"
            if spelt in spellings.REDUCTIONS or spelt in spellings.AXIS_SECOND:
                args, keywords = _axis_keyword(args, keywords, 1)
            return ("call", spellings.module_function(func.value.id, func.attr), args, keywords)
        if func.attr not in spellings.METHODS:
            raise _NotWritten(node)  # np.linalg.norm and other dotted paths
        args = (_python(func.value), *args)
        if func.attr in spellings.REDUCING_METHODS:
            args, keywords = _axis_keyword(args, keywords, 1)
        return ("call", spellings.METHODS[func.attr], args, keywords)
    if isinstance(node, python_ast.List):
        return ("Array", tuple(map(_python, node.elts)))
    if isinstance(node, python_ast.Tuple):
        return ("Tuple", tuple(map(_python, node.elts)))
    raise _NotWritten(node)
