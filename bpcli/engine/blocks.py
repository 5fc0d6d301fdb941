"""An elementwise graph over columns of many rows, evaluated a block of rows at a time.

``grad --points`` binds every variable to a column (a million numbers). Evaluated
on whole columns, every node is a new column of megabytes, out of the processor's
cache. Here the rows go through the graph a block at a time, along a plan made
once: each gate writes into a buffer of the block's length (numpy's ``out=``),
taken from a pool and given back once the last node that reads it has run, so a
block works in a few buffers that stay in the cache and allocates nothing; the
wanted nodes (the output, the gradients) are written straight into their result
columns. Blocks are independent (every gate works element by element) and numpy
lets go of the GIL inside each gate, so the blocks are shared among threads, one
per processor: two cores evaluate two blocks at once.

Every element is computed by the same numpy function as in the evaluation of the
whole columns (``evaluate``), so the columns are bit for bit the same. Nothing is
reported here: the caller evaluates the first rows with ``evaluate`` (their
findings, and the values that are the same at every row), and a block in which
``evaluate`` could find anything (an input or a stage not finite, a kink hit, a
wanted gradient not finite) stops the blocks: the caller then evaluates the whole
columns, whose findings count every row.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from bpcli.engine.batched import depends_on
from bpcli.engine.gates import REGISTRY, Gate
from bpcli.engine.graph import INPUT, Graph

MAX_THREADS = 8  # past a few cores, the Python between the gates (one thread at a time) is what limits
BLOCKS_PER_THREAD = 4


def _into_functions() -> dict[str, Callable[..., Any]]:
    """For the gates that are one numpy function of their inputs, that function written into ``out``:
    the very call the gate's ``forward`` makes, so each element is the same (tests compare them)."""
    import numpy as np  # numpy only where arrays are (start-up)

    from bpcli.engine.backends import array  # blocks are arrays

    def ufunc(function: Any) -> Callable[..., Any]:
        return lambda out, *inputs: function(*inputs, out=out)

    def accumulate(out: Any, first: Any, *rest: Any) -> None:
        np.add(first, rest[0], out=out)  # ((a + b) + c) + ..., the order of the gate's reduce
        for term in rest[1:]:
            np.add(out, term, out=out)

    functions = {op: ufunc(function) for op, function in (
        ("add", np.add), ("sub", np.subtract), ("mul", np.multiply), ("neg", np.negative),
        ("recip", np.reciprocal), ("pow", np.power), ("exp", np.exp), ("log", np.log), ("sqrt", np.sqrt),
        ("tanh", np.tanh), ("log1p", np.log1p), ("expm1", np.expm1), ("abs", np.absolute))}
    functions["sigmoid"] = lambda out, a: array.sigmoid(a, out=out)
    functions["accumulate"] = accumulate
    return functions


@dataclass(frozen=True)
class _Step:
    """One node computed per block."""

    node: int
    inputs: tuple[int, ...]
    gate: Gate
    attrs: Mapping[str, Any]
    into: Callable[..., Any] | None  # writes the gate's value into a buffer; None: the gate's forward, allocating
    stage: bool  # a forward gate: evaluate reports its inf, nan and kinks
    frees: tuple[int, ...]  # the nodes whose buffers go back to the pool once this step has run


class _Worker:
    """One thread's values and pool of buffers: the values that are the same at every row are kept."""

    def __init__(self, known: Sequence[Any], size: int) -> None:
        self.values = list(known)
        self.size = size
        self.pool: list[Any] = []
        self.owned: dict[int, Any] = {}  # node -> the pool buffer its value is in

    def buffer(self, node: int, length: int) -> Any:
        import numpy as np  # numpy only where arrays are (start-up)

        whole = self.pool.pop() if self.pool else np.empty(self.size)
        self.owned[node] = whole
        return whole[:length]

    def free(self, node: int) -> None:
        self.pool.append(self.owned.pop(node))


class Plan:
    """How to evaluate ``wanted`` nodes of an elementwise ``graph`` for any block of rows of ``columns``.

    ``known`` holds every node's value at the ``first`` rows, from ``evaluate``: the nodes that do not
    depend on the columns keep those values. The other rows go ``size`` at a time.
    """

    def __init__(self, graph: Graph, known: Sequence[Any], first: int, columns: Mapping[str, Any],
                 wanted: Sequence[int], size: int) -> None:
        import numpy as np  # numpy only where arrays are (start-up)

        self.known, self.first, self.size, self.wanted = known, first, size, list(wanted)
        varies = depends_on(graph, list(columns))
        stages = [i for i, node in enumerate(graph.nodes) if node.origin is None and node.op in REGISTRY]
        needed = graph.live([*stages, *wanted])  # the gradient nodes no wanted one reads are never looked at
        self.inputs = [(i, columns[node.name]) for i, node in enumerate(graph.nodes) if node.op == INPUT and varies[i]]
        gates = [i for i, node in enumerate(graph.nodes) if varies[i] and needed[i] and node.op != INPUT]
        # Each wanted node is written into its result column as it is computed (the first column that wants it).
        self.targets = {node: k for k, node in reversed(list(enumerate(wanted)))}
        last_read = {i: at for at, i in enumerate(gates)}  # a value no step reads is freed at once
        for at, i in enumerate(gates):
            for j in graph.nodes[i].inputs:
                last_read[j] = at
        into = _into_functions()

        def writable(i: int) -> bool:
            # One float64 value per row from float64 inputs: out= then changes nothing of numpy's choice of loop.
            floats = [known[j] for j in graph.nodes[i].inputs]
            return graph.nodes[i].op in into and not graph.nodes[i].attrs and _is_block(known[i], np, first) and all(
                isinstance(v, float) or (isinstance(v, np.ndarray) and v.dtype == np.float64) for v in floats)

        writes = {i for i in gates if writable(i)}
        frees: dict[int, list[int]] = {}  # step -> the pooled values it is the last to read
        for j in writes - set(self.targets):
            frees.setdefault(last_read[j], []).append(j)
        self.steps = [
            _Step(i, graph.nodes[i].inputs, REGISTRY[graph.nodes[i].op], graph.nodes[i].attrs or {},
                  into[graph.nodes[i].op] if i in writes else None, graph.nodes[i].origin is None,
                  tuple(frees.get(at, ())))
            for at, i in enumerate(gates)
        ]
        # The wanted values not written by a step: an input, a value the same at every row, a node wanted twice.
        written = {i for i in gates if i in self.targets}
        self.copies = [(k, node) for k, node in enumerate(wanted) if node not in written or self.targets[node] != k]
        self.checked = range(1, len(wanted))  # the gradients, which evaluate watches (the output is a stage)

    def run(self, count: int) -> list[Any] | None:
        """The wanted nodes' columns over ``count`` rows, or None if a block has something to report."""
        import numpy as np  # numpy only where arrays are (start-up)

        results = [np.empty(count) for _ in self.wanted]
        for column, node in zip(results, self.wanted):
            column[:self.first] = self.known[node]
        starts = iter(range(self.first, count, self.size))
        lock = threading.Lock()
        clean = [True]

        def work() -> None:
            worker = _Worker(self.known, self.size)
            with np.errstate(all="ignore"):  # per thread: inf and nan are findings, not RuntimeWarnings
                while clean[0]:
                    with lock:
                        start = next(starts, None)
                    if start is None:
                        return
                    try:
                        if not self._block(worker, results, start, min(start + self.size, count)):
                            clean[0] = False
                    except BaseException:  # an error, Ctrl-C: the other threads stop at their next block
                        clean[0] = False
                        raise

        _on_threads(work, _threads(-(-(count - self.first) // self.size)))
        return results if clean[0] else None

    def _block(self, worker: _Worker, results: list[Any], start: int, stop: int) -> bool:
        """Rows start to stop into ``results``; False where evaluate would find something to report."""
        import numpy as np  # numpy only where arrays are (start-up)

        from bpcli.engine.backends import array  # blocks are arrays

        values, targets, all_finite = worker.values, self.targets, array.all_finite
        for node, column in self.inputs:
            value = values[node] = column[start:stop]
            if not all_finite(value):
                return False
        for step in self.steps:
            inputs = [values[i] for i in step.inputs]
            target = targets.get(step.node)
            if step.into is None:
                out = step.gate.forward(array, *inputs, **step.attrs)
                if any(np.may_share_memory(out, value) for value in inputs):
                    out = out.copy()  # astype hands back a float64 input itself, whose buffer may go back to the pool
                if target is not None:
                    results[target][start:stop] = out
            else:
                out = results[target][start:stop] if target is not None else worker.buffer(step.node, stop - start)
                step.into(out, *inputs)
            values[step.node] = out
            if step.stage and (not all_finite(out) or (
                    step.gate.kink is not None and array.count(step.gate.kink(array, *inputs, **step.attrs)))):
                return False
            for node in step.frees:
                worker.free(node)
        for k, node in self.copies:
            results[k][start:stop] = values[node]
        return all(all_finite(results[k][start:stop]) for k in self.checked)


def _is_block(value: Any, np: Any, rows: int) -> bool:
    return isinstance(value, np.ndarray) and value.dtype == np.float64 and value.shape == (rows,)


def _threads(blocks: int) -> int:
    """As many threads as processors this process may run on, each with a few blocks at least (starting
    a thread costs about a block's time on a busy machine)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, blocks // BLOCKS_PER_THREAD, MAX_THREADS))


def _on_threads(work: Callable[[], None], threads: int) -> None:
    """``work`` on ``threads`` threads at once, this one among them; the first error of any is raised.

    The others are started with ``_thread``, which does not wait for a new thread to be scheduled
    (``threading``'s start does: on a busy machine, milliseconds in which this thread could work).
    """
    if threads == 1:
        work()
        return
    import _thread  # only for many rows (start-up)

    finished = threading.Semaphore(0)
    errors: list[BaseException] = []

    def helper() -> None:
        try:
            work()
        except BaseException as error:  # raised in this thread below
            errors.append(error)
        finally:
            finished.release()

    for _ in range(threads - 1):
        _thread.start_new_thread(helper, ())
    try:
        work()
    finally:
        for _ in range(threads - 1):
            finished.acquire()  # every helper is done with the results before they are returned
    if errors:
        raise errors[0]
