"""Every bpcli benchmark, each against a baseline measured in the same run.

    python benchmarks/run.py            # the full suite (a few minutes)
    python benchmarks/run.py --smoke    # tiny sizes: checks that every benchmark still runs

Prints one row per figure: the figure, its baseline, their ratio, the target
and the verdict. Times are medians of repeated runs, figure and baseline
interleaved so that a busy machine slows both alike. Speed is measured here,
never in timed tests.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import expressions  # noqa: E402  (the seeded generator beside this script)

import bpcli  # noqa: E402


@dataclass
class Row:
    figure: str
    value: float
    baseline_name: str
    baseline: float
    target: float  # the largest acceptable ratio (value / baseline), or time with seconds=True
    note: str = ""
    seconds: bool = False  # the target is a time in seconds, not a ratio
    unit: str = "s"  # what value, baseline and (with seconds=True) target are counted in

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("inf")

    @property
    def verdict(self) -> str:
        return "ok" if (self.value if self.seconds else self.ratio) <= self.target else "MISSED"


def interleaved(figure: Callable[[], object], baseline: Callable[[], object], repeat: int,
                clock: Callable[[], float] = time.perf_counter) -> tuple[float, float]:
    """Median times (wall, or ``clock``) of ``figure`` and ``baseline``, run alternately after one warm-up each."""
    figure(), baseline()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for run, into in ((figure, times[0]), (baseline, times[1])):
            gc.collect()
            start = clock()
            run()
            into.append(clock() - start)
    return statistics.median(times[0]), statistics.median(times[1])


# ---- start-up ----------------------------------------------------------------------

def _process(command: list[str]) -> Callable[[], None]:
    # Bytecode caching on, as on a user's machine (some shells set PYTHONDONTWRITEBYTECODE).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return lambda: subprocess.run(command, capture_output=True, env=env, check=True)


def bpcli_command() -> list[str]:
    script = Path(sys.executable).parent / "bpcli"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bpcli"]


NOTES_STAGED = "(x + sigmoid(y)) / (sigmoid(x) + (x+y)**2)"
EXAMPLE = ["(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4"]
ANSWERS = """[[problem]]
name = "neuron"
expr = "sigmoid(w0*x0 + w1*x1 + w2)"
inputs = { w0 = 2, x0 = -1, w1 = -3, x1 = -2, w2 = -3 }
expect = { f = 0.73, dx0 = 0.39, dx1 = -0.59, dw0 = -0.2 }

[[problem]]
name = "fork"
expr = "f = x*y + x"
inputs = { x = 3, y = 2 }
expect = { dx = 3, dy = 3 }
"""
# Start-up targets (issue 21): a JSON (or plain text) path within 4x python -c pass, a table within 8x.
JSON_TARGET, TABLE_TARGET = 4.0, 8.0


def startup_commands(folder: Path) -> list[tuple[str, list[str], float]]:
    """Every command's scalar call, as a user types it: (label, arguments, target ratio).

    The files they read (an answers file, a backward pass, a points table) are written into ``folder``.
    """
    (folder / "hw.toml").write_text(ANSWERS)
    for stage in ("forward", "backward"):
        (folder / f"{stage}.py").write_text((HERE.parent / "tests" / "data" / f"notes_{stage}.py").read_text())
    (folder / "points.csv").write_text("x,y\n" + "".join(f"{i / 10},{-i / 7}\n" for i in range(20)))
    answers, forward, backward, points = (
        str(folder / name) for name in ("hw.toml", "forward.py", "backward.py", "points.csv")
    )
    subprocess.run([*bpcli_command(), "grade", "--init", str(folder / "course")], capture_output=True, check=True)
    key, submission = str(folder / "course" / "key.toml"), str(folder / "course" / "bob.toml")
    expect = ["check", *EXAMPLE, "--expect", "dx=-4", "--expect", "dz=3"]
    commands: list[tuple[str, list[str], float]] = []
    for label, arguments in (
        ("grad", ["grad", *EXAMPLE]),
        ("check --expect", expect),
        ("check --answers", ["check", "--answers", answers]),
        ("check --backward", ["check", "--file", forward, "-x", "3", "-y", "-4", "--backward", backward]),
        ("jacobian", ["jacobian", "x*y + tanh(x)", "-x", "2", "-y", "3"]),
        ("hessian", ["hessian", "x**2 * y + exp(x*y)", "-x", "1", "-y", "2"]),
        ("gradcheck", ["gradcheck", "relu(x) * y + tanh(x)", "-x", "0.5", "-y", "3"]),
        ("grad --symbolic", ["grad", NOTES_STAGED, "--symbolic"]),
        ("grad --order 3", ["grad", "tanh(x) * exp(x)", "-x", "0.5", "--order", "3"]),
        ("gates", ["gates"]),
        ("grade", ["grade", key, submission]),
        ("exercise", ["exercise", "q = x + y; f = q * z", "--seed", "7"]),
    ):
        commands.append((f"{label} --json", [*arguments, "--json"], JSON_TARGET))
        commands.append((f"{label} table", arguments, TABLE_TARGET))
    commands += [
        ("grad --points (csv)", ["grad", NOTES_STAGED, "--points", points], JSON_TARGET),
        ("graph --format dot", ["graph", *EXAMPLE], JSON_TARGET),
        ("graph --format text", ["graph", *EXAMPLE, "--format", "text"], TABLE_TARGET),
        ("code", ["code", *EXAMPLE], JSON_TARGET),
        ("schema grad", ["schema", "grad"], JSON_TARGET),
    ]
    return commands


def children_cpu() -> float:
    """Processor time of the finished child processes so far: start-up is single-threaded, so on an idle
    machine it is the wall time, and on a loaded one it is not inflated by waiting for a core."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def startup(repeat: int, only: str | None = None) -> list[Row]:
    """Every command's start-up against ``python -c pass`` in the same run (``only``: labels containing it),
    in processor time (children_cpu)."""
    import tempfile

    bare = _process([sys.executable, "-c", "pass"])
    warn_of_site_imports()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for label, arguments, target in startup_commands(Path(folder)):
            if only is not None and only not in label:
                continue
            figure, baseline = interleaved(_process([*bpcli_command(), *arguments]), bare, repeat, clock=children_cpu)
            rows.append(Row(f"start-up, {label}", figure, "python -c pass", baseline, target))
    return rows


def warn_of_site_imports() -> None:
    """A note when this interpreter's start-up imports packages (a .pth file in site-packages can): the
    baseline then holds their cost too, and every ratio looks smaller than in a fresh virtual environment."""
    found = subprocess.run([sys.executable, "-c", "import sys; print(' '.join(sorted(sys.modules)))"],
                           capture_output=True, text=True, check=True).stdout.split()
    # _distutils_hack: setuptools' own .pth, in every virtual environment, and cheap
    ordinary = set(sys.stdlib_module_names) | {"__main__", "_distutils_hack"}
    extra = sorted({name.partition(".")[0] for name in found} - ordinary)
    if extra:
        print(f"note: python -c pass imports {', '.join(extra)} here (a .pth file in site-packages), which makes "
              "the baseline slower and the start-up ratios smaller: measure in a fresh virtual environment")


def numpy_program(lines: int) -> str:
    """A program of numpy lines as the assignments write them: subscripts, masks, keepdims, updates."""
    pattern = [
        "h{i} = x[np.arange(N), y] * (x[:, 0] > 0)",
        "m{i} = np.max(x, axis=1, keepdims=True)",
        "c = c + np.sum(h{i}) / N - np.mean(m{i})",
        "d{i} = x.copy(); d{i}[x <= 0] = 0",
        "c += np.sum(d{i}[::2, 1:] ** 2)",
    ]
    body = [pattern[k % len(pattern)].format(i=k // len(pattern)) for k in range(lines - 2)]
    return "\n".join(["N = x.shape[0]", "c = 0", *body])


def numpy_parsing(lines: int, repeat: int) -> list[Row]:
    """Parsing grows linearly: one program of ``lines`` against ten of a tenth as many."""
    large_text, small_text = numpy_program(lines), numpy_program(lines // 10)
    figure, baseline = interleaved(lambda: bpcli.parse(large_text),
                                   lambda: [bpcli.parse(small_text) for _ in range(10)], repeat)
    return [Row(f"parse a {lines:,}-line numpy program", figure, f"10 x {lines // 10} lines", baseline, 1.5)]


def import_report(limit: int = 12) -> str:
    """The slowest imports of a scalar --json run (python -X importtime), for the report."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    process = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bpcli", "grad", "(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4", "--json"],
        capture_output=True, text=True, env=env,
    )
    entries = []
    for line in process.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if line.startswith("import time:") and len(parts) == 3 and parts[1].strip().isdigit():
            entries.append((int(parts[1]), parts[2].strip()))
    top = sorted(entries, reverse=True)[:limit]
    lines = [f"  {us / 1000:7.1f} ms  {name}" for us, name in top]
    return "Slowest imports of `bpcli grad ... --json` (cumulative, python -X importtime):\n" + "\n".join(lines)


# ---- many points ---------------------------------------------------------------------

NOTES = "(x + sigmoid(y)) / (sigmoid(x) + (x+y)**2)"


def notes_by_hand(x, y):
    """The lecture notes' staged forward and backward code, on arrays."""
    import numpy as np

    sigy = 1.0 / (1 + np.exp(-y))
    num = x + sigy
    sigx = 1.0 / (1 + np.exp(-x))
    xpy = x + y
    xpysqr = xpy**2
    den = sigx + xpysqr
    invden = 1.0 / den
    f = num * invden
    dnum = invden
    dinvden = num
    dden = (-1.0 / (den**2)) * dinvden
    dsigx = (1) * dden
    dxpysqr = (1) * dden
    dxpy = (2 * xpy) * dxpysqr
    dx = (1) * dxpy
    dy = (1) * dxpy
    dx += ((1 - sigx) * sigx) * dsigx
    dx += (1) * dnum
    dsigy = (1) * dnum
    dy += ((1 - sigy) * sigy) * dsigy
    return f, dx, dy


def notes_points(count: int):
    """``count`` points (x, y) of the notes' example, the same in every benchmark that uses them."""
    import numpy as np

    rng = np.random.default_rng(0)
    return rng.uniform(-3, 3, count), rng.uniform(-3, 3, count)


def points(count: int, repeat: int) -> list[Row]:
    from bpcli.analyses.points import grad_points

    x, y = notes_points(count)
    figure, baseline = interleaved(lambda: grad_points(NOTES, {"x": x, "y": y}), lambda: notes_by_hand(x, y), repeat)
    return [Row(f"{count:,} points of the notes' example", figure, "hand-written numpy", baseline, 1.5)]


def _points_files(folder: Path, count: int) -> dict[str, Path]:
    """The same points as CSV (written as bpcli writes numbers), a plain 2-D .npy and an .npz."""
    import numpy as np

    x, y = notes_points(count)
    files = {"csv": folder / "p.csv", "npy": folder / "p.npy", "npz": folder / "p.npz"}
    files["csv"].write_text("x,y\n" + "".join(f"{a!r},{b!r}\n" for a, b in zip(x.tolist(), y.tolist())))
    np.save(files["npy"], np.column_stack([x, y]))
    np.savez(files["npz"], x=x, y=y)
    return files


def bpcli_points(points: Path, out: Path) -> Callable[[], None]:
    """``bpcli grad NOTES --points POINTS --out OUT`` in this process (the command's code, not its start-up)."""
    from bpcli.cli.points import run
    from bpcli.engine.limits import Limits

    return lambda: run(NOTES, points, {}, out, None, False, False, Limits())


def _rows_by_hand(x, y):
    f, dx, dy = notes_by_hand(x, y)
    return [x, y, f, dx, dy]


def numpy_text_script(points: Path, out: Path) -> Callable[[], None]:
    """np.loadtxt, the notes' numpy, np.savetxt (%.18e, exact too, not shortest)."""
    import numpy as np

    def script() -> None:
        table = np.loadtxt(points, delimiter=",", skiprows=1)
        columns = _rows_by_hand(table[:, 0], table[:, 1])
        np.savetxt(out, np.column_stack(columns), delimiter=",", header="x,y,f,df/dx,df/dy", comments="")
    return script


def arrow_text_script(points: Path, out: Path) -> Callable[[], None] | None:
    """pyarrow's CSV reader and writer around the notes' numpy; None without pyarrow."""
    try:
        import pyarrow
        from pyarrow import csv
    except ImportError:
        return None

    def script() -> None:
        table = csv.read_csv(points)
        columns = _rows_by_hand(table.column("x").to_numpy(), table.column("y").to_numpy())
        csv.write_csv(pyarrow.table(dict(zip(["x", "y", "f", "df/dx", "df/dy"], columns))), out)
    return script


def numpy_binary_script(points: Path, out: Path) -> Callable[[], None]:
    """np.load, the notes' numpy, np.save of the five columns."""
    import numpy as np

    def script() -> None:
        if points.suffix == ".npz":
            with np.load(points) as archive:
                x, y = archive["x"], archive["y"]
        else:
            table = np.load(points)
            x, y = table[:, 0], table[:, 1]
        np.save(out, np.column_stack(_rows_by_hand(x, y)))
    return script


def points_io(count: int, repeat: int, threads: str) -> list[Row]:
    """--points end to end (read, compute, write) against scripts that read and write the same files."""
    import tempfile

    rows = []
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        files = _points_files(folder, count)
        figure = bpcli_points(files["csv"], folder / "out.csv")
        baseline = arrow_text_script(files["csv"], folder / "base.csv")
        if baseline is None:
            print("note: pyarrow is not installed; --points CSV against a pyarrow script is skipped "
                  '(pip install "bpcli[arrow]" to run it)')
        else:
            value, base = interleaved(figure, baseline, repeat)
            rows.append(Row(f"{count:,} rows CSV -> CSV{threads}", value, "pyarrow script", base, 1.5))
        value, base = interleaved(figure, numpy_text_script(files["csv"], folder / "base.csv"), repeat)
        rows.append(Row(f"{count:,} rows CSV -> CSV{threads}", value, "loadtxt+savetxt", base, 1.0))
        for kind in ("npy", "npz"):
            value, base = interleaved(bpcli_points(files[kind], folder / "out.npy"),
                                      numpy_binary_script(files[kind], folder / "base.npy"), repeat)
            rows.append(Row(f"{count:,} rows .{kind} -> .npy{threads}", value, "np.load+np.save", base, 1.3))
    return rows + against_jax(count, repeat, threads)


def against_jax(count: int, repeat: int, threads: str) -> list[Row]:
    """The notes' example on arrays in memory against JAX's jit(vmap(value_and_grad)) in float64."""
    try:
        import jax
    except ImportError:
        print("note: JAX is not installed; --points compute against jit(vmap(grad)) is skipped (pip install jax)")
        return []
    from bpcli.analyses.points import grad_points

    jax.config.update("jax_enable_x64", True)  # float64, as bpcli
    numpy = jax.numpy

    def notes(x, y):
        return (x + jax.nn.sigmoid(y)) / (jax.nn.sigmoid(x) + (x + y) ** 2)

    compiled = jax.jit(jax.vmap(jax.value_and_grad(notes, argnums=(0, 1))))
    x, y = notes_points(count)
    jx, jy = numpy.asarray(x), numpy.asarray(y)

    def by_jax() -> None:
        jax.block_until_ready(compiled(jx, jy))

    figure, baseline = interleaved(lambda: grad_points(NOTES, {"x": x, "y": y}), by_jax, repeat)
    return [Row(f"{count:,} points in memory{threads}", figure, "JAX jit(vmap(grad))", baseline, 1.5)]


def points_single_threaded(smoke: bool) -> list[Row]:
    """The --points rows again in a process whose BLAS has one thread (OPENBLAS_NUM_THREADS is read at start)."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": str(HERE.parent)}
    command = [sys.executable, str(Path(__file__).resolve()), "--points-only", *(["--smoke"] if smoke else [])]
    process = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    print(process.stdout, end="")
    return []


# ---- large expressions -----------------------------------------------------------------

def grad_from_text(text: str, point: dict[str, float]) -> None:
    bpcli.grad(text, point).gradients  # noqa: B018 - reading the gradients is part of the work measured


def large(gates: int, repeat: int) -> list[Row]:
    point = expressions.point()
    small_text, large_text = expressions.random_expression(gates // 10), expressions.random_expression(gates)
    figure, baseline = interleaved(
        lambda: grad_from_text(large_text, point), lambda: grad_from_text(small_text, point), repeat
    )
    rows = [Row(f"{gates:,} gates, parse + backward + evaluate", figure, f"{gates // 10:,} gates", baseline, 12.0,
                note="10x the gates may cost at most 12x the time")]
    torch_row = against_torch(large_text, point, repeat)
    return rows + ([torch_row] if torch_row else [])


def against_torch_at(gates: int) -> list[Row | None]:
    """bpcli from text against torch eager on one expression of ``gates`` gates, once each."""
    row = against_torch(expressions.random_expression(gates), expressions.point(), 1)
    if row is not None:
        row.figure = f"{gates:,} gates, bpcli from text"
        row.target = 0.5
    return [row]


def against_torch(text: str, point: dict[str, float], repeat: int) -> Row | None:
    functions = torch_functions()
    if functions is None:
        return None
    import torch

    def torch_from_text() -> None:
        # The benchmark's own generated text, compiled as Python for the baseline only;
        # bpcli itself never evaluates input as Python.
        code = compile(text, "<expression>", "eval")
        tensors = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in point.items()}
        eval(code, dict(functions), tensors).backward()  # noqa: S307
        [t.grad.item() for t in tensors.values()]

    figure, baseline = interleaved(lambda: grad_from_text(text, point), torch_from_text, repeat)
    return Row("the same, bpcli from text", figure, f"torch {torch.__version__} eager", baseline, 1.0,
               note="PyTorch: compile + build + backward")


def large_json(gates: int, repeat: int) -> list[Row]:
    """The command line's grad --json of a large expression read from a file, against a PyTorch script
    that reads the same file, backprops and dumps the gradients as JSON (both whole processes)."""
    import tempfile

    if torch_functions() is None:
        return []
    point = expressions.point()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "expression.txt"
        path.write_text(expressions.random_expression(gates))
        values = [f"{name}={value}" for name, value in point.items()]
        baseline = _process([sys.executable, str(HERE / "torch_grad_json.py"), str(path), *values])
        rows = []
        for label, extra in (("grad --json", []), ("grad --json --gradients-only", ["--gradients-only"])):
            figure = _process([*bpcli_command(), "grad", "--file", str(path), "--json", *extra, *values])
            times = interleaved(figure, baseline, repeat)
            rows.append(Row(f"{gates:,} gates, {label}", times[0], "torch script", times[1], 1.2,
                            note="both whole processes: read the text, backprop, print the gradients as JSON"))
    return rows


def large_memory(gates: int) -> list[Row]:
    """Peak memory of bpcli.grad on a large expression, per gate (tracemalloc: what Python allocates)."""
    import tracemalloc

    point, text = expressions.point(), expressions.random_expression(gates)
    gc.collect()
    tracemalloc.start()
    grad_from_text(text, point)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return [Row(f"{gates:,} gates, peak memory per gate", peak / gates, "(bytes per gate)", 1.0, 250.0,
                seconds=True, unit="B", note="tracemalloc peak of parse + backward + gradients, the text excluded")]


# ---- second derivatives and gradient checks ---------------------------------------------

TORCH_FUNCTIONS = ("sigmoid", "tanh", "relu", "exp", "abs")


def torch_functions() -> dict[str, object] | None:
    """The gates of the generated expressions in PyTorch, or None (and a note) without it."""
    try:
        import torch
    except ImportError:
        print("note: PyTorch is not installed; the comparisons with torch.autograd.functional are skipped "
              "(pip install torch==2.13.0 to run them)")
        return None
    return {**{name: getattr(torch, name) for name in TORCH_FUNCTIONS}, "max": torch.maximum, "min": torch.minimum}


def hessian(variables: int, repeat: int) -> list[Row]:
    """bpcli.hessian of a generated expression over ``variables`` numbers against torch's hessian."""
    functions = torch_functions()
    if functions is None:
        return []
    import torch

    names = [f"x{i}" for i in range(variables)]
    text = expressions.random_expression(5 * variables, seed=3, variables=names)
    used = [node.name for node in bpcli.build(text).nodes if node.op == "input"]
    point = {name: value for name, value in expressions.point(names=names).items() if name in used}
    # The benchmark's own generated text, compiled as Python for the baseline only.
    code = compile(text, "<expression>", "eval")
    at = torch.tensor([point[name] for name in used], dtype=torch.float64)

    def torch_hessian() -> None:
        torch.autograd.functional.hessian(
            lambda v: eval(code, dict(functions), dict(zip(used, v))), at)  # noqa: S307

    figure, baseline = interleaved(lambda: bpcli.hessian(text, point).matrix, torch_hessian, repeat)
    return [Row(f"hessian, {len(used)} variables ({5 * variables} gates)", figure,
                f"torch {torch.__version__} hessian", baseline, 1.0)]


def gradcheck(rows: int, repeat: int) -> list[Row]:
    """bpcli.gradcheck of sum(tanh(W @ x)), W rows x 100 and x 100 elements, against torch's gradcheck."""
    if torch_functions() is None:
        return []
    import numpy as np
    import torch

    rng = np.random.default_rng(0)
    W, x = rng.standard_normal((rows, 100)), rng.standard_normal(100)
    elements = W.size + x.size
    tensors = (torch.tensor(W, requires_grad=True), torch.tensor(x, requires_grad=True))

    def torch_gradcheck() -> None:
        torch.autograd.gradcheck(lambda W, x: torch.tanh(W @ x).sum(), tensors)

    figure, baseline = interleaved(lambda: bpcli.gradcheck("sum(tanh(W @ x))", W=W, x=x, max_checks=elements),
                                   torch_gradcheck, repeat)
    return [Row(f"gradcheck, {elements:,} elements", figure, f"torch {torch.__version__} gradcheck", baseline, 1.0)]


# ---- tensors ----------------------------------------------------------------------------

def matmul(size: int, repeat: int) -> list[Row]:
    import numpy as np

    rng = np.random.default_rng(0)
    W, X, dD = (rng.standard_normal((size, size)) for _ in range(3))

    def by_hand() -> None:
        W @ X, dD @ X.T, W.T @ dD

    figure, baseline = interleaved(lambda: bpcli.grad("W @ X", W=W, X=X, upstream=dD).gradients, by_hand, repeat)
    return [Row(f"gradient of W @ X, {size}x{size}", figure, "3 numpy matmuls", baseline, 1.2)]


def diagnosed_matmul(size: int, repeat: int) -> list[Row]:
    """A wrong dW that no mistake explains is checked against every array mistake (bounded numpy work)."""
    import numpy as np

    rng = np.random.default_rng(0)
    W, X, dD, wrong = (rng.standard_normal((size, size)) for _ in range(4))
    limits = bpcli.Limits(max_elements=max(size * size, 1_000_000))

    def checked(dW: object) -> Callable[[], object]:
        return lambda: bpcli.check("D = W @ X", W=W, X=X, upstream=dD, expect={"dW": dW}, limits=limits)

    figure, baseline = interleaved(checked(wrong), checked(dD @ X.T), repeat)
    return [Row(f"check a wrong dW of W @ X, {size}x{size}, diagnosed", figure, "the right dW", baseline, 3.0)]


def tensor_json(size: int, repeat: int) -> list[Row]:
    """grad --json of W @ X: written as it is made, against json.dump of the same document's nested lists."""
    import io
    import json
    import tracemalloc

    import numpy as np

    from bpcli.views.json_doc import grad_document, write

    rng = np.random.default_rng(0)
    result = bpcli.grad("W @ X", W=rng.standard_normal((size, size)), X=rng.standard_normal((size, size)),
                        upstream="ones")

    def streamed() -> None:
        write(grad_document(result, streamed=True), io.StringIO())

    def nested_lists() -> None:
        json.dump(grad_document(result), io.StringIO())

    figure, baseline = interleaved(streamed, nested_lists, repeat)
    peaks = []
    for run in (streamed, nested_lists):
        tracemalloc.start()
        run()
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    return [
        Row(f"grad --json of W @ X, {size}x{size}: time", figure, "json.dump of nested lists", baseline, 2.0),
        Row(f"grad --json of W @ X, {size}x{size}: peak memory", peaks[0], "json.dump of nested lists", peaks[1],
            1.5, note="tracemalloc peaks; the text itself is in both"),
    ]


def higher_order(order: int) -> list[Row]:
    """--order N of a 31-gate expression: with shared gradient nodes the graph grows far slower than 2.7x per order."""
    text = expressions.random_expression(31, seed=1)
    point = {name: 0.5 for name in expressions.VARIABLES}
    problem_names = [node.name for node in bpcli.build(text).nodes if node.op == "input"]
    values = {name: point[name] for name in problem_names}
    start = time.perf_counter()
    bpcli.derivative(text, values, wrt=problem_names[0], order=order)
    seconds = time.perf_counter() - start
    return [Row(f"--order {order} of a 31-gate expression", seconds, "(seconds)", 1.0, 0.2, seconds=True)]


# ---- answers files ----------------------------------------------------------------------

def answers(count: int) -> list[Row]:
    import tempfile

    import check_answers  # the answers-file generator beside this script

    made = check_answers.problems(count)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "hw.toml"
        path.write_text(check_answers.toml(made))
        figure, baseline = interleaved(
            lambda: subprocess.run([*bpcli_command(), "check", "--answers", str(path), "--json"], capture_output=True),
            lambda: [bpcli.grad(p["expr"], p["inputs"]) for p in made],
            3,
        )
    return [Row(f"check --answers, {count:,} problems", figure, "bpcli.grad alone", baseline, 2.0,
                note="target: under 2 s in one process, start-up included", seconds=True)]


# ---- grading a class ------------------------------------------------------------------------

def grading(students: int, problems: int) -> list[Row]:
    """``bpcli grade`` of a class (a folder per student) against ``check --answers`` of the same answers in one file."""
    import tempfile

    import check_answers  # the answers-file generator beside this script

    made = check_answers.problems(problems)
    with tempfile.TemporaryDirectory() as folder:
        key, submissions, every = _class(Path(folder), made, students)
        one_file = Path(folder) / "all.toml"
        one_file.write_text(check_answers.toml(every))
        (Path(folder) / "backward.py").write_text(check_answers.BACKWARD)
        figure, baseline = interleaved(
            lambda: subprocess.run([*bpcli_command(), "grade", str(key), *map(str, submissions), "--json"],
                                   capture_output=True, check=True),
            lambda: subprocess.run([*bpcli_command(), "check", "--answers", str(one_file), "--json"],
                                   capture_output=True),
            1 if students < 100 else 3,
        )
    return [Row(f"grade, {students} students x {problems} problems", figure,
                "check --answers of the same answers, one file", baseline, 10.0,
                note="target: under 10 s in one process, start-up included", seconds=True)]


# The problems of an [exercise] key: gates on numbers, as exercise sheets are.
EXERCISES = ["sigmoid(w0*x0 + w1*x1 + w2)", "q = x + y; f = q * z", "x * y + x", "tanh(a*b) + c", "max(x, y) * z",
             "(x + y) * (y - z)", "exp(x) * y", "a * b * c + d", "log(x*x + 1) * y", "relu(x * w + b)"]


def exercise_grading(students: int, problems: int) -> list[Row]:
    """``bpcli grade`` against an ``[exercise]`` key (each student's variant made again from the seed and their id)
    against ``check --answers`` of the same filled-in sheets, one file (each problem differentiated once too)."""
    import tempfile

    from bpcli.analyses.exercise import Spec, exercise

    specs = [Spec(EXERCISES[i % len(EXERCISES)], name=f"p{i}") for i in range(problems)]
    ids = [f"s{n:03}" for n in range(students)]
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        (base / "problems.toml").write_text("".join(f'[[problem]]\nname = "{spec.name}"\nexpr = "{spec.expression}"\n'
                                                    for spec in specs))
        key = base / "key.toml"
        key.write_text('[exercise]\nset = "@problems.toml"\nseed = 7\n')
        sheets = {variant.student: "".join(
            f'[[problem]]\nname = "{p.name}"\nexpr = "{p.spec.expression}"\ninputs = {_inline(p.inputs)}\n'
            f'[problem.expect]\n' + "".join(f'"{blank.key}" = {blank.answer!r}\n' for blank in p.blanks)
            for p in variant.problems) for variant in exercise(specs, 7, ids).variants}
        for student, text in sheets.items():
            (base / f"{student}.toml").write_text(text)
        one_file = base / "all.toml"
        one_file.write_text("".join(sheets.values()))
        figure, baseline = interleaved(
            lambda: subprocess.run([*bpcli_command(), "grade", str(key), *(str(base / f"{s}.toml") for s in ids),
                                    "--json"], capture_output=True, check=True),
            lambda: subprocess.run([*bpcli_command(), "check", "--answers", str(one_file), "--json"],
                                   capture_output=True, check=True),
            1 if students < 100 else 3,
            clock=children_cpu,  # processor time: a loaded machine's waits for a core are no one's cost
        )
    return [Row(f"grade [exercise], {students} students x {problems} problems", figure,
                "check --answers of the same sheets, one file", baseline, 2.0,
                note="processor time; each variant made again from the seed: at most twice the checking alone")]


def _class(folder: Path, made: list[dict], students: int) -> tuple[Path, list[Path], list[dict]]:
    """A key of the problems ``made``, and a folder per student (every 7th student's answers a little off)."""
    import check_answers

    key = folder / "key.toml"
    key.write_text("".join(
        f'[[problem]]\nname = "p{index}"\nexpr = "{p["expr"]}"\ninputs = {_inline(p["inputs"])}\n'
        + (f'answers = {list(p["expect"])!r}\n'.replace("'", '"') if "expect" in p else 'backward = "@backward.py"\n')
        for index, p in enumerate(made)))
    submissions, every = [], []
    for student in range(students):
        mine = [{**p, "expect": {k: v + (student % 7 == 0) for k, v in p["expect"].items()}} if "expect" in p else p
                for p in made]
        path = folder / f"student{student:03}"
        path.mkdir()
        (path / "answers.toml").write_text("".join(
            f'[[problem]]\nname = "p{index}"\nexpect = {_inline(p["expect"])}\n'
            for index, p in enumerate(mine) if "expect" in p))
        (path / "backward.py").write_text(check_answers.BACKWARD)
        submissions.append(path)
        every += [{**p, "backward": "@backward.py"} if "backward" in p else p for p in mine]
    return key, submissions, every


def _inline(table: dict) -> str:
    return "{ " + ", ".join(f"{name} = {value}" for name, value in table.items()) + " }"


# ---- bounded work: 10x the input may cost at most 12x the time (issue 17) -------------------

SCALING_TARGET = 12.0


def scaling_row(figure: str, unit: str, size: int, run: Callable[[int], object], repeat: int) -> Row:
    """``run(size)`` against ``run(size // 10)``: the cost of 10x the input, which linear work keeps near 10x.

    Processor time, not wall time: a ratio this close to its target must not move with the load of a
    shared machine (both are in-process and single-threaded, so the two agree on an idle one). The
    cyclic collector is paused during each run, as bpcli pauses it while it builds a graph: its full
    collections scan a heap that grows with the input (some 20% on top at these sizes), which is
    Python's cost, not the linearity of the code measured here.
    """
    large_time, small_time = interleaved(_collector_off(run, size), _collector_off(run, size // 10), repeat,
                                         time.process_time)
    return Row(f"{figure}, {size:,} {unit}", large_time, f"{size // 10:,} {unit}", small_time, SCALING_TARGET,
               note="10x the input may cost at most 12x the processor time")


def _collector_off(run: Callable[[int], object], size: int) -> Callable[[], None]:
    def paused() -> None:
        gc.disable()
        try:
            run(size)
        finally:
            gc.enable()

    return paused


def parse_statements(count: int) -> None:
    bpcli.parse("\n".join(f"a{i} = x * {i}; b{i} = a{i} + y" for i in range(count // 2)))


def backward_file_lines(count: int) -> None:
    """A backward file of ``count`` helper lines, each followed by a blank line, for a small expression."""
    lines = ["dq = z", "dz = q", "dx = dq", "dy = dq", *(f"h{i} = dx * {i % 7 + 1}" for i in range(count))]
    bpcli.check("q = x + y; f = q * z", x=-2, y=5, z=-4, backward="\n\n".join(lines))


def fork_lines(count: int) -> None:
    """A value used ``count`` times and a backward file adding each contribution on its own line (dx += ...)."""
    expression = " + ".join(f"x*{i % 7 + 1}" for i in range(count))
    lines = [f"dx {'=' if i == 0 else '+='} {(count - 1 - i) % 7 + 1}" for i in range(count)]
    bpcli.check(expression, x=2.0, backward="\n".join(lines))


def _rendered(renderable: object) -> str:
    import io

    from rich.console import Console

    stream = io.StringIO()
    Console(file=stream, width=120, color_system=None).print(renderable)
    return stream.getvalue()


def text_graph(depth: int) -> None:
    from bpcli.views.diagram import tree

    _rendered(tree(bpcli.grad("exp(" * depth + "x" + ")" * depth, x=1e-4)))


def explained(terms: int) -> None:
    from rich.console import Group
    from rich.text import Text

    from bpcli.views.explain import explain, explanation_lines

    result = bpcli.grad(" + ".join(f"x*{i + 1}" for i in range(terms)), x=1.0)
    _rendered(Group(*(Text(line) for line in explanation_lines(explain(result)))))


def scaling(smoke: bool) -> list[Row]:
    repeat = 1 if smoke else 5
    sizes = (200, 100, 100, 100, 400) if smoke else (80_000, 20_000, 2_000, 8_000, 20_000)
    figures = [
        ("parse", "statements", parse_statements),
        ("check --backward", "lines and blank lines", backward_file_lines),
        ("check --backward at a fork", "uses and += lines", fork_lines),
        ("graph --format text", "nested exp", text_graph),
        ("grad --explain", "terms of a sum", explained),
    ]
    return [scaling_row(figure, unit, size, run, repeat) for (figure, unit, run), size in zip(figures, sizes)]


# ---- the report ---------------------------------------------------------------------------

def report(rows: list[Row]) -> str:
    header = f"{'figure':44} {'time':>10} {'baseline':>28} {'ratio':>8} {'target':>8}  verdict"
    lines = [header, "-" * len(header)]
    for row in rows:
        baseline = f"{row.baseline_name} {row.baseline:.3g} {row.unit}"
        lines.append(
            f"{row.figure:44} {row.value:9.3g}{row.unit} {baseline:>28} {row.ratio:8.2f} "
            f"{'≤ ' + format(row.target, 'g') + (row.unit if row.seconds else ''):>8}  {row.verdict}"
        )
        if row.note:
            lines.append(f"{'':44}   ({row.note})")
    return "\n".join(lines)


def benchmark_sections(smoke: bool, repeat: int) -> dict[str, Callable[[], list[Row]]]:
    """Every benchmark by section name, in the order the full run reports them (``--section NAME``)."""
    def large_expressions() -> list[Row]:
        rows = large(1_000 if smoke else 100_000, 1 if smoke else 3)
        rows += large_json(1_000 if smoke else 100_000, 1 if smoke else 3)
        rows += large_memory(1_000 if smoke else 100_000)
        if not smoke:  # minutes on a 2-core machine
            rows += [row for row in against_torch_at(1_000_000) if row] + large_memory(1_000_000)
        return rows

    return {
        "startup": lambda: startup(1 if smoke else 11),
        "numpy": lambda: numpy_parsing(100 if smoke else 1_000, repeat),
        "points": lambda: points(1_000 if smoke else 1_000_000, repeat),
        "points-io": lambda: points_io(1_000 if smoke else 1_000_000, 1 if smoke else 5, ""),
        "large": large_expressions,
        "hessian": lambda: hessian(5 if smoke else 20, repeat) + hessian(10 if smoke else 200, 1),
        "gradcheck": lambda: gradcheck(2 if smoke else 100, 1 if smoke else 3),
        "tensors": lambda: (matmul(20 if smoke else 2000, repeat)
                            + diagnosed_matmul(20 if smoke else 1000, 1 if smoke else 3)
                            + tensor_json(20 if smoke else 1000, 1 if smoke else 3)),
        "order": lambda: higher_order(3 if smoke else 8),
        "check": lambda: (answers(20 if smoke else 1000) + grading(10 if smoke else 300, 10)
                          + exercise_grading(10 if smoke else 300, 10)),
        "scaling": lambda: scaling(smoke),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: check that every benchmark runs")
    parser.add_argument("--startup", nargs="?", const="", metavar="LABEL",
                        help="only the start-up rows (those whose label contains LABEL)")
    parser.add_argument("--section", action="append", metavar="NAME",
                        help="run only this section (repeatable); the names are benchmark_sections' keys")
    parser.add_argument("--points-only", action="store_true", help="only --points, with OPENBLAS_NUM_THREADS=1")
    arguments = parser.parse_args()
    smoke = arguments.smoke
    repeat = 1 if smoke else 7
    if arguments.startup is not None:
        print(report(startup(1 if smoke else 11, arguments.startup or None)))
        return 0
    if arguments.points_only:
        print(report(points_io(1_000 if smoke else 1_000_000, 1 if smoke else 5, " (1 BLAS thread)")))
        return 0
    sections = benchmark_sections(smoke, repeat)
    chosen = arguments.section or list(sections)
    unknown = [name for name in chosen if name not in sections]
    if unknown:
        parser.error(f"unknown section {', '.join(unknown)}; the sections are {', '.join(sections)}")
    rows = [row for name in chosen for row in sections[name]()]
    print(report(rows))
    if arguments.section:
        return 0
    print()
    points_single_threaded(smoke)
    print()
    print(import_report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
