"""How a bad value is shown in a validation message: the one style of every message.

It is the Kubernetes API server's (field.Invalid): numbers and booleans as they are (`5`,
`true`), strings quoted with escapes (`"a\\nb"`), null as `null`. A mapping or a list is named,
not printed: the message names its field and line, and a whole subtree would not fit on it.
Non-ASCII letters stay readable, as Go's %q keeps them; control characters are escaped so a
message always stays on one line. Pure.
"""

from __future__ import annotations

import json
from typing import Any


def show(value: Any) -> str:
    """`value` as a message shows it, e.g. "(got 5)", '(got "web")', "(got a mapping)"."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):  # a YAML date or set: no JSON form, its text still helps
        return json.dumps(str(value), ensure_ascii=False)
