"""The cell formats the API server's table printers share: ages, label maps, selectors. Pure.

Ages are k8s.io/apimachinery/pkg/util/duration.HumanDuration of now minus a timestamp ("5s",
"3m2s", "4h", "2d3h", "3y10d"); a missing timestamp is "<unknown>".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

UNKNOWN = "<unknown>"
NONE = "<none>"
# The official schemas' description of each field a column names ("PodStatus.podIP"), generated
# by scripts/update-table-descriptions.
DESCRIPTIONS = Path(__file__).resolve().parent.parent / "data" / "tabledescriptions.json"


@cache
def _descriptions() -> dict[str, str]:
    loaded: dict[str, str] = json.loads(DESCRIPTIONS.read_text(encoding="utf-8"))
    return loaded


def field_doc(key: str) -> str:
    """The Go doc of a field, as SwaggerDoc() gives it to the printers ("PodStatus.podIP")."""
    return _descriptions()[key]


@dataclass(frozen=True)
class Column:
    """A TableColumnDefinition; priority 1 marks a column kubectl shows only with -o wide.

    Its description is `text`, or the doc of the field `doc` names ("ServiceSpec.type").
    """

    name: str
    type: str = "string"
    text: str = ""
    priority: int = 0
    format: str = ""
    doc: str = ""

    @property
    def description(self) -> str:
        return field_doc(self.doc) if self.doc else self.text

    def definition(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "format": self.format,
                "description": self.description, "priority": self.priority}


NAME = Column("Name", format="name", doc="ObjectMeta.name")
AGE = Column("Age", doc="ObjectMeta.creationTimestamp")


def human_duration(seconds: float) -> str:
    """duration.HumanDuration: coarser as it grows; up to 1 s in the future counts as now."""
    whole = int(seconds)  # Go's int(d.Seconds()) truncates toward zero
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        return _two_units(minutes, "m", whole % 60, "s")
    if minutes < 180:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        return _two_units(hours, "h", minutes % 60, "m")
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return _two_units(hours // 24, "d", hours % 24, "h")
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        return _two_units(hours // 24 // 365, "y", (hours // 24) % 365, "d")
    return f"{hours // 24 // 365}y"


def _two_units(count: int, unit: str, rest: int, rest_unit: str) -> str:
    """"3m20s", or "3m" when the finer unit's count is zero."""
    return f"{count}{unit}{rest}{rest_unit}" if rest else f"{count}{unit}"


def timestamp(value: Any) -> float | None:
    """Seconds since the epoch of an RFC 3339 time ("2024-05-01T10:00:00Z"), None when unset."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def since(value: Any, now: float) -> str:
    """translateTimestampSince: the age of a timestamp, "<unknown>" when it is unset."""
    moment = timestamp(value)
    return UNKNOWN if moment is None else human_duration(now - moment)


def age(obj: Mapping[str, Any], now: float) -> str:
    return since((obj.get("metadata") or {}).get("creationTimestamp"), now)


def name_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def dig(obj: Any, *path: str) -> Any:
    """obj[path[0]][path[1]]..., None where a step is missing or not a mapping."""
    for key in path:
        obj = obj.get(key) if isinstance(obj, Mapping) else None
    return obj


def condition_true(obj: Any, kind: str) -> bool:
    """Whether obj's status.conditions holds a `kind` condition with status "True"."""
    conditions = dig(obj, "status", "conditions")
    return isinstance(conditions, list) and any(
        isinstance(c, Mapping) and c.get("type") == kind and c.get("status") == "True"
        for c in conditions)


def format_labels(labels: Any) -> str:
    """labels.FormatLabels: "a=1,b=2" sorted by key, "<none>" when empty."""
    if not isinstance(labels, Mapping) or not labels:
        return NONE
    return ",".join(f"{key}={labels[key]}" for key in sorted(labels))


def selector_string(selector: Any) -> str:
    """A LabelSelector as labels.Selector.String() prints it, requirements sorted by key."""
    if not isinstance(selector, Mapping):
        return ""
    requirements: list[tuple[str, str]] = []
    for key, value in (selector.get("matchLabels") or {}).items():
        requirements.append((key, f"{key}={value}"))
    for expression in selector.get("matchExpressions") or []:
        if not isinstance(expression, Mapping):
            return "<invalid>"
        key, operator = str(expression.get("key", "")), expression.get("operator")
        values = ",".join(sorted(str(v) for v in expression.get("values") or []))
        shown = {"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})",
                 "Exists": key, "DoesNotExist": f"!{key}"}.get(str(operator))
        if shown is None:
            return "<invalid>"
        requirements.append((key, shown))
    return ",".join(text for _, text in sorted(requirements, key=lambda r: r[0]))


def containers_and_images(containers: Any) -> tuple[str, str]:
    """layoutContainerCells: the container names and their images, each comma-joined."""
    items = [c for c in containers or [] if isinstance(c, Mapping)]
    return (",".join(str(c.get("name", "")) for c in items),
            ",".join(str(c.get("image", "")) for c in items))


def more_list(items: list[str], count: int, limit: int = 3, empty: str = "") -> str:
    """The first `limit` items, then " + N more..." as the printers shorten long lists."""
    text = ",".join(items[:limit])
    if count > limit:
        return f"{text} + {count - limit} more..."
    return text or empty


# Shared by the workload printers (tables.py, batchtables.py, ingresstable.py).
CONTAINERS = Column("Containers", priority=1, text="Names of each container in the template.")
IMAGES = Column("Images", priority=1, text="Images referenced by each container in the template.")


def as_int(value: Any) -> int:
    """A count field: the int, else 0 (missing, or not an int)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def mapping_items(value: Any) -> list[Mapping[str, Any]]:
    """The mappings of a list field ([] when it is not a list)."""
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def format_label_selector(selector: Any) -> str:
    """metav1.FormatLabelSelector (the ReplicaSet, Job, DaemonSet printers'): "<none>" when
    empty."""
    text = selector_string(selector)
    return {"": NONE, "<invalid>": "<error>"}.get(text, text)
