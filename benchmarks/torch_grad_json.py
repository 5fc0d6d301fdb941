"""The PyTorch baseline of a large `grad --json` run: read the expression, backprop, dump the gradients.

    python torch_grad_json.py EXPRESSION_FILE NAME=VALUE ...

The benchmark's own generated text is compiled as Python here, for the baseline only;
bpcli itself never evaluates input as Python.
"""

import json
import sys

import torch

FUNCTIONS = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu, "exp": torch.exp, "abs": torch.abs,
             "max": torch.maximum, "min": torch.minimum}

with open(sys.argv[1]) as file:
    code = compile(file.read(), "<expression>", "eval")
point = {name: float(value) for name, value in (argument.split("=") for argument in sys.argv[2:])}
tensors = {name: torch.tensor(value, dtype=torch.float64, requires_grad=True) for name, value in point.items()}
output = eval(code, dict(FUNCTIONS), tensors)  # noqa: S307
output.backward()
json.dump({"value": output.item(), "gradients": {name: t.grad.item() for name, t in tensors.items()}}, sys.stdout)
