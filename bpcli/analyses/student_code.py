"""Student code as it is handed in: a forward function and its backward function, paired.

    bpcli check --forward layers.py:affine_forward --backward layers.py:affine_backward -x ... -w ... -b ...

The forward function's parameters are the inputs; the first value it returns
is the output (the value differentiated), and ``cache`` (``cache = (x, w, b)``
or ``return out, (x, w, b)``) is what it keeps for the backward. The backward
function receives the upstream gradient and the cache in its parameters
(``dout, cache``), takes the cached values out by name (``x, w, b = cache``:
position by position, they are the forward's values of those names) and
returns the gradients **in the order of the forward function's parameters**:
``return dx, dw, db`` is compared with the gradients of ``x``, ``w``, ``b``,
as the assignment's ``dx, dw, db = affine_backward(dout, cache)`` receives
them. A returned name may be any name (``return grad_x``); a name that is the
gradient of *another* parameter (``return dw, dx, db``) is refused, since the
caller would receive the gradients swapped. Parameters after the last returned
gradient (``eps``, ``y``) are not compared.
"""

from __future__ import annotations

import ast
from typing import Callable, Collection

from bpcli.analyses.backward_file import Scope
from bpcli.engine.errors import BpcliError
from bpcli.engine.limits import DEFAULT_MAX_LENGTH
from bpcli.engine.record import Record
from bpcli.engine.syntax.function_spec import split_spec
from bpcli.engine.syntax.functions import CACHE, Function, read_function
from bpcli.engine.values import read_text_file


class Signature(Record, frozen=True):
    """What a backward function is paired by: its forward pass's parameters, in order, and what its cache keeps.

    A forward function has one (``signature``); so has a grader's expression whose inputs are the
    parameters and, all of them in order, the cache (``bpcli grade``: ``expr = "out = x.dot(w) + b"``).
    """

    label: str  # for messages: FILE.py:NAME, or where the expression is
    name: str  # the forward pass, as messages name it
    parameters: tuple[str, ...]
    kept: tuple[str, ...]


class StudentCode(Record, frozen=True):
    """A forward function, perhaps its backward pass, and how the two meet."""

    forward: Function | Signature  # a Signature: the forward pass is an expression (program), not a function
    program: str  # the forward pass, as a bpcli program at the file's own lines
    backward: str | None = None  # the backward pass, the same way (None: there is none to check)
    backward_label: str = ""
    scope: Scope | None = None  # what the backward pass reads and returns
    # Forward values only the backward lines of a loss function read (probs): not unused, though the loss
    # does not need them.
    read_later: frozenset[str] = frozenset()


def read_code(forward: str, backward: str | None = None, read: Callable[[str], str] | None = None,
              max_length: int = DEFAULT_MAX_LENGTH) -> StudentCode:
    r"""The forward function ``FILE.py:NAME`` and perhaps its backward function, read and paired.

    ``read`` returns a path's text (the command line reads the user's own paths, an answers file
    only those inside its folder); by default, a UTF-8 file of at most ``max_length`` bytes.

        >>> import bpcli
        >>> layers = ("def relu_forward(x):\n    out = x * (x > 0)\n    cache = x\n    return out, cache\n\n"
        ...           "def relu_backward(dout, cache):\n    x = cache\n    dx = dout * (x > 0)\n    return dx\n")
        >>> code = bpcli.read_code("layers.py:relu_forward", "layers.py:relu_backward", read=lambda path: layers)
        >>> result = bpcli.check("layers.py:relu_forward", x=[1.5, -2.0, 0.0], code=code)
        >>> result.passed, result.problems[0].upstream.source
        (True, 'random')
    """
    reader = read or (lambda path: read_text_file(path, max_length))
    return student_code(load_function(forward, reader), None if backward is None else load_function(backward, reader))


def load_function(spec: str, read: Callable[[str], str]) -> Function:
    """The function ``FILE.py:NAME`` picks; ``read`` returns a path's text (bounded, and confined where it
    must be)."""
    picked = split_spec(spec)
    if picked is None:
        raise BpcliError(f"{spec}: pick a function as FILE.py:NAME (layers.py:affine_forward)")
    path, name = picked
    return read_function(read(path), name, path)


def student_code(forward: Function, backward: Function | None = None) -> StudentCode:
    """Pair the two functions (a BpcliError where they do not fit together).

    A forward function that returns gradients after its output (``return loss, dx``, as the
    assignment's ``softmax_loss`` and ``svm_loss`` do) is a loss with its gradient: its statements
    up to the one that computes the loss are the forward pass, those after it the backward pass.
    """
    if backward is None and _gradients_returned(forward):
        return _loss_with_gradient(forward)
    _output(forward)
    if backward is None:
        return StudentCode(forward, forward.program)
    return paired(forward, forward.program, backward)


def paired(forward: Function | Signature, program: str, backward: Function) -> StudentCode:
    """A backward function paired with its forward pass (``program``): a BpcliError where they do not fit."""
    signed = forward if isinstance(forward, Signature) else signature(forward)
    scope = Scope(_taken(signed, backward), _upstream(backward), _returned(signed, backward))
    return StudentCode(forward, program, backward.program, backward.label, scope)


def signature(forward: Function) -> Signature:
    """A forward function's parameters, and the names its cache holds: cache = (x, w, b), or a single name
    returned second."""
    kept: tuple[str, ...] = ()
    if len(forward.returns) >= 2:
        kept = (forward.kept or ()) if forward.returns[1] == CACHE else (forward.returns[1],)
    return Signature(forward.label, forward.name, forward.parameters, kept)


def check_used(code: StudentCode, names: Collection[str]) -> None:
    """Every value the backward reads from the cache, and every parameter whose gradient it returns, must be
    a value of the forward pass (``names``): one the forward never uses has no value there, nor a gradient."""
    scope, forward = code.scope, code.forward
    if scope is None:
        return
    for mine, name in (scope.values or {}).items():
        if name not in names:
            raise BpcliError(f"{forward.label}: the {CACHE} holds {name}, which {forward.name} never uses, so "
                             f"bpcli has no value for {mine}")
    for mine, name in scope.gradients.items():
        if name not in names:
            raise BpcliError(f"{forward.label}: {forward.name} never uses its parameter {name}, so no gradient "
                             f"flows back to it and {mine} has nothing to be compared with")


def _gradients_returned(forward: Function) -> bool:
    rest = forward.returns[1:]
    return bool(rest) and all(name.startswith("d") and name[1:] in forward.parameters for name in rest)


def loss_code(function: Function) -> StudentCode:
    """A loss function the grader names as one (``bpcli grade``'s ``loss``): it returns its loss and then its
    gradients, in the order of its parameters, whatever it names them (``return loss, grad``)."""
    if len(function.returns) < 2:
        raise BpcliError(f"{function.label}, line {function.returns_line}: {function.name} returns only "
                         f"{', '.join(function.returns)}: a loss function returns its loss and its gradients "
                         "(return loss, dx)")
    return _loss_with_gradient(function)


def loss_line(function: Function) -> int:
    """The line of a loss function's statement that computes the loss it returns (its last assignment)."""
    return function.statements[_loss_statement(function)].lineno


def _loss_statement(function: Function) -> int:
    """The index of the statement that computes the returned loss last."""
    output = function.returns[0]
    if output not in function.targets:
        raise BpcliError(f"{function.label}, line {function.returns_line}: {function.name} returns {output} but "
                         "never computes it")
    return len(function.targets) - 1 - function.targets[::-1].index(output)


def _loss_with_gradient(function: Function) -> StudentCode:
    output, gradients = function.returns[0], function.returns[1:]
    where = f"{function.label}, line {function.returns_line}"
    last = _loss_statement(function)
    early = [i for i, target in enumerate(function.targets[:last]) if target in gradients]
    if early:
        statement = function.statements[early[0]]
        raise BpcliError(
            f"{function.label}, line {statement.lineno}: {function.targets[early[0]]} is computed before "
            f"{output}: bpcli reads the lines up to {output} as the forward pass and the lines after it as the "
            f"backward pass, so compute {output} first")
    returned = _returned_in_order(function, gradients, function.parameters, where)
    scope = Scope(None, "d" + output, returned)
    later = frozenset(node.id for statement in function.statements[last + 1:] for node in ast.walk(statement)
                      if isinstance(node, ast.Name))
    return StudentCode(function, function.text(0, last + 1), function.text(last + 1), function.label, scope, later)


def _output(forward: Function) -> str:
    """The value a forward function returns first: its output, which must be what it computes last."""
    if len(forward.returns) > 2:
        raise BpcliError(f"{forward.label}, line {forward.returns_line}: a forward function returns its output "
                         "and its cache (return out, cache)")
    output = forward.returns[0]
    if forward.last_target is None:
        raise BpcliError(f"{forward.label}: {forward.name} computes nothing")
    if forward.last_target != output:
        raise BpcliError(
            f"{forward.label}: {forward.name} returns {output}, but its last statement assigns "
            f"{forward.last_target}: bpcli differentiates the value computed last, so compute {output} last")
    if output in forward.parameters:
        raise BpcliError(f"{forward.label}: {forward.name} returns its parameter {output} unchanged")
    return output


def _taken(forward: Signature, backward: Function) -> dict[str, str]:
    """Each name the backward takes from the cache -> the forward value of that position."""
    if backward.unpacked is None:
        return {}
    kept, taken = forward.kept, backward.unpacked
    if backward.whole and len(kept) != 1:
        raise BpcliError(
            f"{backward.label}: {backward.name} takes the {CACHE} as one value, but {forward.name}'s holds "
            f"{len(kept)} ({', '.join(kept) or 'nothing'}); unpack them: {', '.join(kept) or 'x'} = {CACHE}")
    if len(taken) != len(kept):
        raise BpcliError(
            f"{backward.label}: {backward.name} unpacks {len(taken)} values ({', '.join(taken)}) from a {CACHE} "
            f"that holds {len(kept)} ({', '.join(kept) or 'nothing'}, as {forward.name} keeps it)")
    return dict(zip(taken, kept))


def _upstream(backward: Function) -> str:
    if len(backward.parameters) != 2 or backward.parameters[1] != CACHE:
        raise BpcliError(f"{backward.label}: a backward function takes the upstream gradient and the {CACHE}: "
                         f"def {backward.name}(dout, {CACHE})")
    return backward.parameters[0]


def _returned(forward: Signature, backward: Function) -> dict[str, str]:
    """Each name the backward returns -> the forward parameter whose gradient it must be (by position)."""
    where = f"{backward.label}, line {backward.returns_line}"
    return _returned_in_order(backward, backward.returns, forward.parameters, where, forward.name)


def _returned_in_order(function: Function, returns: tuple[str, ...], parameters: tuple[str, ...], where: str,
                       forward: str | None = None) -> dict[str, str]:
    """Each returned name -> the parameter whose gradient it must be: the first the first parameter's, ..."""
    backward, forward = function.name, forward or function.name
    if len(returns) > len(parameters):
        raise BpcliError(f"{where}: {backward} returns {len(returns)} gradients, but {forward} has "
                         f"{len(parameters)} parameters ({', '.join(parameters)}), one gradient each at most")
    if len(set(returns)) != len(returns):
        raise BpcliError(f"{where}: {backward} returns the same name twice")
    expected = ", ".join("d" + p for p in parameters[:len(returns)])
    for position, name in enumerate(returns):
        other = name[1:] if name.startswith("d") else None
        if other in parameters and other != parameters[position]:
            raise BpcliError(
                f"{where}: {backward} returns {name} in the place of the gradient of "
                f"{parameters[position]}: the gradients come back in the order of {forward}'s parameters "
                f"({', '.join(parameters)}), so return {expected}")
    return dict(zip(returns, parameters))
