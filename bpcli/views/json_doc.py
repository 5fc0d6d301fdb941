"""The ``--json`` documents: schema ``bpcli.grad/1`` (see DESIGN.md and README).

Needs neither rich nor numpy for scalar results, so a scripted run stays fast.
"""

from __future__ import annotations

import json
import math
from typing import Any

GRAD_SCHEMA = "bpcli.grad/1"


def grad_document(result: Any) -> dict[str, Any]:
    """The bpcli.grad/1 document of a GradResult."""
    return {
        "schema": GRAD_SCHEMA,
        "expression": result.source,
        "output": result.output,
        "value": jsonable(result.value),
        "inputs": {name: jsonable(v) for name, v in result.inputs.items()},
        "gradients": {name: jsonable(v) for name, v in result.gradients.items()},
        "stages": [_stage(stage) for stage in result.stages],
        "forks": {
            fork.name: {
                "contributions": [{"stage": c.stage, "value": jsonable(c.value)} for c in fork.contributions],
                "total": jsonable(fork.total),
            }
            for fork in result.forks
        },
        "warnings": [
            {"stage": w.stage, "kind": w.kind, "message": w.message} for w in result.warnings
        ],
    }


def _stage(stage: Any) -> dict[str, Any]:
    return {
        "index": stage.index,
        "name": stage.name,
        "op": stage.op,
        "role": stage.role,
        "expr": stage.expr,
        "inputs": list(stage.inputs),
        "value": jsonable(stage.value),
        "local": [jsonable(v) for v in stage.local],
        "local_formula": list(stage.formulas),
        "upstream": jsonable(stage.upstream),
        "downstream": [jsonable(v) for v in stage.downstream],
    }


def jsonable(value: Any) -> Any:
    """Numbers as JSON numbers, arrays as nested lists, inf and nan as strings."""
    if value is None:
        return None
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    value = float(value)
    if math.isfinite(value):
        return value
    if value != value:
        return "nan"
    return "inf" if value > 0 else "-inf"


def dumps(document: dict[str, Any], indent: int | None = 2) -> str:
    """JSON text: one line per top-level key and per list item when ``indent`` is set.

    Each piece goes through json's C encoder (which ``indent`` would switch
    off), so a document with 100,000 stages is written in a fraction of a second
    and still reads stage by stage.
    """
    def compact(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)

    if indent is None:
        return compact(document)
    pad = " " * indent
    lines = []
    for key, value in document.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            items = f",\n{pad * 2}".join(compact(item) for item in value)
            lines.append(f"{pad}{compact(key)}: [\n{pad * 2}{items}\n{pad}]")
        else:
            lines.append(f"{pad}{compact(key)}: {compact(value)}")
    return "{\n" + ",\n".join(lines) + "\n}"
