"""The JSON Schemas (draft 2020-12) of the ``--json`` documents, shipped in bpcli/views/schemas/.

Each document names its schema (``"schema": "bpcli.grad/1"``); ``json_schema("grad")``
is the schema it validates against. The files share their definitions (a
number, which may be "nan", "inf" or "-inf"; a value, a number or nested lists;
a warning) through ``common.json``; ``json_schema`` returns each schema whole,
with those definitions in it, so it validates on its own. The files are found
beside this module with os.path, as the grammar is (bpcli/engine/syntax/grammar.py):
no importlib.resources to import.

A schema lists every key a document has now. A document may gain keys later
(the schema number stays), so the schemas let objects carry keys they do not
list; a breaking change bumps the number.

    >>> import bpcli
    >>> schema = bpcli.json_schema("grad")
    >>> schema["properties"]["schema"]
    {'const': 'bpcli.grad/1'}
"""

from __future__ import annotations

import json
import os
from typing import Any

from bpcli.engine.errors import BpcliError

_FOLDER = os.path.join(os.path.dirname(os.path.realpath(__file__)), "schemas")
_COMMON = "common"

# Each --json document's schema, with the command that prints it.
SCHEMAS = {
    "grad": "bpcli grad --json",
    "jacobian": "bpcli jacobian --json",
    "hessian": "bpcli hessian --json",
    "derivative": "bpcli grad --order N --json",
    "symbolic": "bpcli grad --symbolic --json",
    "check": "bpcli check --json",
    "grade": "bpcli grade --json",
    "gradcheck": "bpcli gradcheck --json",
    "gates": "bpcli gates --json",
    "points": "bpcli grad --points FILE --json (one per line)",
    "exercise": "bpcli exercise --json",
}


def schema_names() -> list[str]:
    """The names ``json_schema`` knows, one per kind of document.

        >>> import bpcli
        >>> bpcli.schema_names()[:3]
        ['grad', 'jacobian', 'hessian']
    """
    return list(SCHEMAS)


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of the document named ``name`` (``"grad"``, or its id ``"bpcli.grad/1"``).

    Documents of ``grad --points --json`` (JSON Lines) carry no schema key;
    each line validates against ``json_schema("points")``.

        >>> import bpcli
        >>> bpcli.json_schema("bpcli.check/1")["$schema"]
        'https://json-schema.org/draft/2020-12/schema'
    """
    short = name.removeprefix("bpcli.").removesuffix("/1")
    if short not in SCHEMAS:
        raise BpcliError(f"no JSON schema is called {name!r}; the schemas are: {', '.join(SCHEMAS)}")
    schema = _read(short)
    schema["$defs"] = {**_read(_COMMON)["$defs"], **schema.get("$defs", {})}
    return schema


def _read(name: str) -> dict[str, Any]:
    path = os.path.join(_FOLDER, f"{name}.json")
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except OSError as error:
        raise FileNotFoundError(f"bpcli's JSON schema {path} is missing: the installation is broken") from error
