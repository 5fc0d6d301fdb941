"""The grammar: Python's precedence, programs, comments, and errors with a caret."""

from __future__ import annotations

import ast as python_ast

import pytest

import bpcli
from bpcli.engine.errors import BpcliError
from bpcli.engine.syntax.ast import Assign, Binary, Call, Name, Neg, Number
from bpcli.engine.syntax.parser import parse
from bpcli.engine.syntax.printer import to_text


def expr(text: str):
    (statement,) = parse(text).statements
    return statement


def evaluate_python(text: str, **names: float) -> float:
    """Python's own reading of an expression, via ast (nothing is executed as code)."""
    def walk(node):
        if isinstance(node, python_ast.Expression):
            return walk(node.body)
        if isinstance(node, python_ast.Constant):
            return float(node.value)
        if isinstance(node, python_ast.Name):
            return names[node.id]
        if isinstance(node, python_ast.UnaryOp):
            value = walk(node.operand)
            return -value if isinstance(node.op, python_ast.USub) else value
        if isinstance(node, python_ast.BinOp):
            a, b = walk(node.left), walk(node.right)
            if isinstance(node.op, python_ast.Add):
                return a + b
            if isinstance(node.op, python_ast.Sub):
                return a - b
            if isinstance(node.op, python_ast.Mult):
                return a * b
            if isinstance(node.op, python_ast.Div):
                return a / b
            if isinstance(node.op, python_ast.Pow):
                return a**b
        raise AssertionError(python_ast.dump(node))

    return walk(python_ast.parse(text, mode="eval"))


@pytest.mark.parametrize(
    "text",
    ["-x**2", "2**-1", "a-b-c", "a/b/c", "2**3**2", "-2**2", "a*b**c", "a-b*c+d", "-(a+b)*c", "a**-b**c", "--a"],
)
def test_precedence_and_associativity_agree_with_python(text):
    names = {"x": 3.0, "a": 2.0, "b": 3.0, "c": 1.5, "d": 0.5}
    used = {k: v for k, v in names.items() if k in text}
    assert bpcli.grad(text, used).value == pytest.approx(evaluate_python(text, **used), rel=1e-15)


def test_unary_minus_binds_looser_than_power():
    assert expr("-x**2") == Neg(Binary("**", Name("x"), Number(2.0, "2")))
    assert expr("2**-1") == Binary("**", Number(2.0, "2"), Neg(Number(1.0, "1")))


def test_numbers():
    assert [expr(t).value for t in ["3", "2.5", "1e-3", ".5", "1.", "2E+2"]] == [3, 2.5, 1e-3, 0.5, 1.0, 200]


def test_names_and_calls():
    assert expr("x_hat + w0") == Binary("+", Name("x_hat"), Name("w0"))
    assert expr("max(a, b)") == Call("max", (Name("a"), Name("b")))
    assert expr("sigmoid(x,)") == Call("sigmoid", (Name("x"),))


def test_programs_with_semicolons_newlines_and_comments():
    program = parse("# a staged program\nq = x + y  # the add gate\n\n; f = q * z;\n")
    assert program.statements == (
        Assign("q", Binary("+", Name("x"), Name("y"))),
        Assign("f", Binary("*", Name("q"), Name("z"))),
    )


def test_newlines_inside_brackets_are_ignored():
    assert expr("(x\n + y\n)") == expr("x + y")
    assert expr("max(x,\n    y)") == expr("max(x, y)")


def test_spans_point_into_the_source():
    node = expr("  foo(x)")
    assert node.func_span == (2, 5)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("y + [ ]", "[ ]"),
        ("y + [1, 2, ]", "[1, 2, ]"),
        ("y + max(x, y , )", "max(x, y , )"),
        ("y + np.maximum(x, y )", "np.maximum(x, y )"),
        ("x + ( 1, 2, )", "( 1, 2, )"),
    ],
)
def test_literals_and_calls_span_their_brackets(text, fragment):
    """Spaces and trailing commas inside, an empty []: the span is the written text, bracket to bracket."""
    (statement,) = parse(text).statements
    start, end = statement.right.span
    assert text[start:end] == fragment


@pytest.mark.parametrize(
    "text, where, fragment",
    [
        ("(x+)*z", "line 1, column 4", "unexpected ')'"),
        ("x +", "line 1, column 4", "unexpected end of the input"),
        ("(x+y", "line 1, column 5", "'(' is not closed"),
        ("2x", "line 1, column 2", "multiplication is written with *"),
        ("x^2", "line 1, column 2", "powers are written **"),
        ("q = x\nf = q +* z", "line 2, column 8", "unexpected '*'"),
    ],
)
def test_parse_errors_name_the_line_and_column_with_a_caret(text, where, fragment):
    with pytest.raises(BpcliError) as caught:
        parse(text)
    message = caught.value.render()
    assert where in message
    assert fragment in message
    caret = message.splitlines()[2]
    column = int(where.split("column ")[1])
    assert caret.index("^") == len("  ") + column - 1


def test_caret_sits_under_the_offending_character():
    with pytest.raises(BpcliError) as caught:
        parse("(x+)*z")
    _, line, caret, *_ = caught.value.render().splitlines()
    assert line == "  (x+)*z"
    assert caret == "     ^"


def test_long_lines_are_cut_around_the_caret():
    text = "x + " * 5000 + ")"
    with pytest.raises(BpcliError) as caught:
        parse(text)
    line, caret = caught.value.render().splitlines()[1:3]
    assert len(line) < 200
    assert line[caret.index("^")] == ")"


@pytest.mark.parametrize(
    "text",
    ["-x**2", "2**-1", "a - (b - c)", "(a - b) - c", "a / (b * c)", "(-2)**x", "2**3**2", "(2**3)**2",
     "-(x + y)", "max(x, -y) * -z", "1 / (1 + exp(-x))", "--x", "x**-y**z"],
)
def test_printing_parses_back_to_the_same_tree(text):
    tree = expr(text)
    assert expr(to_text(tree)) == tree


@pytest.mark.slow
def test_deep_nesting_parses_without_recursion():
    depth = 10_000
    tree = expr("(" * depth + "x" + ")" * depth)
    assert tree == Name("x")
    deep_negation = expr("-" * depth + "x")
    assert isinstance(deep_negation, Neg)
