"""``bpcli schema``: the JSON Schema of each ``--json`` document."""

from __future__ import annotations

import json
from typing import List, Optional


from bpcli.cli import common
from bpcli.cli.declare import Argument, command
from bpcli.engine.errors import BpcliError


@command(
    epilog="""\b
Examples:
  bpcli schema
  bpcli schema grad
""",
)
def schema(
    # A list, so that stray words get bpcli's one-line error rather than click's usage text.
    names: Optional[List[str]] = Argument(None, metavar="[NAME]", help="A document's name (grad, check, ...)."),
) -> None:
    """The JSON Schema (draft 2020-12) of a --json document; without NAME, the list.

    Every document says which schema it follows ("schema": "bpcli.grad/1").
    New keys may appear in a document without a new schema number; a
    breaking change bumps the number.
    """
    from bpcli.views.json_schemas import SCHEMAS, json_schema  # a view only when shown (start-up)

    if names and len(names) > 1:
        raise BpcliError(f"bpcli schema prints one schema at a time, not {len(names)}: {' '.join(names)}")
    if not names:
        width = max(map(len, SCHEMAS))
        for short, command in SCHEMAS.items():
            print(f"{short:<{width}}  {json_schema(short)['title']}: {command}")
        return
    common.print_json(json.dumps(json_schema(names[0]), indent=2, ensure_ascii=False))
