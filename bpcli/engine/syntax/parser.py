"""Text to AST: the lark grammar in ``grammar/`` with an LALR parser.

The AST nodes are built as rules are reduced, by callbacks named after the
grammar's rules (``_AstBuilder``, lark's Transformer convention), so no parse
tree is ever walked recursively: a 10,000-deep nest of parentheses parses like
a flat sum. lark builds the LALR tables from the grammar; they are generated
into a module of plain literals (``standalone.py``), so a run imports neither
lark nor any of its runtime, and tokens come from ``lexer.py``. ``_run_table``
drives the tables in a loop that skips the steps that change nothing (an
operand passing through the precedence levels above it), which is most of the
steps for a large expression.
"""

from __future__ import annotations

import operator
import re
from functools import lru_cache
from itertools import chain
from typing import Any, Iterable, TypeGuard

from bpcli.engine.errors import BpcliError, line_and_column
from bpcli.engine.syntax import grammar, spellings, standalone
from bpcli.engine.syntax.lexer import END, KIND, START, STRAY, TEXT, Lexer, Token
from bpcli.engine.syntax.ast import (
    Array, Assign, AtSet, Attribute, Binary, Call, EllipsisItem, Expr, Invert, Name, Neg, Number, Program, Slice,
    Span, Subscript, Transpose, Tuple, Unpack,
)

# How the parser's terminal names read in an error message.
_TERMINAL_TEXT = {
    "NAME": "a name",
    "NUMBER": "a number",
    "PLUS": "'+'",
    "MINUS": "'-'",
    "STAR": "'*'",
    "SLASH": "'/'",
    "POW": "'**'",
    "AT": "'@'",
    "LSQB": "'['",
    "RSQB": "']'",
    "LPAR": "'('",
    "RPAR": "')'",
    "COMMA": "','",
    "SEMICOLON": "';'",
    "EQUAL": "'='",
    "PLUSEQUAL": "'+='",
    "AUGMENTED": "an augmented assignment",
    "DOT": "'.'",
    "COLON": "':'",
    "FLOORDIV": "'//'",
    "PERCENT": "'%'",
    "ELLIPSIS": "'...'",
    "TILDE": "'~'",
    "VBAR": "'|'",
    "AMPERSAND": "'&'",
    "COMPARE": "a comparison",
    "_NEWLINE": "a new line",
    "$END": "the end of the input",
}

SHAPE_ATTRIBUTES = ("shape", "ndim", "size")  # numbers fixed by the bound values' shapes


def parse(source: str) -> Program:
    """Parse a program (or a single expression) into an AST.

    Raises BpcliError, with the line and a caret, when the text is not valid.
    """
    parser = _parser()
    end: Token = ("$END", "", len(source), len(source))
    states: list[int] = []
    try:
        return _run_table(_table(parser), _lexer(parser).tokens(source), end, states)
    except BpcliError as error:  # raised while building the AST, which does not know the source
        error.source = source
        raise
    except _UnexpectedToken as error:
        token = error.token
        stray = token[KIND] == STRAY  # a character no terminal matches
        raise _syntax_error(source, token[START], None if stray else token, _expected(parser, states)) from None


def parse_into(source: str, builder: Any) -> Any:
    """Drive the same tables with ``builder``'s callbacks, named after the grammar's rules, instead of the
    AST's; tokens are streamed. The flat tape (engine/tape.py) reads a large expression this way, straight
    into arrays. Errors are not dressed here: whoever gets one parses again with ``parse``, which reports it.
    """
    parser = _parser()
    end: Token = ("$END", "", len(source), len(source))
    return _run_table(_tables_for(parser, builder), _lexer(parser).stream(source), end, [])


class _UnexpectedToken(Exception):
    def __init__(self, token: Token) -> None:
        super().__init__(token)
        self.token = token


_SHIFT = 0  # lark's serialized tables: (0, next state) shifts, (1, rule) reduces


def _run_table(table: tuple[Any, ...], tokens: Iterable[Token], end: Token, state_stack: list[int]) -> Program:
    """Drive lark's LALR table over ``tokens``; the value of the start rule at the end.

    ``state_stack`` is the caller's, so that after an error it shows what the
    parser was expecting. In ``table``, a shift (or a goto) is the next state
    alone, and a reduction is its plan (see ``_table``).
    """
    states, start, end_state = table
    state = start
    state_stack.append(state)
    value_stack: list[Any] = []
    push_state, pop_state = state_stack.append, state_stack.pop
    push_value, pop_value = value_stack.append, value_stack.pop
    # Steps that only pass an operand up through precedence levels change the
    # top state alone, as a function of (state below, top state, lookahead):
    # each such run is looked up once and then taken in a single step.
    passes: dict[tuple[int, int, str], int] = {}
    for token in chain(tokens, (end,)):
        kind = token[KIND]
        while True:
            try:
                step = states[state][kind]
            except KeyError:
                raise _UnexpectedToken(token) from None
            if type(step) is int:
                state = step
                push_state(state)
                push_value(token)
                break
            size, origin, callback = step
            if callback is None:
                key = (state_stack[-2], state, kind)
                top = passes.get(key)
                if top is None:
                    top = passes[key] = _pass_through(states, *key)
                state_stack[-1] = state = top
                continue
            if size == 1:  # a name or a number: the commonest reduction
                children = [pop_value()]
                pop_state()
            elif size:
                children = value_stack[-size:]
                del state_stack[-size:]
                del value_stack[-size:]
            else:
                children = []
            push_value(callback(children))
            state = states[state_stack[-1]][origin]
            push_state(state)
            if token is end and state == end_state:
                program: Program = value_stack[-1]  # the start rule's value
                return program
    raise AssertionError("unreachable: the end token is reduced to the program or rejected, never shifted")


def _pass_through(states: dict[int, dict[str, Any]], below: int, top: int, kind: str) -> int:
    """The top state after every pass-through step the lookahead ``kind`` causes from ``top``."""
    while True:
        step = states[top].get(kind)
        if step is None or type(step) is int or step[2] is not None:
            return top
        top = states[below][step[1]]


@lru_cache(maxsize=1)
def _table(tables: Any) -> tuple[Any, ...]:
    """The LALR states with each reduction planned once, building the AST (see ``_tables_for``)."""
    return _tables_for(tables, _AstBuilder())


def _tables_for(tables: Any, builder: Any) -> tuple[Any, ...]:
    """The LALR states with each reduction planned once: (size, rule name, callback).

    Where a callback would only hand one child on, the plan says so instead:
    None for a ``?rule`` level an operand passes through (one child, nothing
    to do at all), and a plain item getter for one kept child among filtered
    punctuation (``"(" expr ")"``).
    """
    plans = [_plan(builder, *rule) for rule in tables.RULES]
    states = {
        state: {name: argument if action == _SHIFT else plans[argument] for name, (action, argument) in row.items()}
        for state, row in tables.STATES.items()
    }
    return states, tables.START, tables.END


def _plan(builder: Any, size: int, origin: str, name: str, single: bool,
          kept: list[tuple[int, bool, int]], nones_after: int) -> tuple[int, str, Any]:
    """One rule's reduction: its children handed on as lark hands them (see ``standalone._rule_plan``)."""
    plain = not nones_after and not any(inline or nones for _, inline, nones in kept)
    if single and len(kept) == 1 and plain:
        position = kept[0][0]
        return size, origin, None if size == 1 else operator.itemgetter(position)
    # A rule inlined into its parent (its name starts with _) hands on the list of its children.
    build = list if name.startswith("_") else getattr(builder, name)
    positions = [position for position, _, _ in kept]
    if plain and positions == list(range(size)):
        return size, origin, build  # every child, as they are (x + y, -x, a number): the common case
    if plain and len(positions) > 1:  # some children, as they are (a call without its "(")
        pick = operator.itemgetter(*positions)
        return size, origin, lambda children: build([*pick(children)])

    # A repetition (``(_sep statement)*``) is a left-recursive inlined rule: its
    # first child is the list built so far, which this rule alone holds, so it
    # grows in place; copying it at every repetition would make a long program
    # quadratic.
    grows_in_place = build is list and bool(kept) and tuple(kept[0]) == (0, True, 0)
    rest = kept[1:] if grows_in_place else kept

    def callback(children: list[Any]) -> Any:
        handed: list[Any] = children[0] if grows_in_place else []
        for position, inline, nones in rest:
            if nones:
                handed += [None] * nones
            if inline:
                handed += children[position]
            else:
                handed.append(children[position])
        if nones_after:
            handed += [None] * nones_after
        if single and len(handed) == 1:
            return handed[0]
        return handed if build is list else build(handed)  # ``handed`` is already a fresh list

    return size, origin, callback


def _expected(tables: Any, state_stack: list[int]) -> set[str]:
    states = _table(tables)[0]
    return {name for name in states[state_stack[-1]] if name.isupper()} if state_stack else set()


@lru_cache(maxsize=1)
def _lexer(tables: Any) -> Lexer:
    return Lexer(tables.TERMINALS, tables.IGNORE)


@lru_cache(maxsize=1)
def _parser() -> Any:
    """The parser's tables: generated from the grammar (``standalone.py``), or built now if they cannot be."""
    text = grammar.text()
    tables = standalone.load(text)
    if tables is None:
        try:
            standalone.generate(text)  # a checkout whose grammar changed: next run is fast again
            tables = standalone.load(text)
        except OSError:
            tables = None
    return tables if tables is not None else standalone.in_memory(text)  # a read-only installation


def _span(first: _Child, last: _Child) -> Span:
    return (_start(first), _end(last))


def _start(item: _Child) -> int:
    return item[START] if isinstance(item, tuple) else item.span[0]


def _end(item: _Child) -> int:
    return item[END] if isinstance(item, tuple) else item.span[1]


class _AstBuilder:
    """Callbacks named after the grammar's rules; each receives the rule's children."""

    def program(self, children: list[Any]) -> Program:
        return Program(tuple(child for child in children if child is not None))

    def assignment(self, children: list[Any]) -> Assign:
        target, value = children
        return Assign(target[TEXT], value, _span(target, value), _span(target, target))

    def accumulation(self, children: list[Any]) -> Assign:
        target, _, value = children
        return Assign(target[TEXT], value, _span(target, value), _span(target, target), accumulate=True)

    def augmented(self, children: list[Any]) -> Assign:
        """``c -= v`` is ``c = c - v``: a new version of c (``+=`` is an accumulation, see above)."""
        target, operator, value = children
        name = Name(target[TEXT], (target[START], target[END]))
        updated = Binary(operator[TEXT][0], name, value, _span(target, value))
        return Assign(target[TEXT], updated, _span(target, value), _span(target, target))

    def item_assignment(self, children: list[Any]) -> Assign:
        """``a[k] = v``: a new version of a, with v written at k (a functional update)."""
        array, _, items, closing, value = children
        name = _assigned_name(array)
        return Assign(name.id, AtSet(name, tuple(items), value, _span(array, value)), _span(array, value),
                      _span(array, closing))

    def item_augmented(self, children: list[Any]) -> Assign:
        """``a[k] -= v`` is ``a[k] = a[k] - v``, as numpy computes it (a repeated index is written once)."""
        array, _, items, closing, operator, value = children
        name = _assigned_name(array)
        read = Subscript(name, tuple(items), _span(array, closing))
        updated = Binary(operator[TEXT][0], read, value, _span(array, value))
        return Assign(name.id, AtSet(name, tuple(items), updated, _span(array, value)), _span(array, value),
                      _span(array, closing))

    def _binary(self, children: list[Any]) -> Binary:
        left, operator, right = children
        return Binary(operator[TEXT], left, right, (left.span[0], right.span[1]))

    add = sub = mul = div = pow = matmul = bitand = bitor = floordiv = mod = _binary

    def unpacking(self, children: list[Any]) -> Unpack:
        *targets, value = [child for child in children if child is not None]
        return Unpack(tuple(t[TEXT] for t in targets), value, _span(targets[0], value),
                      tuple((t[START], t[END]) for t in targets))

    def comparison(self, children: list[Any]) -> Binary:
        """``a < b``; a chain ``a < b < c`` is refused (Python reads it as ``a < b and b < c``, numpy cannot)."""
        if len(children) > 3:
            first, last = children[0], children[-1]
            raise BpcliError(
                "a chained comparison is not supported: write each comparison in parentheses and combine "
                "them with &, as (a < b) & (b < c)",
                span=_span(first, last),
            )
        return self._binary(children)

    def invert(self, children: list[Any]) -> Invert:
        tilde, operand = children
        return Invert(operand, _span(tilde, operand))

    def subscript(self, children: list[Any]) -> Subscript:
        value, _, items, closing = children
        return Subscript(value, tuple(items), _span(value, closing))

    def subscripts(self, children: list[Any]) -> list[Any]:
        return [child for child in children if child is not None]

    def slice(self, children: list[Any]) -> Slice:
        start, first_colon, stop, second_colon, step = children
        last = next((item for item in (step, second_colon, stop) if item is not None), first_colon)
        return Slice(start, stop, step, _span(start if start is not None else first_colon, last))

    def ellipsis(self, children: list[Any]) -> EllipsisItem:
        (token,) = children
        return EllipsisItem((token[START], token[END]))

    def attribute(self, children: list[Any]) -> Transpose | Attribute | Name:
        """``a.T``, the one attribute bpcli knows."""
        operand, token = children
        name = token[TEXT]
        if name == "T":
            return Transpose(operand, _span(operand, token))
        if name in SHAPE_ATTRIBUTES and not (isinstance(operand, Name) and operand.id in spellings.MODULE_ALIASES):
            return Attribute(operand, name, _span(operand, token))
        if isinstance(operand, Name) and spellings.MODULE_ALIASES.get(operand.id) == "np":
            if name == "newaxis":
                return Name("None", _span(operand, token))  # np.newaxis is None
            if name == "linalg":
                return Name(f"{operand.id}.linalg", _span(operand, token))  # the receiver of np.linalg.norm
            if name == "random":
                raise BpcliError(spellings.unsupported(f"{operand.id}.random.*"), span=_span(operand, token))
        if isinstance(operand, Name) and operand.id in spellings.MODULE_ALIASES:
            if spellings.module_function(operand.id, name) is not None:
                raise BpcliError(
                    f"{operand.id}.{name} is a function: call it, as {operand.id}.{name}(x)", span=_span(operand, token)
                )
            raise BpcliError(
                f"{operand.id}.{name} is not supported: bpcli calls functions of math and np, as np.exp(x) "
                "(constants such as math.pi are not supported: write the number)", span=_span(operand, token),
            )
        raise BpcliError(
            f".{name} is not an attribute bpcli knows: the attributes are .T (transpose), .shape, .ndim and .size",
            span=(token[START] - 1, token[END]),
        )

    def parenthesized(self, children: list[Any]) -> Any:
        """``(a)`` is ``a``, its span widened to the brackets, so that a line's text and a caret include them."""
        opening, inner, closing = children
        if type(inner) is not tuple:  # a node (never a bare token here)
            inner.span = _span(opening, closing)
        return inner

    def neg(self, children: list[Any]) -> Neg:
        minus, operand = children
        return Neg(operand, _span(minus, operand))

    def pos(self, children: list[Any]) -> Any:
        return children[1]  # unary plus changes nothing

    def number(self, children: list[Any]) -> Number:
        (token,) = children
        return Number(float(token[TEXT]), token[TEXT], (token[START], token[END]))

    def name(self, children: list[Any]) -> Name:
        (token,) = children
        return Name(token[TEXT], (token[START], token[END]))

    def call(self, children: list[Any]) -> Call:
        func, arguments, closing = children
        args, keywords = _sorted_arguments(arguments) if arguments else ((), ())
        return Call(func[TEXT], args, (func[START], closing[END]), (func[START], func[END]), keywords)

    def dotted_call(self, children: list[Any]) -> Call:
        """``math.exp(x)``, ``np.maximum(a, b)`` or ``W.dot(X)``: bpcli's functions under Python's names."""
        receiver, token, arguments, closing = children
        call = self.call([token, arguments, closing])
        method = token[TEXT]
        span = (receiver.span[0], call.span[1])
        if isinstance(receiver, Name) and receiver.id in spellings.MODULE_ALIASES:
            spelt = f"{receiver.id}.{method}"
            func = spellings.module_function(receiver.id, method)
            if func is None:
                raise BpcliError(
                    spellings.unsupported(spelt), span=span,
                    hint=f"bpcli accepts these Python spellings: {spellings.listed()}",
                )
            args, keywords = call.args, call.keywords
            spelt_np = f"{spellings.MODULE_ALIASES[receiver.id]}.{method}"
            if spelt_np in spellings.REDUCTIONS or spelt_np in spellings.AXIS_SECOND:
                args, keywords = _axis_by_position(spelt, args, keywords, 1, span, spelt_np in spellings.REDUCTIONS)
            return Call(func, args, span, (receiver.span[0], call.func_span[1]), keywords)
        if method in spellings.METHODS:
            func = spellings.METHODS[method]
            args, keywords = (receiver, *call.args), call.keywords
            if method in spellings.REDUCING_METHODS:
                args, keywords = _axis_by_position(f".{method}", args, keywords, 1, span)
            return Call(func, args, span, call.func_span, keywords)
        raise BpcliError(
            f".{method}(...) is not a method bpcli knows", span=(call.func_span[0] - 1, call.span[1]),
            hint=f"bpcli knows these methods: {', '.join(f'a.{m}(...)' for m in spellings.METHODS)}, and a.T",
        )

    def arguments(self, children: list[Expr | _Keyword | None]) -> list[Expr | _Keyword]:
        return [child for child in children if child is not None]

    def keyword(self, children: list[Any]) -> _Keyword:
        name, value = children
        return _Keyword(name[TEXT], value, (name[START], _end(value)))

    def elements(self, children: list[Expr | None]) -> list[Expr]:
        return [child for child in children if child is not None]

    def array_literal(self, children: list[Any]) -> Array:
        opening, elements, closing = children
        return Array(tuple(elements or ()), _span(opening, closing))

    def tuple_literal(self, children: list[Any]) -> Tuple:
        opening, first, rest, closing = children
        return Tuple((first, *(rest or ())), _span(opening, closing))


def _assigned_name(target: Any) -> Name:
    """The name whose element an assignment writes: ``dx[idx] = ...`` (not ``f(x)[0] = ...``)."""
    if type(target) is not Name:
        raise BpcliError("only a name's elements can be assigned to: dx[idx] = 0", span=target.span)
    return target


def _axis_by_position(spelt: str, args: tuple[Any, ...], keywords: tuple[tuple[str, Any], ...], arrays: int,
                      span: Span, reduces: bool = True) -> tuple[tuple[Any, ...], tuple[tuple[str, Any], ...]]:
    """numpy's reductions read the argument after the array as the axis: np.sum(x, 1) is np.sum(x, axis=1);
    so do a few other functions (``reduces`` False): np.expand_dims(x, 0), np.concatenate((a, b), 1)."""
    if len(args) <= arrays:
        return args, keywords
    axis = args[arrays]
    if len(args) > arrays + 1 or any(name == "axis" for name, _ in keywords) or not _is_axis(axis):
        if not reduces:
            raise BpcliError(f"{spelt} reads the argument after its array as an axis, an integer or a tuple of "
                             "them, as numpy does", span=span)
        raise BpcliError(
            f"{spelt} reduces one array (numpy reads a second argument as an axis, an integer or a tuple "
            "of them): write np.sum(a, 1) or np.sum(a, axis=(0, 1)); np.maximum(a, b) and np.minimum(a, b) "
            "compare two arrays elementwise",
            span=span,
        )
    return args[:arrays], (("axis", axis), *keywords)


def _is_axis(node: Any) -> bool:
    if isinstance(node, Tuple):
        return all(_is_axis(element) for element in node.elements)
    if isinstance(node, Neg):
        node = node.operand
    return isinstance(node, Number) and node.text.isdigit()


def _sorted_arguments(arguments: list[Expr | _Keyword]) -> tuple[tuple[Expr, ...], tuple[tuple[str, Expr], ...]]:
    """A call's positional arguments and its (name, value) keyword arguments."""
    if _all_positional(arguments):
        return tuple(arguments), ()  # sigmoid(x), max(a, b): the common case
    _check_arguments_order(arguments)
    args = tuple(a for a in arguments if not isinstance(a, _Keyword))
    return args, tuple((k.name, k.value) for k in arguments if isinstance(k, _Keyword))


def _all_positional(arguments: list[Expr | _Keyword]) -> TypeGuard[list[Expr]]:
    return not any(type(argument) is _Keyword for argument in arguments)


def _check_arguments_order(arguments: list[Expr | _Keyword]) -> None:
    """As in Python: keyword arguments come after the positional ones, each at most once."""
    seen: set[str] = set()
    for argument in arguments:
        if isinstance(argument, _Keyword):
            if argument.name in seen:
                raise BpcliError(f"the keyword argument {argument.name} is given twice", span=argument.span)
            seen.add(argument.name)
        elif seen:
            raise BpcliError("a positional argument follows a keyword argument", span=argument.span)


class _Keyword:
    """A ``name=value`` call argument, before it is sorted out from the positional ones."""

    def __init__(self, name: str, value: Expr, span: Span) -> None:
        self.name, self.value, self.span = name, value, span


# What a rule's children are: tokens it shifted, nodes built by the rules below it.
_Child = Token | Expr | Assign | _Keyword


def _syntax_error(source: str, position: int, token: Token | None, expected: set[str]) -> BpcliError:
    """The message for a character no terminal matches (token None) or a token out of place."""
    if token is None:
        span = (position, position + 1)
        char = source[position]
        what = f"unexpected character {char!r}"
        hint = _character_hint(char)
    elif token[KIND] != "$END":
        span = (token[START], max(token[END], token[START] + 1))
        what = f"unexpected {_describe_token(token)}"
        hint = _token_hint(source, token)
    else:
        end = len(source.rstrip())
        span = (end, end + 1)
        what = "unexpected end of the input"
        hint = "a '(' is not closed" if "RPAR" in expected else None
    line, column = line_and_column(source, span[0])
    wanted = _expected_text(expected, _bracket_depth(source, span[0]))
    if wanted:
        hint = f"{hint}; {wanted}" if hint else wanted
    return BpcliError(
        f"parse error at line {line}, column {column}: {what}",
        source=source,
        span=span,
        hint=hint,
    )


def _describe_token(token: Token) -> str:
    kind, text = token[KIND], token[TEXT]
    if kind in ("NAME", "NUMBER"):
        return f"{_TERMINAL_TEXT[kind][2:]} {text!r}"
    return _TERMINAL_TEXT.get(kind, repr(text)).removeprefix("a ")


def _expected_text(expected: set[str], depth: int) -> str:
    """What could have come instead, in words rather than a list of terminals.

    LALR states are shared between contexts, so the parser's own list of
    expected terminals is wider than what makes sense at this spot.
    """
    if "NAME" in expected or "NUMBER" in expected:
        return "expected a value: a number, a name or a parenthesised expression"
    if depth > 0:
        return "expected an operator or ')'"
    if expected:
        return "expected an operator, ';' or a new line"
    return ""


def _bracket_depth(source: str, position: int) -> int:
    """How many brackets are open at ``position`` (comments are not bpcli's concern here)."""
    text = source[:position]
    return text.count("(") - text.count(")")


# Letters of other alphabets that look like Latin ones (a Cyrillic х typed for x).
_LOOKALIKES = dict(zip("аеорсухіјѕАВЕКМНОРСТХαβεικνορτυχΑΒΕΗΙΚΜΝΟΡΤΧ",
                       "aeopcyxijsABEKMHOPCTXaBeiKvopTuxABEHIKMNOPTX"))


def non_ascii_hint(char: str) -> str:
    """Why a character that is not ASCII cannot be part of a name, and the Latin letter it may stand for."""
    import unicodedata  # only an error needs it

    name = unicodedata.name(char, "").lower() or f"U+{ord(char):04X}"
    looks = f"; did you mean the Latin {_LOOKALIKES[char]!r}?" if char in _LOOKALIKES else ""
    return f"{char!r} ({name}) is not ASCII: names are written with ASCII letters, digits and _{looks}"


def _character_hint(char: str) -> str | None:
    if not char.isascii():
        return non_ascii_hint(char)
    hints = {
        "^": "powers are written ** (as in Python): x**2",
        "!": "bpcli has no comparison or factorial operators",
        "'": "bpcli has no strings",
        '"': "bpcli has no strings",
    }
    return hints.get(char)


def _token_hint(source: str, token: Token) -> str | None:
    before = source[: token[START]].rstrip(" \t")
    if token[KIND] in ("NAME", "NUMBER", "LPAR") and before and (before[-1].isalnum() or before[-1] in "._)"):
        return _side_by_side_hint(before, token[TEXT])
    if token[KIND] == "EQUAL":
        return "an assignment is written name = expression, one per statement"
    return None


def _side_by_side_hint(before: str, text: str) -> str:
    """Two things side by side: a function called without parentheses (exp x), a line of Python
    (import os), or, with a number or a bracket involved (2x, 2 x, x(y+1)), a missing *."""
    import keyword  # only an error needs these

    from bpcli.engine.gates import FUNCTIONS

    previous = re.search(r"[A-Za-z_][A-Za-z0-9_]*\Z", before)
    word = previous.group() if previous else ""
    if keyword.iskeyword(word) or keyword.issoftkeyword(word):
        return f"'{word}' is Python; bpcli reads expressions and assignments (name = expression), not Python statements"
    if word in FUNCTIONS and text != "(":
        return f"a function is called with parentheses: {word}({text})"
    return "two values stand side by side: multiplication is written with * (2*x, not 2x)"




def suggest(name: str, known: list[str]) -> str:
    """A 'did you mean' phrase for a misspelt name, or an empty string."""
    import difflib  # only an error needs it

    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
