"""How long `bpcli check --answers` takes for 1,000 problems, against two baselines measured in the same run.

    python benchmarks/check_answers.py [--problems 1000] [--sample 20]

It writes an answers file (four homework expressions at random integer points,
every tenth problem a staged backward pass, every seventh answer wrong so that
diagnoses run too) and times:

1. `bpcli check --answers FILE --json` as one process (the figure);
2. the library differentiating the same problems one by one with bpcli.grad
   (what checking cannot avoid: the ratio is the cost of checking itself);
3. one `bpcli check` process per problem, as a shell loop would run it,
   timed on a sample and scaled to all problems (why answers files exist).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bpcli

FORMS = [
    ("q = x + y; f = q * z", lambda x, y, z: {"dx": z, "dy": z, "dz": x + y, "q": x + y}),
    ("f = max(x, y) * z", lambda x, y, z: {"dx": z if x > y else 0, "dz": max(x, y)}),
    ("a = x * y; f = a + x * z", lambda x, y, z: {"dx": y + z, "dy": x, "a": x * y}),
    ("a = x * y; s = sigmoid(a); f = s * z", None),  # checked through its backward pass
]
BACKWARD = "df = 1\nds = z * df\ndz = s * df\nda = s * (1 - s) * ds\ndx = y * da\ndy = x * da\n"


def problems(count: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    made = []
    for index in range(count):
        expression, answers = FORMS[index % len(FORMS)]
        x, y, z = rng.randint(-9, 9), rng.randint(11, 19), rng.randint(-9, 9)
        problem = {"expr": expression, "inputs": {"x": x, "y": y, "z": z}}
        if answers is None:
            problem["backward"] = BACKWARD.replace("dz = s", "dz = -s") if index % 7 == 0 else BACKWARD
        else:
            expect = answers(x, y, z)
            if index % 7 == 0:
                key = next(iter(expect))
                expect[key] += 3
            problem["expect"] = expect
        made.append(problem)
    return made


def toml(problems: list[dict]) -> str:
    tables = []
    for problem in problems:
        inputs = ", ".join(f"{k} = {v}" for k, v in problem["inputs"].items())
        lines = ["[[problem]]", f'expr = "{problem["expr"]}"', f"inputs = {{ {inputs} }}"]
        if "expect" in problem:
            lines.append("expect = { " + ", ".join(f"{k} = {v}" for k, v in problem["expect"].items()) + " }")
        if "backward" in problem:
            lines.append(f'backward = """\n{problem["backward"]}"""')
        tables.append("\n".join(lines))
    return "\n\n".join(tables) + "\n"


def command_line(problem: dict) -> list[str]:
    args = [problem["expr"], *(f"{k}={v}" for k, v in problem["inputs"].items())]
    for key, value in problem.get("expect", {}).items():
        args += ["--expect", f"{key}={value}"]
    return args


def timed(run) -> tuple[float, object]:
    start = time.perf_counter()
    value = run()
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=1000)
    parser.add_argument("--sample", type=int, default=20, help="problems run as separate processes")
    options = parser.parse_args()
    executable = shutil.which("bpcli") or sys.exit("bpcli is not installed in this environment")
    made = problems(options.problems)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "hw.toml"
        path.write_text(toml(made))
        one_process, process = timed(lambda: subprocess.run(
            [executable, "check", "--answers", str(path), "--json"], capture_output=True, text=True))
    if process.returncode not in (0, 1):
        sys.exit(f"bpcli check failed: {process.stderr}")
    score = json.loads(process.stdout)["score"]
    library, _ = timed(lambda: [bpcli.grad(p["expr"], p["inputs"]) for p in made])
    sample = [p for p in made if "expect" in p][: options.sample]
    separate, _ = timed(lambda: [subprocess.run([executable, "check", *command_line(p)], capture_output=True)
                                 for p in sample])
    per_process = separate / len(sample)
    print(f"{options.problems} problems ({score['passed']} right, {score['met']} of {score['expectations']} "
          f"expectations met; every 7th wrong, so diagnoses run)")
    print(f"bpcli check --answers, one process:        {one_process:7.2f} s  ({1e3 * one_process / len(made):.2f} ms "
          f"per problem, start-up included)")
    print(f"baseline: bpcli.grad per problem, library: {library:7.2f} s  -> checking costs "
          f"{one_process / library:.1f}x differentiating alone")
    print(f"baseline: one bpcli process per problem:   {per_process * len(made):7.2f} s  (measured on "
          f"{len(sample)}, {1e3 * per_process:.0f} ms each) -> the answers file is "
          f"{per_process * len(made) / one_process:.0f}x faster")


if __name__ == "__main__":
    main()
