"""The evaluated graph, read as the stages a person follows.

A GradResult holds the graph, where backward put every gradient, and the
evaluated values; its stages, forks and warnings are read from those, never
recomputed. Every view (the table, the JSON document) reads a GradResult.
"""

from __future__ import annotations

import re
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any, Callable, Sequence, overload

from bpcli import views
from bpcli.engine.backward import Adjoints
from bpcli.engine.evaluate import Evaluation
from bpcli.engine.formulas import Texts
from bpcli.engine.gates import REGISTRY
from bpcli.engine.problem import Notice, Problem, collector_paused
from bpcli.engine.record import NamedTuple

if TYPE_CHECKING:  # the tape's module only where a large expression went on it (start-up)
    from bpcli.engine import tape


class Result:
    """What every result shares: it shows itself through bpcli.views, the one place results meet their views.

    ``to_json()`` is the document ``--json`` prints, rich shows the
    command's table (``rich.print(result)``) and Jupyter its HTML; none is
    computed here.
    """

    def to_json(self, indent: int | None = 2) -> str:
        """The JSON document the command's ``--json`` prints (its schema: ``bpcli schema NAME``)."""
        return views.to_json(self, indent)

    def __rich__(self) -> Any:
        """The command's table, for ``rich.print(result)``."""
        return views.table_of(self)

    def _repr_html_(self) -> str:
        """What Jupyter shows: the command's tables as HTML (and a GradResult's circuit)."""
        return views.html_of(self)

    def _repr_markdown_(self) -> str:
        """What a Markdown-only front-end shows: the same tables, in Markdown."""
        return views.markdown_of(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """IPython's plain text (its terminal, a notebook's text/plain): the tables without colour.

        A bundle rather than ``_repr_pretty_``, which IPython passes over for a
        dataclass's own ``__repr__``.
        """
        return {"text/plain": views.plain_text_of(self)}


class Stage(NamedTuple):
    """One gate of the forward pass and what flowed through it backward."""

    # The field shadows tuple.index (a method); it is the public name, in results and JSON alike.
    index: int  # type: ignore[assignment]  # 1-based, in forward order
    node: int
    name: str
    op: str
    role: str
    expr: str  # the gate applied to its inputs' names: "q * z"
    inputs: tuple[str, ...]  # aligned with local and downstream; constants by their literal text
    shape: tuple[int, ...]  # () for a number
    value: Any
    # Elementwise gates: ∂stage/∂input and its formula ("z"). Structural gates
    # (matmul, reductions) have no local values; their formula is the
    # vector-Jacobian product ("dD @ X.T"). None where no gradient is needed.
    local: tuple[Any, ...]
    formulas: tuple[str | None, ...]
    upstream: Any  # d(output)/d(stage); None where no gradient flows through the stage
    downstream: tuple[Any, ...]  # what each input receives: local × upstream, or the VJP
    summed: tuple[bool, ...]  # whether the input's share was summed over broadcast axes

    @property
    def expression(self) -> str:
        """The gate applied to its inputs' names (``expr``, as the JSON document calls it)."""
        return self.expr

    @property
    def structural(self) -> bool:
        return not REGISTRY[self.op].elementwise


class Contribution(NamedTuple):
    stage: str  # the stage through which the gradient came back
    index: int  # type: ignore[assignment]  # its stage number (shadows tuple.index, as Stage's)
    value: Any


class Fork(NamedTuple):
    """A value used more than once: the gradients flowing back to it add up."""

    name: str
    contributions: tuple[Contribution, ...]
    total: Any


class GradResult(Result):
    """The value and gradients of an expression, with every stage of backpropagation.

    ``output`` is the output's name and ``value`` its value; ``inputs``,
    ``shapes`` and ``gradients`` map each input variable to its value, its
    shape and d(output)/d(variable) (floats for numbers, numpy arrays for
    arrays). ``stages`` has a Stage per gate in forward order (name, op, role,
    expression, inputs, value, local, formulas, upstream, downstream),
    ``forks`` the values used more than once with the gradients that add up
    at them, ``warnings`` a Notice per kink, tie, inf or nan met.

        >>> import bpcli
        >>> r = bpcli.grad("x * x", x=3)
        >>> r.forks[0].name, [c.value for c in r.forks[0].contributions], r.forks[0].total
        ('x', [3.0, 3.0], 6.0)
        >>> bpcli.grad("max(x, y)", x=4, y=4).warnings[0].kind
        'kink'
    """

    def __init__(self, problem: Problem, adjoints: Adjoints, evaluation: Evaluation) -> None:
        self.problem = problem
        self.source = problem.source
        self.graph = problem.graph
        self.adjoints = adjoints
        self.evaluation = evaluation

    # ---- what a user asks for ------------------------------------------------

    @property
    def output(self) -> str:
        return self.graph.nodes[self.graph.output].name

    @property
    def value(self) -> Any:
        return self._value(self.graph.output)

    @property
    def inputs(self) -> dict[str, Any]:
        return {self.graph.nodes[v].name: self._value(v) for v in self.graph.variables}

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Every input's shape, () for a number; the output's under its own name."""
        nodes = [*self.graph.variables, self.graph.output]
        return {self.graph.nodes[v].name: self.graph.shape(v) for v in nodes}

    @property
    def gradients(self) -> dict[str, Any]:
        """d(output)/d(variable) for every input variable that is not a constant (see ``constants``)."""
        constant = self.graph.constant_inputs
        return {self.graph.nodes[v].name: self._gradient(v) for v in self.graph.variables
                if self.graph.nodes[v].name not in constant}

    @property
    def constants(self) -> list[str]:
        """The inputs that take no gradient: index inputs (used only inside subscripts) and --const ones."""
        constant = self.graph.constant_inputs
        return [self.graph.nodes[v].name for v in self.graph.variables if self.graph.nodes[v].name in constant]

    @cached_property
    def stages(self) -> list[Stage]:
        with collector_paused():  # many small objects, no cycles (see collector_paused)
            return [self._stage(index, node) for index, node in enumerate(self.graph.stages, start=1)]

    @cached_property
    def tensors(self) -> bool:
        """Whether an input, the output or a stage holds an array (the table then shows shapes; read by both
        its tables: one walk of the graph)."""
        graph = self.graph
        return any(shape != () for shape in self.shapes.values()) or any(graph.shape(n) != () for n in graph.stages)

    @cached_property
    def forks(self) -> list[Fork]:
        with collector_paused():  # as many contributions as uses of the inputs
            return self._forks()

    def _forks(self) -> list[Fork]:
        nodes, values, numbers = self.graph.nodes, self.evaluation.values, self.stage_numbers
        downstream = self.adjoints.downstream
        forks = []
        for node, uses in sorted(self.adjoints.contributions.items()):
            if len(uses) < 2 or nodes[node].origin is not None:
                continue
            contributions = tuple([
                Contribution(nodes[consumer].name, numbers[consumer], values[downstream[(consumer, position)]])
                for consumer, position in uses
            ])
            forks.append(Fork(nodes[node].name, contributions, self._gradient(node)))
        return forks

    @cached_property
    def warnings(self) -> list[Notice]:
        return self.problem.warnings(self.evaluation.findings)

    def value_of(self, node: int) -> Any:
        """The value of any node: an input, a stage, a gradient node."""
        return self._value(node)

    def gradient_of(self, node: int) -> Any:
        """d(output)/d(node); zero where no gradient flows to the node."""
        return self._gradient(node)

    # ---- reading the evaluated graph -------------------------------------------

    def _value(self, node: int) -> Any:
        return self.evaluation.values[node]

    def _gradient(self, node: int) -> Any:
        total = self.adjoints.gradient(node)
        return zero_like(self._value(node)) if total is None else self._value(total)

    @cached_property
    def stage_numbers(self) -> dict[int, int]:
        """Each forward stage's number in the stage table (worked out once: check reads it for every cell)."""
        return self.graph.stage_numbers()

    @cached_property
    def _texts(self) -> Texts:
        return Texts(self.graph)

    @cached_property
    def _carries(self) -> list[bool]:
        depends = self.graph.depends_on_variables()
        feeds = self.graph.ancestors(self.graph.output)
        return [depends[i] and i < len(feeds) and feeds[i] for i in range(len(self.graph.nodes))]

    def _stage(self, index: int, node: int) -> Stage:
        # Run once per stage, 100,000 times for a large expression: the lookups are kept local.
        graph, adjoints, texts, values = self.graph, self.adjoints, self._texts, self.evaluation.values
        nodes, carries = graph.nodes, self._carries
        n = nodes[node]
        gate = REGISTRY[n.op]
        elementwise = gate.elementwise
        local: list[Any] = []
        downstream: list[Any] = []
        summed: list[bool] = []
        formulas: list[str | None] = []
        for position, used in enumerate(n.inputs):
            use = (node, position)
            received = adjoints.downstream.get(use)
            gradient = adjoints.local.get(use)
            if gradient is not None:
                local.append(values[gradient])
                formulas.append(texts.formula(gradient))
            elif received is not None:  # a structural gate: its vector-Jacobian product
                local.append(None)
                upstream_name = {adjoints.total[node]: "d" + n.name} if node in adjoints.total else {}
                formulas.append(texts.formula(received, upstream_name))
            elif carries[node] and carries[used]:
                # The gate's local gradient is zero here (a flat gate such as step).
                local.append(zero_like(values[used]))
                formulas.append("0")
            else:
                local.append(None)
                formulas.append(None)
            if received is not None:
                downstream.append(values[received])
                summed.append(elementwise and nodes[received].op == "unbroadcast")
            else:
                downstream.append(local[-1])  # zero, or None where no gradient is needed
                summed.append(False)
        return Stage(
            index=index,
            node=node,
            name=n.name,
            op=n.op,
            role=gate.role,
            expr=texts.gate(node),
            inputs=tuple([nodes[i].name for i in n.inputs]),
            shape=graph.shape(node),
            value=values[node],
            local=tuple(local),
            formulas=tuple(formulas),
            upstream=self._gradient(node) if carries[node] else None,
            downstream=tuple(downstream),
            summed=tuple(summed),
        )


def zero_like(value: Any) -> Any:
    if hasattr(value, "shape"):
        import numpy as np  # numpy only where arrays are (start-up)

        return np.zeros(np.shape(value))
    return 0.0


class TapeGradResult(GradResult):
    """A GradResult whose value and gradients the flat tape computed (bpcli/engine/tape.py).

    What the tape knows is answered at once: the output, the values, the
    gradients, the kinks and ties hit (the tape gives up, and the graph is
    built, on any run with another warning), and the stages and forks, read from
    the tape's run. The graph is built the usual way the first time a view asks
    for it (the diagram, the page): the same numbers, bit for bit, with
    everything the views show.
    """

    def __init__(self, source: str, answer: tape.Answer, full: Callable[[], GradResult]) -> None:
        self.source = source
        self._answer = answer
        self._full = full

    @cached_property
    def _built(self) -> GradResult:
        return self._full()

    @cached_property
    def problem(self) -> Problem:  # type: ignore[override]
        return self._built.problem

    @cached_property
    def graph(self) -> Any:  # type: ignore[override]
        return self._built.graph

    @cached_property
    def adjoints(self) -> Adjoints:  # type: ignore[override]
        return self._built.adjoints

    @cached_property
    def evaluation(self) -> Evaluation:  # type: ignore[override]
        return self._built.evaluation

    @property
    def output(self) -> str:
        return self._answer.output

    @property
    def value(self) -> Any:
        return self._answer.value

    @property
    def inputs(self) -> dict[str, Any]:
        return dict(self._answer.inputs)

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {name: () for name in [*self._answer.inputs, self._answer.output]}

    @property
    def gradients(self) -> dict[str, Any]:
        return dict(self._answer.gradients)

    @property
    def constants(self) -> list[str]:
        return []

    @cached_property
    def warnings(self) -> list[Notice]:
        return list(self._answer.warnings)

    @property
    def run(self) -> tape.Run:
        """The tape's run, every stage's numbers by entry: the JSON document writes its stages from it."""
        return self._answer.run

    @property
    def tensors(self) -> bool:
        return False  # the tape takes numbers only

    @cached_property
    def stages(self) -> list[Stage]:  # a sequence, each stage made when it is read
        """The stages, read from the tape's run: each made when it is asked for (a table shows 200 of
        100,000), the graph's own Stage, bit for bit."""
        stages: list[Stage] = _TapeStages(self)  # type: ignore[assignment]
        return stages

    @cached_property
    def names(self) -> list[tuple[int, str]]:
        """Each entry's stage number and name (a variable: 0 and its own name), as the graph names them."""
        from bpcli.engine import tape  # loaded already: only the tape makes a TapeGradResult

        return tape.all_names(self.run.tape)

    @cached_property
    def forks(self) -> list[Fork]:
        """The values used more than once, read from the tape as ``GradResult`` reads them from the graph:
        the shares in the order the backward pass adds them (the last stage first)."""
        with collector_paused():  # as many contributions as uses of the inputs
            return self._tape_forks()

    def _tape_forks(self) -> list[Fork]:
        from bpcli.engine import tape  # loaded already: only the tape makes a TapeGradResult

        run, names = self.run, self.names
        ops, first, second = run.tape.ops, run.tape.first, run.tape.second
        uses = bytearray(len(ops))  # how many uses each entry has, up to 2
        for i, op in enumerate(ops):
            if op != tape.VARIABLE:
                for k in _operands(first[i], second[i]):
                    uses[k] = min(uses[k] + 1, 2)
        contributions: dict[int, list[Contribution]] = {k: [] for k in range(len(ops)) if uses[k] == 2}
        shares = run.shares
        for i in range(len(ops) - 1, -1, -1):
            if ops[i] == tape.VARIABLE:
                continue
            number, name = names[i]
            for position, k in enumerate(_operands(first[i], second[i])):
                if k in contributions:
                    contributions[k].append(Contribution(name, number, shares[2 * i + position]))
        return [Fork(names[k][1], tuple(shares_of), run.adjoint[k]) for k, shares_of in contributions.items()]

    @staticmethod
    def stage_like(op: str, arity: int, repeated: bool) -> Stage:
        """The stage the graph makes of the gate ``op`` alone, its inputs and itself named by placeholders
        (both inputs one value, for ``repeated``; its numbers whatever they are): the JSON document's
        template of every such stage of the tape, made a format string by ``as_format``."""
        return _stage_texts(op, arity, repeated)[0]

    @staticmethod
    def as_format(text: str) -> str:
        """A text of ``stage_like``'s made a format string of the stage's name and its inputs' names
        (``{0}``, ``{1}``, ``{2}``), its own braces escaped."""
        return _as_format(text)


class _TapeStages(Sequence[Stage]):
    """A TapeGradResult's stages, each made from the tape's run when it is read."""

    def __init__(self, result: TapeGradResult) -> None:
        from bpcli.engine import tape  # loaded already: only the tape makes a TapeGradResult

        self.result = result
        self.entries = [entry for entry, op in enumerate(result.run.tape.ops) if op != tape.VARIABLE]
        self.opcodes = tape.OPS  # each stage's gate, by its opcode

    def __len__(self) -> int:
        return len(self.entries)

    def __eq__(self, other: object) -> bool:  # equal to the list of the same stages, as GradResult's stages are
        return list(self) == (list(other) if isinstance(other, _TapeStages) else other)

    __hash__ = None  # type: ignore[assignment]  # like a list's

    def __repr__(self) -> str:
        return repr(list(self))

    @overload
    def __getitem__(self, index: int) -> Stage: ...

    @overload
    def __getitem__(self, index: slice) -> list[Stage]: ...

    def __getitem__(self, index: int | slice) -> Stage | list[Stage]:
        if isinstance(index, slice):
            return [self._stage(entry) for entry in self.entries[index]]
        return self._stage(self.entries[index])

    def _stage(self, entry: int) -> Stage:
        run, names = self.result.run, self.result.names
        first, second = run.tape.first[entry], run.tape.second[entry]
        operands = _operands(first, second)
        like, expr, formulas = _stage_texts(self.opcodes[run.tape.ops[entry]], len(operands), first == second)
        index, name = names[entry]
        inputs = tuple([names[k][1] for k in operands])
        return like._replace(
            index=index, node=entry, name=name, expr=expr.format(name, *inputs),
            inputs=inputs, value=run.values[entry],
            local=tuple([run.local[2 * entry + p] for p in range(len(operands))]),
            formulas=tuple([None if formula is None else formula.format(name, *inputs) for formula in formulas]),
            upstream=run.adjoint[entry],
            downstream=tuple([run.shares[2 * entry + p] for p in range(len(operands))]),
        )


def _operands(first: int, second: int) -> tuple[int, ...]:
    """A tape entry's inputs: its first, and its second where it has one (a second below 0: none)."""
    return (first,) if second < 0 else (first, second)


_PLACEHOLDERS = ("qqstage", "qqin0", "qqin1")  # words no gate or formula text holds


@lru_cache(maxsize=None)
def _stage_texts(op: str, arity: int, repeated: bool) -> tuple[Stage, str, tuple[str | None, ...]]:
    """The stage of ``op`` alone, and its expression and local formulas as format strings of the stage's
    name and its inputs' names (both inputs one value, for ``repeated``)."""
    name, *inputs = _PLACEHOLDERS[: 1 + arity]
    like = _one_gate_stage(op, (inputs[0],) * arity if repeated else tuple(inputs), name)
    formulas = tuple(None if formula is None else _as_format(formula) for formula in like.formulas)
    return like, _as_format(like.expr), formulas


_PLACES = {placeholder: f"{{{place}}}" for place, placeholder in enumerate(_PLACEHOLDERS)}


def _as_format(text: str) -> str:
    """``text`` with each placeholder made its format field, its braces escaped (names hold no braces)."""
    escaped = text.replace("{", "{{").replace("}", "}}")
    return re.sub("|".join(rf"\b{p}\b" for p in _PLACEHOLDERS), lambda m: _PLACES[m.group()], escaped)


def _one_gate_stage(op: str, inputs: tuple[str, ...], name: str) -> Stage:  # cached by its one caller
    gate = REGISTRY[op]
    text = re.sub(r"\b[ab]\b", lambda letter: inputs["ab".index(letter.group())], gate.syntax)
    problem = Problem.of(f"{name} = {text}", {variable: 0.5 for variable in inputs})
    adjoints = problem.backward(None)
    result = GradResult(problem, adjoints, problem.gradients(adjoints))
    (stage,) = result.stages
    return stage
